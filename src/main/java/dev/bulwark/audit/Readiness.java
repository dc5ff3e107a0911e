package dev.bulwark.audit;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * What Bulwark's features need from this kernel. Kernel features are probed without syscalls
 * (the CLI avoids FFM): from files in /proc and /sys where the kernel says what it has, else
 * from the kernel config, else from the kernel version, and each finding says which.
 */
final class Readiness {
    private static final String SRC = "Bulwark";

    /** Landlock ABI versions by the kernel that introduced them (landlock(7), "Kernel support"). */
    private static final int[][] LANDLOCK_ABI = {
        {5, 13, 1}, {5, 19, 2}, {6, 2, 3}, {6, 7, 4}, {6, 10, 5}, {6, 12, 6}, {6, 15, 7},
    };

    /**
     * The first kernel whose filesystem supports ID-mapped mounts (FS_ALLOW_IDMAP), from the
     * kernel changelogs.
     */
    static final Map<String, KernelVersion> IDMAP_FS = new LinkedHashMap<>();

    static {
        IDMAP_FS.put("ext4", KernelVersion.of(5, 12));
        IDMAP_FS.put("xfs", KernelVersion.of(5, 12));
        IDMAP_FS.put("vfat", KernelVersion.of(5, 12));
        IDMAP_FS.put("msdos", KernelVersion.of(5, 12));
        IDMAP_FS.put("btrfs", KernelVersion.of(5, 15));
        IDMAP_FS.put("ntfs3", KernelVersion.of(5, 15));
        IDMAP_FS.put("erofs", KernelVersion.of(5, 17));
        IDMAP_FS.put("f2fs", KernelVersion.of(5, 18));
        IDMAP_FS.put("overlay", KernelVersion.of(5, 19));
        IDMAP_FS.put("tmpfs", KernelVersion.of(6, 3));
        IDMAP_FS.put("ceph", KernelVersion.of(6, 7));
        IDMAP_FS.put("fuse", KernelVersion.of(6, 12));
    }

    private Readiness() {}

    /**
     * @param paths host paths whose filesystems Bulwark uses (the state root, image and bundle
     *              locations); each is checked for ID-mapped mount support
     */
    static List<Finding> check(Host host, HostFacts facts, List<String> paths) {
        Optional<KernelVersion> v = facts.running();
        List<Finding> out = new ArrayList<>();
        out.add(userNamespaces(host, facts));
        out.add(seccomp(host, facts));
        out.add(seccompNotify(host, v));
        out.add(landlock(host, facts, v));
        Optional<MountInfo> mountinfo = host.read("/proc/self/mountinfo")
                .map(t -> MountInfo.parse(host.path("/proc/self/mountinfo").toString(), t));
        MountInfo mounts = mountinfo.orElse(new MountInfo(List.of()));
        if (mountinfo.isPresent()) {
            out.addAll(cgroups(host, mounts));
        } else {
            out.add(f("runtime.cgroup-version", Status.SKIP, Severity.HIGH, "cgroup v2 (unified)", "unknown",
                    "memory, pids and cpu limits are enforced through cgroups", "no /proc/self/mountinfo"));
        }
        out.add(versionCheck("runtime.idmapped-mounts", Severity.MEDIUM, v, 5, 12,
                "mount_setattr(MOUNT_ATTR_IDMAP) maps a system container's rootfs to its ID range without chown",
                "mount_setattr with MOUNT_ATTR_IDMAP"));
        Set<String> seen = new LinkedHashSet<>();
        for (String p : paths) {
            mounts.mountOf(p).ifPresent(m -> {
                if (seen.add(m.mountPoint())) {
                    out.add(idmapFs(m, p, v));
                }
            });
        }
        out.add(overlayInUserns(host, facts, v));
        out.add(versionCheck("runtime.pidfd", Severity.MEDIUM, v, 5, 3,
                "pidfd_open signals the container's process by handle, immune to PID reuse",
                "pidfd_open (5.3), waitid(P_PIDFD) (5.4), pidfd_getfd (5.6)"));
        out.add(versionCheck("runtime.mount-api", Severity.MEDIUM, v, 5, 2,
                "the new mount API (fsopen, fsmount, move_mount, open_tree) makes mounts on untrusted paths safe",
                "fsopen, fsconfig, fsmount, move_mount, open_tree"));
        out.add(timeNamespaces(host, facts, v));
        return out;
    }

