package dev.bulwark.cgroup;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

class CgroupsTest {
    /** This machine's layout: v1 controllers, cpu and cpuacct apart, an empty cgroup2 at unified. */
    static final String HYBRID_MOUNTINFO = """
            31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
            32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
            33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
            34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
            35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
            36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
            37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
            38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio
            39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
            40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
            41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
            """;
    static final String HYBRID_SELF = """
            9:name=systemd:/
            8:pids:/
            7:blkio:/
            6:freezer:/
            5:devices:/
            4:memory:/process_api/f844
            3:cpuset:/
            2:cpuacct:/
            1:cpu:/
            0::/
            """;

    @Test
    void hybridHostAsOnThisMachine() {
        Cgroups c = Cgroups.parse(HYBRID_MOUNTINFO, HYBRID_SELF);
        assertEquals(Cgroups.Layout.HYBRID, c.layout());
        assertEquals(9, c.v1().size());
        assertEquals(Path.of("/sys/fs/cgroup/unified"), c.unified().orElseThrow().mountPoint());
        Cgroups.Hierarchy mem = c.v1Controller("memory").orElseThrow();
        assertEquals("/process_api/f844", mem.own());
        assertEquals(Set.of(), c.v1().stream().filter(h -> h.name().equals("name=systemd")).findFirst().orElseThrow().controllers());
    }

    @Test
    void absolutePathIsFromEachHierarchyRoot() {
        Map<String, Path> dirs = Cgroups.parse(HYBRID_MOUNTINFO, HYBRID_SELF).resolve("/docker/abc", "abc");
        assertEquals(Path.of("/sys/fs/cgroup/memory/docker/abc"), dirs.get("memory"));
        assertEquals(Path.of("/sys/fs/cgroup/cpu/docker/abc"), dirs.get("cpu"));
        assertEquals(Path.of("/sys/fs/cgroup/systemd/docker/abc"), dirs.get("name=systemd"));
        assertEquals(Path.of("/sys/fs/cgroup/unified/docker/abc"), dirs.get(""));
        assertEquals(10, dirs.size());
    }

    @Test
    void relativePathIsFromOwnCgroupPerHierarchy() {
        Map<String, Path> dirs = Cgroups.parse(HYBRID_MOUNTINFO, HYBRID_SELF).resolve("pod1/ctr", "ctr");
        assertEquals(Path.of("/sys/fs/cgroup/memory/process_api/f844/pod1/ctr"), dirs.get("memory"));
        assertEquals(Path.of("/sys/fs/cgroup/pids/pod1/ctr"), dirs.get("pids"));
    }

    @Test
    void emptyPathIsBulwarkSlashId() {
        Map<String, Path> dirs = Cgroups.parse(HYBRID_MOUNTINFO, HYBRID_SELF).resolve("", "c1");
        assertEquals(Path.of("/sys/fs/cgroup/freezer/bulwark/c1"), dirs.get("freezer"));
    }

    @Test
    void pathsThatLeaveOrNameTheRootAreRefused() {
        Cgroups c = Cgroups.parse(HYBRID_MOUNTINFO, HYBRID_SELF);
        assertTrue(assertThrows(CgroupException.class, () -> c.resolve("/a/../../etc", "x")).getMessage()
                .startsWith("linux.cgroupsPath: \"/a/../../etc\" contains \"..\""));
        assertTrue(assertThrows(CgroupException.class, () -> c.resolve("/", "x")).getMessage()
                .startsWith("linux.cgroupsPath: \"/\" names the root"));
        assertTrue(assertThrows(CgroupException.class, () -> c.resolve("./", "x")).getMessage().contains("names the root"));
        assertEquals(Path.of("/sys/fs/cgroup/pids/a/b"), c.resolve("//a/./b/", "x").get("pids"));
    }

    @Test
    void pureV2WithCgroupNamespaceRoot() {
        String mi = "29 23 0:26 /kubepods/pod1 /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n";
        Cgroups c = Cgroups.parse(mi, "0::/kubepods/pod1/init\n");
        assertEquals(Cgroups.Layout.UNIFIED, c.layout());
        assertEquals(Map.of("", Path.of("/sys/fs/cgroup/init/ctr")), c.resolve("ctr", "x"));
        assertEquals(Map.of("", Path.of("/sys/fs/cgroup/system.slice/x")), c.resolve("/system.slice/x", "x"));
        Cgroups outside = Cgroups.parse(mi, "0::/other\n");
        assertTrue(assertThrows(CgroupException.class, () -> outside.resolve("ctr", "x")).getMessage()
                .contains("outside the mounted root /kubepods/pod1"));
    }

    @Test
    void coMountedControllersAndEscapedMountPoint() {
        String mi = """
                25 20 0:22 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpuacct,cpu
                26 20 0:23 / /mnt/my\\040cgroups rw - cgroup cgroup rw,memory,clone_children
                """;
        Cgroups c = Cgroups.parse(mi, "3:cpu,cpuacct:/a\n2:memory:/\n");
        assertEquals(Cgroups.Layout.V1, c.layout());
        assertEquals(Path.of("/sys/fs/cgroup/cpu,cpuacct"), c.v1Controller("cpuacct").orElseThrow().mountPoint());
        assertEquals("/a", c.v1Controller("cpu").orElseThrow().own());
        assertEquals(Path.of("/mnt/my cgroups/x"), c.resolve("/x", "id").get("memory"));
        assertEquals(Path.of("/sys/fs/cgroup/cpu,cpuacct/a/x"), c.resolve("x", "id").get("cpu,cpuacct"));
    }

    @Test
    void noCgroupsMountedIsAnError() {
        assertThrows(CgroupException.class, () -> Cgroups.parse("1 0 0:1 / / rw - ext4 /dev/sda rw\n", "0::/\n"));
    }

    @Test
    void detectReadsThisHost() {
        Cgroups c = Cgroups.detect();
        assertTrue(c.unified().isPresent() || !c.v1().isEmpty());
    }
}
