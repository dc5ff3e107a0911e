package dev.bulwark.audit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/** One bundle fixture per container finding; each must fail exactly its own checks. */
class ContainerChecksTest {

    private static List<Finding> audit(String bundle) {
        return ContainerChecks.check(AuditCommand.readSpec(Fixtures.path("bundles/" + bundle + "/config.json")));
    }

    private static Set<String> failed(List<Finding> fs) {
        return fs.stream().filter(f -> f.status() == Status.FAIL).map(Finding::id).collect(Collectors.toCollection(TreeSet::new));
    }

    private static Map<String, Finding> failures(String bundle) {
        return audit(bundle).stream().filter(f -> f.status() == Status.FAIL)
                .collect(Collectors.toMap(Finding::id, f -> f));
    }

    @Test
    void goodBundlePassesEverything() {
        List<Finding> fs = audit("good");
        assertEquals(Set.of(), failed(fs));
        assertTrue(fs.size() >= 20, "checks run: " + fs.size());
        assertTrue(fs.stream().allMatch(f -> f.section() == Section.CONTAINER));
    }

    @Test
    void hostNamespaces() {
        Map<String, Finding> m = failures("host-namespaces");
        assertEquals(Set.of("container.namespace.pid", "container.namespace.network", "container.namespace.mount",
                "container.namespace.ipc", "container.namespace.uts", "container.namespace.cgroup"), m.keySet());
        assertEquals(Severity.HIGH, m.get("container.namespace.pid").severity());
        assertEquals("joins /proc/1/ns/mnt", m.get("container.namespace.mount").actual());
        assertEquals(Severity.LOW, m.get("container.namespace.uts").severity());
    }

    @Test
    void addedCapabilities() {
        Map<String, Finding> m = failures("added-capabilities");
        assertEquals(Set.of("container.capability.CAP_SYS_ADMIN", "container.capability.CAP_SYS_MODULE",
                "container.capability.CAP_NET_ADMIN", "container.capability.CAP_WAKE_ALARM",
                "container.namespace.user"), m.keySet());
        assertEquals(Severity.HIGH, m.get("container.capability.CAP_SYS_ADMIN").severity());
        assertEquals(Severity.MEDIUM, m.get("container.capability.CAP_NET_ADMIN").severity());
        assertEquals(Severity.LOW, m.get("container.capability.CAP_WAKE_ALARM").severity());
        assertEquals(Severity.LOW, m.get("container.namespace.user").severity(), "uid 1000 without a user namespace");
    }

    @Test
    void capabilityInsideAUserNamespaceIsLessSevere() {
        Map<String, Finding> m = failures("capability-in-userns");
        assertEquals(Set.of("container.capability.CAP_SYS_PTRACE"), m.keySet());
        assertEquals(Severity.MEDIUM, m.get("container.capability.CAP_SYS_PTRACE").severity());
        assertTrue(m.get("container.capability.CAP_SYS_PTRACE").note().startsWith("inside a user namespace"));
    }

    @Test
    void seccomp() {
        Map<String, Finding> none = failures("no-seccomp");
        assertEquals(Set.of("container.seccomp"), none.keySet());
        assertEquals("no linux.seccomp", none.get("container.seccomp").actual());
        Map<String, Finding> permissive = failures("permissive-seccomp");
        assertEquals(Set.of("container.seccomp"), permissive.keySet());
        assertEquals("defaultAction SCMP_ACT_ALLOW, 3 syscall(s) refused", permissive.get("container.seccomp").actual());
        Map<String, Finding> dangerous = failures("seccomp-dangerous-syscalls");
        assertEquals(Set.of("container.seccomp.dangerous-syscalls"), dangerous.keySet());
        // unshare is allowed only with an argument filter, and mount also goes to the agent: only
        // the unconditional allows count.
        assertEquals("allows bpf, keyctl, mount", dangerous.get("container.seccomp.dangerous-syscalls").actual());
    }

