package dev.bulwark.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.bulwark.testing.ContainerTestBase;
import dev.bulwark.testing.Sandbox;
import dev.bulwark.testing.Sandbox.Result;
import dev.bulwark.testing.TestEnv;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** `bulwark run` on real containers (root only): each test checks one behaviour of item 3. */
class RunContainerTest extends ContainerTestBase {





    private Result ok(String script) throws Exception {
        Result r = box.sh(script);
        assertEquals(0, r.exit(), () -> "exit " + r.exit() + "\nstdout: " + r.out() + "\nstderr: " + r.err());
        return r;
    }

    private static String hostNs(String name) throws Exception {
        return Files.readSymbolicLink(Path.of("/proc/self/ns/" + name)).toString();
    }


    private void addNamespace(String type) {
        box.namespaces().add(map("type", type));
    }

    private void userNamespace(int hostId) {
        addNamespace("user");
        box.linux().put("uidMappings", List.of(map("containerID", 0, "hostID", hostId, "size", 65536)));
        box.linux().put("gidMappings", List.of(map("containerID", 0, "hostID", hostId, "size", 65536)));
    }

    @Test
    void everyNamespaceDiffersFromTheHost() throws Exception {
        userNamespace(200000);
        addNamespace("time");
        String out = ok("for n in pid net mnt ipc uts cgroup user time; do echo $n=$(readlink /proc/self/ns/$n); done").out();
        for (String n : List.of("pid", "net", "mnt", "ipc", "uts", "cgroup", "user", "time")) {
            String line = out.lines().filter(l -> l.startsWith(n + "=")).findFirst().orElseThrow();
            String inside = line.substring(n.length() + 1);
            assertTrue(inside.startsWith(n + ":["), line);
            assertNotEquals(hostNs(n), inside, n + " namespace is the host's");
        }
    }

    @Test
    void joinsANamespaceByPath() throws Exception {
        Process holder = new ProcessBuilder("unshare", "--net", "--uts", "sleep", "60").start();
        try {
            Path net = Path.of("/proc/" + holder.pid() + "/ns/net");
            for (int i = 0; i < 100 && Files.readSymbolicLink(net).toString().equals(hostNs("net")); i++) {
                Thread.sleep(20);
            }
            String expected = Files.readSymbolicLink(net).toString();
            box.namespaces().removeIf(n -> ((Map<?, ?>) n).get("type").equals("network"));
            box.namespaces().add(map("type", "network", "path", net.toString()));
            assertEquals(expected, ok("readlink /proc/self/ns/net").out().strip());
        } finally {
            holder.destroyForcibly();
            holder.waitFor(10, TimeUnit.SECONDS);
        }
    }

    @Test
    void userNamespaceMappings() throws Exception {
        userNamespace(300000);
        String out = ok("cat /proc/self/uid_map /proc/self/gid_map; id -u; id -g").out();
        List<String> lines = out.lines().map(l -> l.strip().replaceAll("\\s+", " ")).toList();
        assertEquals(List.of("0 300000 65536", "0 300000 65536", "0", "0"), lines);
    }

    @Test
    void capabilitySetsAsConfigured() throws Exception {
        // A non-root user keeps exactly what the sets say through execve (root would get its
        // permitted set as effective): bounding CHOWN|KILL|NET_RAW, inheritable KILL|NET_RAW,
        // ambient KILL, which becomes the permitted and effective set of the program.
        box.process().put("user", map("uid", 1000, "gid", 1000));
        box.process().put("capabilities", map(
                "bounding", List.of("CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW"),
                "permitted", List.of("CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW"),
                "effective", List.of("CAP_CHOWN", "CAP_KILL"),
                "inheritable", List.of("CAP_KILL", "CAP_NET_RAW"),
                "ambient", List.of("CAP_KILL")));
        String out = ok("grep ^Cap /proc/self/status").out();
        assertTrue(out.contains("CapBnd:\t0000000000002021"), out);
        assertTrue(out.contains("CapInh:\t0000000000002020"), out);
        assertTrue(out.contains("CapPrm:\t0000000000000020"), out);
        assertTrue(out.contains("CapEff:\t0000000000000020"), out);
        assertTrue(out.contains("CapAmb:\t0000000000000020"), out);
    }

