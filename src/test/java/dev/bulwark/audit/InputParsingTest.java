package dev.bulwark.audit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Kernel config, command line, sysctl and mountinfo readers, and their errors. */
class InputParsingTest {

    @Test
    void kernelConfigKeepsNotSetApartFromAbsent() {
        KernelConfig c = KernelConfig.parse("k", """
                # Linux/x86 6.8.12 Kernel Configuration
                CONFIG_X86_64=y
                CONFIG_LSM="landlock,lockdown,yama"
                # CONFIG_KEXEC is not set
                CONFIG_PANIC_TIMEOUT=-1
                CONFIG_OVERLAY_FS=m
                """);
        assertEquals(Optional.of(new KernelVersion(6, 8, 12)), c.version());
        assertEquals(Optional.of("x86_64"), c.arch());
        assertEquals(Optional.of("landlock,lockdown,yama"), c.value("CONFIG_LSM"));
        assertEquals(Optional.empty(), c.value("CONFIG_KEXEC"));
        assertEquals("is not set", c.shown("CONFIG_KEXEC"));
        assertEquals("not present", c.shown("CONFIG_NOPE"));
        assertEquals("-1", c.shown("CONFIG_PANIC_TIMEOUT"));
        assertTrue(c.enabled("CONFIG_OVERLAY_FS"));
    }

    @Test
    void malformedKernelConfigNamesFileAndLine() {
        AuditException e = assertThrows(AuditException.class, () -> KernelConfig.parse("bad.config",
                "# header\nCONFIG_A=y\nthis is not a config line\n"));
        assertEquals("bad.config:3: expected CONFIG_NAME=value or \"# CONFIG_NAME is not set\", found "
                + "\"this is not a config line\"", e.getMessage());
        e = assertThrows(AuditException.class, () -> KernelConfig.parse("bad.config", "CONFIG_A=y\nCONFIG_LSM=\"yama\n"));
        assertTrue(e.getMessage().startsWith("bad.config:2: unterminated string value"), e.getMessage());
        e = assertThrows(AuditException.class, () -> KernelConfig.parse("bad.config", "CONFIG_A=\n"));
        assertTrue(e.getMessage().startsWith("bad.config:1: empty value"), e.getMessage());
        e = assertThrows(AuditException.class, () -> KernelConfig.parse("empty.config", "# nothing here\n\n"));
        assertEquals("empty.config: no CONFIG_ options found; is this a kernel config?", e.getMessage());
    }

    @Test
    void kernelConfigMayBeGzipped(@TempDir Path dir) throws Exception {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        try (GZIPOutputStream z = new GZIPOutputStream(b)) {
            z.write(Fixtures.text("hardened.config").getBytes(StandardCharsets.UTF_8));
        }
        Path gz = dir.resolve("config.gz");
        Files.write(gz, b.toByteArray());
        KernelConfig c = KernelConfig.parse(gz.toString(), Host.readMaybeGzip(gz));
        assertEquals(Optional.of("y"), c.value("CONFIG_STRICT_KERNEL_RWX"));
        assertEquals(Optional.of(KernelVersion.of(6, 12)), c.version());
    }

    @Test
    void cmdlineSplitsLikeTheKernel() {
        Cmdline c = Cmdline.parse("weak.cmdline", Fixtures.text("weak.cmdline"));
        assertEquals(Optional.of("off"), c.value("mitigations"));
        assertEquals(Optional.of(""), c.value("nokaslr"));
        // spectre-v2=off is the same parameter as spectre_v2=off.
        assertEquals(Optional.of("off"), c.value("spectre_v2"));
        // A parameter quoted as a whole keeps its spaces.
        assertEquals(Optional.of("ttyS0,115200 earlyprintk"), c.value("console"));
        // After "--" the words are init's.
        assertEquals(Optional.empty(), c.value("single"));
        assertEquals(Optional.empty(), c.value("nopti"));
        assertEquals("not given", c.shown("nopti"));
        assertEquals("pti=off", c.shown("pti"));

        Cmdline q = Cmdline.parse("q", "a=\"x y\" b=1 b=2\n");
        assertEquals(Optional.of("x y"), q.value("a"));
        assertEquals(Optional.of("2"), q.value("b"), "a later parameter overrides an earlier one");
    }

