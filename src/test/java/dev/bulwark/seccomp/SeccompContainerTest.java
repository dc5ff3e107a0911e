package dev.bulwark.seccomp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.bulwark.json.Json;
import dev.bulwark.runtime.Capabilities;
import dev.bulwark.runtime.DefaultSpec;
import dev.bulwark.testing.ContainerTestBase;
import dev.bulwark.json.JsonTree;
import dev.bulwark.testing.Sandbox;
import dev.bulwark.testing.Sandbox.Result;
import dev.bulwark.testing.TestEnv;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The compiled filter as the kernel applies it, in real containers run by `bulwark run` (root
 * only). The container runs a small probe (src/test/c/seccomp/probe.c, built with musl-gcc
 * -static into the rootfs) that makes one raw syscall and prints the kernel's answer, so what is
 * checked is the filter's verdict, not a libc wrapper's. Control runs without the filter, or with
 * the profile for other capabilities, show that each refusal comes from the filter.
 */
class SeccompContainerTest extends ContainerTestBase {
    private static final int EPERM = 1;
    private static final int ENOSYS = 38;
    private static final int SIGSYS_EXIT = 128 + 31;
    private static final long CLONE_NEWNET = 0x40000000L;
    private static final long SIGCHLD = 17;
    private static final long AF_UNIX = 1;
    private static final long AF_INET = 2;
    private static final long AF_INET6 = 10;
    private static final long SOCK_STREAM = 1;

    private static Path listener;

    @BeforeAll
    static void probes() throws Exception {
        assumeTrue(Arch.host() == Arch.X86_64, "the probes' ABI checks are written for x86_64");
        Path src = TestEnv.sourceDir().resolve("src/test/c/seccomp");
        cc(List.of("musl-gcc", "-static", "-O2", "-Wall", "-Wextra", "-Werror", "-o", rootfs.resolve("bin/probe").toString(),
                src.resolve("probe.c").toString()), "musl-tools");
        listener = TestEnv.sourceDir().resolve("target/test-c/seccomp-listener");
        Files.createDirectories(listener.getParent());
        cc(List.of("gcc", "-O2", "-Wall", "-Wextra", "-Werror", "-o", listener.toString(), src.resolve("listener.c").toString()),
                "gcc");
    }