    private static Finding f(String id, Status s, Severity sev, String expected, String actual, String reason, String note) {
        return new Finding(id, Section.RUNTIME, "runtime", s, sev, expected, actual, reason, SRC, note);
    }

    private static Optional<String> sysctl(Host host, HostFacts facts, String key) {
        return facts.sysctls().flatMap(s -> s.value(key))
                .or(() -> host.read("/proc/sys/" + key.replace('.', '/')).map(Sysctls::collapse));
    }

    private static Optional<Boolean> configEnabled(HostFacts facts, String name) {
        return facts.config().map(c -> c.enabled(name));
    }

    static Finding userNamespaces(Host host, HostFacts facts) {
        String reason = "every Bulwark container can run in its own user namespace; system containers always do";
        if (configEnabled(facts, "CONFIG_USER_NS").equals(Optional.of(false))) {
            return f("runtime.user-namespaces", Status.FAIL, Severity.HIGH, "CONFIG_USER_NS=y",
                    "CONFIG_USER_NS " + facts.config().get().shown("CONFIG_USER_NS"), reason, "");
        }
        Optional<String> max = sysctl(host, facts, "user.max_user_namespaces");
        if (max.isPresent() && max.get().equals("0")) {
            return f("runtime.user-namespaces", Status.FAIL, Severity.HIGH, "user.max_user_namespaces > 0",
                    "user.max_user_namespaces=0", reason, "");
        }
        if (max.isEmpty() && !host.exists("/proc/self/ns/user")) {
            return f("runtime.user-namespaces", Status.FAIL, Severity.HIGH, "user namespaces",
                    "no /proc/self/ns/user and no user.max_user_namespaces", reason, "");
        }
        List<String> notes = new ArrayList<>();
        if (sysctl(host, facts, "kernel.unprivileged_userns_clone").equals(Optional.of("0"))) {
            notes.add("kernel.unprivileged_userns_clone=0: fine for Bulwark as root, rootless engines need 1");
        }
        if (sysctl(host, facts, "kernel.apparmor_restrict_unprivileged_userns").equals(Optional.of("1"))) {
            notes.add("AppArmor restricts unprivileged user namespaces: fine for Bulwark as root");
        }
        return f("runtime.user-namespaces", Status.PASS, Severity.HIGH, "user namespaces",
                "available" + max.map(m -> " (max_user_namespaces=" + m + ")").orElse(""), reason, String.join("; ", notes));
    }

    static Finding seccomp(Host host, HostFacts facts) {
        String reason = "containers are confined by seccomp BPF filters compiled by Bulwark";
        Optional<Boolean> filter = configEnabled(facts, "CONFIG_SECCOMP_FILTER");
        if (filter.equals(Optional.of(false))) {
            return f("runtime.seccomp", Status.FAIL, Severity.HIGH, "CONFIG_SECCOMP_FILTER=y",
                    "CONFIG_SECCOMP_FILTER " + facts.config().get().shown("CONFIG_SECCOMP_FILTER"), reason, "");
        }
        Optional<String> actions = host.read("/proc/sys/kernel/seccomp/actions_avail").map(String::strip);
        if (actions.isPresent()) {
            return f("runtime.seccomp", Status.PASS, Severity.HIGH, "seccomp filters", "actions: " + actions.get(), reason, "");
        }
        boolean statusField = host.read("/proc/self/status").map(s -> s.contains("\nSeccomp:")).orElse(false);
        if (filter.equals(Optional.of(true)) || statusField) {
            return f("runtime.seccomp", Status.PASS, Severity.HIGH, "seccomp filters",
                    filter.isPresent() ? "CONFIG_SECCOMP_FILTER=y" : "Seccomp field in /proc/self/status", reason, "");
        }
        return f("runtime.seccomp", Status.FAIL, Severity.HIGH, "seccomp filters",
                "no seccomp in kernel config, /proc/sys/kernel/seccomp or /proc/self/status", reason, "");
    }

