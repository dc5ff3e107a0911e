package dev.bulwark.cgroup;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.bulwark.spec.Spec;
import dev.bulwark.spec.Spec.Resources;
import dev.bulwark.spec.SpecReader;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The v2 manager against a fake cgroupfs in a temporary directory (this host has no v2
 * controllers). The fake has the interface files a kernel would have; a file it lacks stands for
 * a controller that is not enabled.
 */
class V2ManagerTest {
    @TempDir
    Path tmp;
    Path mount;
    Cgroups host;

    static final List<String> LEAF_FILES = List.of(
            "memory.max", "memory.swap.max", "memory.low", "memory.high", "cpu.weight", "cpu.max.burst",
            "cpu.idle", "cpuset.cpus", "cpuset.mems", "pids.max", "io.weight", "io.max", "hugetlb.2MB.max",
            "rdma.max", "cgroup.procs", "cgroup.freeze");

    @BeforeEach
    void fakeHierarchy() throws IOException {
        mount = tmp.resolve("cg");
        controllersFiles(mount);
        controllersFiles(mount.resolve("a"));
        host = Cgroups.parse("29 23 0:26 / " + mount + " rw - cgroup2 cgroup2 rw\n", "0::/\n");
    }

    static void controllersFiles(Path d) throws IOException {
        Files.createDirectories(d);
        Files.writeString(d.resolve("cgroup.controllers"), "cpuset cpu io memory hugetlb pids rdma\n");
        Files.writeString(d.resolve("cgroup.subtree_control"), "");
    }

    Path leaf() throws IOException {
        Path leaf = mount.resolve("a/c");
        Files.createDirectories(leaf);
        for (String f : LEAF_FILES) {
            Files.writeString(leaf.resolve(f), "");
        }
        Files.writeString(leaf.resolve("memory.current"), "4096\n");
        Files.writeString(leaf.resolve("cpu.max"), "max 100000\n");
        Files.writeString(leaf.resolve("cgroup.events"), "populated 1\nfrozen 0\n");
        return leaf;
    }

    static Resources resources(String json) {
        Spec s = SpecReader.parse("{\"ociVersion\":\"1.2.0\",\"root\":{\"path\":\"r\"},\"linux\":{\"resources\":" + json + "}}");
        return s.linux().orElseThrow().resources().orElseThrow();
    }

    static String read(Path p) throws IOException {
        return Files.readString(p);
    }

    @Test
    void createWritesV2FilesWithConversions() throws IOException {
        Path leaf = leaf();
        CgroupManager m = CgroupManager.of(host, "/a/c", "c");
        assertEquals(Map.of("", leaf), m.dirs());
        Optional<DeviceProgram> prog = m.create(resources("""
                {"memory": {"limit": 104857600, "reservation": 52428800, "swap": 209715200},
                 "cpu": {"shares": 1024, "quota": 50000, "period": 100000, "burst": 1000, "cpus": "0-1", "mems": "0", "idle": 0},
                 "pids": {"limit": 64},
                 "blockIO": {"weight": 505, "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1048576}],
                             "throttleWriteIOPSDevice": [{"major": 8, "minor": 16, "rate": 0}]},
                 "hugepageLimits": [{"pageSize": "2MB", "limit": 4194304}],
                 "rdma": {"mlx5_0": {"hcaHandles": 3, "hcaObjects": 1000}},
                 "unified": {"memory.high": "90000000"},
                 "devices": [{"allow": false, "access": "rwm"}, {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"}]}
                """));
        assertEquals("104857600", read(leaf.resolve("memory.max")));
        assertEquals("104857600", read(leaf.resolve("memory.swap.max"))); // 200 MiB memory+swap = 100 MiB swap
        assertEquals("52428800", read(leaf.resolve("memory.low")));
        assertEquals("39", read(leaf.resolve("cpu.weight")));
        assertEquals("50000 100000", read(leaf.resolve("cpu.max")));
        assertEquals("1000", read(leaf.resolve("cpu.max.burst")));
        assertEquals("0", read(leaf.resolve("cpu.idle")));
        assertEquals("0-1", read(leaf.resolve("cpuset.cpus")));
        assertEquals("0", read(leaf.resolve("cpuset.mems")));
        assertEquals("64", read(leaf.resolve("pids.max")));
        assertEquals("default 5000", read(leaf.resolve("io.weight")));
        assertEquals("8:16 wiops=max", read(leaf.resolve("io.max"))); // the last line written; 0 is "no limit"
        assertEquals("4194304", read(leaf.resolve("hugetlb.2MB.max")));
        assertEquals("mlx5_0 hca_handle=3 hca_object=1000", read(leaf.resolve("rdma.max")));
        assertEquals("90000000", read(leaf.resolve("memory.high")));
        // controllers were enabled in the parents, never in the leaf
        assertEquals("+cpuset +cpu +io +memory +hugetlb +pids +rdma", read(mount.resolve("cgroup.subtree_control")));
        assertEquals("+cpuset +cpu +io +memory +hugetlb +pids +rdma", read(mount.resolve("a/cgroup.subtree_control")));
        assertFalse(Files.exists(leaf.resolve("cgroup.subtree_control")));
        assertEquals(leaf, prog.orElseThrow().cgroupDir());
        assertEquals(List.of(leaf.resolve("cgroup.procs")), m.procsFiles());
    }

