package dev.bulwark.engines;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.bulwark.runtime.IdRanges;
import dev.bulwark.runtime.SystemMode;
import dev.bulwark.testing.Sandbox.Result;
import dev.bulwark.testing.TestEnv;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The acceptance test of system containers (Sysbox's security quick-start) under a real dockerd
 * started here, with Bulwark as runtime "bulwark-system" ("runtimeArgs": ["--system", ...]), so
 * `docker run --runtime=bulwark-system` needs no other flag. The ID ranges come from a pool and
 * allocator of the test's own.
 *
 * <p>System containers need the agent (`bulwark agent`) on its default socket: without it every
 * create fails closed, and this test fails, on purpose, saying so. The immutable-mount steps of
 * the quick-start belong with the agent and are still to be added here.
 */
class SystemContainerEngineTest {
    private static final String IMAGE = "bulwark-test/busybox:latest";
    private static final long POOL = 3_200_000_000L;
    private static final int RANGES = 64;

    private static Path base;
    private static String cgroupParent;
    private static Containerd containerd;
    private static Dockerd dockerd;
    private static IdRanges.Config ranges;
    /** The agent's socket: the default, or -Dbulwark.agentSocket for an agent started elsewhere. */
    private static final Path AGENT = Path.of(System.getProperty("bulwark.agentSocket",
            SystemMode.DEFAULT_AGENT_SOCKET.toString()));

    @BeforeAll
    static void engine() throws Exception {
        assumeTrue(TestEnv.isRoot(), "engine tests need root");
        assertTrue(Files.exists(AGENT), "the Bulwark agent is not running (no socket at " + AGENT
                + "): system containers fail closed without it; start `bulwark agent`");
        base = Files.createTempDirectory(Path.of("/tmp"), "bws");
        Path runtime = TestEnv.launcher(base);
        Files.writeString(base.resolve("subuid"), "bulwark:" + POOL + ":" + (RANGES * 65536L) + "\n");
        Files.writeString(base.resolve("subgid"), "bulwark:" + POOL + ":" + (RANGES * 65536L) + "\n");
        ranges = new IdRanges.Config(base.resolve("idranges"), base.resolve("subuid"), base.resolve("subgid"), false);
        Path conf = base.resolve("system.conf");
        Files.writeString(conf, "id-range-state = " + ranges.stateDir() + "\nsubuid = " + ranges.subuid() + "\nsubgid = "
                + ranges.subgid() + "\n");
        cgroupParent = "bulwark-system-" + HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextInt());
        Path archive = EngineImage.dockerArchive(Files.createDirectories(base.resolve("image")), IMAGE);
        containerd = Containerd.start(Files.createDirectories(base.resolve("ctd")));
        String daemonJson = "{\"runtimes\": {\"bulwark-system\": {\"path\": \"" + runtime + "\", \"runtimeArgs\": [\"--system\","
                + " \"--agent-socket\", \"" + AGENT + "\", \"--system-config\", \"" + conf + "\"]}}}\n";
        dockerd = Dockerd.start(Files.createDirectories(base.resolve("dkd")), containerd, runtime, "/" + cgroupParent, daemonJson);
        ok(dockerd.docker("load", "-i", archive.toString()), "docker load");
    }

    @AfterAll
    static void stop() throws Exception {
        if (base == null) {
            return;
        }
        try {
            if (dockerd != null) {
                dockerd.close();
            }
        } finally {
            try {
                if (containerd != null) {
                    containerd.close();
                }
            } finally {
                for (Path hierarchy : Cgroups.hierarchies()) {
                    Path parent = hierarchy.resolve(cgroupParent);
                    if (Files.isDirectory(parent) && Cgroups.under("/" + cgroupParent).isEmpty()) {
                        Files.delete(parent);
                    }
                }
                TestEnv.deleteTree(base);
            }
        }
    }

    private static Result ok(Result r, String what) {
        assertEquals(0, r.exit(), what + ": " + r.err());
        return r;
    }

    private static String run(String name, String script) throws Exception {
        return ok(dockerd.docker("run", "-d", "--runtime=bulwark-system", "--network", "none", "--name", name, IMAGE,
                "sh", "-c", script), "docker run " + name).out().strip();
    }

    /** /proc/self/ns all differ from the host's; uid_map and gid_map a 65536 range, another in each container; CapEff full. */
    @Test
    void namespacesRangesAndCapabilities() throws Exception {
        String script = "for n in cgroup ipc mnt net pid user uts; do readlink /proc/self/ns/$n; done;"
                + " cat /proc/self/uid_map /proc/self/gid_map; grep CapEff /proc/self/status; echo ready; sleep 60";
        List<String> names = List.of(EngineTests.uniqueName("sys-a"), EngineTests.uniqueName("sys-b"));
        List<List<String>> outs = new ArrayList<>();
        try {
            for (String n : names) {
                run(n, script);
            }
            for (String n : names) {
                EngineTests.waitFor(n + " ready", () -> dockerd.docker("logs", n).out().contains("ready"));
                outs.add(dockerd.docker("logs", n).out().lines().toList());
            }
        } finally {
            for (String n : names) {
                dockerd.docker("rm", "-f", n);
            }
        }
        long last = Long.parseLong(dev.bulwark.runtime.Procfs.read(Path.of("/proc/sys/kernel/cap_last_cap")).strip());
        for (List<String> out : outs) {
            String[] types = {"cgroup", "ipc", "mnt", "net", "pid", "user", "uts"};
            for (int i = 0; i < types.length; i++) {
                assertNotEquals(Files.readSymbolicLink(Path.of("/proc/self/ns/" + types[i])).toString(), out.get(i),
                        types[i] + " namespace is the host's");
            }
            String[] uid = out.get(7).strip().split("\\s+");
            assertEquals("0", uid[0]);
            assertEquals("65536", uid[2]);
            assertEquals(out.get(7).strip(), out.get(8).strip());
            assertTrue(out.get(9).endsWith(String.format("%016x", (1L << (last + 1)) - 1)), out.get(9));
        }
        assertNotEquals(outs.get(0).get(7), outs.get(1).get(7), "two containers at once share an ID range");
        assertEquals(List.of(), IdRanges.used(ranges), "ranges left taken after docker rm");
    }

    /** 50 system containers at once, each with its own range, all freed after. */
    @Test
    void fiftyAtOnceEachWithItsOwnRange() throws Exception {
        List<String> names = new ArrayList<>();
        for (int i = 0; i < 50; i++) {
            names.add(EngineTests.uniqueName("sys50-" + i));
        }
        ExecutorService pool = Executors.newFixedThreadPool(8);
        try {
            List<Future<String>> started = new ArrayList<>();
            for (String n : names) {
                started.add(pool.submit(() -> run(n, "cat /proc/self/uid_map; sleep 120")));
            }
            for (Future<String> f : started) {
                f.get();
            }
            Set<String> maps = new HashSet<>();
            for (String n : names) {
                EngineTests.waitFor(n + " mapped", () -> !dockerd.docker("logs", n).out().isBlank());
                maps.add(dockerd.docker("logs", n).out().strip().replaceAll("\\s+", " "));
            }
            assertEquals(50, maps.size(), "each of 50 containers has its own range: " + maps);
            assertEquals(50, IdRanges.used(ranges).size());
        } finally {
            List<Future<Result>> removed = new ArrayList<>();
            for (String n : names) {
                removed.add(pool.submit(() -> dockerd.docker("rm", "-f", n)));
            }
            for (Future<Result> f : removed) {
                f.get();
            }
            pool.shutdown();
        }
        assertEquals(List.of(), IdRanges.used(ranges), "ranges left taken after docker rm");
    }
}