    @Test
    void rootGetsTheDockerDefaultBoundingSet() throws Exception {
        String out = ok("grep ^CapBnd /proc/self/status").out();
        long expected = 0;
        for (String c : Capabilities.DOCKER_DEFAULT) {
            expected |= 1L << Capabilities.number(c);
        }
        assertEquals(String.format("CapBnd:\t%016x", expected), out.strip());
    }

    @Test
    void noNewPrivileges() throws Exception {
        assertEquals("NoNewPrivs:\t1", ok("grep NoNewPrivs /proc/self/status").out().strip());
        box.process().put("noNewPrivileges", false);
        assertEquals("NoNewPrivs:\t0", ok("grep NoNewPrivs /proc/self/status").out().strip());
    }

    @Test
    void maskedPathsShowNothing() throws Exception {
        String out = ok("echo timer=$(cat /proc/timer_list | wc -c); echo fw=$(ls -A /sys/firmware | wc -l); "
                + "echo keys=$(cat /proc/keys | wc -c)").out();
        assertTrue(out.contains("timer=0"), out);
        assertTrue(out.contains("fw=0"), out);
        assertTrue(out.contains("keys=0"), out);
        // and on the host they are not empty, so the test can tell
        assertTrue(TestEnv.readProc(Path.of("/proc/timer_list")).length() > 0);
    }

    @Test
    void readonlyPathsAndRootGiveErofs() throws Exception {
        Result r = box.sh("echo 1 > /proc/sys/kernel/core_pattern; echo rc=$?; touch /newfile; echo rc=$?; "
                + "echo 1 > /proc/sysrq-trigger; echo rc=$?; touch /tmp/x; echo rc=$?");
        assertTrue(r.err().contains("Read-only file system"), r.err());
        assertEquals(List.of("rc=1", "rc=1", "rc=1", "rc=1"), r.out().lines().toList());
        box.config.put("root", map("path", rootfs.toString(), "readonly", false));
        box.mounts().add(map("destination", "/tmp", "type", "tmpfs", "source", "tmpfs", "options", List.of("nosuid", "nodev")));
        assertEquals("ok", ok("touch /tmp/x && echo ok").out().strip());
    }

    @Test
    void hostnameAndDomainname() throws Exception {
        box.config.put("hostname", "inside");
        box.config.put("domainname", "example.test");
        assertEquals("inside example.test", ok("echo $(hostname) $(cat /proc/sys/kernel/domainname)").out().strip());
    }

    @Test
    void rlimits() throws Exception {
        box.process().put("rlimits", List.of(
                map("type", "RLIMIT_NOFILE", "soft", 512, "hard", 2048),
                map("type", "RLIMIT_CORE", "soft", 0, "hard", 0)));
        String out = ok("grep -E 'open files|core file' /proc/self/limits").out();
        assertTrue(out.matches("(?s).*Max core file size\\s+0\\s+0.*"), out);
        assertTrue(out.matches("(?s).*Max open files\\s+512\\s+2048.*"), out);
    }

    @Test
    void envCwdAndUmask() throws Exception {
        box.env().add("GREETING=hello world");
        box.process().put("cwd", "/work/dir");
        box.process().put("user", map("uid", 0, "gid", 0, "umask", 027));
        String out = ok("echo \"$GREETING\"; pwd; umask").out();
        assertEquals(List.of("hello world", "/work/dir", "0027"), out.lines().toList());
    }

    @Test
    void userAndAdditionalGroups() throws Exception {
        box.process().put("user", map("uid", 1234, "gid", 5678, "additionalGids", List.of(10, 20)));
        assertEquals("1234 5678 5678 10 20", ok("echo $(id -u) $(id -g) $(id -G)").out().strip());
    }

    @Test
    void exitStatusIsReturned() throws Exception {
        assertEquals(42, box.sh("exit 42").exit());
        assertEquals(0, box.sh("true").exit());
    }

