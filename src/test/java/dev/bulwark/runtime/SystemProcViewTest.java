package dev.bulwark.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.bulwark.testing.ContainerTestBase;
import dev.bulwark.testing.Sandbox;
import dev.bulwark.testing.TestSystem;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The agent's view of /proc in real system containers: /proc/meminfo, cpuinfo, stat, uptime and
 * /sys/devices/system/cpu/online follow the container's memory limit, CPU quota and start, the
 * binds cannot be unmounted or written, and the view outlives a restart of the agent.
 */
class SystemProcViewTest extends ContainerTestBase {
    private static final long POOL = 3_400_000_000L;
    private TestSystem sys;

    @BeforeEach
    void poolAndAgent() throws Exception {
        sys = TestSystem.start(box.dir(), POOL, 4);
    }

    @AfterEach
    void stopAgent() throws Exception {
        sys.close();
    }

    private List<String> cli(String... args) {
        return sys.cli(box.stateRoot(), args);
    }

    @SuppressWarnings("unchecked")
    private void limits(long memory, long quota, long period) {
        Map<String, Object> res = (Map<String, Object>) box.linux().computeIfAbsent("resources", k -> map());
        res.put("memory", map("limit", memory));
        res.put("cpu", map("quota", quota, "period", period));
    }

    private Sandbox.Result system(String script) throws Exception {
        box.process().put("args", new ArrayList<>(List.of("sh", "-c", script)));
        box.writeConfig();
        return Sandbox.finish(new ProcessBuilder(cli("--system", "run", "--bundle", box.bundle().toString(), "pv" + Long.toHexString(System.nanoTime())))
                .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile())).start());
    }

    private static long hostCpus() throws Exception {
        return dev.bulwark.agent.ProcViewAccess.parseList(Procfs.read(Path.of("/sys/devices/system/cpu/online")).strip()).size();
    }

    @Test
    void theFilesFollowTheLimits() throws Exception {
        limits(200L << 20, 50_000, 100_000);
        double hostUp = Double.parseDouble(Procfs.read(Path.of("/proc/uptime")).split(" ")[0]);
        Sandbox.Result r = system("grep -E '^(MemTotal|MemFree|MemAvailable):' /proc/meminfo; grep -c ^processor /proc/cpuinfo;"
                + " grep -c '^cpu[0-9]' /proc/stat; cat /sys/devices/system/cpu/online; cut -d' ' -f1 /proc/uptime");
        assertEquals(0, r.exit(), r.all());
        List<String> l = r.out().lines().map(String::strip).toList();
        assertEquals("MemTotal:         204800 kB", l.get(0).replaceAll("\\s+", " ").replace("MemTotal: ", "MemTotal:         "), r.all());
        long free = Long.parseLong(l.get(1).replaceAll("\\D", ""));
        long avail = Long.parseLong(l.get(2).replaceAll("\\D", ""));
        assertTrue(free > 0 && free < 204800 && avail >= free && avail <= 204800, l.toString());
        // a quota of half a CPU is one CPU, on any host
        assertEquals(List.of("1", "1", "0"), l.subList(3, 6), "processors in cpuinfo, cpus in stat, cpu/online: " + r.all());
        double up = Double.parseDouble(l.get(6));
        assertTrue(up >= 0 && up < 60 && up < hostUp, "uptime " + up + " (the host's: " + hostUp + ")");
        assertEquals(7, l.size(), r.all());
    }

    /** A proc the container mounts itself (as an inner runc does) gets the view's files too. */
    @Test
    void aNewProcShowsTheViewToo() throws Exception {
        limits(200L << 20, 50_000, 100_000);
        // on /tmp: the root is read-only
        Sandbox.Result r = system("mount -t proc proc /tmp && grep MemTotal /tmp/meminfo | tr -s ' ';"
                + " grep -c ^processor /tmp/cpuinfo; grep -c fuse /proc/self/mountinfo; umount -l /tmp && echo unmounted");
        assertEquals(0, r.exit(), r.all());
        List<String> l = r.out().lines().map(String::strip).toList();
        assertEquals("MemTotal: 204800 kB", l.get(0), r.all());
        assertEquals("1", l.get(1), "processors in the new proc's cpuinfo: " + r.all());
        // the container's own 5 view files and the new proc's 4 (it has no /sys)
        assertEquals("9", l.get(2), r.all());
        assertEquals("unmounted", l.get(3), r.all());
    }

    @Test
    void freeAndNprocFollowTheLimitsToo() throws Exception {
        limits(200L << 20, 50_000, 100_000);
        // busybox free asks sysinfo(2), nproc sched_getaffinity(2): the agent answers both
        Sandbox.Result r = system("free | grep Mem: | tr -s ' ' | cut -d' ' -f2; nproc; grep Cpus_allowed_list /proc/self/status | cut -f2;"
                + " free | grep Mem: | tr -s ' ' | cut -d' ' -f3");
        assertEquals(0, r.exit(), r.all());
        List<String> l = r.out().lines().map(String::strip).toList();
        assertEquals("204800", l.get(0), "free's total (KiB) is the memory limit: " + r.all());
        long used = Long.parseLong(l.get(3));
        assertTrue(used > 0 && used < 204800, "free's used (total less free and cache) is within the limit: " + r.all());
        assertEquals("1", l.get(1), "a quota of half a CPU is one CPU: " + r.all());
        assertEquals(Procfs.read(Path.of("/proc/self/status")).lines().filter(s -> s.startsWith("Cpus_allowed_list:"))
                .findFirst().orElseThrow().split("\\s+")[1], l.get(2), "the real affinity is unchanged");
    }

    @Test
    void aContainerOfTheSameNameRightAfterShowsItsOwnLimit() throws Exception {
        // The agent keeps sysinfo's view of the memory for a second per set of cgroups: per
        // container, since a container of the same name (and so the same cgroup path) may follow
        // at once with another limit.
        List<String> totals = new ArrayList<>();
        for (long mib : new long[] {200, 300}) {
            limits(mib << 20, 100_000, 100_000);
            box.process().put("args", new ArrayList<>(List.of("sh", "-c", "free | grep Mem: | tr -s ' ' | cut -d' ' -f2")));
            box.writeConfig();
            Sandbox.Result r = Sandbox.finish(new ProcessBuilder(cli("--system", "run", "--bundle", box.bundle().toString(), "pvsame"))
                    .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile())).start());
            assertEquals(0, r.exit(), r.all());
            totals.add(r.out().strip());
        }
        assertEquals(List.of("204800", "307200"), totals, "free's total (KiB) in each container");
    }

    @Test
    void freeAndNprocWithoutLimitsAreTheHosts() throws Exception {
        String memTotal = Procfs.read(Path.of("/proc/meminfo")).lines().filter(s -> s.startsWith("MemTotal:")).findFirst().orElseThrow()
                .replaceAll("\\D", "");
        Sandbox.Result r = system("free | grep Mem: | tr -s ' ' | cut -d' ' -f2,3; nproc");
        assertEquals(0, r.exit(), r.all());
        List<String> l = r.out().lines().map(String::strip).toList();
        assertEquals(List.of(memTotal, Long.toString(hostCpus())), List.of(l.get(0).split(" ")[0], l.get(1)), r.all());
        long used = Long.parseLong(l.get(0).split(" ")[1]);
        assertTrue(used > 0 && used < Long.parseLong(memTotal), "free's used: " + r.all());
    }

    @Test
    void withoutLimitsTheHostsFiguresShow() throws Exception {
        Sandbox.Result r = system("grep -c ^processor /proc/cpuinfo; cat /sys/devices/system/cpu/online; grep MemTotal /proc/meminfo");
        assertEquals(0, r.exit(), r.all());
        List<String> l = r.out().lines().map(String::strip).toList();
        assertEquals(Long.toString(hostCpus()), l.get(0));
        assertEquals(Procfs.read(Path.of("/sys/devices/system/cpu/online")).strip(), l.get(1));
        String hostTotal = Procfs.read(Path.of("/proc/meminfo")).lines().filter(s -> s.startsWith("MemTotal:")).findFirst().orElseThrow();
        assertEquals(hostTotal.replaceAll("\\s+", " "), l.get(2).replaceAll("\\s+", " "));
    }

    @Test
    void theBindsCannotBeRemovedOrWritten() throws Exception {
        limits(100L << 20, -1, 100_000);
        Sandbox.Result r = system("umount /proc/meminfo 2>/dev/null && echo unmounted; umount -l /proc/meminfo 2>/dev/null && echo detached;"
                + " echo x > /proc/meminfo 2>/dev/null && echo written; grep MemTotal /proc/meminfo | tr -s ' '");
        assertEquals(0, r.exit(), r.all());
        assertEquals(List.of("MemTotal: 102400 kB"), r.out().lines().toList(), r.all());
    }

    @Test
    void theViewOutlivesARestartOfTheAgent() throws Exception {
        limits(300L << 20, -1, 100_000);
        box.process().put("args", new ArrayList<>(List.of("sleep", "60")));
        box.writeConfig();
        String id = "pvr" + Long.toHexString(System.nanoTime());
        try {
            // the container keeps stdout and stderr: discarded, not pipes this test waits on
            Process c = new ProcessBuilder(cli("--system", "run", "--detach", "--bundle", box.bundle().toString(), id))
                    .redirectOutput(ProcessBuilder.Redirect.DISCARD).redirectError(ProcessBuilder.Redirect.DISCARD).start();
            assertEquals(0, c.waitFor());
            sys.stopAgent();
            sys.startAgent();
            Sandbox.Result e = Sandbox.finish(new ProcessBuilder(cli("exec", id, "sh", "-c", "grep MemTotal /proc/meminfo | tr -s ' '")).start());
            assertEquals(0, e.exit(), e.all());
            assertEquals("MemTotal: 307200 kB", e.out().strip());
            assertTrue(dev.bulwark.testing.TestAgent.log(sys.socket).contains("procview: serving"), dev.bulwark.testing.TestAgent.log(sys.socket));
        } finally {
            Sandbox.finish(new ProcessBuilder(cli("delete", "--force", id)).start());
        }
    }
}