    static Finding seccompNotify(Host host, Optional<KernelVersion> v) {
        String reason = "system containers' immutable mounts are enforced by trapping mount calls with SECCOMP_RET_USER_NOTIF";
        String features = v.map(k -> "CONTINUE " + yes(k.atLeast(5, 5)) + ", ADDFD " + yes(k.atLeast(5, 9))
                + ", WAIT_KILLABLE_RECV " + yes(k.atLeast(5, 19))).orElse("");
        Optional<String> actions = host.read("/proc/sys/kernel/seccomp/actions_avail").map(String::strip);
        if (actions.isPresent()) {
            boolean has = Arrays.asList(actions.get().split("\\s+")).contains("user_notif");
            return f("runtime.seccomp-notify", has ? Status.PASS : Status.FAIL, Severity.MEDIUM, "user_notif",
                    has ? "user_notif in actions_avail" : "actions_avail: " + actions.get(), reason,
                    has ? features : "");
        }
        return v.map(k -> f("runtime.seccomp-notify", k.atLeast(5, 0) ? Status.PASS : Status.FAIL, Severity.MEDIUM,
                        "kernel >= 5.0", "kernel " + k + " (inferred from version)", reason, k.atLeast(5, 0) ? features : ""))
                .orElseGet(() -> f("runtime.seccomp-notify", Status.SKIP, Severity.MEDIUM, "kernel >= 5.0",
                        "unknown", reason, "no actions_avail and no kernel version"));
    }

    private static String yes(boolean b) {
        return b ? "yes" : "no";
    }

    static Finding landlock(Host host, HostFacts facts, Optional<KernelVersion> v) {
        String id = "runtime.landlock";
        String reason = "Landlock lets Bulwark confine file and network access without privileges";
        if (configEnabled(facts, "CONFIG_SECURITY_LANDLOCK").equals(Optional.of(false))) {
            return f(id, Status.FAIL, Severity.MEDIUM, "CONFIG_SECURITY_LANDLOCK=y",
                    "CONFIG_SECURITY_LANDLOCK " + facts.config().get().shown("CONFIG_SECURITY_LANDLOCK"), reason, "");
        }
        // Active LSMs: securityfs says for sure; otherwise lsm= on the command line wins over CONFIG_LSM.
        Optional<String> lsmFile = host.read("/sys/kernel/security/lsm").map(String::strip);
        Optional<String> cmdlineLsm = facts.cmdline().flatMap(c -> c.value("lsm"));
        Optional<String> configLsm = facts.config().flatMap(c -> c.value("CONFIG_LSM"));
        String how;
        Optional<String> list;
        if (lsmFile.isPresent()) {
            how = "/sys/kernel/security/lsm";
            list = lsmFile;
        } else if (cmdlineLsm.isPresent()) {
            how = "lsm= on the command line";
            list = cmdlineLsm;
        } else if (configLsm.isPresent()) {
            how = "CONFIG_LSM";
            list = configLsm;
        } else {
            how = "";
            list = Optional.empty();
        }
        Optional<Integer> abi = v.map(Readiness::landlockAbi);
        String abiText = abi.map(a -> a == 0 ? "none" : "ABI " + a + (a == LANDLOCK_ABI[LANDLOCK_ABI.length - 1][2] ? " or later" : ""))
                .orElse("ABI unknown");
        String note = v.map(k -> "ABI inferred from kernel " + k + "; distribution backports may differ").orElse("");
        if (abi.isPresent() && abi.get() == 0) {
            return f(id, Status.FAIL, Severity.MEDIUM, "kernel >= 5.13", "kernel " + v.get(), reason, "");
        }
        if (list.isEmpty()) {
            return f(id, Status.SKIP, Severity.MEDIUM, "landlock among the active LSMs", "unknown (" + abiText + ")",
                    reason, "no /sys/kernel/security/lsm, lsm= or CONFIG_LSM to tell whether it is active");
        }
        boolean active = new Expect.Contains("landlock").test(list);
        if (!active) {
            return f(id, Status.FAIL, Severity.MEDIUM, "landlock among the active LSMs",
                    "not in " + how + " (" + list.get() + ")", reason, "");
        }
        return f(id, Status.PASS, Severity.MEDIUM, "landlock among the active LSMs", "active (" + how + "), " + abiText,
                reason, note);
    }