    @Test
    void malformedCmdlineNamesFileAndLine() {
        AuditException e = assertThrows(AuditException.class, () -> Cmdline.parse("bad.cmdline", "ro quiet\nfoo=\"bar baz\n"));
        assertTrue(e.getMessage().startsWith("bad.cmdline:2: unterminated double quote"), e.getMessage());
        e = assertThrows(AuditException.class, () -> Cmdline.parse("proc-self-cmdline", "java\0-jar\0x.jar\0"));
        assertTrue(e.getMessage().startsWith("proc-self-cmdline:1: NUL byte at column 5"), e.getMessage());
        e = assertThrows(AuditException.class, () -> Cmdline.parse("c", "ro =x"));
        assertTrue(e.getMessage().startsWith("c:1: parameter without a name"), e.getMessage());
    }

    @Test
    void sysctlFilesInBothSyntaxes() {
        Sysctls s = Sysctls.parse("weak.sysctl", Fixtures.text("weak.sysctl"));
        assertEquals(Optional.of("0"), s.value("kernel.kptr_restrict"));
        assertEquals(Optional.of("-1"), s.value("kernel.perf_event_paranoid"), "'/' separated key");
        assertEquals(Optional.of("0"), s.value("kernel.kexec_load_disabled"), "'-' prefix");
        Sysctls d = Sysctls.parse("distro.sysctl", Fixtures.text("distro.sysctl"));
        assertEquals(Optional.of("4 4 1 7"), d.value("kernel.printk"), "tabs collapsed");
        assertEquals("net.ipv4.conf.eth0/100.rp_filter", Sysctls.normaliseKey("net/ipv4/conf/eth0.100/rp_filter"));
    }

    @Test
    void malformedSysctlNamesFileAndLine() {
        AuditException e = assertThrows(AuditException.class, () -> Sysctls.parse("bad.sysctl",
                "# ok\nkernel.sysrq = 0\nsysctl: permission denied on key 'fs.protected_fifos'\n"));
        assertEquals("bad.sysctl:3: expected \"key = value\", found \"sysctl: permission denied on key "
                + "'fs.protected_fifos'\"", e.getMessage());
        e = assertThrows(AuditException.class, () -> Sysctls.parse("bad.sysctl", "kernel sysrq = 0\n"));
        assertEquals("bad.sysctl:1: invalid sysctl key \"kernel sysrq\"", e.getMessage());
    }

    @Test
    void mountinfo() {
        MountInfo m = MountInfo.parse("mi", """
                27 1 254:0 / / rw,relatime - ext4 /dev/vda rw
                31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
                32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime shared:7 - cgroup cgroup rw,cpu,cpuacct
                40 27 0:40 / /var/lib/with\\040space rw - xfs /dev/vdb rw
                """);
        assertEquals("cgroup", m.at("/sys/fs/cgroup/cpu").orElseThrow().fsType());
        assertEquals(java.util.List.of("rw", "cpu", "cpuacct"), m.at("/sys/fs/cgroup/cpu").orElseThrow().superOptions());
        assertEquals("xfs", m.mountOf("/var/lib/with space/x").orElseThrow().fsType());
        assertEquals("ext4", m.mountOf("/var/lib/with").orElseThrow().fsType());
        AuditException e = assertThrows(AuditException.class, () -> MountInfo.parse("mi", "27 1 254:0 / /\n"));
        assertTrue(e.getMessage().startsWith("mi:1: expected a mountinfo line"), e.getMessage());
    }

    @Test
    void kernelVersions() {
        assertEquals(Optional.of(new KernelVersion(6, 18, 44)), KernelVersion.parse("6.18.44-fc-v669"));
        assertEquals(Optional.of(new KernelVersion(5, 10, 0)), KernelVersion.parse("5.10.0-8-amd64"));
        assertEquals(Optional.of(new KernelVersion(6, 1, 0)), KernelVersion.parse("6.1"));
        assertEquals(Optional.empty(), KernelVersion.parse("linux"));
        assertTrue(new KernelVersion(5, 12, 0).atLeast(5, 12));
        assertTrue(!new KernelVersion(5, 11, 99).atLeast(5, 12));
    }
}
