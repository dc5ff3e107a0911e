package dev.bulwark.audit;

import static dev.bulwark.audit.Fixtures.byId;
import static dev.bulwark.audit.Fixtures.status;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Runtime readiness against fake /proc and /sys trees. */
class ReadinessTest {
    private static final List<String> PATHS = List.of("/run/bulwark", "/var/lib", "/");

    static final Map<String, String> MODERN = Map.of(
            "/proc/sys/kernel/osrelease", "6.8.0-31-generic\n",
            "/proc/sys/user/max_user_namespaces", "63882\n",
            "/proc/self/ns/user", "",
            "/proc/self/ns/time", "",
            "/proc/sys/kernel/seccomp/actions_avail", "kill_process kill_thread trap errno user_notif trace log allow\n",
            "/sys/kernel/security/lsm", "lockdown,capability,landlock,yama,apparmor",
            "/proc/self/mountinfo", """
                    22 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw
                    23 22 0:21 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate
                    24 22 0:22 / /run rw,nosuid - tmpfs tmpfs rw,mode=755
                    25 22 8:2 / /var/lib rw - btrfs /dev/sda2 rw
                    """,
            "/sys/fs/cgroup/cgroup.controllers", "cpuset cpu io memory hugetlb pids rdma misc\n",
            "/proc/filesystems", "nodev\tsysfs\nnodev\toverlay\n\text4\n");

    static final Map<String, String> OLD = Map.of(
            "/proc/sys/kernel/osrelease", "4.19.0-27-amd64\n",
            "/proc/sys/user/max_user_namespaces", "0\n",
            "/proc/self/ns/user", "",
            "/proc/sys/kernel/seccomp/actions_avail", "kill_process kill_thread trap errno trace log allow\n",
            "/proc/self/mountinfo", """
                    22 1 8:1 / / rw,relatime - xfs /dev/sda1 rw
                    30 22 0:28 / /sys/fs/cgroup rw - tmpfs tmpfs rw,mode=755
                    31 30 0:29 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct
                    32 30 0:30 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
                    33 30 0:31 / /sys/fs/cgroup/devices rw - cgroup cgroup rw,devices
                    34 30 0:32 / /sys/fs/cgroup/blkio rw - cgroup cgroup rw,blkio
                    35 22 0:33 / /var/lib rw - nfs4 server:/export rw
                    """,
            "/proc/cgroups", """
                    #subsys_name\thierarchy\tnum_cgroups\tenabled
                    cpu\t2\t1\t1
                    cpuacct\t2\t1\t1
                    memory\t3\t1\t1
                    devices\t4\t1\t1
                    blkio\t5\t1\t1
                    pids\t0\t1\t1
                    """,
            "/proc/filesystems", "nodev\toverlay\n");

    private static HostFacts facts(Host host, Optional<KernelConfig> config) {
        Optional<KernelVersion> v = host.release().flatMap(KernelVersion::parse);
        return new HostFacts(config, Optional.empty(), Optional.empty(), v, v, "x86_64", List.of());
    }

    @Test
    void modernHostIsReady(@TempDir Path root) throws Exception {
        Host host = Fixtures.fakeHost(root, MODERN);
        List<Finding> fs = Readiness.check(host, facts(host, Optional.empty()), PATHS);
        Map<String, Finding> m = byId(fs);
        assertEquals(List.of(), fs.stream().filter(f -> f.status() != Status.PASS).map(Finding::id).toList());
        assertEquals("active (/sys/kernel/security/lsm), ABI 4", m.get("runtime.landlock").actual());
        assertEquals("cgroup v2 (unified)", m.get("runtime.cgroup-version").actual());
        assertEquals("tmpfs on /run, kernel 6.8", m.get("runtime.idmapped-mounts#/run").actual());
        assertEquals("btrfs on /var/lib, kernel 6.8", m.get("runtime.idmapped-mounts#/var/lib").actual());
        assertEquals("ext4 on /, kernel 6.8", m.get("runtime.idmapped-mounts#/").actual());
        assertEquals("CONTINUE yes, ADDFD yes, WAIT_KILLABLE_RECV yes", m.get("runtime.seccomp-notify").note());
        assertEquals(Status.PASS, status(m, "runtime.time-namespaces"));
    }

