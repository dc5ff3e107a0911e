package dev.bulwark.seccomp;

import static dev.bulwark.seccomp.SeccompTesting.ALLOW;
import static dev.bulwark.seccomp.SeccompTesting.errno;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.bulwark.json.Json;
import dev.bulwark.json.JsonValue;
import dev.bulwark.json.JsonValue.JsonArray;
import dev.bulwark.json.JsonValue.JsonObject;
import dev.bulwark.json.JsonValue.JsonString;
import dev.bulwark.seccomp.DockerProfile.KernelVersion;
import dev.bulwark.spec.Spec.Seccomp;
import dev.bulwark.spec.Spec.SeccompSyscall;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** Docker's own default.json, loaded unchanged, and its conditions evaluated as Docker does. */
class DockerProfileTest {
    /** Docker's default capability set. */
    static final Set<String> DOCKER_CAPS = Set.of("CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER",
            "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
            "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE");
    static final Set<String> ALL_CAPS = Set.of("CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER",
            "CAP_FSETID", "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
            "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK",
            "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT",
            "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME",
            "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP",
            "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND",
            "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE");
    private static final KernelVersion K61 = new KernelVersion(6, 1);
    private static final int CLONE_NEWUSER = 0x10000000;
    private static final int SIGCHLD = 17;

    private static BpfInterpreter program(Set<String> caps, Arch arch, KernelVersion k) {
        return new BpfInterpreter(SeccompCompiler.compile(DefaultProfile.oci(caps, arch, k), arch).filter());
    }

    private static int call(BpfInterpreter p, Arch arch, String name, long... args) {
        int nr = SyscallTable.number(name, arch);
        assertTrue(nr != SyscallTable.ABSENT, name + " on " + arch);
        long[] a = new long[6];
        System.arraycopy(args, 0, a, 0, args.length);
        return p.run(nr, arch.auditArch(), 0, a);
    }

    @Test
    void debianFileLoadsUnchanged() throws Exception {
        String text = Files.readString(DefaultProfile.DEBIAN);
        DockerProfile p = DockerProfile.parse(text, DefaultProfile.DEBIAN.toString());
        assertEquals(p, DefaultProfile.profile());
        // Every rule and name of the file is there, in order.
        JsonArray raw = (JsonArray) ((JsonObject) Json.parse(text)).members().get("syscalls");
        assertEquals(raw.elements().size(), p.syscalls().size());
        for (int i = 0; i < raw.elements().size(); i++) {
            JsonValue names = ((JsonObject) raw.elements().get(i)).members().get("names");
            List<String> expected = new ArrayList<>();
            for (JsonValue n : ((JsonArray) names).elements()) {
                expected.add(((JsonString) n).value());
            }
            assertEquals(expected, p.syscalls().get(i).names(), "syscalls[" + i + "]");
        }
        // ...and every name compiles (the table knows them all).
        SeccompCompiler.compile(DefaultProfile.oci(ALL_CAPS, Arch.X86_64, K61), Arch.X86_64);
    }

    @Test
    void architecturesComeFromTheArchMapOfTheHost() {
        assertEquals(List.of("SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"),
                DefaultProfile.oci(DOCKER_CAPS, Arch.X86_64, K61).architectures());
        assertEquals(List.of("SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"),
                DefaultProfile.oci(DOCKER_CAPS, Arch.AARCH64, K61).architectures());
    }

    /** Each rule with includes.caps is in the OCI profile exactly when all its caps are held. */
    @Test
    void capabilityRulesFollowTheCapabilities() {
        DockerProfile p = DefaultProfile.profile();
        int checked = 0;
        for (DockerProfile.Rule r : p.syscalls()) {
            if (r.includes().caps().isEmpty()) {
                continue;
            }
            Set<String> with = new HashSet<>(DOCKER_CAPS);
            with.addAll(r.includes().caps());
            Set<String> without = new HashSet<>(ALL_CAPS);
            without.removeAll(r.includes().caps());
            SeccompSyscall oci = new SeccompSyscall(r.names(), r.action(), r.errnoRet(), r.args());
            boolean archOk = r.includes().arches().isEmpty() || r.includes().arches().contains("amd64");
            assertEquals(archOk, p.evaluate(with, Arch.X86_64, K61).orElseThrow().syscalls().contains(oci), r.names().toString());
            assertFalse(p.evaluate(without, Arch.X86_64, K61).orElseThrow().syscalls().contains(oci), r.names().toString());
            checked++;
        }
        assertTrue(checked >= 10, "only " + checked + " capability rules");
    }