    @Test
    void alreadyEnabledControllersAreNotWrittenAgain() throws IOException {
        leaf();
        Files.writeString(mount.resolve("cgroup.subtree_control"), "cpuset cpu io memory hugetlb pids rdma\n");
        CgroupManager.of(host, "/a/c", "c").create(resources("{}"));
        assertEquals("cpuset cpu io memory hugetlb pids rdma\n", read(mount.resolve("cgroup.subtree_control")));
    }

    @Test
    void bfqWeightUsesTheBlkioScale() throws IOException {
        Path leaf = leaf();
        Files.writeString(leaf.resolve("io.bfq.weight"), "");
        CgroupManager.of(host, "/a/c", "c").create(resources("{\"blockIO\": {\"weight\": 505}}"));
        assertEquals("505", read(leaf.resolve("io.bfq.weight")));
        assertEquals("", read(leaf.resolve("io.weight")));
    }

    @Test
    void failedCreationRemovesWhatItMade() throws IOException {
        // a/c does not exist: the manager makes it, and the kernel files a real cgroup would
        // have are missing in the fake, so the first limit fails.
        CgroupManager m = CgroupManager.of(host, "/a/c", "c");
        CgroupException e = assertThrows(CgroupException.class, () -> m.create(resources("{\"memory\": {\"limit\": 1048576}}")));
        assertEquals("linux.resources.memory.limit: cannot write \"1048576\" to " + mount.resolve("a/c/memory.max")
                + ": no such file (the controller is not enabled here or the kernel does not have this file)", e.getMessage());
        assertFalse(Files.exists(mount.resolve("a/c")));
        assertTrue(Files.exists(mount.resolve("a")), "the pre-existing parent stays");

        // two new levels: both go
        CgroupManager deep = CgroupManager.of(host, "/a/new/c", "c");
        assertThrows(CgroupException.class, () -> deep.create(resources("{}")));
        assertFalse(Files.exists(mount.resolve("a/new")));
    }

    @Test
    void settingsV2CannotHonourAreErrors() throws IOException {
        leaf();
        CgroupManager m = CgroupManager.of(host, "/a/c", "c");
        Map<String, String> cases = Map.of(
                "{\"network\": {\"classID\": 1}}", "linux.resources.network: net_cls and net_prio do not exist on cgroup v2",
                "{\"cpu\": {\"realtimeRuntime\": 1000}}", "linux.resources.cpu.realtimeRuntime/realtimePeriod: cgroup v2 has no realtime",
                "{\"memory\": {\"swappiness\": 10}}", "linux.resources.memory.swappiness: cgroup v2 has no per-cgroup swappiness",
                "{\"memory\": {\"kernel\": 1000000}}", "linux.resources.memory.kernel/kernelTCP: cgroup v2 has no separate",
                "{\"memory\": {\"disableOOMKiller\": true}}", "linux.resources.memory.disableOOMKiller: cgroup v2 cannot",
                "{\"blockIO\": {\"leafWeight\": 100}}", "linux.resources.blockIO.leafWeight: cgroup v2 has no leaf weights",
                "{\"unified\": {\"../x\": \"1\"}}", "linux.resources.unified.../x: expected a cgroup interface file name",
                "{\"unified\": {\"cgroup.procs\": \"1\"}}", "linux.resources.unified.cgroup.procs: cgroup.procs is not a resource setting",
                "{\"memory\": {\"limit\": 100, \"swap\": 50}}", "linux.resources.memory.swap: 50 is below the memory limit 100",
                "{\"cpu\": {\"shares\": 1}}", "linux.resources.cpu.shares: expected 2 to 262144, found 1");
        for (Map.Entry<String, String> c : cases.entrySet()) {
            CgroupException e = assertThrows(CgroupException.class, () -> m.update(resources(c.getKey())), c.getKey());
            assertTrue(e.getMessage().startsWith(c.getValue()), c.getKey() + " gave: " + e.getMessage());
        }
        // and a file the kernel would not have (hugetlb page size not supported here)
        CgroupException e = assertThrows(CgroupException.class,
                () -> m.update(resources("{\"hugepageLimits\": [{\"pageSize\": \"1GB\", \"limit\": 0}]}")));
        assertTrue(e.getMessage().startsWith("linux.resources.hugepageLimits[0].limit: cannot write \"0\" to "
                + mount.resolve("a/c/hugetlb.1GB.max")), e.getMessage());
    }