    @Test
    void oldHostIsNot(@TempDir Path root) throws Exception {
        Host host = Fixtures.fakeHost(root, OLD);
        Map<String, Finding> m = byId(Readiness.check(host, facts(host, Optional.empty()), PATHS));
        assertEquals(Status.FAIL, status(m, "runtime.user-namespaces"));
        assertEquals("user.max_user_namespaces=0", m.get("runtime.user-namespaces").actual());
        assertEquals(Status.PASS, status(m, "runtime.seccomp"));
        assertEquals(Status.FAIL, status(m, "runtime.seccomp-notify"));
        assertEquals(Status.FAIL, status(m, "runtime.landlock"));
        assertEquals(Status.FAIL, status(m, "runtime.cgroup-version"));
        assertEquals("cgroup v1", m.get("runtime.cgroup-version").actual());
        Finding ctl = m.get("runtime.cgroup-controllers");
        assertEquals(Status.FAIL, ctl.status());
        assertEquals(Severity.HIGH, ctl.severity());
        assertTrue(ctl.actual().startsWith("missing pids"), ctl.actual());
        assertEquals(Status.FAIL, status(m, "runtime.idmapped-mounts"));
        assertEquals(Status.FAIL, status(m, "runtime.idmapped-mounts#/"), "xfs needs 5.12");
        assertEquals("no ID-mapped mount support known for nfs4", m.get("runtime.idmapped-mounts#/var/lib").note());
        assertEquals(Status.FAIL, status(m, "runtime.overlay-userns"));
        assertEquals(Status.FAIL, status(m, "runtime.pidfd"));
        assertEquals(Status.FAIL, status(m, "runtime.mount-api"));
        assertEquals(Status.FAIL, status(m, "runtime.time-namespaces"));
    }

    @Test
    void kernelConfigWithoutTheFeatures(@TempDir Path root) throws Exception {
        Host host = Fixtures.fakeHost(root, MODERN);
        KernelConfig weak = KernelConfig.parse("weak.config", Fixtures.text("weak.config"));
        Map<String, Finding> m = byId(Readiness.check(host, facts(host, Optional.of(weak)), PATHS));
        assertEquals("CONFIG_USER_NS is not set", m.get("runtime.user-namespaces").actual());
        assertEquals(Status.FAIL, status(m, "runtime.user-namespaces"));
        assertEquals(Status.FAIL, status(m, "runtime.seccomp"));
        assertEquals(Status.FAIL, status(m, "runtime.landlock"));
        assertEquals(Status.FAIL, status(m, "runtime.time-namespaces"));
    }

    @Test
    void landlockAbiFollowsTheKernelVersion() {
        assertEquals(0, Readiness.landlockAbi(KernelVersion.of(5, 12)));
        assertEquals(1, Readiness.landlockAbi(KernelVersion.of(5, 13)));
        assertEquals(2, Readiness.landlockAbi(KernelVersion.of(6, 1)));
        assertEquals(3, Readiness.landlockAbi(KernelVersion.of(6, 2)));
        assertEquals(4, Readiness.landlockAbi(KernelVersion.of(6, 7)));
        assertEquals(5, Readiness.landlockAbi(KernelVersion.of(6, 10)));
        assertEquals(6, Readiness.landlockAbi(KernelVersion.of(6, 12)));
        assertEquals(7, Readiness.landlockAbi(KernelVersion.of(6, 18)));
    }

    @Test
    void missingProcFilesSkipRatherThanFail(@TempDir Path root) throws Exception {
        Host host = Fixtures.fakeHost(root, Map.of());
        List<Finding> fs = Readiness.check(host, facts(host, Optional.empty()), PATHS);
        Map<String, Finding> m = byId(fs);
        assertEquals(Status.SKIP, status(m, "runtime.cgroup-version"));
        assertEquals(Status.SKIP, status(m, "runtime.pidfd"));
        assertEquals(Status.SKIP, status(m, "runtime.landlock"));
    }
}