    private static void cc(List<String> cmd, String pkg) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String log = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (p.waitFor() != 0) {
            throw new IllegalStateException(String.join(" ", cmd) + " failed (is " + pkg + " installed?):\n" + log);
        }
    }


    @BeforeEach
    void noCoreDumps() {
        // A probe killed by SIGSYS would otherwise try to dump core.
        box.process().put("rlimits", List.of(map("type", "RLIMIT_CORE", "soft", 0, "hard", 0)));
    }


    // ---- helpers ----------------------------------------------------------------------------

    private static int nr(String name) {
        int n = SyscallTable.number(name, Arch.X86_64);
        assertTrue(n >= 0, name);
        return n;
    }


    private static Map<String, Object> cond(int index, String op, long value) {
        return map("index", index, "value", new BigDecimal(Long.toUnsignedString(value)), "op", op);
    }

    @SuppressWarnings("unchecked")
    private Map<String, Object> seccomp() {
        return (Map<String, Object>) box.linux().get("seccomp");
    }

    @SuppressWarnings("unchecked")
    private List<Object> rules() {
        return (List<Object>) seccomp().get("syscalls");
    }

    /**
     * Gives names a rule of their own, first in the profile: the names leave every other rule, so
     * the result does not depend on how overlapping rules combine.
     */
    @SuppressWarnings("unchecked")
    private void rule(List<String> names, String action, Integer errnoRet, List<Map<String, Object>> args) {
        for (Object o : new ArrayList<>(rules())) {
            Map<String, Object> r = (Map<String, Object>) o;
            List<Object> n = new ArrayList<>((List<Object>) r.get("names"));
            n.removeAll(names);
            if (n.isEmpty()) {
                rules().remove(r);
            } else {
                r.put("names", n);
            }
        }
        Map<String, Object> r = map("names", new ArrayList<>(names), "action", action);
        if (errnoRet != null) {
            r.put("errnoRet", errnoRet);
        }
        if (!args.isEmpty()) {
            r.put("args", new ArrayList<>(args));
        }
        rules().addFirst(r);
    }

    private void rule(String name, String action, Integer errnoRet) {
        rule(List.of(name), action, errnoRet, List.of());
    }

    /** Docker's default profile as evaluated for a container with these capabilities. */
    private void profileFor(Set<String> caps) {
        box.linux().put("seccomp", JsonTree.mutable(DefaultSpec.seccomp(DefaultProfile.oci(caps))));
    }

    private void capabilities(List<String> caps) {
        box.process().put("capabilities", map("bounding", caps, "effective", caps, "permitted", caps));
    }

    private static List<String> dockerCapsPlus(String cap) {
        List<String> caps = new ArrayList<>(Capabilities.DOCKER_DEFAULT);
        caps.add(cap);
        return caps;
    }

    private Result sh(String script) throws Exception {
        Result r = box.sh(script);
        assertEquals(0, r.exit(), () -> "exit " + r.exit() + "\nstdout: " + r.out() + "\nstderr: " + r.err());
        return r;
    }

    private Result exec(String... args) throws Exception {
        box.process().put("args", new ArrayList<>(List.of(args)));
        return box.run("c" + Long.toHexString(System.nanoTime()));
    }

    private static List<String> lines(Result r) {
        return r.out().lines().toList();
    }

    /** The probes' answers with the value of a success (a pid, an old persona) left out. */
    private static List<String> outcomes(Result r) {
        return r.out().lines().map(s -> s.startsWith("ok ") ? "ok" : s).toList();
    }

    // ---- the filter is there ----------------------------------------------------------------

    @Test
    void theFilterIsInstalledAndOnlyWhenConfigured() throws Exception {
        assertEquals(List.of("Seccomp:\t2", "Seccomp_filters:\t1"), lines(sh("grep ^Seccomp /proc/self/status")));
        box.linux().remove("seccomp");
        assertEquals(List.of("Seccomp:\t0", "Seccomp_filters:\t0"), lines(sh("grep ^Seccomp /proc/self/status")));
    }

    // ---- actions ----------------------------------------------------------------------------

    @Test
    void aBlockedSyscallReturnsTheConfiguredErrnoAndAllowedOnesWork() throws Exception {
        rule(List.of("mkdir", "mkdirat"), "SCMP_ACT_ERRNO", 123, List.of());
        Result r = sh("mkdir /dev/shm/a; echo rc=$?; probe " + nr("mkdir") + " /dev/shm/b 0755; probe " + nr("mkdirat")
                + " -100 /dev/shm/c 0755; touch /dev/shm/f && echo touched; ls /dev/shm");
        assertEquals(List.of("rc=1", "errno 123", "errno 123", "touched", "f"), lines(r));
        assertTrue(r.err().contains("can't create directory '/dev/shm/a': No medium found"), r.err());
    }

    @Test
    void theDefaultProfileRefusesUnshareAndMountEvenWithCapSysAdmin() throws Exception {
        // CAP_SYS_ADMIN granted, but the filter is the one for Docker's default capabilities: only
        // the filter can refuse these now.
        capabilities(dockerCapsPlus("CAP_SYS_ADMIN"));
        String script = "unshare -n true; echo rc=$?; mount -t tmpfs none /tmp; echo rc=$?; probe " + nr("unshare") + " "
                + CLONE_NEWNET + "; probe " + nr("mount") + " none /tmp tmpfs 0 0";
        Result r = box.sh(script);
        assertEquals(List.of("rc=1", "rc=1", "errno " + EPERM, "errno " + EPERM), lines(r), r.err());
        assertTrue(r.err().contains("Operation not permitted"), r.err());

        // The profile evaluated for capabilities that include CAP_SYS_ADMIN allows them.
        profileFor(new HashSet<>(dockerCapsPlus("CAP_SYS_ADMIN")));
        assertEquals(List.of("rc=0", "rc=0", "ok 0", "ok 0"), lines(sh(script)));
    }

    @Test
    void cloneFlagsAreFilteredByArgument() throws Exception {
        capabilities(dockerCapsPlus("CAP_SYS_ADMIN"));
        String script = "probe " + nr("clone") + " " + SIGCHLD + "; probe " + nr("clone") + " " + (CLONE_NEWNET | SIGCHLD)
                + "; probe " + nr("clone3") + " 0 0; (echo subshell)";
        // A plain fork passes the MASKED_EQ condition; namespace flags fall to the default
        // action; clone3, whose flags a filter cannot read, gets Docker's ENOSYS so libcs fall back.
        assertEquals(List.of("ok", "errno " + EPERM, "errno " + ENOSYS, "subshell"), outcomes(box.sh(script)));

        profileFor(new HashSet<>(dockerCapsPlus("CAP_SYS_ADMIN")));
        List<String> l = outcomes(box.sh(script));
        assertEquals(List.of("ok", "ok"), l.subList(0, 2));
        assertEquals("errno 22", l.get(2), "clone3 reached the kernel, which refuses a NULL argument with EINVAL");
    }

    @Test
    void personalityOnlyTakesTheValuesTheProfileLists() throws Exception {
        // 0xffffffff queries; PER_LINUX, PER_LINUX32, UNAME26 are allowed; ADDR_NO_RANDOMIZE and
        // READ_IMPLIES_EXEC are not (they weaken ASLR and NX).
        String script = "for v in 0xffffffff 0 8 0x20000 0x20008 0x40000 0x400000; do probe " + nr("personality")
                + " $v; done";
        assertEquals(List.of("ok", "ok", "ok", "ok", "ok", "errno 1", "errno 1"), outcomes(box.sh(script)));
        box.linux().remove("seccomp");
        assertTrue(lines(box.sh(script)).stream().allMatch(s -> s.startsWith("ok")), "without the filter the kernel allows all");
    }

    @Test
    void socketFamiliesAreFilteredByArgument() throws Exception {
        rule(List.of("socket"), "SCMP_ACT_ERRNO", 97, List.of(cond(0, "SCMP_CMP_EQ", AF_INET)));
        rules().add(1, map("names", List.of("socket"), "action", "SCMP_ACT_ALLOW", "args",
                List.of(cond(0, "SCMP_CMP_NE", AF_INET))));
        String s = nr("socket") + " ";
        Result r = box.sh("probe " + s + AF_UNIX + " " + SOCK_STREAM + " 0; probe " + s + AF_INET + " " + SOCK_STREAM
                + " 0; probe " + s + AF_INET6 + " " + SOCK_STREAM + " 0; nc 127.0.0.1 1 </dev/null");
        List<String> l = lines(r);
        assertTrue(l.get(0).startsWith("ok "), r.out());
        assertEquals("errno 97", l.get(1), r.out());
        assertTrue(l.get(2).startsWith("ok "), r.out());
        assertTrue(r.err().contains("Address family not supported by protocol"), r.err());
    }

    @Test
    void killProcessKillsWithSigsysAndTrapDeliversIt() throws Exception {
        rule("getppid", "SCMP_ACT_KILL_PROCESS", null);
        Result killed = exec("probe", "-s", Integer.toString(nr("getppid")));
        assertEquals(SIGSYS_EXIT, killed.exit(), killed.err());
        assertEquals("", killed.out(), "no handler may run under KILL_PROCESS");

        rule("getppid", "SCMP_ACT_KILL_THREAD", null);
        assertEquals(SIGSYS_EXIT, exec("probe", "-s", Integer.toString(nr("getppid"))).exit());

        rule("getppid", "SCMP_ACT_TRAP", null);
        Result trapped = exec("probe", "-s", Integer.toString(nr("getppid")));
        assertEquals(0, trapped.exit(), trapped.err());
        assertEquals("sigsys " + nr("getppid"), trapped.out().strip());
    }

    @Test
    void logAllowsAndRecordsTheCall() throws Exception {
        rule("getppid", "SCMP_ACT_LOG", null);
        String comm = probeNamed();
        assertEquals(List.of("ok"), outcomes(sh(comm + " " + nr("getppid"))));
        assumeTrue(kernelLogShowsSeccomp("log"), "seccomp LOG records do not reach the kernel log here");
        String record = auditRecord(comm);
        assertTrue(record.contains("syscall=" + nr("getppid")) && record.contains("code=0x7ffc0000"), "audit record: " + record);
    }

    @Test
    void theLogFlagRecordsErrnoVerdictsToo() throws Exception {
        assumeTrue(kernelLogShowsSeccomp("errno"), "seccomp ERRNO records do not reach the kernel log here");
        rule(List.of("mkdir", "mkdirat"), "SCMP_ACT_ERRNO", 123, List.of());
        String quiet = probeNamed();
        assertEquals(List.of("errno 123"), lines(box.sh(quiet + " " + nr("mkdir") + " /dev/shm/a 0755")));
        // SPEC_ALLOW and TSYNC ride along: the kernel must accept them with the filter.
        seccomp().put("flags", List.of("SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_TSYNC"));
        String loud = probeNamed();
        assertEquals(List.of("errno 123"), lines(box.sh(loud + " " + nr("mkdir") + " /dev/shm/a 0755")));
        String record = auditRecord(loud);
        // The record carries the action without its data (SECCOMP_RET_ACTION_FULL), so no errno.
        assertTrue(record.contains("syscall=" + nr("mkdir")) && record.contains("code=0x50000"), "audit record: " + record);
        // The kernel logs in order, so the first run's record would be there by now.
        assertFalse(kernelLog().contains("comm=\"" + quiet + "\""), "an ERRNO verdict was logged without the LOG flag");
    }

    /**
     * A name of its own for the probe (a symlink in the rootfs), so a kernel audit record, which
     * names the command, can be told to be this run's.
     */
    private static String probeNamed() throws IOException {
        String comm = "p" + Long.toHexString(System.nanoTime() & 0xffffffffffL);
        Files.createSymbolicLink(rootfs.resolve("bin").resolve(comm), Path.of("probe"));
        return comm;
    }

    /**
     * With no audit daemon the kernel prints audit records (type 1326, SECCOMP) to its log; with
     * one they go to the daemon's log, which these tests do not read.
     */
    private static boolean kernelLogShowsSeccomp(String action) throws Exception {
        Path logged = Path.of("/proc/sys/kernel/seccomp/actions_logged");
        boolean auditd = ProcessHandle.allProcesses().anyMatch(h -> h.info().command().map(c -> c.endsWith("/auditd")).orElse(false));
        return !auditd && Files.exists(logged) && List.of(Files.readString(logged).strip().split(" ")).contains(action)
                && new ProcessBuilder("dmesg").redirectOutput(ProcessBuilder.Redirect.DISCARD)
                        .redirectError(ProcessBuilder.Redirect.DISCARD).start().waitFor() == 0;
    }

    private static String auditRecord(String comm) throws Exception {
        String want = "comm=\"" + comm + "\"";
        for (int i = 0; i < 50; i++) {
            var record = kernelLog().lines().filter(x -> x.contains(want)).findFirst();
            if (record.isPresent()) {
                return record.get();
            }
            Thread.sleep(20);
        }
        return "(none for " + want + ")";
    }

    private static String kernelLog() throws Exception {
        Process p = new ProcessBuilder("dmesg").redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        p.waitFor();
        return out;
    }

    @Test
    void traceWithoutATracerIsEnosysAndATracerGetsTheMessage() throws Exception {
        rule("getpgid", "SCMP_ACT_TRACE", 42);
        Result r = box.sh("probe " + nr("getpgid") + " 0; probe -t " + nr("getpgid") + " 0");
        assertEquals(List.of("errno " + ENOSYS, "traced " + nr("getpgid") + " msg 42"), lines(r), r.err());
    }

    /**
     * Whether this host's kernel takes i386 system calls (int $0x80) from a 64-bit process: the
     * probe run on the host, outside any container and filter. CONFIG_IA32_EMULATION can be off,
     * disabled at boot (ia32_emulation=0), or not delivered by the hypervisor: this kind of
     * machine has been seen killing the probe with SIGSEGV although the option is built in.
     */
    private static boolean hostTakesI386Syscalls() throws Exception {
        Process p = new ProcessBuilder(rootfs.resolve("bin/probe").toString(), "-i",
                Integer.toString(SyscallTable.number("getppid", Arch.X86))).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        int exit = p.waitFor();
        System.out.println("SeccompContainerTest: i386 syscalls on this host: exit " + exit + ", \"" + out + "\"");
        return exit == 0 && out.startsWith("ok ");
    }

    @Test
    void architecturesOutsideTheFilterAreKilled() throws Exception {
        int i386Getppid = SyscallTable.number("getppid", Arch.X86);
        if (hostTakesI386Syscalls()) {
            // Docker's profile lists x86 beside x86_64: the i386 getppid (64) through int $0x80 passes.
            Result r = exec("probe", "-i", Integer.toString(i386Getppid));
            assertEquals("ok 0", r.out().strip(), r.err());
        } else {
            // The kernel refuses the i386 entry before any filter runs, so no i386 call can pass
            // in a container either; the filter's x86 dispatch is checked by the BPF interpreter
            // (SeccompCompilerTest) and by DifferentialTest against libseccomp.
            Result r = exec("probe", "-i", Integer.toString(i386Getppid));
            assertEquals(128 + 11, r.exit(), "i386 entry refused by this kernel, as on the host: " + r.out() + r.err());
        }
        // x32 numbers (bit 30 set) arrive under x86_64's AUDIT_ARCH on every x86_64 kernel, so
        // an ABI left out of the filter is checked in the kernel here whatever the host.
        String x32Getppid = Long.toString(Arch.X32_SYSCALL_BIT | nr("getppid"));
        Result r = exec("probe", x32Getppid);
        // Docker's profile lists x32: the call reaches the kernel, which answers ENOSYS where it
        // was built without CONFIG_X86_X32_ABI.
        assertTrue(r.out().strip().startsWith("ok ") || r.out().strip().equals("errno " + ENOSYS), r.out() + r.err());

        seccomp().put("architectures", List.of("SCMP_ARCH_X86_64"));
        r = exec("probe", "-i", Integer.toString(i386Getppid));
        assertEquals(hostTakesI386Syscalls() ? SIGSYS_EXIT : 128 + 11, r.exit(), r.out() + r.err());
        r = exec("probe", x32Getppid);
        assertEquals(SIGSYS_EXIT, r.exit(), "an x32 call outside the filter's architectures is killed: " + r.out() + r.err());
    }

    @Test
    void theFilterHoldsWithoutNoNewPrivilegesForAnUnprivilegedUser() throws Exception {
        // Loaded before the user switch (while the stage still has CAP_SYS_ADMIN), so the filter
        // must let the stage's own setgroups, setresuid, capset and execve through.
        box.process().put("noNewPrivileges", false);
        box.process().put("user", map("uid", 1000, "gid", 1000));
        rule(List.of("mkdir", "mkdirat"), "SCMP_ACT_ERRNO", 123, List.of());
        Result r = box.sh("id -u; grep -E '^(NoNewPrivs|Seccomp):' /proc/self/status; probe " + nr("mkdir") + " /dev/shm/x 0755");
        assertEquals(List.of("1000", "NoNewPrivs:\t0", "Seccomp:\t2", "errno 123"), lines(r), r.err());
    }

    // ---- NOTIFY ------------------------------------------------------------------------------

    /** A listener process and its output lines. */
    private record Listener(Process process, BufferedReader out, Path socket) {
        String line() throws IOException {
            return out.readLine();
        }

        List<String> rest() throws Exception {
            List<String> l = new ArrayList<>();
            for (String s; (s = out.readLine()) != null; ) {
                l.add(s);
            }
            assertTrue(process.waitFor(30, TimeUnit.SECONDS));
            return l;
        }
    }

    private Listener listen(String... mode) throws Exception {
        Path socket = box.dir().resolve("listener.sock");
        List<String> cmd = new ArrayList<>(List.of(listener.toString(), socket.toString()));
        cmd.addAll(List.of(mode));
        Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        Listener l = new Listener(p, new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8)), socket);
        assertEquals("listening", l.line());
        seccomp().put("listenerPath", socket.toString());
        seccomp().put("listenerMetadata", "test-metadata");
        return l;
    }

    /** mkdir traps to the listener; the container's init is mkdir itself, on a directory the test sees. */
    private Path trapMkdir() throws IOException {
        rule(List.of("mkdir", "mkdirat"), "SCMP_ACT_NOTIFY", null, List.of());
        Path shared = Files.createDirectories(box.dir().resolve("shared"));
        box.mounts().add(map("destination", "/shared", "type", "bind", "source", shared.toString(), "options", List.of("rbind")));
        return shared;
    }

    @SuppressWarnings("unchecked")
    @Test
    void notifyHandsTheFdAndStateToTheListenerWhichLetsTheCallContinue() throws Exception {
        Path shared = trapMkdir();
        Listener l = listen("continue");
        try {
            String id = "notify-" + Long.toHexString(System.nanoTime());
            box.process().put("args", new ArrayList<>(List.of("mkdir", "/shared/made")));
            Result r = box.run(id);
            assertEquals(0, r.exit(), r.err());
            assertTrue(Files.isDirectory(shared.resolve("made")), "the call went through after CONTINUE");
            List<String> out = l.rest();
            assertEquals(3, out.size(), out.toString());
            assertTrue(out.get(0).startsWith("state "), out.toString());
            Map<String, Object> st = (Map<String, Object>) JsonTree.mutable(Json.parse(out.get(0).substring(6)));
            String[] notif = out.get(1).split(" ");
            assertEquals("notif", notif[0]);
            assertEquals(Integer.toString(nr("mkdir")), notif[2]);
            assertEquals("answered", out.get(2));

            assertEquals("1.2.0", st.get("ociVersion"));
            assertEquals(List.of("seccompFd"), st.get("fds"));
            assertEquals("test-metadata", st.get("metadata"));
            // The trapped process is the container's init, so the pid the listener was told is
            // the pid of the process the kernel reports.
            assertEquals(new BigDecimal(notif[1]), st.get("pid"));
            Map<String, Object> state = (Map<String, Object>) st.get("state");
            assertEquals(id, state.get("id"));
            assertEquals("creating", state.get("status"));
            assertEquals(st.get("pid"), state.get("pid"));
            assertEquals(box.bundle().toString(), state.get("bundle"));
        } finally {
            l.process().destroyForcibly();
        }
    }

    @Test
    void theListenersErrnoReachesTheContainer() throws Exception {
        Path shared = trapMkdir();
        // Without no_new_privs the filter is loaded before the user switch: the hand-off must
        // work from there too.
        box.process().put("noNewPrivileges", false);
        Listener l = listen("errno", "105");
        try {
            Result r = exec("mkdir", "/shared/refused");
            assertEquals(1, r.exit());
            assertTrue(r.err().contains("No buffer space available"), r.err());
            assertFalse(Files.exists(shared.resolve("refused")));
            assertEquals("answered", l.rest().getLast());
        } finally {
            l.process().destroyForcibly();
        }
    }

    @Test
    void aTrappedCallWhoseSupervisorIsGoneFails() throws Exception {
        Path shared = trapMkdir();
        Listener l = listen("close");
        try {
            // The listener closes the fd as soon as it has it: whether the call is trapped before
            // or after, the kernel answers pending and new notifications with ENOSYS.
            Result r = exec("mkdir", "/shared/orphan");
            assertEquals("closed", l.rest().getLast());
            assertEquals(1, r.exit());
            assertTrue(r.err().contains("Function not implemented"), r.err());
            assertFalse(Files.exists(shared.resolve("orphan")));
        } finally {
            l.process().destroyForcibly();
        }
    }

    // ---- failures leave nothing behind (Sandbox.close checks) ---------------------------------

    @Test
    void aProfileThatCannotCompileIsRefusedByRule() throws Exception {
        rules().add(map("names", List.of("getpid", "nosuchcall"), "action", "SCMP_ACT_ALLOW"));
        Result r = box.sh("true");
        assertEquals(1, r.exit());
        int i = rules().size() - 1;
        assertTrue(r.err().contains("linux.seccomp.syscalls[" + i + "].names[1]"), r.err());
        assertTrue(r.err().contains("nosuchcall"), r.err());
    }

    @Test
    void notifyWithoutAListenerPathIsRefused() throws Exception {
        rule("mkdir", "SCMP_ACT_NOTIFY", null);
        Result r = box.sh("true");
        assertEquals(1, r.exit());
        assertTrue(r.err().contains("linux.seccomp.listenerPath"), r.err());
    }

    @Test
    void aListenerThatIsNotThereFailsTheStart() throws Exception {
        rule("mkdir", "SCMP_ACT_NOTIFY", null);
        Path socket = box.dir().resolve("nobody.sock");
        seccomp().put("listenerPath", socket.toString());
        Result r = box.sh("echo started");
        assertTrue(r.exit() != 0, r.out());
        assertEquals("", r.out(), "the container ran although its listener was missing");
        assertTrue(r.err().contains("connect to seccomp listener " + socket), r.err());
    }
}
