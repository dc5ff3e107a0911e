package dev.bulwark.engines;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.bulwark.testing.Sandbox.Result;
import dev.bulwark.testing.TestEnv;
import dev.bulwark.testing.TestPlanner;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;

/**
 * Bulwark as the runtime of real engines (Debian's containerd and docker.io), each started by
 * this test on its own sockets and directories and stopped by PID: ctr run --runc-binary, and
 * docker run --runtime=bulwark with the flags users pass. The image is a busybox built here and
 * imported; nothing is pulled.
 *
 * <p>Docker containers run with --network host: for every container that gets a network
 * namespace of its own (the default bridge and --network none alike) dockerd adds libnetwork's
 * prestart hook, which Bulwark refuses until it runs hooks (see networkNoneRunsDockersPrestartHook).
 */
class EnginesTest {
    private static final String IMAGE = "bulwark-test/busybox:latest";
    private static final String CTR_IMAGE = "docker.io/" + IMAGE;
    private static final String CTR_NS = "bulwark-test";

    private static Path base;
    private static Path runtime;
    private static String cgroupParent;
    private static Containerd containerd;
    private static Dockerd dockerd;

    /**
     * The runtime the engines call: -Dbulwark.launcher (e.g. the built ./bulwark) or, by default,
     * the static client on a planner of the classes under test, started here and stopped by its
     * PID at the end, where its log must show calls served and none refused (Podman's and the
     * system-container engine tests take the direct path; EnginesDirectTest and
     * PodmanThroughPlannerTest run the same tests the other way, so both paths run under every engine).
     */
    private static TestPlanner planner;

    @BeforeAll
    static void engines(TestInfo info) throws Exception {
        boolean direct = info.getTestClass().map(EnginesDirectTest.class::equals).orElse(false);
        start(!direct && System.getProperty("bulwark.launcher", "").isEmpty());
    }