    @Test
    void writableProcSysAndSys() {
        Map<String, Finding> m = failures("writable-proc-sys");
        assertEquals(Set.of("container.proc-sys", "container.readonly-paths", "container.sysfs",
                "container.namespace.user"), m.keySet());
        assertEquals(Severity.HIGH, m.get("container.proc-sys").severity());
        assertEquals("writable at /sys", m.get("container.sysfs").actual());
    }

    @Test
    void missingMaskedPaths() {
        Map<String, Finding> m = failures("missing-masked-paths");
        assertEquals(Set.of("container.masked-paths"), m.keySet());
        Finding f = m.get("container.masked-paths");
        assertTrue(f.actual().contains("/proc/kcore") && f.actual().contains("/sys/firmware")
                && !f.actual().contains("/proc/acpi"), f.actual());
        assertEquals(Severity.MEDIUM, f.severity());
    }

    @Test
    void noLimits() {
        assertEquals(Set.of("container.pids-limit", "container.memory-limit", "container.cpu-limit"),
                failures("no-limits").keySet());
    }

    @Test
    void rootWithoutUserNamespace() {
        Map<String, Finding> m = failures("root-without-userns");
        assertEquals(Set.of("container.namespace.user"), m.keySet());
        assertEquals(Severity.HIGH, m.get("container.namespace.user").severity());
        assertEquals("root (uid 0) without a user namespace", m.get("container.namespace.user").actual());
    }

    @Test
    void userNamespaceMappingHostRoot() {
        Map<String, Finding> m = failures("userns-maps-host-root");
        assertEquals(Set.of("container.namespace.user"), m.keySet());
        assertEquals("maps container ID 0 to host ID 0", m.get("container.namespace.user").actual());
    }

    @Test
    void noNewPrivilegesOffAndWritableRoot() {
        assertEquals(Set.of("container.no-new-privileges", "container.readonly-rootfs"),
                failures("nnp-off-writable-root").keySet());
    }

    @Test
    void devices() {
        Map<String, Finding> m = failures("devices");
        assertEquals(Set.of("container.devices", "container.device-cgroup"), m.keySet());
        assertEquals("exposes /dev/sda (b 8:0), /dev/kvm (c 10:232)", m.get("container.devices").actual());
        assertEquals(Severity.HIGH, m.get("container.devices").severity(), "a block device");
    }

    @Test
    void hostMounts() {
        Map<String, Finding> m = failures("host-mounts");
        assertEquals(Set.of("container.mount.engine-socket#/var/run/docker.sock", "container.mount.host-root#/host",
                "container.mount.host-path#/host-etc", "container.mount.engine-socket#/run/containerd"), m.keySet());
        assertEquals(Severity.HIGH, m.get("container.mount.engine-socket#/var/run/docker.sock").severity(),
                "read-only does not protect a socket");
        assertEquals(Severity.LOW, m.get("container.mount.host-path#/host-etc").severity(), "read-only /etc");
        assertEquals("/etc on /host-etc (ro)", m.get("container.mount.host-path#/host-etc").actual());
    }

    @Test
    void privileged() {
        Map<String, Finding> m = failures("privileged");
        assertEquals(Set.of("container.namespace.user", "container.capabilities", "container.seccomp",
                "container.proc-sys", "container.readonly-paths", "container.sysfs", "container.masked-paths",
                "container.no-new-privileges", "container.device-cgroup", "container.lsm-profile",
                "container.privileged"), m.keySet());
        assertEquals("all 41 capabilities", m.get("container.capabilities").actual());
        assertEquals("privileged-like: all capabilities, no seccomp, nothing masked, all devices",
                m.get("container.privileged").actual());
    }

    @Test
    void malformedBundlesNameFileAndField() {
        AuditException e = assertThrows(AuditException.class, () -> audit("bad-type"));
        assertTrue(e.getMessage().endsWith("bad-type/config.json: linux.uidMappings[0].size: expected an unsigned "
                + "32-bit integer, found a string"), e.getMessage());
        e = assertThrows(AuditException.class, () -> audit("bad-json"));
        assertTrue(e.getMessage().matches(".*bad-json/config.json: not valid JSON: line 4, column \\d+: .*"), e.getMessage());
    }
}