    @Test
    void sysAdminAddsMountAndNamespaces() {
        BpfInterpreter plain = program(DOCKER_CAPS, Arch.X86_64, K61);
        Set<String> admin = new HashSet<>(DOCKER_CAPS);
        admin.add("CAP_SYS_ADMIN");
        BpfInterpreter withAdmin = program(admin, Arch.X86_64, K61);
        for (String name : List.of("mount", "umount2", "unshare", "setns", "fsopen", "open_tree", "bpf", "sethostname")) {
            assertEquals(errno(1), call(plain, Arch.X86_64, name), name + " without CAP_SYS_ADMIN");
            assertEquals(ALLOW, call(withAdmin, Arch.X86_64, name), name + " with CAP_SYS_ADMIN");
        }
        // clone: plain threads and forks pass, new namespaces only with CAP_SYS_ADMIN.
        assertEquals(ALLOW, call(plain, Arch.X86_64, "clone", SIGCHLD));
        assertEquals(errno(1), call(plain, Arch.X86_64, "clone", CLONE_NEWUSER | SIGCHLD));
        assertEquals(ALLOW, call(withAdmin, Arch.X86_64, "clone", CLONE_NEWUSER | SIGCHLD));
        // clone3 cannot be filtered by flags (they are in memory): ENOSYS makes libc fall back to clone.
        assertEquals(errno(38), call(plain, Arch.X86_64, "clone3"));
        assertEquals(ALLOW, call(withAdmin, Arch.X86_64, "clone3"));
    }

    @Test
    void otherCapabilitiesAddTheirSyscalls() {
        String[][] cases = {{"CAP_SYS_PTRACE", "kcmp", "process_vm_readv"}, {"CAP_SYS_TIME", "settimeofday", "clock_settime"},
            {"CAP_SYS_MODULE", "init_module", "finit_module"}, {"CAP_SYS_BOOT", "reboot"}, {"CAP_SYS_PACCT", "acct"},
            {"CAP_DAC_READ_SEARCH", "open_by_handle_at"}, {"CAP_SYS_RAWIO", "iopl", "ioperm"}, {"CAP_SYSLOG", "syslog"}};
        BpfInterpreter plain = program(DOCKER_CAPS, Arch.X86_64, K61);
        for (String[] c : cases) {
            Set<String> caps = new HashSet<>(DOCKER_CAPS);
            caps.add(c[0]);
            BpfInterpreter p = program(caps, Arch.X86_64, K61);
            for (int i = 1; i < c.length; i++) {
                assertEquals(errno(1), call(plain, Arch.X86_64, c[i]), c[i] + " without " + c[0]);
                assertEquals(ALLOW, call(p, Arch.X86_64, c[i]), c[i] + " with " + c[0]);
            }
        }
    }

    @Test
    void ptraceNeedsKernel48AndPersonalityOnlyItsValues() {
        assertEquals(errno(1), call(program(DOCKER_CAPS, Arch.X86_64, new KernelVersion(4, 4)), Arch.X86_64, "ptrace"));
        BpfInterpreter p = program(DOCKER_CAPS, Arch.X86_64, K61);
        assertEquals(ALLOW, call(p, Arch.X86_64, "ptrace"));
        for (long ok : new long[] {0, 8, 0x20000, 0x20008, 0xffffffffL}) {
            assertEquals(ALLOW, call(p, Arch.X86_64, "personality", ok), "personality " + ok);
        }
        assertEquals(errno(1), call(p, Arch.X86_64, "personality", 0x0040000)); // ADDR_NO_RANDOMIZE
    }