    @Test
    void killedBySignalGives128PlusN() throws Exception {
        // Without a PID namespace the shell is not an init, so it can die of its own SIGKILL.
        box.namespaces().removeIf(n -> ((Map<?, ?>) n).get("type").equals("pid"));
        box.mounts().removeIf(m -> ((Map<?, ?>) m).get("destination").equals("/proc"));
        box.mounts().add(map("destination", "/proc", "type", "bind", "source", "/proc", "options", List.of("rbind", "ro")));
        box.linux().put("maskedPaths", List.of());
        box.linux().put("readonlyPaths", List.of());
        assertEquals(137, box.sh("kill -KILL $$").exit());
    }

    @Test
    void terminationSignalsAreForwarded() throws Exception {
        for (String sig : List.of("TERM", "INT", "HUP")) {
            box.process().put("args", new ArrayList<>(List.of("sh", "-c",
                    "trap 'echo got-" + sig + "; exit 7' " + sig + "; echo ready; while :; do sleep 0.05; done")));
            box.writeConfig();
            Process p = box.start("sig-" + sig.toLowerCase());
            BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream()));
            assertEquals("ready", out.readLine());
            new ProcessBuilder("kill", "-" + sig, Long.toString(p.pid())).start().waitFor();
            assertEquals("got-" + sig, out.readLine(), sig + " did not reach the container's trap");
            assertTrue(p.waitFor(30, TimeUnit.SECONDS), sig + ": the runtime did not exit");
            assertEquals(7, p.exitValue(), sig + ": " + new String(p.getErrorStream().readAllBytes()));
        }
    }

    @Test
    void sysctlOomScoreAndTimeOffsets() throws Exception {
        box.linux().put("sysctl", map("net.ipv4.ip_forward", "1", "kernel.shmmni", "1000"));
        box.process().put("oomScoreAdj", 321);
        addNamespace("time");
        box.linux().put("timeOffsets", map("boottime", map("secs", 864000, "nanosecs", 0)));
        String out = ok("cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmni /proc/self/oom_score_adj; cut -d. -f1 /proc/uptime").out();
        List<String> l = out.lines().toList();
        assertEquals(List.of("1", "1000", "321"), l.subList(0, 3));
        assertTrue(Long.parseLong(l.get(3)) >= 864000, out);
    }

    @Test
    void devicesDefaultAndConfigured() throws Exception {
        box.linux().put("devices", List.of(map("type", "c", "path", "/dev/fuse", "major", 10, "minor", 229, "fileMode", 0640)));
        String out = ok("for d in null zero full random urandom tty fuse; do stat -c '%n %F %t:%T %a' /dev/$d; done; "
                + "for l in ptmx fd stdin; do readlink /dev/$l; done; test -d /dev/pts && test -d /dev/shm && echo dirs").out();
        assertTrue(out.contains("/dev/null character special file 1:3 666"), out);
        assertTrue(out.contains("/dev/tty character special file 5:0 666"), out);
        assertTrue(out.contains("/dev/fuse character special file a:e5 640"), out);
        assertTrue(out.contains("pts/ptmx\n/proc/self/fd\n/proc/self/fd/0\ndirs"), out);
    }

    @Test
    void devicesInAUserNamespaceAreBoundFromTheHost() throws Exception {
        userNamespace(400000);
        String out = ok("echo hi > /dev/null && head -c 4 /dev/zero | wc -c && stat -c '%t:%T' /dev/urandom").out();
        assertEquals(List.of("4", "1:9"), out.lines().toList());
    }

    @Test
    void bindMountsWithOptions() throws Exception {
        Path shared = Files.createDirectories(box.dir().resolve("shared"));
        Files.writeString(shared.resolve("f"), "data");
        box.mounts().add(map("destination", "/mnt/ro", "type", "bind", "source", shared.toString(), "options", List.of("rbind", "ro")));
        box.mounts().add(map("destination", "/mnt/rw", "type", "bind", "source", shared.toString(), "options", List.of("bind", "nosuid", "noexec")));
        box.mounts().add(map("destination", "/mnt/tmp", "type", "tmpfs", "source", "tmpfs", "options", List.of("size=1m", "mode=700", "noexec")));
        Result r = box.sh("cat /mnt/ro/f; echo; echo x > /mnt/ro/g; echo rc=$?; echo y > /mnt/rw/g && echo rw-ok; "
                + "grep -E ' /mnt/(ro|rw|tmp) ' /proc/self/mountinfo | cut -d' ' -f5,6; stat -c %a /mnt/tmp");
        assertEquals(0, r.exit(), r.err());
        assertTrue(r.out().contains("data\nrc=1\nrw-ok"), r.out());
        assertTrue(r.out().contains("/mnt/ro ro,"), r.out());
        assertTrue(r.out().contains("/mnt/rw rw,nosuid,noexec"), r.out());
        assertTrue(r.out().contains("/mnt/tmp rw,nosuid,nodev,noexec") || r.out().contains("/mnt/tmp rw,noexec"), r.out());
        assertTrue(r.out().strip().endsWith("700"), r.out());
        assertEquals("y\n", Files.readString(shared.resolve("g")));
    }

    @Test
    void theContainerHasASessionKeyringOfItsOwn() throws Exception {
        // /proc/keys is masked in the default config; unmask it to look.
        box.linux().put("maskedPaths", List.of());
        String out = ok("grep -c _ses /proc/keys; grep _ses /proc/keys | grep -o '_ses[^:]*'").out();
        assertTrue(out.lines().anyMatch(l -> l.startsWith("_ses.c")), "the container's own session keyring: " + out);
    }

    @Test
    void tmpcopyupKeepsWhatTheDirectoryHeld() throws Exception {
        Path rw = java.nio.file.Files.createTempDirectory("bulwark-copyup");
        try {
            // A private copy of /etc with a file, a mode and a symlink to carry over.
            Path etc = Files.createDirectories(rw.resolve("etc"));
            Files.writeString(etc.resolve("motd"), "hello");
            Files.setPosixFilePermissions(etc.resolve("motd"), java.nio.file.attribute.PosixFilePermissions.fromString("rw-r-----"));
            Files.createSymbolicLink(etc.resolve("link"), Path.of("/etc/motd"));
            box.mounts().add(map("destination", "/etc", "type", "bind", "source", etc.toString(), "options", List.of("rbind", "ro")));
            box.mounts().add(map("destination", "/etc", "type", "tmpfs", "source", "tmpfs", "options", List.of("tmpcopyup", "mode=755")));
            String out = ok("cat /etc/motd; echo; stat -c %a /etc/motd; readlink /etc/link; echo new > /etc/new && echo writable; "
                    + "grep ' /etc ' /proc/self/mountinfo | tail -1 | cut -d' ' -f9").out();
            assertEquals(List.of("hello", "640", "/etc/motd", "writable", "tmpfs"), out.lines().toList());
            assertFalse(Files.exists(etc.resolve("new")), "the write went through to the directory below");
        } finally {
            TestEnv.deleteTree(rw);
        }
    }

    @Test
    void mountPropagationAndRootfsPropagation() throws Exception {
        box.linux().put("rootfsPropagation", "rprivate");
        box.mounts().add(map("destination", "/mnt/s", "type", "tmpfs", "source", "tmpfs", "options", List.of("shared")));
        String out = ok("awk '$5==\"/mnt/s\" || $5==\"/\"' /proc/self/mountinfo").out();
        String mnt = out.lines().filter(l -> l.split(" ")[4].equals("/mnt/s")).findFirst().orElseThrow();
        String root = out.lines().filter(l -> l.split(" ")[4].equals("/")).findFirst().orElseThrow();
        assertTrue(mnt.contains(" shared:"), out);
        // rprivate: the root receives nothing from the host (no master:) and shares nothing
        assertTrue(!root.contains("master:") && !root.contains("shared:"), out);
    }

    @Test
    void theStageRunsSealedAndLeaksNoDescriptor() throws Exception {
        // Without a PID namespace the container can see its parent, the stage.
        box.namespaces().removeIf(n -> ((Map<?, ?>) n).get("type").equals("pid"));
        box.mounts().removeIf(m -> ((Map<?, ?>) m).get("destination").equals("/proc"));
        box.mounts().add(map("destination", "/proc", "type", "bind", "source", "/proc", "options", List.of("rbind")));
        box.linux().put("maskedPaths", List.of());
        box.linux().put("readonlyPaths", List.of());
        List<String> all = hostCapabilities();
        box.process().put("capabilities", map("bounding", all, "permitted", all, "effective", all));
        box.process().put("noNewPrivileges", false);
        Result r = box.sh("readlink /proc/$PPID/exe; echo garbage >> /proc/$PPID/exe; echo rc=$?; ls /proc/self/fd | tr '\\n' ' '");
        assertTrue(r.out().startsWith("/memfd:bulwark-stage (deleted)"), r.out() + r.err());
        assertTrue(r.out().contains("rc=1"), r.out());
        assertTrue(r.out().strip().endsWith("0 1 2 3"), "descriptors in the container: " + r.out());
    }

    /** The capabilities this test process may grant: its own bounding set. */
    private static List<String> hostCapabilities() throws Exception {
        long bnd = 0;
        for (String l : TestEnv.readProc(Path.of("/proc/self/status")).split("\n")) {
            if (l.startsWith("CapBnd:")) {
                bnd = Long.parseUnsignedLong(l.substring(7).strip(), 16);
            }
        }
        List<String> out = new ArrayList<>();
        for (int i = 0; i < Capabilities.NAMES.size(); i++) {
            if ((bnd & (1L << i)) != 0) {
                out.add(Capabilities.NAMES.get(i));
            }
        }
        return out;
    }

    @Test
    void capabilitiesTheRuntimeLacksAreRefusedByName() throws Exception {
        List<String> all = hostCapabilities();
        List<String> missing = new ArrayList<>(Capabilities.NAMES);
        missing.removeAll(all);
        assumeTrue(!missing.isEmpty(), "this host's runtime holds every capability");
        List<String> ask = new ArrayList<>(all);
        ask.add(missing.get(0));
        box.process().put("capabilities", map("bounding", ask, "permitted", ask));
        Result r = box.sh("true");
        assertEquals(1, r.exit());
        assertTrue(r.err().contains("process.capabilities.permitted[" + (ask.size() - 1) + "]: capability \""
                + missing.get(0) + "\" is not in the runtime's own bounding set"), r.err());
    }

    @Test
    void aForegroundRunRelaysItsTerminal() throws Exception {
        // `script` gives the runtime a terminal of its own, as a person's shell would.
        box.process().put("terminal", true);
        box.process().put("args", new ArrayList<>(List.of("sh", "-c", "echo \"on $(tty)\"; [ -t 1 ] && echo out-is-a-tty; exit 4")));
        box.writeConfig();
        List<String> cmd = Sandbox.cli("--root", box.stateRoot().toString(), "run", "--bundle", box.bundle().toString(), "tty-run");
        Process p = new ProcessBuilder("script", "-qec", String.join(" ", cmd), "/dev/null")
                .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile())).start();
        Result r = Sandbox.finish(p);
        assertTrue(r.out().contains("on /dev/pts/0"), r.out() + r.err());
        assertTrue(r.out().contains("out-is-a-tty"), r.out());
        assertEquals(4, r.exit(), "script returns the command's status: " + r.out() + r.err());
    }

    @Test
    void containerIdInUseIsRefusedAndKeepsTheFirst() throws Exception {
        box.process().put("args", new ArrayList<>(List.of("sh", "-c", "echo ready; sleep 30")));
        box.writeConfig();
        Process first = box.start("same");
        try {
            assertEquals("ready", new BufferedReader(new InputStreamReader(first.getInputStream())).readLine());
            Result second = Sandbox.finish(box.start("same"));
            assertEquals(1, second.exit());
            assertTrue(second.err().contains("container \"same\" already exists"), second.err());
            assertTrue(Files.exists(box.stateRoot().resolve("same/state.json")), "the first container's state was removed");
        } finally {
            first.destroy();
            first.waitFor(30, TimeUnit.SECONDS);
        }
    }
}