    @Test
    void updateKeepsWhatItIsNotGiven() throws IOException {
        Path leaf = leaf();
        CgroupManager m = CgroupManager.of(host, "/a/c", "c");
        m.create(resources("{\"cpu\": {\"quota\": 50000, \"period\": 100000}, \"memory\": {\"limit\": 1000000}}"));
        Files.writeString(leaf.resolve("memory.max"), "1000000\n"); // the kernel would read back without the write's exact bytes
        m.update(resources("{\"cpu\": {\"period\": 200000}}"));
        assertEquals("50000 200000", read(leaf.resolve("cpu.max")));
        m.update(resources("{\"cpu\": {\"quota\": -1}}"));
        assertEquals("max", read(leaf.resolve("cpu.max")));
        // swap alone is converted against the current memory.max
        m.update(resources("{\"memory\": {\"swap\": 3000000}}"));
        assertEquals("2000000", read(leaf.resolve("memory.swap.max")));
        m.update(resources("{\"memory\": {\"limit\": -1, \"swap\": -1}, \"pids\": {\"limit\": -1}}"));
        assertEquals("max", read(leaf.resolve("memory.max")));
        assertEquals("max", read(leaf.resolve("memory.swap.max")));
        assertEquals("max", read(leaf.resolve("pids.max")));
        // checkBeforeUpdate refuses a limit below the current usage (4096 in the fake)
        CgroupException e = assertThrows(CgroupException.class,
                () -> m.update(resources("{\"memory\": {\"limit\": 1024, \"checkBeforeUpdate\": true}}")));
        assertTrue(e.getMessage().startsWith("linux.resources.memory.limit: 1024 is below the current usage 4096"), e.getMessage());
    }

    @Test
    void statsFromV2Files() throws IOException {
        Path leaf = leaf();
        Files.writeString(leaf.resolve("cpu.stat"), "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\n"
                + "nr_periods 10\nnr_throttled 2\nthrottled_usec 300\n");
        Files.writeString(leaf.resolve("memory.max"), "max\n");
        Files.writeString(leaf.resolve("memory.stat"), "anon 8192\nfile 12288\n");
        Files.writeString(leaf.resolve("memory.events"), "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n");
        Files.writeString(leaf.resolve("memory.peak"), "65536\n");
        Files.writeString(leaf.resolve("memory.swap.current"), "0\n");
        Files.writeString(leaf.resolve("memory.swap.max"), "max\n");
        Files.writeString(leaf.resolve("pids.current"), "5\n");
        Files.writeString(leaf.resolve("pids.max"), "max\n");
        Files.writeString(leaf.resolve("io.stat"), "8:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n");
        CgroupStats s = CgroupManager.of(host, "/a/c", "c").stats();
        assertEquals(new CgroupStats.Cpu(1_500_000, List.of(), 500_000, 1_000_000, 10, 2, 300_000), s.cpu().orElseThrow());
        CgroupStats.Memory mem = s.memory().orElseThrow();
        assertEquals(4096, mem.usage());
        assertEquals(65536, mem.maxUsage());
        assertEquals(-1, mem.limit());
        assertEquals(3, mem.failcnt());
        assertEquals(12288, mem.cache());
        assertEquals(new CgroupStats.Pids(5, 0), s.pids().orElseThrow());
        assertEquals(List.of(new CgroupStats.BlkioEntry(8, 0, "Read", 4096), new CgroupStats.BlkioEntry(8, 0, "Write", 8192)),
                s.blkio().orElseThrow().ioServiceBytesRecursive());
        String json = dev.bulwark.json.Json.write(s.toJson());
        assertTrue(json.contains("\"limit\":18446744073709551615"), json);
        assertTrue(json.contains("\"throttling\":{\"periods\":10,\"throttledPeriods\":2,\"throttledTime\":300000}"), json);
    }

    @Test
    void freezeWaitsForFrozenEvent() throws IOException {
        Path leaf = leaf();
        CgroupManager m = CgroupManager.of(host, "/a/c", "c");
        assertEquals(CgroupManager.FreezerState.THAWED, m.freezerState());
        Files.writeString(leaf.resolve("cgroup.events"), "populated 1\nfrozen 1\n");
        m.freeze();
        assertEquals("1", read(leaf.resolve("cgroup.freeze")));
        assertEquals(CgroupManager.FreezerState.FROZEN, m.freezerState());
        Files.writeString(leaf.resolve("cgroup.events"), "populated 1\nfrozen 0\n");
        m.thaw();
        assertEquals("0", read(leaf.resolve("cgroup.freeze")));
    }

    @Test
    void pidsIncludeChildCgroups() throws IOException {
        Path leaf = leaf();
        Files.writeString(leaf.resolve("cgroup.procs"), "10\n11\n");
        Files.createDirectories(leaf.resolve("sub"));
        Files.writeString(leaf.resolve("sub/cgroup.procs"), "12\n");
        assertEquals(List.of(10L, 11L, 12L), CgroupManager.of(host, "/a/c", "c").pids().stream().sorted().toList());
    }

    @Test
    void openRefusesDirsOutsideTheMount() {
        assertThrows(CgroupException.class, () -> CgroupManager.open(host, Map.of("", Path.of("/etc"))));
        assertThrows(CgroupException.class, () -> CgroupManager.open(host, Map.of("", mount)));
    }
}