    @Test
    void archRulesFollowTheHost() {
        BpfInterpreter x86 = program(DOCKER_CAPS, Arch.X86_64, K61);
        assertEquals(ALLOW, call(x86, Arch.X86_64, "arch_prctl"));
        assertEquals(ALLOW, call(x86, Arch.X86_64, "modify_ldt"));
        BpfInterpreter arm = program(DOCKER_CAPS, Arch.AARCH64, K61);
        assertEquals(ALLOW, call(arm, Arch.ARM, "arm_fadvise64_64"));
        assertEquals(ALLOW, call(arm, Arch.ARM, "breakpoint"));
        // An x86 process under an arm64 host's profile is not in the filter at all.
        assertEquals(SeccompTesting.KILL_PROCESS, arm.run(3, Arch.X86.auditArch(), 0, new long[6]));
    }

    @Test
    void dockerFormatErrorsNameTheField() {
        var e = assertThrows(SeccompException.class, () -> DockerProfile.parse(
                "{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":[{\"names\":[\"read\"],\"action\":\"SCMP_ACT_ALLOW\","
                        + "\"includes\":{\"minKernel\":\"4\"}}]}", "p.json"));
        assertEquals("p.json: syscalls[0].includes.minKernel: invalid kernel version \"4\", expected \"<kernel>.<major>\"",
                e.getMessage());
        e = assertThrows(SeccompException.class, () -> DockerProfile.parse(
                "{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":[{\"name\":\"read\",\"names\":[\"write\"],"
                        + "\"action\":\"SCMP_ACT_ALLOW\"}]}", "p.json"));
        assertTrue(e.getMessage().startsWith("p.json: syscalls[0]: 'name' and 'names'"), e.getMessage());
        e = assertThrows(SeccompException.class, () -> DockerProfile.parse(
                "{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"architectures\":[\"SCMP_ARCH_X86\"],"
                        + "\"archMap\":[{\"architecture\":\"SCMP_ARCH_X86_64\"}]}", "p.json"));
        assertTrue(e.getMessage().contains("'architectures' and 'archMap'"), e.getMessage());
    }

    @Test
    void singleNameAndExcludesAndEmptyProfile() {
        DockerProfile p = DockerProfile.parse("""
                {"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":38,"syscalls":[
                 {"name":"read","action":"SCMP_ACT_ALLOW"},
                 {"names":["write"],"action":"SCMP_ACT_ALLOW","excludes":{"caps":["CAP_SYS_ADMIN"],"minKernel":"5.10"}},
                 {"names":["close"],"action":"SCMP_ACT_ALLOW","excludes":{"arches":["amd64"]}}]}""", "p.json");
        Seccomp old = p.evaluate(DOCKER_CAPS, Arch.X86_64, new KernelVersion(5, 4)).orElseThrow();
        assertEquals(List.of(List.of("read"), List.of("write")), old.syscalls().stream().map(SeccompSyscall::names).toList());
        assertEquals(38, old.defaultErrnoRet().orElseThrow());
        Seccomp recent = p.evaluate(DOCKER_CAPS, Arch.AARCH64, new KernelVersion(5, 10)).orElseThrow();
        assertEquals(List.of(List.of("read"), List.of("close")), recent.syscalls().stream().map(SeccompSyscall::names).toList());
        assertTrue(DockerProfile.parse("{}", "empty.json").evaluate(DOCKER_CAPS, Arch.X86_64, K61).isEmpty());
    }

    @Test
    void kernelReleasesParseLikeDocker() {
        assertEquals(new KernelVersion(6, 1), KernelVersion.ofRelease("6.1.0-18-amd64"));
        assertEquals(new KernelVersion(3, 12), KernelVersion.ofRelease("3.12-1-amd64"));
        assertEquals(new KernelVersion(6, 18), KernelVersion.ofRelease("6.18.44-fc-v669"));
        assertThrows(SeccompException.class, () -> KernelVersion.ofRelease("garbage"));
    }
}
