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
import java.util.concurrent.Callable;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;

/**
 * Bulwark as podman's runtime ({@code podman --runtime}): Debian's podman 4.3 with conmon, its
 * store, run root and tmpdir in a temporary directory, --network none, the busybox image built
 * here and loaded with {@code podman load}; nothing is pulled.
 */
class PodmanTest {
    private static final String REPO_TAG = "bulwark-test/busybox:latest";
    /** Bulwark's default --root: podman never passes one (see {@link Podman}). */
    private static final Path BULWARK_ROOT = Path.of("/run/bulwark");
    /** CAP_SYS_RESOURCE, bit 24 of CapEff. */
    private static final long CAP_SYS_RESOURCE = 1L << 24;
    /** The RLIMIT_NPROC podman 4.3 sets for itself at start-up (and its children inherit). */
    private static final long PODMAN_NPROC = 32768;

    private static Path base;
    private static Podman podman;
    private static List<String> ulimits = List.of();
    /** The name podman gave the loaded image (it qualifies the archive's repo tag itself). */
    private static String image;

    /** The planner the runtime calls go through (PodmanThroughPlannerTest), or null: the direct path. */
    private static TestPlanner planner;

    @BeforeAll
    static void setUp(TestInfo info) throws Exception {
        start(info.getTestClass().map(PodmanThroughPlannerTest.class::equals).orElse(false));
    }

