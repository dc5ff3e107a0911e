package dev.bulwark.cgroup;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.bulwark.spec.Spec.Resources;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The v1 manager on this host's real cgroup v1 hierarchies, as root. Each test works under its
 * own /bulwark-test-&lt;uuid&gt; cgroup; afterwards every process it started is killed by PID and
 * every cgroup it made is removed by exact path, whether the test passed or not.
 */
class V1HostTest {
    Cgroups host;
    String base;
    final List<Process> started = new ArrayList<>();
    final List<Path> made = new ArrayList<>();

    @BeforeEach
    void requireV1Root() {
        assumeTrue("root".equals(System.getProperty("user.name")), "needs root");
        host = Cgroups.detect();
        assumeTrue(host.layout() != Cgroups.Layout.UNIFIED, "needs cgroup v1 controllers");
        assumeTrue(host.v1Controller("memory").isPresent() && host.v1Controller("freezer").isPresent(),
                "needs the memory and freezer controllers");
        base = "/bulwark-test-" + UUID.randomUUID().toString().substring(0, 8);
    }

    @AfterEach
    void cleanUp() throws Exception {
        for (Process p : started) {
            p.destroyForcibly();
            p.waitFor(5, TimeUnit.SECONDS);
        }
        // a frozen task cannot die; thaw whatever this test may have left frozen
        for (Path d : made) {
            Path state = d.resolve("freezer.state");
            if (Files.exists(state)) {
                Files.writeString(state, "THAWED", StandardOpenOption.WRITE);
            }
        }
        for (int i = made.size() - 1; i >= 0; i--) {
            Files.deleteIfExists(made.get(i));
        }
    }

    /** A manager for base/name, with every directory it may make recorded for clean-up. */
    CgroupManager manager(String name) {
        CgroupManager m = CgroupManager.of(host, base + "/" + name, name);
        for (Path d : m.dirs().values()) {
            if (!made.contains(d.getParent())) {
                made.add(d.getParent());
            }
        }
        // leaves after parents: removed in reverse order
        made.addAll(m.dirs().values());
        return m;
    }

    static Resources resources(String json) {
        return V2ManagerTest.resources(json);
    }

    static String read(Path p) throws IOException {
        return Files.readString(p).strip();
    }

    Path dir(CgroupManager m, String controller) {
        return m.dirs().get(host.v1Controller(controller).orElseThrow().name());
    }