    /** The daemons, with the runtime through a planner of the classes under test, or on the direct path. */
    private static void start(boolean throughPlanner) throws Exception {
        assumeTrue(TestEnv.isRoot(), "engine tests need root");
        for (String bin : List.of("/usr/bin/containerd", "/usr/bin/ctr", "/usr/bin/containerd-shim-runc-v2",
                "/usr/sbin/dockerd", Dockerd.DOCKER)) {
            assertTrue(Files.isExecutable(Path.of(bin)), bin + " is missing: install the Debian packages docker.io and containerd");
        }
        // Short: containerd's and dockerd's socket paths must fit in sun_path (108 bytes).
        base = Files.createTempDirectory(Path.of("/tmp"), "bwe");
        if (throughPlanner) {
            planner = TestPlanner.start();
            runtime = planner.launcher(base);
        } else {
            runtime = TestEnv.launcher(base);
        }
        cgroupParent = "bulwark-engines-" + HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextInt());
        Path archive = EngineImage.dockerArchive(Files.createDirectories(base.resolve("image")), IMAGE);
        containerd = Containerd.start(Files.createDirectories(base.resolve("ctd")));
        ok(containerd.ctr("-n", CTR_NS, "images", "import", archive.toString()), "ctr images import");
        dockerd = Dockerd.start(Files.createDirectories(base.resolve("dkd")), containerd, runtime, "/" + cgroupParent);
        ok(dockerd.docker("load", "-i", archive.toString()), "docker load");
    }


    @AfterAll
    static void stopEngines() throws Exception {
        if (base == null) {
            return;
        }
        List<String> problems = new ArrayList<>();
        try {
            if (dockerd != null) {
                dockerd.close();
            }
        } catch (AssertionError | IOException e) {
            problems.add("dockerd: " + e.getMessage());
        } finally {
            try {
                if (containerd != null) {
                    containerd.close();
                }
            } catch (AssertionError | IOException e) {
                problems.add("containerd: " + e.getMessage());
            }
            if (planner != null) {
                try {
                    String log = planner.stop();
                    if (TestPlanner.served(log) == 0 || log.contains("refused")) {
                        problems.add("planner: served none or refused some: " + log);
                    }
                } catch (AssertionError e) {
                    problems.add("planner: " + e.getMessage());
                } finally {
                    planner.close();
                    planner = null;
                }
            }
            List<Path> left = containerCgroups();
            for (Path hierarchy : Cgroups.hierarchies()) {
                Path parent = hierarchy.resolve(cgroupParent);
                if (Files.isDirectory(parent) && left.stream().noneMatch(p -> p.startsWith(parent))) {
                    Files.delete(parent);
                }
            }
            TestEnv.deleteTree(base);
        }
        assertEquals(List.of(), problems);
        assertEquals(List.of(), containerCgroups(), "container cgroups left behind");
    }

    // ---- helpers ----

    private static Result ok(Result r, String what) {
        assertEquals(0, r.exit(), what + ": " + r.err());
        return r;
    }

    /** Container cgroups under this test's parent, in any hierarchy. */
    private static List<Path> containerCgroups() throws IOException {
        return Cgroups.under("/" + cgroupParent);
    }

    private static List<String> stateDirs(Path root) throws IOException {
        if (!Files.isDirectory(root)) {
            return List.of();
        }
        try (var s = Files.list(root)) {
            return s.map(p -> p.getFileName().toString()).filter(n -> !n.startsWith(".")).toList();
        }
    }

    /** docker run --rm --runtime=bulwark --network host [flags] IMAGE command... */
    private static Result docker(List<String> flags, String... command) throws Exception {
        List<String> a = new ArrayList<>(List.of("run", "--rm", "--runtime=bulwark", "--network", "none"));
        a.addAll(flags);
        a.add(IMAGE);
        a.addAll(List.of(command));
        return dockerd.docker(a.toArray(String[]::new));
    }

    private static Result dockerSh(List<String> flags, String script) throws Exception {
        return docker(flags, "sh", "-c", script);
    }

    private static String inspect(String name, String format) throws Exception {
        return ok(dockerd.docker("inspect", "-f", format, name), "docker inspect").out().strip();
    }



    private static Path ctrRoot() {
        return base.resolve("ctr-runc");
    }

    /** ctr run with Bulwark as the runc binary, its state under this test, its cgroup under the test's parent. */
    private static List<String> ctrRun(String id, boolean detach) {
        List<String> a = new ArrayList<>(List.of("-n", CTR_NS, "run"));
        a.add(detach ? "--detach" : "--rm");
        a.addAll(List.of("--runc-binary", runtime.toString(), "--runc-root", ctrRoot().toString(),
                "--cgroup", "/" + cgroupParent + "/" + id, CTR_IMAGE, id));
        return a;
    }

    private static Result ctrRun(String id, String... command) throws Exception {
        List<String> a = ctrRun(id, false);
        a.addAll(List.of(command));
        return containerd.ctr(a.toArray(String[]::new));
    }

    private static void assertCtrGone(String id) throws Exception {
        assertFalse(stateDirs(ctrRoot().resolve(CTR_NS)).contains(id), "state of " + id + " left under the runc root");
        assertEquals(List.of(), containerCgroups().stream().filter(p -> p.getFileName().toString().equals(id)).toList(),
                "cgroups of " + id + " left");
    }

    // ---- containerd: ctr run --runc-binary ----

    @Test
    void ctrRunTrue() throws Exception {
        String id = EngineTests.uniqueName("true");
        Result r = ctrRun(id, "true");
        assertEquals(0, r.exit(), r.err() + containerd.log());
        assertCtrGone(id);
    }

    @Test
    void ctrRunReturnsTheExitStatus() throws Exception {
        String id = EngineTests.uniqueName("exit3");
        assertEquals(3, ctrRun(id, "sh", "-c", "exit 3").exit());
        assertCtrGone(id);
    }

    @Test
    void ctrRunCapturesOutput() throws Exception {
        String id = EngineTests.uniqueName("echo");
        Result r = ctrRun(id, "sh", "-c", "echo out-$((6*7)); echo err >&2");
        assertEquals(0, r.exit(), r.err());
        assertEquals("out-42\n", r.out());
        assertTrue(r.err().contains("err"), r.err());
        assertCtrGone(id);
    }

    @Test
    void ctrTaskKillPsPauseResume() throws Exception {
        String id = EngineTests.uniqueName("kill");
        List<String> cmd = new ArrayList<>(List.of(Containerd.CTR, "--address", containerd.socket().toString()));
        cmd.addAll(ctrRun(id, false));
        cmd.addAll(List.of("sh", "-c", "trap 'exit 5' TERM; sleep 1000 & while :; do sleep 0.1; done"));
        // The foreground ctr run returns the container's exit status once the task is killed.
        Process run = new ProcessBuilder(cmd).redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
                .redirectErrorStream(true).redirectOutput(base.resolve(id + ".out").toFile()).start();
        try {
            EngineTests.waitFor("the task to run", () -> taskLine(id).contains("RUNNING"));
            // task ps is `ps --format json ID` in the runtime: the shell, its sleep 1000 and maybe a sleep 0.1
            EngineTests.waitFor("two processes in task ps", () -> containerd.ctr("-n", CTR_NS, "task", "ps", id).out().lines().count() >= 3);
            ok(containerd.ctr("-n", CTR_NS, "task", "pause", id), "ctr task pause");
            assertTrue(taskLine(id).contains("PAUSED"), taskLine(id));
            ok(containerd.ctr("-n", CTR_NS, "task", "resume", id), "ctr task resume");
            assertTrue(taskLine(id).contains("RUNNING"), taskLine(id));
            ok(containerd.ctr("-n", CTR_NS, "task", "kill", id), "ctr task kill");
            assertTrue(run.waitFor(20, TimeUnit.SECONDS), "ctr run did not return after ctr task kill");
            assertEquals(5, run.exitValue(), Files.readString(base.resolve(id + ".out")));
        } finally {
            if (run.isAlive()) {
                containerd.ctr("-n", CTR_NS, "task", "kill", "-s", "SIGKILL", id);
                run.waitFor(20, TimeUnit.SECONDS);
            }
        }
        assertCtrGone(id);
    }

    private static String taskLine(String id) throws Exception {
        return containerd.ctr("-n", CTR_NS, "task", "ls").out().lines().filter(l -> l.startsWith(id + " ")).findFirst().orElse("");
    }

    @Test
    void ctrTaskExec() throws Exception {
        String id = EngineTests.uniqueName("exec");
        List<String> a = ctrRun(id, true);
        a.addAll(List.of("sleep", "1000"));
        ok(containerd.ctr(a.toArray(String[]::new)), "ctr run --detach");
        try {
            Result r = containerd.ctr("-n", CTR_NS, "task", "exec", "--exec-id", "e1", id, "sh", "-c", "echo in-$((2+3))");
            assertEquals(0, r.exit(), r.err());
            assertEquals("in-5\n", r.out());
        } finally {
            containerd.ctr("-n", CTR_NS, "task", "kill", "-s", "SIGKILL", id);
            EngineTests.waitFor("the task to stop", () -> !containerd.ctr("-n", CTR_NS, "task", "ls").out().contains("RUNNING"));
            containerd.ctr("-n", CTR_NS, "task", "delete", id);
            containerd.ctr("-n", CTR_NS, "container", "delete", id);
        }
        assertCtrGone(id);
    }

    // ---- dockerd: docker run --runtime=bulwark ----

    @Test
    void dockerRunTrue() throws Exception {
        Result r = docker(List.of(), "true");
        assertEquals(0, r.exit(), r.err() + dockerd.log());
    }

    @Test
    void dockerRunReturnsTheExitStatus() throws Exception {
        assertEquals(3, dockerSh(List.of(), "exit 3").exit());
    }

    @Test
    void dockerRunCapturesOutput() throws Exception {
        Result r = dockerSh(List.of(), "echo out-$((6*7)); echo err >&2");
        assertEquals(0, r.exit(), r.err());
        assertEquals("out-42\n", r.out());
        assertTrue(r.err().contains("err"), r.err());
    }

    @Test
    void dockerRunRmLeavesNothingBehind() throws Exception {
        Path cid = base.resolve(EngineTests.uniqueName("cid"));
        String mark = Long.toString(5_000_000 + ThreadLocalRandom.current().nextInt(1_000_000));
        Result r = dockerd.docker("run", "--rm", "--runtime=bulwark", "--network", "none", "--cidfile", cid.toString(),
                "--memory", "32m", "--pids-limit", "50", IMAGE, "sh", "-c", "sleep " + mark + " & echo started");
        assertEquals(0, r.exit(), r.err());
        String id = Files.readString(cid).strip();
        assertEquals(64, id.length(), id);
        assertFalse(stateDirs(dockerd.runtimeRoot()).contains(id), "runtime state of " + id + " left");
        assertEquals(List.of(), containerCgroups().stream().filter(p -> p.getFileName().toString().equals(id)).toList(),
                "cgroups left");
        assertFalse(ok(dockerd.docker("ps", "-aq", "--no-trunc"), "docker ps").out().contains(id));
        assertTrue(r.out().contains("started"), r.out());
        // The background sleep died with the container's PID namespace.
        assertEquals(List.of(), EngineTests.sleepers(mark));
    }

    @Test
    void dockerReadOnly() throws Exception {
        Result r = dockerSh(List.of("--read-only"), "touch /x 2>&1; echo rc=$?; touch /tmp/y 2>&1; echo tmp=$?");
        assertEquals(0, r.exit(), r.err());
        assertTrue(r.out().contains("Read-only file system"), r.out());
        assertTrue(r.out().contains("rc=1"), r.out());
        assertTrue(r.out().contains("tmp=1"), r.out());
    }

    @Test
    void dockerCapDropAll() throws Exception {
        Result r = dockerSh(List.of("--cap-drop", "ALL"), "grep ^Cap /proc/self/status; chown 1 /tmp; echo chown=$?");
        assertEquals(0, r.exit(), r.err());
        for (String set : List.of("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")) {
            assertTrue(r.out().contains(set + ":\t0000000000000000"), r.out());
        }
        assertTrue(r.out().contains("chown=1"), r.out());
    }

    @Test
    void dockerCapAdd() throws Exception {
        // CAP_NET_RAW is bit 13; CAP_SYS_TIME (25) is not in Docker's default set.
        Result r = dockerSh(List.of("--cap-drop", "ALL", "--cap-add", "NET_RAW", "--cap-add", "SYS_TIME"),
                "grep -E '^Cap(Eff|Bnd)' /proc/self/status");
        assertEquals(0, r.exit(), r.err());
        assertTrue(r.out().contains("CapEff:\t0000000002002000"), r.out());
        assertTrue(r.out().contains("CapBnd:\t0000000002002000"), r.out());
    }

    @Test
    void dockerNoNewPrivileges() throws Exception {
        assertTrue(dockerSh(List.of(), "grep NoNewPrivs /proc/self/status").out().contains("NoNewPrivs:\t0"));
        Result r = dockerSh(List.of("--security-opt", "no-new-privileges"), "grep NoNewPrivs /proc/self/status");
        assertEquals(0, r.exit(), r.err());
        assertTrue(r.out().contains("NoNewPrivs:\t1"), r.out());
    }

    @Test
    void dockerUserWorkdirEnv() throws Exception {
        Result r = dockerSh(List.of("--user", "1000:1001", "-w", "/tmp/work", "-e", "FOO=bar baz"),
                "id; pwd; echo \"$FOO\"; touch /x 2>/dev/null; echo rootwrite=$?");
        assertEquals(0, r.exit(), r.err());
        assertTrue(r.out().contains("uid=1000 gid=1001"), r.out());
        assertTrue(r.out().contains("/tmp/work\n"), r.out());
        assertTrue(r.out().contains("bar baz\n"), r.out());
        assertTrue(r.out().contains("rootwrite=1"), r.out());
    }

    @Test
    void dockerPidsLimitHoldsAForkBomb() throws Exception {
        String name = EngineTests.uniqueName("bomb");
        ok(dockerd.docker("run", "-d", "--name", name, "--runtime=bulwark", "--network", "none", "--pids-limit", "20",
                IMAGE, "sh", "-c", "b() { b | b & }; b; sleep 1000"), "docker run fork bomb");
        try {
            String id = inspect(name, "{{.Id}}");
            Path pids = Cgroups.hierarchies().stream().map(h -> h.resolve(cgroupParent).resolve(id))
                    .filter(p -> Files.exists(p.resolve("pids.max"))).findFirst().orElseThrow();
            assertEquals("20", Files.readString(pids.resolve("pids.max")).strip());
            // The kernel refused forks (the "max" event count grows) and the count never passed the limit.
            EngineTests.waitFor("refused forks", () -> maxEvents(pids) > 0);
            Thread.sleep(500);
            long current = Long.parseLong(Files.readString(pids.resolve("pids.current")).strip());
            assertTrue(current <= 20, "pids.current " + current);
            assertTrue(inspect(name, "{{.State.Status}}").equals("running"));
        } finally {
            ok(dockerd.docker("rm", "-f", name), "docker rm -f");
        }
    }

    private static long maxEvents(Path pids) throws IOException {
        for (String l : Files.readString(pids.resolve("pids.events")).split("\n")) {
            if (l.startsWith("max ")) {
                return Long.parseLong(l.substring(4).strip());
            }
        }
        return 0;
    }

    @Test
    void dockerMemoryLimitIsEnforced() throws Exception {
        Result r = dockerSh(List.of("--memory", "64m"), "cat /sys/fs/cgroup/memory/memory.limit_in_bytes");
        assertEquals(0, r.exit(), r.err());
        assertEquals("67108864", r.out().strip());
        String name = EngineTests.uniqueName("oom");
        // A shell variable of ~200 MB in a 32 MB (memory+swap 64 MB) container: the OOM killer ends it.
        Result oom = dockerd.docker("run", "--name", name, "--runtime=bulwark", "--network", "none", "--memory", "32m",
                IMAGE, "sh", "-c", "x=$(head -c 200000000 /dev/zero | tr '\\0' a); echo survived ${#x}");
        try {
            assertEquals(137, oom.exit(), oom.out() + oom.err());
            assertFalse(oom.out().contains("survived"), oom.out());
        } finally {
            ok(dockerd.docker("rm", "-f", name), "docker rm");
        }
    }

    @Test
    void dockerCpus() throws Exception {
        Result r = dockerSh(List.of("--cpus", "0.5"),
                "cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu/cpu.cfs_period_us");
        assertEquals(0, r.exit(), r.err());
        assertEquals(List.of("50000", "100000"), r.out().lines().toList());
    }

    @Test
    void dockerStopDeliversTermThenKill() throws Exception {
        String trap = EngineTests.uniqueName("stop");
        ok(dockerd.docker("run", "-d", "--name", trap, "--runtime=bulwark", "--network", "none", IMAGE, "sh", "-c",
                "trap 'exit 7' TERM; echo ready; while :; do sleep 0.1; done"), "docker run -d");
        String deaf = EngineTests.uniqueName("stop-deaf");
        // sleep as PID 1 of its namespace has no handler, so TERM does nothing and docker stop kills.
        ok(dockerd.docker("run", "-d", "--name", deaf, "--runtime=bulwark", "--network", "none", IMAGE, "sleep", "1000"),
                "docker run -d");
        try {
            EngineTests.waitFor("the trap to be set", () -> dockerd.docker("logs", trap).out().contains("ready"));
            ok(dockerd.docker("stop", "-t", "10", trap), "docker stop");
            assertEquals("7", inspect(trap, "{{.State.ExitCode}}"));
            ok(dockerd.docker("stop", "-t", "1", deaf), "docker stop");
            assertEquals("137", inspect(deaf, "{{.State.ExitCode}}"));
        } finally {
            dockerd.docker("rm", "-f", trap, deaf);
        }
    }

    @Test
    void dockerKillWithSignals() throws Exception {
        String name = EngineTests.uniqueName("kill");
        ok(dockerd.docker("run", "-d", "--name", name, "--runtime=bulwark", "--network", "none", IMAGE, "sh", "-c",
                "trap 'exit 9' USR1; echo ready; while :; do sleep 0.1; done"), "docker run -d");
        String plain = EngineTests.uniqueName("kill-plain");
        ok(dockerd.docker("run", "-d", "--name", plain, "--runtime=bulwark", "--network", "none", IMAGE, "sleep", "1000"),
                "docker run -d");
        try {
            EngineTests.waitFor("the trap to be set", () -> dockerd.docker("logs", name).out().contains("ready"));
            ok(dockerd.docker("kill", "-s", "USR1", name), "docker kill -s USR1");
            EngineTests.waitFor("exit", () -> inspect(name, "{{.State.Status}}").equals("exited"));
            assertEquals("9", inspect(name, "{{.State.ExitCode}}"));
            ok(dockerd.docker("kill", plain), "docker kill");
            EngineTests.waitFor("exit", () -> inspect(plain, "{{.State.Status}}").equals("exited"));
            assertEquals("137", inspect(plain, "{{.State.ExitCode}}"));
        } finally {
            dockerd.docker("rm", "-f", name, plain);
        }
    }

    @Test
    void dockerStopOfAContainerInTheHostPidNamespaceLeavesNoProcess() throws Exception {
        // With --pid host the shim sends `kill --all ID 9` once the init has exited.
        String name = EngineTests.uniqueName("pidhost");
        String mark = Long.toString(4_000_000 + ThreadLocalRandom.current().nextInt(1_000_000));
        ok(dockerd.docker("run", "-d", "--name", name, "--runtime=bulwark", "--network", "none", "--pid", "host", IMAGE,
                "sh", "-c", "sleep " + mark + " & trap 'exit 3' TERM; while :; do sleep 0.1; done"), "docker run -d");
        try {
            EngineTests.waitFor("the child", () -> !EngineTests.sleepers(mark).isEmpty());
            ok(dockerd.docker("stop", "-t", "10", name), "docker stop");
            assertEquals("3", inspect(name, "{{.State.ExitCode}}"));
            EngineTests.waitFor("the child to be killed", () -> EngineTests.sleepers(mark).isEmpty());
            String id = inspect(name, "{{.Id}}");
            // delete would kill the child anyway; the shim's own kill --all must not have failed.
            assertFalse(containerd.log().lines().anyMatch(l -> l.contains(id) && l.contains("failed to kill init's children")),
                    containerd.log());
        } finally {
            dockerd.docker("rm", "-f", name);
        }
    }


    @Test
    void dockerPauseUnpause() throws Exception {
        String name = EngineTests.uniqueName("pause");
        ok(dockerd.docker("run", "-d", "--name", name, "--runtime=bulwark", "--network", "none", IMAGE, "sh", "-c",
                "while :; do echo tick; sleep 0.05; done"), "docker run -d");
        try {
            EngineTests.waitFor("ticks", () -> ticks(name) > 2);
            ok(dockerd.docker("pause", name), "docker pause");
            assertEquals("paused", inspect(name, "{{.State.Status}}"));
            long frozen = ticks(name);
            Thread.sleep(500);
            assertEquals(frozen, ticks(name), "the container ran while paused");
            ok(dockerd.docker("unpause", name), "docker unpause");
            assertEquals("running", inspect(name, "{{.State.Status}}"));
            EngineTests.waitFor("ticks after unpause", () -> ticks(name) > frozen);
        } finally {
            dockerd.docker("rm", "-f", name);
        }
    }

    private static long ticks(String name) throws Exception {
        return dockerd.docker("logs", name).out().lines().filter(l -> l.equals("tick")).count();
    }

    @Test
    void dockerTopListsTheContainersProcesses() throws Exception {
        String name = EngineTests.uniqueName("top");
        ok(dockerd.docker("run", "-d", "--name", name, "--runtime=bulwark", "--network", "none", IMAGE, "sh", "-c",
                "sleep 1001 & sleep 1002"), "docker run -d");
        try {
            EngineTests.waitFor("both sleeps", () -> {
                String top = dockerd.docker("top", name).out();
                return top.contains("sleep 1001") && top.contains("sleep 1002");
            });
        } finally {
            dockerd.docker("rm", "-f", name);
        }
    }

    @Test
    void networkNoneRunsDockersPrestartHook() throws Exception {
        Result r = dockerd.docker("run", "--rm", "--runtime=bulwark", "--network", "none", IMAGE, "sh", "-c",
                "ip -o link | wc -l");
        assertEquals(0, r.exit(), r.err());
        assertEquals("1", r.out().strip()); // only lo
    }

    @Test
    void dockerExec() throws Exception {
        String name = EngineTests.uniqueName("exec");
        ok(dockerd.docker("run", "-d", "--name", name, "--runtime=bulwark", "--network", "none", "--user", "1000",
                IMAGE, "sleep", "1000"), "docker run -d");
        try {
            Result r = dockerd.docker("exec", "-w", "/tmp", "-e", "X=y", name, "sh", "-c", "id -u; pwd; echo $X; exit 4");
            assertEquals(4, r.exit(), r.err());
            assertEquals(List.of("1000", "/tmp", "y"), r.out().lines().toList());
        } finally {
            dockerd.docker("rm", "-f", name);
        }
    }

    @Test
    void dockerRunTty() throws Exception {
        Result r = dockerd.docker("run", "--rm", "-t", "--runtime=bulwark", "--network", "none", IMAGE, "sh", "-c",
                "test -t 0 && test -t 1 && echo tty");
        assertEquals(0, r.exit(), r.err());
        assertEquals("tty", r.out().strip());
    }

    @Test
    void dockerUpdate() throws Exception {
        String name = EngineTests.uniqueName("update");
        ok(dockerd.docker("run", "-d", "--name", name, "--runtime=bulwark", "--network", "none", "--memory", "64m",
                IMAGE, "sleep", "1000"), "docker run -d");
        try {
            ok(dockerd.docker("update", "--memory", "100m", "--memory-swap", "200m", "--pids-limit", "30", name),
                    "docker update");
            String id = inspect(name, "{{.Id}}");
            Path mem = Cgroups.hierarchies().stream().map(h -> h.resolve(cgroupParent).resolve(id))
                    .filter(p -> Files.exists(p.resolve("memory.limit_in_bytes"))).findFirst().orElseThrow();
            assertEquals(Long.toString(100L << 20), Files.readString(mem.resolve("memory.limit_in_bytes")).strip());
        } finally {
            dockerd.docker("rm", "-f", name);
        }
    }
}