    static int landlockAbi(KernelVersion v) {
        int abi = 0;
        for (int[] row : LANDLOCK_ABI) {
            if (v.atLeast(row[0], row[1])) {
                abi = row[2];
            }
        }
        return abi;
    }

    static List<Finding> cgroups(Host host, MountInfo mounts) {
        String reason = "memory, pids and cpu limits (fork bombs, memory exhaustion) are enforced through cgroups";
        Optional<MountInfo.Entry> top = mounts.at("/sys/fs/cgroup");
        if (top.isEmpty()) {
            return List.of(f("runtime.cgroup-version", Status.FAIL, Severity.HIGH, "cgroup v2 at /sys/fs/cgroup",
                    "nothing mounted at /sys/fs/cgroup", reason, ""));
        }
        List<Finding> out = new ArrayList<>();
        Set<String> controllers = new LinkedHashSet<>();
        List<String> required;
        if (top.get().fsType().equals("cgroup2")) {
            out.add(f("runtime.cgroup-version", Status.PASS, Severity.LOW, "cgroup v2 (unified)", "cgroup v2 (unified)",
                    reason, ""));
            host.read("/sys/fs/cgroup/cgroup.controllers")
                    .ifPresent(s -> controllers.addAll(Arrays.asList(s.strip().split("\\s+"))));
            required = List.of("cpu", "memory", "pids", "io");
        } else {
            boolean hybrid = mounts.entries().stream().anyMatch(e -> e.fsType().equals("cgroup2")
                    && e.mountPoint().startsWith("/sys/fs/cgroup/"));
            out.add(f("runtime.cgroup-version", Status.FAIL, Severity.LOW, "cgroup v2 (unified)",
                    hybrid ? "hybrid (v1 controllers, v2 at /sys/fs/cgroup/unified)" : "cgroup v1", reason,
                    "v1 works, but cannot be delegated safely to a container's user namespace and lacks PSI"));
            Set<String> enabled = new LinkedHashSet<>();
            host.read("/proc/cgroups").ifPresent(t -> {
                for (String line : t.split("\n")) {
                    String[] c = line.strip().split("\\s+");
                    if (c.length >= 4 && !c[0].startsWith("#") && c[3].equals("1")) {
                        enabled.add(c[0]);
                    }
                }
            });
            for (MountInfo.Entry e : mounts.entries()) {
                if (e.fsType().equals("cgroup")) {
                    for (String o : e.superOptions()) {
                        if (enabled.contains(o)) {
                            controllers.add(o);
                        }
                    }
                }
            }
            required = List.of("cpu", "memory", "pids", "blkio", "devices");
        }
        List<String> missing = required.stream().filter(c -> !controllers.contains(c)).toList();
        boolean severe = missing.contains("memory") || missing.contains("pids") || missing.contains("devices");
        out.add(f("runtime.cgroup-controllers", missing.isEmpty() ? Status.PASS : Status.FAIL,
                severe ? Severity.HIGH : Severity.MEDIUM, String.join(", ", required),
                missing.isEmpty() ? String.join(" ", controllers) : "missing " + String.join(", ", missing)
                        + (controllers.isEmpty() ? "" : " (have " + String.join(" ", controllers) + ")"),
                reason, ""));
        return out;
    }

