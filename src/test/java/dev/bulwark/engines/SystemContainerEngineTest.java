package dev.bulwark.engines;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.bulwark.runtime.IdRanges;
import dev.bulwark.testing.Sandbox.Result;
import dev.bulwark.testing.TestEnv;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The acceptance test of system containers (Sysbox's security quick-start) under a real dockerd
 * started here, with Bulwark as runtime "bulwark-system" ("runtimeArgs": ["--system", ...]), so
 * `docker run --runtime=bulwark-system` needs no other flag. The ID ranges come from a pool and
 * allocator of the test's own.
 *
 * <p>The agent is not started by the test: the runtime starts it on the socket the runtime
 * arguments name (the test's own), on the first system container, as it would on a fresh host;
 * the test stops it, and its fd keeper, by PID at the end. A second runtime entry,
 * "bulwark-system-strict", adds --allow-immutable-unmounts=false.
 */
class SystemContainerEngineTest {
    private static final String IMAGE = "bulwark-test/busybox:latest";
    private static final long POOL = 3_200_000_000L;
    private static final int RANGES = 64;

    private static SystemDocker env;
    private static Path base;
    private static Dockerd dockerd;
    private static IdRanges.Config ranges;

    @BeforeAll
    static void engine() throws Exception {
        assumeTrue(TestEnv.isRoot(), "engine tests need root");
        env = SystemDocker.start("bws", POOL, RANGES, (runtime, args) -> "\"bulwark-system\": {\"path\": \"" + runtime
                + "\", \"runtimeArgs\": [" + args + "]}, \"bulwark-system-strict\": {\"path\": \"" + runtime
                + "\", \"runtimeArgs\": [" + args + ", \"--allow-immutable-unmounts=false\"]}");
        base = env.base;
        dockerd = env.dockerd;
        ranges = env.ranges;
        Path archive = EngineImage.dockerArchive(Files.createDirectories(base.resolve("image")), IMAGE);
        ok(dockerd.docker("load", "-i", archive.toString()), "docker load");
    }

    @AfterAll
    static void stop() throws Exception {
        if (env != null) {
            env.close();
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

    /**
     * Sysbox's quick-start, the immutable-mount steps: a read-only volume cannot be remounted
     * read-write, nor can a bind of it; /etc/resolv.conf (made by Docker at creation) can be
     * remounted read-only; a new tmpfs is the container's own (per-mount and superblock remounts,
     * read-only and back, as on a host); unmounting an immutable mount
     * works by default and is denied with allow-immutable-unmounts off; /proc never. The volume
     * is still read-only afterwards.
     */
    @Test
    void immutableMountpoints() throws Exception {
        Path volume = Files.createDirectories(base.resolve("volume"));
        Files.writeString(volume.resolve("file"), "host\n");
        String script = "r() { \"$@\" 2>/dev/null && echo ok || echo denied; };"
                + " echo remount-rw-volume $(r mount -o remount,rw,bind /ro);"
                + " echo remount-ro-resolv $(r mount -o remount,ro,bind /etc/resolv.conf);"
                + " mkdir -p /tmp/b /tmp/t; mount --bind /ro /tmp/b;"
                + " echo remount-rw-bind-of-volume $(r mount -o remount,rw,bind /tmp/b);"
                + " mount -t tmpfs t /tmp/t; mount -o remount,ro,bind /tmp/t;"
                + " echo remount-rw-new-tmpfs $(r mount -o remount,rw,bind /tmp/t);"
                // superblock remounts: busybox passes back the uid= option /proc/mounts shows in
                // host IDs, which the kernel alone refuses in the container's namespace
                + " echo sb-remount-ro-new-tmpfs $(r mount -o remount,ro /tmp/t);"
                + " echo write-new-tmpfs $(r touch /tmp/t/x);"
                + " echo sb-remount-rw-new-tmpfs $(r mount -o remount,rw /tmp/t);"
                + " echo write-new-tmpfs $(r touch /tmp/t/x);"
                + " echo sb-remount-rw-volume $(r mount -o remount,rw /ro);"
                + " echo write-volume $(r touch /ro/new);"
                + " echo umount-resolv $(r umount /etc/resolv.conf);"
                + " echo umount-proc $(r umount -l /proc);"
                + " echo end; sleep 60";
        List<String> expected = List.of("remount-rw-volume denied", "remount-ro-resolv ok", "remount-rw-bind-of-volume denied",
                "remount-rw-new-tmpfs ok", "sb-remount-ro-new-tmpfs ok", "write-new-tmpfs denied", "sb-remount-rw-new-tmpfs ok",
                "write-new-tmpfs ok", "sb-remount-rw-volume denied", "write-volume denied");
        assertEquals(concat(expected, "umount-resolv ok", "umount-proc denied"), quickStart("bulwark-system", volume, script));
        assertEquals(concat(expected, "umount-resolv denied", "umount-proc denied"),
                quickStart("bulwark-system-strict", volume, script));
        try (var files = Files.list(volume)) {
            assertEquals(List.of(volume.resolve("file")), files.toList(), "nothing written to the read-only volume");
        }
        assertEquals(List.of(), IdRanges.used(ranges), "ranges left taken after docker rm");
    }

    /**
     * `docker exec` into a system container (Sysbox users rely on it): the exec'd process has the
     * init's ID map, user namespace and full capabilities; its mount calls are supervised under
     * the container's creation mounts: the read-only volume cannot be remounted read-write, while
     * a tmpfs the container mounted later (and made read-only) can.
     */
    @Test
    void dockerExecJoinsTheContainerUnderItsCreationMounts() throws Exception {
        Path volume = Files.createDirectories(base.resolve("exec-volume"));
        String name = EngineTests.uniqueName("exec");
        try {
            ok(dockerd.docker("run", "-d", "--runtime=bulwark-system", "--network", "none", "-v", volume + ":/ro:ro", "--name", name,
                    IMAGE, "sh", "-c", "cat /proc/self/uid_map; readlink /proc/self/ns/user; grep CapEff /proc/self/status;"
                            + " echo ready; sleep 120"), "docker run " + name);
            EngineTests.waitFor(name + " ready", () -> dockerd.docker("logs", name).out().contains("ready"));
            List<String> init = dockerd.docker("logs", name).out().lines().map(String::strip).toList();
            String exec = ok(dockerd.docker("exec", name, "sh", "-c", "cat /proc/self/uid_map; readlink /proc/self/ns/user;"
                    + " grep CapEff /proc/self/status"), "docker exec identity").out();
            assertEquals(init.subList(0, 3), exec.lines().map(String::strip).toList(),
                    "uid_map, user namespace and CapEff of the exec'd process are the init's");
            Result remount = dockerd.docker("exec", name, "sh", "-c", "mount -o remount,rw,bind /ro");
            assertNotEquals(0, remount.exit(), "the read-only volume was remounted read-write: " + remount.all());
            assertTrue(remount.err().contains("permission denied"), "EPERM from the agent: " + remount.all());
            ok(dockerd.docker("exec", name, "sh", "-c", "mkdir -p /tmp/t && mount -t tmpfs t /tmp/t && mount -o remount,ro,bind /tmp/t"), "docker exec mount");
            ok(dockerd.docker("exec", name, "sh", "-c", "mount -o remount,rw,bind /tmp/t && touch /tmp/t/x"),
                    "a later mount is the container's own");
            Result write = dockerd.docker("exec", name, "touch", "/ro/new");
            assertNotEquals(0, write.exit(), write.all());
        } finally {
            dockerd.docker("rm", "-f", name);
        }
        try (var files = Files.list(volume)) {
            assertEquals(List.of(), files.toList(), "nothing written to the read-only volume");
        }
        assertEquals(List.of(), IdRanges.used(ranges), "ranges left taken after docker rm");
    }

    private static List<String> concat(List<String> a, String... more) {
        List<String> all = new ArrayList<>(a);
        all.addAll(List.of(more));
        return all;
    }

    private static List<String> quickStart(String runtime, Path volume, String script) throws Exception {
        String name = EngineTests.uniqueName("qs");
        try {
            ok(dockerd.docker("run", "-d", "--runtime=" + runtime, "--network", "none", "-v", volume + ":/ro:ro", "--name", name,
                    IMAGE, "sh", "-c", script), "docker run " + name);
            EngineTests.waitFor(name + " done", () -> dockerd.docker("logs", name).out().contains("end"));
            List<String> out = dockerd.docker("logs", name).out().lines().toList();
            return out.subList(0, out.indexOf("end"));
        } finally {
            dockerd.docker("rm", "-f", name);
        }
    }

    /**
     * /proc/self/ns all differ from the host's; uid_map and gid_map a 65536 range, another in each
     * container; CapEff full; the overlay root and Docker's binds ID-mapped.
     */
    @Test
    void namespacesRangesAndCapabilities() throws Exception {
        String script = "for n in cgroup ipc mnt net pid user uts; do readlink /proc/self/ns/$n; done;"
                + " cat /proc/self/uid_map /proc/self/gid_map; grep CapEff /proc/self/status;"
                + " stat -c '%u %g' /bin/busybox /etc/hostname; echo ready; sleep 60";
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
            assertTrue(out.get(9).endsWith(String.format("%016x", ((1L << (last + 1)) - 1) & ~(1L << 17))),
                    "every capability but CAP_SYS_RAWIO: " + out.get(9));
            // the image's files in Docker's overlay root, and Docker's bind of /etc/hostname, owned
            // by host root: ID-mapped, they are the container root's, with no chown
            assertEquals("0 0", out.get(10), "/bin/busybox in the overlay root");
            assertEquals("0 0", out.get(11), "/etc/hostname, Docker's bind");
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