    private static void start(boolean throughPlanner) throws Exception {
        assumeTrue(TestEnv.isRoot(), "podman tests need root");
        for (String bin : List.of(Podman.PODMAN, "/usr/bin/conmon")) {
            assertTrue(Files.isExecutable(Path.of(bin)), bin + " is missing: install the Debian package podman");
        }
        base = Files.createTempDirectory(Path.of("/tmp"), "bwp");
        if (throughPlanner) {
            planner = TestPlanner.start();
        }
        Path runtime = throughPlanner ? planner.launcher(base) : TestEnv.launcher(base);
        String parent = "/bulwark-podman-" + HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextInt());
        Path archive = EngineImage.dockerArchive(Files.createDirectories(base.resolve("image")), REPO_TAG);
        podman = Podman.create(Files.createDirectories(base.resolve("podman")), runtime, parent);
        String loaded = ok(podman.podman("load", "-i", archive.toString()), "podman load").out();
        image = loaded.lines().filter(l -> l.startsWith("Loaded image: ")).map(l -> l.substring(14).strip())
                .findFirst().orElseThrow(() -> new AssertionError("podman load named no image: " + loaded));
        assertTrue(image.endsWith(REPO_TAG), image);
        ulimits = rlimitsThisHostAllows();
    }

    /**
     * As root, podman writes RLIMIT_NOFILE 1048576 and RLIMIT_NPROC 4194304 into every config. Raising
     * a hard limit needs CAP_SYS_RESOURCE; where the tests run without it (a container whose bounding
     * set lacks it), runc, crun and Bulwark all fail setrlimit with EPERM. The limits podman's own
     * process holds (its NOFILE hard limit, the NPROC it sets itself) can always be kept.
     */
    private static List<String> rlimitsThisHostAllows() throws IOException {
        if ((capEff() & CAP_SYS_RESOURCE) != 0) {
            return List.of();
        }
        long nofile = hardLimit("Max open files");
        long nproc = Math.min(PODMAN_NPROC, hardLimit("Max processes"));
        return List.of("--ulimit", "nofile=" + nofile + ":" + nofile, "--ulimit", "nproc=" + nproc + ":" + nproc);
    }

    private static long capEff() throws IOException {
        for (String l : TestEnv.readProc(Path.of("/proc/self/status")).split("\n")) {
            if (l.startsWith("CapEff:")) {
                return Long.parseUnsignedLong(l.substring(7).strip(), 16);
            }
        }
        throw new AssertionError("no CapEff in /proc/self/status");
    }

    private static long hardLimit(String name) throws IOException {
        for (String l : TestEnv.readProc(Path.of("/proc/self/limits")).split("\n")) {
            if (l.startsWith(name)) {
                String[] f = l.substring(name.length()).strip().split("\\s+");
                return f[1].equals("unlimited") ? Long.MAX_VALUE : Long.parseLong(f[1]);
            }
        }
        throw new AssertionError("no " + name + " in /proc/self/limits");
    }


    @AfterAll
    static void tearDown() throws Exception {
        if (base == null) {
            return;
        }
        List<Path> left;
        String plannerLog = "";
        try {
            if (podman != null) {
                left = containerCgroups();
                podman.close();
            } else {
                left = List.of();
            }
        } finally {
            try {
                if (planner != null) {
                    plannerLog = planner.stop();
                }
            } finally {
                if (planner != null) {
                    planner.close();
                    planner = null;
                }
                TestEnv.deleteTree(base);
            }
        }
        assertEquals(List.of(), left, "container cgroups left behind");
        if (!plannerLog.isEmpty()) {
            assertTrue(TestPlanner.served(plannerLog) > 0 && !plannerLog.contains("refused"), "the planner served none or refused some: " + plannerLog);
        }
    }

    // ---- helpers ----

    private static Result ok(Result r, String what) {
        assertEquals(0, r.exit(), what + ": " + r.err());
        return r;
    }

    /** The flags every container here gets: its cgroup under the test's parent, no network, the rlimits. */
    private static List<String> runFlags() {
        List<String> a = new ArrayList<>(List.of("--pull", "never", "--network", "none", "--cgroup-parent", podman.cgroupParent()));
        a.addAll(ulimits);
        return a;
    }

    /** podman run --rm [flags] IMAGE command... */
    private static Result run(List<String> flags, String... command) throws Exception {
        List<String> a = new ArrayList<>(List.of("run", "--rm"));
        a.addAll(runFlags());
        a.addAll(flags);
        a.add(image);
        a.addAll(List.of(command));
        return podman.podman(a.toArray(String[]::new));
    }

    private static Result sh(List<String> flags, String script) throws Exception {
        return run(flags, "sh", "-c", script);
    }

    /** Container cgroups under the test's parent in any hierarchy (conmon's shared cgroup is podman's, not a container's). */
    private static List<Path> containerCgroups() throws IOException {
        return Cgroups.under(podman.cgroupParent()).stream()
                .filter(p -> !p.getFileName().toString().equals("conmon")).toList();
    }



    /** Nothing of container {@code id} is left: no runtime state, no cgroup, no conmon. */
    private static void assertGone(String id) throws Exception {
        // conmon's exit command (podman container cleanup) may still be finishing when podman returns.
        EngineTests.waitFor("the runtime state of " + id + " to go", () -> !Files.exists(BULWARK_ROOT.resolve(id)));
        EngineTests.waitFor("the cgroups of " + id + " to go",
                () -> containerCgroups().stream().noneMatch(p -> p.getFileName().toString().contains(id)));
        EngineTests.waitFor("conmon of " + id + " to exit", () -> podman.helpers().stream()
                .noneMatch(h -> h.info().arguments().map(a -> String.join(" ", a).contains(id)).orElse(false)));
    }


    private static String inspect(String name, String format) throws Exception {
        return ok(podman.podman("inspect", "-f", format, name), "podman inspect").out().strip();
    }

    // ---- tests ----

    @Test
    void runTrue() throws Exception {
        Result r = run(List.of(), "true");
        assertEquals(0, r.exit(), r.err());
    }

    @Test
    void runReturnsTheExitStatus() throws Exception {
        Result r = sh(List.of(), "exit 3");
        assertEquals(3, r.exit(), r.err());
    }

    @Test
    void runCapturesOutput() throws Exception {
        Result r = sh(List.of(), "echo out-$((6*7)); echo err >&2");
        assertEquals(0, r.exit(), r.err());
        assertEquals("out-42\n", r.out());
        assertTrue(r.err().contains("err"), r.err());
    }

    @Test
    void readOnly() throws Exception {
        // podman's --read-only keeps /tmp, /var/tmp and /run writable (tmpfs, --read-only-tmpfs defaults to true).
        Result r = sh(List.of("--read-only"), "touch /x 2>&1; echo rc=$?; touch /tmp/y; echo tmp=$?");
        assertEquals(0, r.exit(), r.err());
        assertTrue(r.out().contains("Read-only file system"), r.out());
        assertTrue(r.out().contains("rc=1"), r.out());
        assertTrue(r.out().contains("tmp=0"), r.out());
    }

    @Test
    void readOnlyWithoutPodmansTmpfs() throws Exception {
        Result r = sh(List.of("--read-only", "--read-only-tmpfs=false"),
                "touch /x 2>&1; echo rc=$?; touch /tmp/y 2>&1; echo tmp=$?");
        assertEquals(0, r.exit(), r.err());
        assertTrue(r.out().contains("Read-only file system"), r.out());
        assertTrue(r.out().contains("rc=1"), r.out());
        assertTrue(r.out().contains("tmp=1"), r.out());
    }

    @Test
    void capDropAll() throws Exception {
        Result r = sh(List.of("--cap-drop", "ALL"), "grep ^Cap /proc/self/status; chown 1 /tmp; echo chown=$?");
        assertEquals(0, r.exit(), r.err());
        for (String set : List.of("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")) {
            assertTrue(r.out().contains(set + ":\t0000000000000000"), r.out());
        }
        assertTrue(r.out().contains("chown=1"), r.out());
    }

    @Test
    void user() throws Exception {
        Result r = sh(List.of("--user", "1000:1001", "-w", "/tmp", "-e", "FOO=bar baz"),
                "id; pwd; echo \"$FOO\"; touch /x 2>/dev/null; echo rootwrite=$?");
        assertEquals(0, r.exit(), r.err());
        // podman adds the user to the container's /etc/passwd and /etc/group, so id prints names too.
        assertTrue(r.out().matches("(?s)uid=1000(\\([^)]*\\))? gid=1001(\\([^)]*\\))?.*"), r.out());
        assertTrue(r.out().contains("/tmp\n"), r.out());
        assertTrue(r.out().contains("bar baz\n"), r.out());
        assertTrue(r.out().contains("rootwrite=1"), r.out());
    }

    @Test
    void runRmLeavesNothingBehind() throws Exception {
        Path cid = base.resolve(EngineTests.uniqueName("cid"));
        String mark = Long.toString(5_000_000 + ThreadLocalRandom.current().nextInt(1_000_000));
        Result r = run(List.of("--cidfile", cid.toString(), "--memory", "32m", "--pids-limit", "50"),
                "sh", "-c", "sleep " + mark + " & echo started");
        assertEquals(0, r.exit(), r.err());
        assertTrue(r.out().contains("started"), r.out());
        String id = Files.readString(cid).strip();
        assertEquals(64, id.length(), id);
        assertGone(id);
        assertFalse(ok(podman.podman("ps", "-aq", "--no-trunc"), "podman ps").out().contains(id));
        // The background sleep died with the container's PID namespace.
        EngineTests.waitFor("the container's child to die", () -> EngineTests.sleepers(mark).isEmpty());
    }

    @Test
    void rmLeavesNothingBehind() throws Exception {
        String name = EngineTests.uniqueName("rm");
        String mark = Long.toString(6_000_000 + ThreadLocalRandom.current().nextInt(1_000_000));
        List<String> a = new ArrayList<>(List.of("run", "-d", "--name", name));
        a.addAll(runFlags());
        a.addAll(List.of(image, "sh", "-c", "sleep " + mark + " & sleep 1000"));
        String id = ok(podman.podman(a.toArray(String[]::new)), "podman run -d").out().strip();
        try {
            EngineTests.waitFor("the container's child", () -> !EngineTests.sleepers(mark).isEmpty());
            assertTrue(Files.isDirectory(BULWARK_ROOT.resolve(id)), "no runtime state for a running container");
            assertFalse(containerCgroups().stream().noneMatch(p -> p.getFileName().toString().contains(id)),
                    "no cgroup for a running container under " + podman.cgroupParent());
            ok(podman.podman("rm", "-f", "-t", "0", name), "podman rm -f");
            assertGone(id);
            EngineTests.waitFor("the container's processes to die", () -> EngineTests.sleepers(mark).isEmpty());
        } finally {
            podman.podman("rm", "-f", "-t", "0", name);
        }
    }

    @Test
    void execStopAndTty() throws Exception {
        String name = EngineTests.uniqueName("exec");
        List<String> a = new ArrayList<>(List.of("run", "-d", "--name", name));
        a.addAll(runFlags());
        a.addAll(List.of(image, "sh", "-c", "trap 'exit 7' TERM; echo ready; while :; do sleep 0.1; done"));
        ok(podman.podman(a.toArray(String[]::new)), "podman run -d");
        try {
            EngineTests.waitFor("the trap to be set", () -> podman.podman("logs", name).out().contains("ready"));
            Result e = podman.podman("exec", "--user", "1000", "-w", "/tmp", name, "sh", "-c", "id -u; pwd; exit 4");
            assertEquals(4, e.exit(), e.err());
            assertEquals(List.of("1000", "/tmp"), e.out().lines().toList());
            Result t = podman.podman("exec", "-t", name, "sh", "-c", "test -t 0 && test -t 1 && echo tty");
            assertEquals(0, t.exit(), t.err());
            assertEquals("tty", t.out().strip());
            ok(podman.podman("stop", "-t", "10", name), "podman stop");
            assertEquals("7", inspect(name, "{{.State.ExitCode}}"));
        } finally {
            podman.podman("rm", "-f", "-t", "0", name);
        }
    }

    @Test
    void runTty() throws Exception {
        Result r = run(List.of("-t"), "sh", "-c", "test -t 0 && test -t 1 && echo tty");
        assertEquals(0, r.exit(), r.err());
        assertEquals("tty", r.out().strip());
    }
}
