package dev.bulwark.audit;

import static dev.bulwark.audit.Fixtures.byId;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** This machine's real /proc/config.gz, /proc/cmdline and /proc/sys. */
class LiveHostTest {

    private static Report live(Path stateRoot) {
        AuditCommand.Options o = AuditCommand.parse(List.of());
        return AuditCommand.audit(stateRoot, o, Host.LIVE);
    }

    @Test
    void auditsThisHost(@TempDir Path state) {
        Report r = live(state);
        assertEquals("/proc/cmdline", r.inputs().get("command line"));
        assertEquals("/proc/sys", r.inputs().get("sysctls"));
        Map<String, Finding> m = byId(r.findings());
        assertNotEquals(Status.SKIP, m.get("cmdline.mitigations").status());
        assertNotEquals(Status.SKIP, m.get("sysctl.kernel.randomize_va_space").status());
        assertNotEquals(Status.SKIP, m.get("sysctl.fs.protected_symlinks").status());
        assertEquals(Status.PASS, m.get("runtime.seccomp").status(), m.get("runtime.seccomp").toString());
        assertTrue(m.containsKey("runtime.cgroup-version"));
        // Text and JSON render without error.
        assertTrue(r.text(false, true).contains("kernel "));
        dev.bulwark.json.Json.parse(r.json());
    }

    @Test
    void readsTheRealKernelConfig(@TempDir Path state) {
        boolean procConfig = Files.exists(Path.of("/proc/config.gz"));
        assumeTrue(procConfig || Host.LIVE.release().map(rel -> Files.exists(Path.of("/boot/config-" + rel))).orElse(false),
                "this kernel publishes no config");
        Report r = live(state);
        assertTrue(r.inputs().containsKey("kernel config"), r.inputs().toString());
        Map<String, Finding> m = byId(r.findings());
        // Every kernel has CONFIG_BUG or says it is not set: the config was read, not skipped.
        assertNotEquals(Status.SKIP, m.get("kconfig.BUG").status());
        long judged = r.findings().stream().filter(f -> f.section() == Section.KERNEL_CONFIG && f.status() != Status.SKIP).count();
        assertTrue(judged > 100, "kernel config checks judged: " + judged);
    }

    @Test
    void multiDigitSysctlsReadWhole(@TempDir Path state) throws Exception {
        // The kernel's integer sysctl handlers do not continue a partial read; a reader that starts
        // with a 1-byte read (Files.readString on a 0-sized procfs file) gets "4" for "4096".
        Process p = new ProcessBuilder("cat", "/proc/sys/vm/mmap_min_addr").start();
        String expected = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        assertEquals(0, p.waitFor());
        Map<String, Finding> m = byId(live(state).findings());
        Finding f = m.get("sysctl.vm.mmap_min_addr#x86").status() == Status.SKIP
                ? m.get("sysctl.vm.mmap_min_addr#arm64") : m.get("sysctl.vm.mmap_min_addr#x86");
        assertEquals(expected, f.actual());
    }
}
