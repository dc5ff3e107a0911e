package dev.bulwark.engines;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.bulwark.runtime.IdRanges;
import dev.bulwark.testing.Sandbox.Result;
import dev.bulwark.testing.TestEnv;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * What Sysbox users run system containers for (issue 14, item 3), under a real dockerd started
 * here with Bulwark as "bulwark-system": Docker inside, and systemd as the container's init,
 * neither with --privileged. The image is Debian (the host's release) made by the test with
 * debootstrap from the host's own Debian mirror: systemd, dbus, docker.io and iptables, plus the
 * test's busybox image as a `docker save` archive for the inner dockerd to load, so nothing
 * inside pulls from a registry.
 */
class SystemInsideTest {
    private static final String IMAGE = "bulwark-test/debian-system:latest";
    private static final String INNER = "bulwark-test/busybox:latest";
    private static final long POOL = 3_500_000_000L;
    private static final int RANGES = 8;

    private static SystemDocker env;
    private static Path base;
    private static Dockerd dockerd;
    private static IdRanges.Config ranges;

    @BeforeAll
    static void engine() throws Exception {
        assumeTrue(TestEnv.isRoot(), "engine tests need root");
        env = SystemDocker.start("bwi", POOL, RANGES,
                (runtime, args) -> "\"bulwark-system\": {\"path\": \"" + runtime + "\", \"runtimeArgs\": [" + args + "]}");
        base = env.base;
        dockerd = env.dockerd;
        ranges = env.ranges;
        Path rootfs = debootstrap(base.resolve("rootfs"));
        Path archive = EngineImage.dockerArchive(Files.createDirectories(base.resolve("inner")), INNER);
        Files.copy(archive, rootfs.resolve("root/busybox.tar"));
        Result imported = Cmd.run(List.of("sh", "-c", "tar --numeric-owner -C '" + rootfs + "' -c . | docker -H unix://"
                + dockerd.socket() + " import - " + IMAGE), Map.of("DOCKER_CONFIG", base.resolve("dkd/client").toString()), 300);
        assertEquals(0, imported.exit(), "docker import: " + imported.err());
        TestEnv.deleteTree(rootfs);
    }

    /**
     * A Debian root made by debootstrap from the mirror and release the host's apt uses, its
     * Release file checked against Debian's archive keyring.
     */
    private static Path debootstrap(Path dir) throws Exception {
        String suite = "";
        for (String l : Files.readAllLines(Path.of("/etc/os-release"))) {
            if (l.startsWith("VERSION_CODENAME=")) {
                suite = l.substring(l.indexOf('=') + 1).replace("\"", "");
            }
        }
        assertTrue(!suite.isEmpty(), "no VERSION_CODENAME in /etc/os-release");
        Result r = Cmd.run(List.of("debootstrap", "--variant=minbase", "--keyring=/usr/share/keyrings/debian-archive-keyring.gpg",
                "--include=systemd,systemd-sysv,dbus,docker.io,iptables", suite, dir.toString(), mirror()), Map.of(), 900);
        assertEquals(0, r.exit(), "debootstrap " + suite + " from " + mirror() + ": " + r.out() + r.err());
        return dir;
    }

    /** The host's Debian mirror: the first http(s) URI of its apt sources (deb822 or one-line). */
    static String mirror() throws Exception {
        List<Path> sources = new java.util.ArrayList<>();
        Path dir = Path.of("/etc/apt/sources.list.d");
        if (Files.isDirectory(dir)) {
            try (var s = Files.list(dir)) {
                // what apt reads: *.sources and *.list (not, say, a file renamed to disable it)
                s.filter(f -> f.toString().endsWith(".sources") || f.toString().endsWith(".list")).sorted().forEach(sources::add);
            }
        }
        sources.add(Path.of("/etc/apt/sources.list"));
        for (Path p : sources) {
            if (!Files.isRegularFile(p)) {
                continue;
            }
            for (String l : Files.readAllLines(p)) {
                String t = l.strip();
                String uri = t.startsWith("URIs:") ? t.substring(5).strip().split("\\s+")[0]
                        : t.startsWith("deb ") ? t.replaceAll("\\[[^]]*]", "").split("\\s+")[1] : "";
                if (uri.matches("https?://.*") && !uri.contains("security")) {
                    return uri;
                }
            }
        }
        return "http://deb.debian.org/debian";
    }

    @AfterAll
    static void stop() throws Exception {
        if (env != null) {
            env.close();
        }
    }

    private static Result ok(Result r, String what) {
        assertEquals(0, r.exit(), what + ": " + r.all());
        return r;
    }

    /**
     * dockerd inside a system container, its /var/lib/docker a host directory (an ID-mapped bind:
     * overlayfs cannot have the container's own overlay root as its upper layer, as with Docker
     * in Docker), with overlay2 storage, cgroupfs cgroups in the container's delegated cgroup and
     * its own bridge network and iptables rules. It loads the busybox archive and runs it: the
     * inner container is in the outer one's user namespace and range, has the memory limit it was
     * given, and a default route through the inner dockerd's bridge.
     */
    @Test
    void dockerRunsInsideWithOverlay2() throws Exception {
        String name = EngineTests.uniqueName("dind");
        Path varlib = Files.createDirectories(base.resolve("varlib-" + name));
        try {
            ok(dockerd.docker("run", "-d", "--runtime=bulwark-system", "--name", name, "-v", varlib + ":/var/lib/docker",
                    IMAGE, "dockerd"), "docker run " + name);
            for (long deadline = System.nanoTime() + 60_000_000_000L; dockerd.docker("exec", name, "docker", "version").exit() != 0;
                    Thread.sleep(200)) {
                assertTrue(System.nanoTime() < deadline, "the inner dockerd did not answer within 60 s: "
                        + dockerd.docker("logs", "--tail", "20", name).all());
            }
            String info = ok(dockerd.docker("exec", name, "docker", "info", "--format", "{{.Driver}} {{.CgroupDriver}}"),
                    "docker info").out().strip();
            assertEquals("overlay2 cgroupfs", info);
            ok(dockerd.docker("exec", name, "docker", "load", "-i", "/root/busybox.tar"), "inner docker load");
            String outer = ok(dockerd.docker("exec", name, "cat", "/proc/self/uid_map"), "outer uid_map").out().strip();
            String inner = ok(dockerd.docker("exec", name, "docker", "run", "--rm", "--memory", "64m", INNER, "sh", "-c",
                    "cat /proc/self/uid_map; cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null"
                            + " || cat /sys/fs/cgroup/memory.max; ip -4 route | grep default"), "inner docker run").out();
            List<String> l = inner.lines().map(String::strip).toList();
            assertEquals(outer.replaceAll("\\s+", " "), l.get(0).replaceAll("\\s+", " "),
                    "the inner container runs in the system container's range");
            assertEquals("67108864", l.get(1), "the inner container's memory limit");
            assertTrue(l.get(2).startsWith("default via 172."), "the inner bridge network: " + inner);
        } finally {
            dockerd.docker("rm", "-f", name);
            TestEnv.deleteTree(varlib);
        }
        assertEquals(List.of(), IdRanges.used(ranges), "ranges left taken after docker rm");
    }

    /**
     * Debian's systemd as the container's init reaches multi-user.target: is-system-running says
     * "running" (not "degraded"), no unit failed, and PID 1's cgroup tree (the container's own,
     * delegated) holds the services.
     */
    @Test
    void systemdBootsWithNoFailedUnits() throws Exception {
        String name = EngineTests.uniqueName("systemd");
        try {
            ok(dockerd.docker("run", "-d", "--runtime=bulwark-system", "--name", name, IMAGE, "/sbin/init"), "docker run " + name);
            String state = "";
            for (long deadline = System.nanoTime() + 120_000_000_000L; System.nanoTime() < deadline; Thread.sleep(200)) {
                // "offline" while systemd is not up yet, "initializing" or "starting" until the boot is done
                state = dockerd.docker("exec", name, "systemctl", "is-system-running").out().strip();
                if (!state.matches("|offline|initializing|starting")) {
                    break;
                }
            }
            String failed = dockerd.docker("exec", name, "systemctl", "--failed", "--no-legend", "--plain").out().strip();
            assertEquals("running", state, "failed units: " + failed);
            assertEquals("", failed);
            assertEquals("active", dockerd.docker("exec", name, "systemctl", "is-active", "multi-user.target").out().strip());
            String cgroup = ok(dockerd.docker("exec", name, "systemctl", "show", "-p", "ControlGroup", "dbus.service"), "dbus cgroup")
                    .out().strip();
            assertEquals("ControlGroup=/system.slice/dbus.service", cgroup);
        } finally {
            dockerd.docker("rm", "-f", name);
        }
        assertEquals(List.of(), IdRanges.used(ranges), "ranges left taken after docker rm");
    }
}