    Process start(String... cmd) throws IOException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        started.add(p);
        return p;
    }

    static void join(CgroupManager m, long pid) throws IOException {
        for (Path procs : m.procsFiles()) {
            Files.writeString(procs, Long.toString(pid), StandardOpenOption.WRITE);
        }
    }

    /**
     * A real block device's "major:minor" for throttles: the first whole disk in /sys/block
     * (whatever it is called on this host), else a loop device.
     */
    static String blockDevice() throws IOException {
        List<Path> disks;
        try (var s = Files.list(Path.of("/sys/block"))) {
            disks = s.sorted(java.util.Comparator.comparing((Path d) -> d.getFileName().toString().startsWith("loop"))
                    .thenComparing(Path::toString)).toList();
        }
        for (Path d : disks) {
            if (Files.exists(d.resolve("dev"))) {
                return read(d.resolve("dev"));
            }
        }
        throw new org.opentest4j.TestAbortedException("no block device in /sys/block for blkio throttles");
    }

    /**
     * The proportional-weight file this kernel offers in v1 blkio cgroups: blkio.weight (CFQ),
     * blkio.bfq.weight (BFQ), or none when no block device uses a weight-capable scheduler
     * (none, mq-deadline and kyber have no weights).
     */
    java.util.Optional<String> blkioWeightFile() {
        if (weightFile == null) {
            // Probed in a cgroup of its own: BFQ's files are not shown in the root cgroup.
            CgroupManager probe = manager("weight-probe");
            probe.create(resources("{}"));
            Path d = dir(probe, "blkio");
            weightFile = java.util.stream.Stream.of("blkio.weight", "blkio.bfq.weight")
                    .filter(f -> Files.exists(d.resolve(f))).findFirst();
            probe.destroy();
            System.out.println("V1HostTest: proportional blkio weight file on this host: " + weightFile.orElse("none"));
        }
        return weightFile;
    }

    private java.util.Optional<String> weightFile;

    @Test
    void limitsAreInTheKernelFiles() throws IOException {
        assumeTrue(host.v1Controller("blkio").isPresent() && host.v1Controller("cpuset").isPresent()
                && host.v1Controller("pids").isPresent(), "needs the blkio, cpuset and pids controllers");
        String[] dev = blockDevice().split(":");
        // A weight lands only where the kernel has a proportional-weight scheduler; elsewhere
        // its error is asserted in blkioWeightLandsOrIsAClearError.
        String weight = blkioWeightFile().isPresent() ? "\"weight\": 500, " : "";
        CgroupManager m = manager("limits");
        m.create(resources("""
                {"memory": {"limit": 67108864, "reservation": 33554432, "swap": 134217728, "swappiness": 10},
                 "cpu": {"shares": 512, "quota": 20000, "period": 100000, "cpus": "0", "mems": "0"},
                 "pids": {"limit": 32},
                 "blockIO": {%s"throttleReadBpsDevice": [{"major": %s, "minor": %s, "rate": 1048576}],
                             "throttleWriteIOPSDevice": [{"major": %s, "minor": %s, "rate": 100}]}}
                """.formatted(weight, dev[0], dev[1], dev[0], dev[1])));
        Path mem = dir(m, "memory");
        assertEquals("67108864", read(mem.resolve("memory.limit_in_bytes")));
        assertEquals("33554432", read(mem.resolve("memory.soft_limit_in_bytes")));
        assertEquals("134217728", read(mem.resolve("memory.memsw.limit_in_bytes")));
        assertEquals("10", read(mem.resolve("memory.swappiness")));
        assertEquals("512", read(dir(m, "cpu").resolve("cpu.shares")));
        assertEquals("20000", read(dir(m, "cpu").resolve("cpu.cfs_quota_us")));
        assertEquals("100000", read(dir(m, "cpu").resolve("cpu.cfs_period_us")));
        assertEquals("0", read(dir(m, "cpuset").resolve("cpuset.cpus")));
        // the intermediate cgroup got the parent's cpus and mems, or the leaf could not be made usable
        assertEquals(read(dir(m, "cpuset").getParent().getParent().resolve("cpuset.mems")),
                read(dir(m, "cpuset").getParent().resolve("cpuset.mems")));
        assertFalse(read(dir(m, "cpuset").getParent().resolve("cpuset.cpus")).isEmpty());
        assertEquals("32", read(dir(m, "pids").resolve("pids.max")));
        Path blkio = dir(m, "blkio");
        if (blkioWeightFile().isPresent()) {
            assertEquals("500", read(blkio.resolve(blkioWeightFile().get())));
        }
        assertEquals(blockDevice() + " 1048576", read(dir(m, "blkio").resolve("blkio.throttle.read_bps_device")));
        assertEquals(blockDevice() + " 100", read(dir(m, "blkio").resolve("blkio.throttle.write_iops_device")));

        // lowering memory+swap below the current memsw works because the limit goes first
        m.update(resources("{\"memory\": {\"limit\": 16777216, \"swap\": 33554432}}"));
        assertEquals("16777216", read(mem.resolve("memory.limit_in_bytes")));
        assertEquals("33554432", read(mem.resolve("memory.memsw.limit_in_bytes")));
        // and raising both works because memsw goes first
        m.update(resources("{\"memory\": {\"limit\": 268435456, \"swap\": 536870912}}"));
        assertEquals("268435456", read(mem.resolve("memory.limit_in_bytes")));
        assertEquals("536870912", read(mem.resolve("memory.memsw.limit_in_bytes")));
        m.destroy();
        for (Path d : m.dirs().values()) {
            assertFalse(Files.exists(d), d + " removed");
        }
    }

    /**
     * A proportional weight lands in the kernel's file where the host has a weight-capable I/O
     * scheduler (CFQ or BFQ), and is a clear error that leaves no cgroup behind where it does not
     * (this kind of machine has been seen with only none and mq-deadline).
     */
    @Test
    void blkioWeightLandsOrIsAClearError() throws IOException {
        assumeTrue(host.v1Controller("blkio").isPresent(), "needs the blkio controller");
        String[] dev = blockDevice().split(":");
        String weight = "{\"blockIO\": {\"weight\": 300}}";
        String device = "{\"blockIO\": {\"weightDevice\": [{\"major\": %s, \"minor\": %s, \"weight\": 200}]}}"
                .formatted(dev[0], dev[1]);
        String leaf = "{\"blockIO\": {\"leafWeight\": 500}}";
        java.util.Optional<String> file = blkioWeightFile();
        if (file.isPresent()) {
            CgroupManager m = manager("weight");
            m.create(resources(weight));
            assertEquals("300", read(dir(m, "blkio").resolve(file.get())).replaceFirst("^default ", ""));
            m.update(resources(device));
            assertTrue(read(dir(m, "blkio").resolve(file.get() + "_device")).contains(blockDevice() + " 200"));
            m.destroy();
        } else {
            assertRefused("weight-none", weight, "linux.resources.blockIO.weight: neither blkio.weight nor blkio.bfq.weight exists in ");
            assertRefused("weight-dev-none", device,
                    "linux.resources.blockIO.weightDevice[0].weight: neither blkio.weight_device nor blkio.bfq.weight_device exists in ");
        }
        // Leaf weights were CFQ's alone (gone since Linux 5.0).
        CgroupManager probe = manager("leaf-probe");
        probe.create(resources("{}"));
        boolean leafWeights = Files.exists(dir(probe, "blkio").resolve("blkio.leaf_weight"));
        probe.destroy();
        if (leafWeights) {
            CgroupManager m = manager("leaf");
            m.create(resources(leaf));
            assertEquals("500", read(dir(m, "blkio").resolve("blkio.leaf_weight")));
            m.destroy();
        } else {
            assertRefused("leaf-none", leaf, "linux.resources.blockIO.leafWeight: cannot write \"500\" to ");
        }
    }

    /** create fails with an error starting with message, and no directory of it remains. */
    private void assertRefused(String name, String json, String message) {
        CgroupManager m = manager(name);
        List<Path> parentsBefore = m.dirs().values().stream().map(Path::getParent).filter(Files::exists).toList();
        CgroupException e = assertThrows(CgroupException.class, () -> m.create(resources(json)), json);
        assertTrue(e.getMessage().startsWith(message), json + " gave " + e.getMessage());
        for (Path d : m.dirs().values()) {
            assertFalse(Files.exists(d), "rolled back: " + d);
            assertEquals(parentsBefore.contains(d.getParent()), Files.exists(d.getParent()),
                    "a parent the create made is rolled back, one it found is kept: " + d.getParent());
        }
    }

    @Test
    void processJoinsIsCountedFrozenThawedUpdatedAndCleanedUp() throws Exception {
        CgroupManager m = manager("life");
        m.create(resources("{\"memory\": {\"limit\": 67108864}, \"pids\": {\"limit\": 16}}"));
        Process sleep = start("sleep", "30");
        join(m, sleep.pid());
        String self = Files.readString(Path.of("/proc/" + sleep.pid() + "/cgroup"));
        assertTrue(self.contains(":memory:" + base + "/life\n"), self);
        assertTrue(self.contains(":pids:" + base + "/life\n"), self);
        assertTrue(self.contains("0::" + base + "/life\n"), "hybrid: also on the v2 hierarchy: " + self);
        assertEquals(List.of(sleep.pid()), m.pids());

        CgroupStats s = m.stats();
        assertEquals(new CgroupStats.Pids(1, 16), s.pids().orElseThrow());
        assertEquals(67108864, s.memory().orElseThrow().limit());
        assertTrue(s.cpu().orElseThrow().percpu().size() >= 1);
        assertTrue(s.blkio().isPresent());

        m.freeze();
        assertEquals(CgroupManager.FreezerState.FROZEN, m.freezerState());
        assertEquals("FROZEN", read(dir(m, "freezer").resolve("freezer.state")));
        // a frozen task ignores SIGKILL until thawed
        new ProcessBuilder("kill", "-KILL", Long.toString(sleep.pid())).start().waitFor();
        assertFalse(sleep.waitFor(300, TimeUnit.MILLISECONDS), "a frozen task must not run its exit");
        m.thaw();
        assertEquals(CgroupManager.FreezerState.THAWED, m.freezerState());
        assertTrue(sleep.waitFor(5, TimeUnit.SECONDS), "the SIGKILL lands once thawed");

        Process sleep2 = start("sleep", "30");
        join(m, sleep2.pid());
        m.update(resources("{\"pids\": {\"limit\": 8}, \"memory\": {\"limit\": 33554432}, \"cpu\": {\"shares\": 256}}"));
        assertEquals("8", read(dir(m, "pids").resolve("pids.max")));
        assertEquals("33554432", read(dir(m, "memory").resolve("memory.limit_in_bytes")));
        assertEquals("256", read(dir(m, "cpu").resolve("cpu.shares")));

        sleep2.destroyForcibly();
        sleep2.waitFor(5, TimeUnit.SECONDS);
        m.destroy();
        for (Path d : m.dirs().values()) {
            assertFalse(Files.exists(d), d + " removed");
        }
        m.destroy(); // again: nothing left, no error
    }

    @Test
    void pidsLimitStopsForks() throws Exception {
        CgroupManager m = manager("pids");
        m.create(resources("{\"pids\": {\"limit\": 3}}"));
        Process sh = start("sh", "-c", "read x; for i in 1 2 3 4 5; do sleep 1 & done; echo started; wait");
        join(m, sh.pid());
        try (OutputStream in = sh.getOutputStream()) {
            in.write('\n');
        }
        String out = new String(sh.getInputStream().readNBytes(4096), StandardCharsets.UTF_8);
        assertTrue(out.contains("fork") || out.contains("Resource temporarily unavailable") || out.contains("Cannot"),
                "forks beyond the limit fail: " + out);
        assertTrue(read(dir(m, "pids").resolve("pids.events")).contains("max "));
        assertTrue(sh.waitFor(10, TimeUnit.SECONDS));
        // Under load the shell's last children can still be exiting; destroy retries only briefly.
        for (int i = 0; i < 1000 && !m.pids().isEmpty(); i++) {
            Thread.sleep(10);
        }
        m.destroy();
    }

    @Test
    void deviceAllowListIsEnforced() throws Exception {
        CgroupManager m = manager("devices");
        m.create(resources("""
                {"devices": [{"allow": false, "access": "rwm"},
                             {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rw"}]}
                """));
        assertEquals("c 1:3 rw", read(dir(m, "devices").resolve("devices.list")));
        Process sh = start("sh", "-c", "read x; head -c1 /dev/zero >/dev/null 2>&1 && echo zero-ok || echo zero-denied;"
                + " : </dev/null && echo null-ok || echo null-denied");
        join(m, sh.pid());
        try (OutputStream in = sh.getOutputStream()) {
            in.write('\n');
        }
        List<String> lines = new BufferedReader(new InputStreamReader(sh.getInputStream(), StandardCharsets.UTF_8)).lines().toList();
        assertTrue(sh.waitFor(10, TimeUnit.SECONDS));
        assertEquals(List.of("zero-denied", "null-ok"), lines);
        m.destroy();
    }

    @Test
    void limitsThisHostCannotApplyFailAndLeaveNothing() throws IOException {
        // One past the last CPU this kernel could ever bring online.
        String possible = read(Path.of("/sys/devices/system/cpu/possible"));
        int beyond = Integer.parseInt(possible.substring(possible.lastIndexOf('-') + 1).replaceAll(".*,", "")) + 1;
        Map<String, String> cases = new java.util.LinkedHashMap<>();
        cases.put("{\"cpu\": {\"shares\": 1}}", "linux.resources.cpu.shares: wrote 1 to ");
        cases.put("{\"memory\": {\"limit\": 1048576}, \"cpu\": {\"cpus\": \"%d-%d\"}}".formatted(beyond, beyond + 1),
                "linux.resources.cpu.cpus: cannot write \"%d-%d\" to ".formatted(beyond, beyond + 1));
        cases.put("{\"unified\": {\"memory.high\": \"1\"}}", "linux.resources.unified: sets cgroup v2 files");
        if (host.v1Controller("hugetlb").isEmpty()) {
            cases.put("{\"hugepageLimits\": [{\"pageSize\": \"2MB\", \"limit\": 0}]}",
                    "linux.resources.hugepageLimits[0].limit: needs the hugetlb cgroup controller, which is not mounted on this host");
        }
        int i = 0;
        for (Map.Entry<String, String> c : cases.entrySet()) {
            assertRefused("fail" + i++, c.getKey(), c.getValue());
        }
    }

    /** hugetlb limits land where the controller is mounted on v1 (the refusal elsewhere is above). */
    @Test
    void hugetlbLimitLandsWhereTheControllerIsMounted() throws IOException {
        if (host.v1Controller("hugetlb").isEmpty()) {
            System.out.println("V1HostTest: no v1 hugetlb hierarchy here; its refusal is asserted in limitsThisHostCannotApplyFailAndLeaveNothing");
            return;
        }
        CgroupManager m = manager("hugetlb");
        m.create(resources("{\"hugepageLimits\": [{\"pageSize\": \"2MB\", \"limit\": 4194304}]}"));
        assertEquals("4194304", read(dir(m, "hugetlb").resolve("hugetlb.2MB.limit_in_bytes")));
        m.destroy();
    }
}