    static Finding idmapFs(MountInfo.Entry m, String path, Optional<KernelVersion> v) {
        String id = "runtime.idmapped-mounts#" + m.mountPoint();
        String reason = "system containers' rootfs and bind mounts on " + path + " are ID-mapped";
        KernelVersion need = IDMAP_FS.get(m.fsType());
        String actual = m.fsType() + " on " + m.mountPoint();
        if (need == null) {
            return f(id, Status.FAIL, Severity.LOW, "a filesystem with ID-mapped mount support", actual, reason,
                    "no ID-mapped mount support known for " + m.fsType());
        }
        if (v.isEmpty()) {
            return f(id, Status.SKIP, Severity.LOW, m.fsType() + " needs kernel " + need, actual, reason,
                    "running kernel version unknown");
        }
        boolean ok = v.get().compareTo(need) >= 0;
        return f(id, ok ? Status.PASS : Status.FAIL, Severity.LOW, m.fsType() + " needs kernel >= " + need,
                actual + ", kernel " + v.get(), reason, "");
    }

    static Finding overlayInUserns(Host host, HostFacts facts, Optional<KernelVersion> v) {
        String reason = "image layers are stacked with overlayfs mounted inside the container's user namespace";
        boolean listed = host.read("/proc/filesystems")
                .map(t -> Arrays.stream(t.split("\n")).anyMatch(l -> l.strip().endsWith("overlay")))
                .orElse(false);
        boolean configured = configEnabled(facts, "CONFIG_OVERLAY_FS").orElse(false);
        if (!listed && !configured) {
            return f("runtime.overlay-userns", Status.FAIL, Severity.LOW, "overlayfs, kernel >= 5.11",
                    "overlay not in /proc/filesystems or the kernel config", reason, "");
        }
        return v.map(k -> f("runtime.overlay-userns", k.atLeast(5, 11) ? Status.PASS : Status.FAIL, Severity.LOW,
                        "overlayfs, kernel >= 5.11", "overlay " + (listed ? "loaded" : "as a module") + ", kernel " + k,
                        reason, ""))
                .orElseGet(() -> f("runtime.overlay-userns", Status.SKIP, Severity.LOW, "overlayfs, kernel >= 5.11",
                        "unknown", reason, "running kernel version unknown"));
    }

    static Finding timeNamespaces(Host host, HostFacts facts, Optional<KernelVersion> v) {
        String reason = "a container's CLOCK_MONOTONIC and CLOCK_BOOTTIME offsets (linux.timeOffsets) need a time namespace";
        if (configEnabled(facts, "CONFIG_TIME_NS").equals(Optional.of(false))) {
            return f("runtime.time-namespaces", Status.FAIL, Severity.LOW, "CONFIG_TIME_NS=y",
                    "CONFIG_TIME_NS " + facts.config().get().shown("CONFIG_TIME_NS"), reason, "");
        }
        if (host.exists("/proc/self/ns/time")) {
            return f("runtime.time-namespaces", Status.PASS, Severity.LOW, "time namespaces", "/proc/self/ns/time", reason, "");
        }
        return versionCheck("runtime.time-namespaces", Severity.LOW, v, 5, 6, reason, "time namespaces");
    }

    private static Finding versionCheck(String id, Severity sev, Optional<KernelVersion> v, int major, int minor,
            String reason, String what) {
        String expected = "kernel >= " + major + "." + minor;
        return v.map(k -> f(id, k.atLeast(major, minor) ? Status.PASS : Status.FAIL, sev, expected,
                        "kernel " + k, reason, k.atLeast(major, minor) ? what : "missing: " + what))
                .orElseGet(() -> f(id, Status.SKIP, sev, expected, "unknown", reason, "running kernel version unknown"));
    }
}
