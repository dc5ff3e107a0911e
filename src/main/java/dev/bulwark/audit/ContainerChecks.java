package dev.bulwark.audit;

import dev.bulwark.spec.Spec;
import dev.bulwark.spec.Spec.Device;
import dev.bulwark.spec.Spec.DeviceCgroup;
import dev.bulwark.spec.Spec.IdMapping;
import dev.bulwark.spec.Spec.Linux;
import dev.bulwark.spec.Spec.Mount;
import dev.bulwark.spec.Spec.Namespace;
import dev.bulwark.spec.Spec.Seccomp;
import dev.bulwark.spec.Spec.SeccompSyscall;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;

/** What in a container's config.json opens a door to the host, after Docker's security guidance. */
final class ContainerChecks {
    private static final String DOCKER = "Docker security";
    private static final String BULWARK = "Bulwark";

    /** Docker's default capability set: anything beyond it is an added capability. */
    static final Set<String> DOCKER_DEFAULT_CAPS = Set.of(
            "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID",
            "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL",
            "CAP_AUDIT_WRITE");

    /** Capabilities that reach outside the container (severity when held without a user namespace). */
    static final Map<String, Severity> DANGEROUS_CAPS = new LinkedHashMap<>();

    static {
        for (String c : List.of("CAP_SYS_ADMIN", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_PTRACE",
                "CAP_DAC_READ_SEARCH", "CAP_BPF", "CAP_MAC_ADMIN", "CAP_MAC_OVERRIDE")) {
            DANGEROUS_CAPS.put(c, Severity.HIGH);
        }
        for (String c : List.of("CAP_NET_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_TIME", "CAP_PERFMON", "CAP_SYSLOG",
                "CAP_SYS_RESOURCE", "CAP_LINUX_IMMUTABLE", "CAP_AUDIT_CONTROL", "CAP_CHECKPOINT_RESTORE",
                "CAP_IPC_OWNER")) {
            DANGEROUS_CAPS.put(c, Severity.MEDIUM);
        }
    }

    /** The number of capabilities Linux defines (0..40, CAP_CHECKPOINT_RESTORE being the last). */
    static final int ALL_CAPS = 41;

    /** Docker's default masked paths. */
    static final List<String> DOCKER_MASKED = List.of(
            "/proc/asound", "/proc/acpi", "/proc/interrupts", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
            "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware",
            "/sys/devices/virtual/powercap");

    /** Docker's default read-only paths, /proc/sys aside (checked on its own). */
    static final List<String> DOCKER_READONLY = List.of("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sysrq-trigger");

    /**
     * Syscalls Docker's default seccomp profile refuses to a container without extra
     * capabilities: kernel modules and kexec, mounts, namespaces, keyrings, clocks, BPF, perf,
     * userfaultfd, io_uring, raw I/O ports.
     */
    static final Set<String> DANGEROUS_SYSCALLS = new TreeSet<>(List.of(
            "acct", "add_key", "bpf", "clock_adjtime", "clock_settime", "create_module", "delete_module",
            "finit_module", "fsconfig", "fsmount", "fsopen", "fspick", "init_module", "io_uring_enter",
            "io_uring_register", "io_uring_setup", "ioperm", "iopl", "kexec_file_load", "kexec_load", "keyctl",
            "lookup_dcookie", "mount", "mount_setattr", "move_mount", "nfsservctl", "open_by_handle_at",
            "open_tree", "perf_event_open", "pivot_root", "quotactl", "reboot", "request_key", "setns",
            "settimeofday", "stime", "swapoff", "swapon", "syslog", "umount", "umount2", "unshare", "uselib",
            "userfaultfd", "vm86", "vm86old"));

    /** The device nodes every OCI runtime creates; anything else in linux.devices is exposed on purpose. */
    static final Set<String> DEFAULT_DEVICES = Set.of(
            "/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty", "/dev/ptmx", "/dev/console");

    private static final List<String> ENGINE_SOCKET_NAMES = List.of(
            "docker.sock", "containerd.sock", "crio.sock", "podman.sock", "dockershim.sock", "buildkitd.sock",
            "containerd-shim.sock", "kubelet.sock");
    private static final Set<String> ENGINE_DIRS = Set.of(
            "/run", "/var/run", "/run/docker", "/var/run/docker", "/run/containerd", "/var/run/containerd",
            "/run/podman", "/var/run/podman", "/run/crio", "/var/run/crio");
    private static final List<String> SENSITIVE = List.of(
            "/etc", "/proc", "/sys", "/dev", "/boot", "/lib/modules", "/usr", "/bin", "/sbin", "/lib", "/lib64",
            "/root", "/var/lib/docker", "/var/lib/containerd", "/var/lib/kubelet", "/run/bulwark",
            "/var/log");

    private ContainerChecks() {}

    static List<Finding> check(Spec spec) {
        List<Finding> out = new ArrayList<>();
        Optional<Linux> linux = spec.linux();
        List<Namespace> ns = linux.map(Linux::namespaces).orElse(List.of());
        boolean userns = ns.stream().anyMatch(n -> n.type().equals("user"));
        long uid = spec.process().map(p -> p.user().uid()).orElse(0L);

        namespaces(out, ns);
        userNamespace(out, linux, userns, uid);
        capabilities(out, spec, userns);
        seccomp(out, linux.flatMap(Linux::seccomp));
        procAndSys(out, spec, userns);
        maskedPaths(out, linux);
        limits(out, linux);
        boolean nnp = spec.process().map(Spec.Process::noNewPrivileges).orElse(false);
        out.add(f("container.no-new-privileges", nnp ? Status.PASS : Status.FAIL, Severity.MEDIUM,
                "process.noNewPrivileges: true", "noNewPrivileges " + nnp,
                "without no_new_privs a setuid binary in the image can regain privileges", DOCKER, ""));
        out.add(f("container.readonly-rootfs", spec.root().readonly() ? Status.PASS : Status.FAIL, Severity.LOW,
                "root.readonly: true", "root.readonly " + spec.root().readonly(),
                "a writable root lets an intruder change the image's binaries and persist", DOCKER, ""));
        devices(out, linux);
        mounts(out, spec.mounts());
        lsm(out, spec);
        privileged(out, spec, linux, userns);
        return out;
    }

    private static Finding f(String id, Status s, Severity sev, String expected, String actual, String reason,
            String source, String note) {
        return new Finding(id, Section.CONTAINER, "container", s, sev, expected, actual, reason, source, note);
    }

    private static void namespaces(List<Finding> out, List<Namespace> ns) {
        Object[][] kinds = {
            {"pid", Severity.HIGH, "shared, it shows host processes, which can then be signalled or ptraced"},
            {"network", Severity.HIGH, "shared, it opens the host's interfaces and loopback-only services"},
            {"mount", Severity.HIGH, "shared, the container's mounts land in the host's mount table"},
            {"ipc", Severity.MEDIUM, "shared, it exposes host System V IPC and POSIX message queues"},
            {"uts", Severity.LOW, "shared, the container can change the host's hostname"},
            {"cgroup", Severity.LOW, "shared, it shows the host's cgroup hierarchy"},
        };
        for (Object[] k : kinds) {
            String type = (String) k[0];
            Severity sev = (Severity) k[1];
            String reason = (String) k[2];
            String id = "container.namespace." + type;
            Optional<Namespace> n = ns.stream().filter(x -> x.type().equals(type)).reduce((a, b) -> b);
            if (n.isEmpty()) {
                out.add(f(id, Status.FAIL, sev, "a new " + type + " namespace", "shares the host's " + type + " namespace",
                        reason, DOCKER, ""));
            } else if (hostNamespacePath(n.get().path())) {
                out.add(f(id, Status.FAIL, sev, "a new " + type + " namespace", "joins " + n.get().path(),
                        reason, DOCKER, "the path names a namespace of PID 1 or the runtime itself"));
            } else {
                out.add(f(id, Status.PASS, sev, "a new " + type + " namespace",
                        n.get().path().isEmpty() ? "new" : "joins " + n.get().path(), reason, DOCKER,
                        n.get().path().isEmpty() ? "" : "joins an existing namespace (a pod's sandbox?)"));
            }
        }
    }

    /** /proc/1/ns/* and /proc/self/ns/* are the host's (or the runtime's own) namespaces. */
    static boolean hostNamespacePath(String path) {
        return path.matches("/proc/(1|self|thread-self)/ns/.*");
    }

    private static void userNamespace(List<Finding> out, Optional<Linux> linux, boolean userns, long uid) {
        String id = "container.namespace.user";
        if (!userns) {
            if (uid == 0) {
                out.add(f(id, Status.FAIL, Severity.HIGH, "a user namespace", "root (uid 0) without a user namespace",
                        "container root is host root: any escape is a full host compromise", DOCKER, ""));
            } else {
                out.add(f(id, Status.FAIL, Severity.LOW, "a user namespace", "uid " + uid + " without a user namespace",
                        "a process that regains uid 0 inside (a setuid binary, an exploit) is host root", DOCKER, ""));
            }
            return;
        }
        List<IdMapping> maps = new ArrayList<>(linux.map(Linux::uidMappings).orElse(List.of()));
        maps.addAll(linux.map(Linux::gidMappings).orElse(List.of()));
        Optional<IdMapping> root = maps.stream().filter(m -> m.hostID() == 0 && m.size() > 0).findFirst();
        if (root.isPresent()) {
            out.add(f(id, Status.FAIL, Severity.HIGH, "a user namespace mapped away from host IDs 0",
                    "maps container ID " + root.get().containerID() + " to host ID 0",
                    "a container ID mapped to host root is host root on every file it touches", DOCKER, ""));
        } else {
            out.add(f(id, Status.PASS, Severity.HIGH, "a user namespace", "user namespace", "container root is not host root",
                    DOCKER, ""));
        }
    }

    static String capName(String c) {
        String u = c.toUpperCase(Locale.ROOT);
        return u.startsWith("CAP_") ? u : "CAP_" + u;
    }

    private static void capabilities(List<Finding> out, Spec spec, boolean userns) {
        Set<String> held = new TreeSet<>();
        spec.process().flatMap(Spec.Process::capabilities).ifPresent(c -> {
            for (List<String> set : List.of(c.bounding(), c.effective(), c.permitted(), c.ambient(), c.inheritable())) {
                set.forEach(x -> held.add(capName(x)));
            }
        });
        String nsNote = userns ? "inside a user namespace: counts only there, but still widens the kernel's attack surface" : "";
        if (held.size() >= ALL_CAPS - 3) {
            // Every capability (docker run --privileged, or a system container): one finding, not forty.
            out.add(f("container.capabilities", Status.FAIL, userns ? Severity.MEDIUM : Severity.HIGH,
                    "not beyond Docker's default 14", "all " + held.size() + " capabilities",
                    "CAP_SYS_ADMIN, CAP_SYS_MODULE, CAP_SYS_RAWIO and the rest: nothing is withheld", DOCKER, nsNote));
            return;
        }
        boolean any = false;
        for (String cap : held) {
            if (DOCKER_DEFAULT_CAPS.contains(cap)) {
                continue;
            }
            Severity sev = DANGEROUS_CAPS.getOrDefault(cap, Severity.LOW);
            if (userns) {
                sev = sev == Severity.HIGH ? Severity.MEDIUM : Severity.LOW;
            }
            any = true;
            out.add(f("container.capability." + cap, Status.FAIL, sev, "not beyond Docker's default 14", cap + " added",
                    capReason(cap), DOCKER, nsNote));
        }
        if (!any) {
            out.add(f("container.capabilities", Status.PASS, Severity.HIGH, "not beyond Docker's default 14",
                    held.isEmpty() ? "none" : held.size() + " capabilities, all in the default set",
                    "added capabilities reach outside the container", DOCKER, ""));
        }
    }

    private static String capReason(String cap) {
        return switch (cap) {
            case "CAP_SYS_ADMIN" -> "mount, namespaces, BPF, keyrings: the capability behind most container escapes";
            case "CAP_SYS_MODULE" -> "loads kernel modules: arbitrary code in the host kernel";
            case "CAP_SYS_RAWIO" -> "raw I/O ports and /dev/mem access";
            case "CAP_SYS_PTRACE" -> "ptrace and process_vm_* on any process it can see";
            case "CAP_DAC_READ_SEARCH" -> "open_by_handle_at reads any host file (the shocker escape)";
            case "CAP_BPF" -> "loads BPF programs into the host kernel";
            case "CAP_MAC_ADMIN", "CAP_MAC_OVERRIDE" -> "changes or bypasses the host's MAC policy";
            case "CAP_NET_ADMIN" -> "reconfigures interfaces, routes and firewall rules";
            case "CAP_SYS_BOOT" -> "reboots the host or loads a new kernel";
            case "CAP_SYS_TIME" -> "sets the host's clock";
            case "CAP_PERFMON" -> "perf events observe the host kernel";
            case "CAP_SYSLOG" -> "reads the kernel log and its addresses";
            case "CAP_SYS_RESOURCE" -> "overrides resource limits and quotas";
            default -> "a capability outside Docker's default set";
        };
    }

    private static void seccomp(List<Finding> out, Optional<Seccomp> sc) {
        String id = "container.seccomp";
        if (sc.isEmpty()) {
            out.add(f(id, Status.FAIL, Severity.HIGH, "a seccomp profile", "no linux.seccomp",
                    "every syscall, including module loading, kexec and keyrings, reaches the kernel", DOCKER, ""));
            return;
        }
        Seccomp s = sc.get();
        Set<String> permissive = Set.of("SCMP_ACT_ALLOW", "SCMP_ACT_LOG");
        if (permissive.contains(s.defaultAction())) {
            long blocked = s.syscalls().stream().filter(r -> !permissive.contains(r.action()))
                    .mapToLong(r -> r.names().size()).sum();
            out.add(f(id, Status.FAIL, Severity.HIGH, "defaultAction that refuses unlisted syscalls",
                    "defaultAction " + s.defaultAction() + ", " + blocked + " syscall(s) refused",
                    "a deny-list lets through every syscall it forgot, and every new one", DOCKER, ""));
        } else {
            out.add(f(id, Status.PASS, Severity.HIGH, "a seccomp profile", "defaultAction " + s.defaultAction(),
                    "unlisted syscalls are refused", DOCKER, ""));
        }
        Set<String> allowed = new TreeSet<>();
        for (SeccompSyscall r : s.syscalls()) {
            if (permissive.contains(r.action()) && r.args().isEmpty()) {
                for (String n : r.names()) {
                    if (DANGEROUS_SYSCALLS.contains(n)) {
                        allowed.add(n);
                    }
                }
            }
        }
        if (!permissive.contains(s.defaultAction())) {
            out.add(f("container.seccomp.dangerous-syscalls", allowed.isEmpty() ? Status.PASS : Status.FAIL,
                    Severity.MEDIUM, "none of the syscalls Docker's default profile refuses",
                    allowed.isEmpty() ? "none allowed" : "allows " + String.join(", ", allowed),
                    "these syscalls reach kernel code that containers do not need", DOCKER, ""));
        }
    }

    private static boolean readOnlyMount(List<Mount> mounts, String dest) {
        return mounts.stream().filter(m -> m.destination().equals(dest)).reduce((a, b) -> b)
                .map(m -> m.options().contains("ro")).orElse(false);
    }

    private static void procAndSys(List<Finding> out, Spec spec, boolean userns) {
        List<String> ro = spec.linux().map(Linux::readonlyPaths).orElse(List.of());
        boolean procMounted = spec.mounts().stream().anyMatch(m -> m.destination().equals("/proc"));
        boolean procSysRo = ro.contains("/proc/sys") || readOnlyMount(spec.mounts(), "/proc/sys")
                || readOnlyMount(spec.mounts(), "/proc");
        if (!procMounted) {
            out.add(f("container.proc-sys", Status.PASS, Severity.HIGH, "/proc/sys read-only", "no /proc mount",
                    "writable /proc/sys changes host kernel settings", DOCKER, ""));
        } else {
            out.add(f("container.proc-sys", procSysRo ? Status.PASS : Status.FAIL, userns ? Severity.LOW : Severity.HIGH,
                    "/proc/sys read-only", procSysRo ? "read-only" : "writable",
                    "writable /proc/sys lets container root change host kernel settings (core_pattern runs a host program)",
                    DOCKER, userns ? "a user namespace limits writes to the sysctls it owns" : ""));
            List<String> missingRo = DOCKER_READONLY.stream().filter(p -> !ro.contains(p)).toList();
            out.add(f("container.readonly-paths", missingRo.isEmpty() ? Status.PASS : Status.FAIL, Severity.MEDIUM,
                    "Docker's read-only paths", missingRo.isEmpty() ? "all read-only" : "writable: " + String.join(", ", missingRo),
                    "/proc/sysrq-trigger, /proc/irq, /proc/bus and /proc/fs act on the host", DOCKER, ""));
        }
        List<String> writableSys = new ArrayList<>();
        for (Mount m : spec.mounts()) {
            boolean sysfs = m.type().equals("sysfs") || isBind(m) && (m.source().equals("/sys") || m.source().startsWith("/sys/"));
            if (sysfs && !m.options().contains("ro")) {
                writableSys.add(m.destination());
            }
        }
        out.add(f("container.sysfs", writableSys.isEmpty() ? Status.PASS : Status.FAIL,
                userns ? Severity.MEDIUM : Severity.HIGH, "/sys read-only",
                writableSys.isEmpty() ? "read-only or not mounted" : "writable at " + String.join(", ", writableSys),
                "writable /sys reaches host device, firmware and kernel settings", DOCKER, ""));
    }

    private static void maskedPaths(List<Finding> out, Optional<Linux> linux) {
        List<String> masked = linux.map(Linux::maskedPaths).orElse(List.of());
        List<String> missing = DOCKER_MASKED.stream().filter(p -> !masked.contains(p)).toList();
        Severity sev = missing.contains("/proc/kcore") || missing.contains("/proc/keys") || missing.contains("/sys/firmware")
                ? Severity.MEDIUM : Severity.LOW;
        out.add(f("container.masked-paths", missing.isEmpty() ? Status.PASS : Status.FAIL, sev,
                "Docker's masked paths", missing.isEmpty() ? "all masked" : "unmasked: " + String.join(", ", missing),
                "these /proc and /sys files expose host kernel memory, keys, timers and firmware", DOCKER, ""));
    }

    private static void limits(List<Finding> out, Optional<Linux> linux) {
        Optional<Spec.Resources> r = linux.flatMap(Linux::resources);
        Optional<Long> pids = r.flatMap(Spec.Resources::pidsLimit).filter(x -> x > 0);
        out.add(f("container.pids-limit", pids.isPresent() ? Status.PASS : Status.FAIL, Severity.MEDIUM,
                "linux.resources.pids.limit > 0", pids.map(x -> "limit " + x).orElse("no pids limit"),
                "without a pids limit a fork bomb exhausts the host's process table", DOCKER, ""));
        Optional<Long> mem = r.flatMap(Spec.Resources::memory).flatMap(Spec.Memory::limit).filter(x -> x > 0);
        out.add(f("container.memory-limit", mem.isPresent() ? Status.PASS : Status.FAIL, Severity.MEDIUM,
                "linux.resources.memory.limit > 0", mem.map(x -> "limit " + x + " bytes").orElse("no memory limit"),
                "without a memory limit one container can push the host into OOM", DOCKER, ""));
        Optional<Spec.Cpu> cpu = r.flatMap(Spec.Resources::cpu);
        boolean cpuLimit = cpu.map(c -> c.quota().filter(q -> q > 0).isPresent() || c.shares().isPresent()
                || !c.cpus().isEmpty()).orElse(false);
        out.add(f("container.cpu-limit", cpuLimit ? Status.PASS : Status.FAIL, Severity.LOW,
                "a cpu quota, shares or cpuset", cpuLimit ? "set" : "no cpu limit",
                "without a cpu limit one container can starve the others", DOCKER, ""));
    }

    private static void devices(List<Finding> out, Optional<Linux> linux) {
        List<Device> devs = linux.map(Linux::devices).orElse(List.of());
        List<Device> extra = devs.stream().filter(d -> !DEFAULT_DEVICES.contains(d.path())).toList();
        Severity sev = Severity.LOW;
        for (Device d : extra) {
            Severity s = deviceSeverity(d);
            if (s.atLeast(sev)) {
                sev = s;
            }
        }
        out.add(f("container.devices", extra.isEmpty() ? Status.PASS : Status.FAIL, sev, "only the default device nodes",
                extra.isEmpty() ? "defaults only" : "exposes " + String.join(", ", extra.stream()
                        .map(d -> d.path() + " (" + d.type() + " " + d.major() + ":" + d.minor() + ")").toList()),
                "host devices give direct access to disks, memory or kernel interfaces", DOCKER, ""));
        List<DeviceCgroup> rules = linux.flatMap(Linux::resources).map(Spec.Resources::devices).orElse(List.of());
        // The device cgroup applies rules in order; the last rule matching everything decides the default.
        Optional<DeviceCgroup> wildcard = rules.stream()
                .filter(d -> d.type().equals("a") && d.major().isEmpty() && d.minor().isEmpty())
                .reduce((a, b) -> b);
        boolean allowAll = wildcard.map(DeviceCgroup::allow).orElse(false);
        out.add(f("container.device-cgroup", allowAll ? Status.FAIL : Status.PASS, Severity.HIGH,
                "device cgroup denying by default", allowAll ? "allows all devices (" + wildcard.get().access() + ")"
                        : "deny by default",
                "allowing every device lets container root mknod and open host disks", DOCKER, ""));
    }

    static Severity deviceSeverity(Device d) {
        if (d.type().equals("b")) {
            return Severity.HIGH;
        }
        // mem, kmem, port and kmsg on major 1.
        if (d.major() == 1 && Set.of(1L, 2L, 4L, 11L).contains(d.minor())) {
            return Severity.HIGH;
        }
        return Severity.MEDIUM;
    }

    static boolean isBind(Mount m) {
        return m.type().equals("bind") || m.options().contains("bind") || m.options().contains("rbind");
    }

    static String normalise(String path) {
        String p = path.replaceAll("/+", "/");
        return p.length() > 1 && p.endsWith("/") ? p.substring(0, p.length() - 1) : p;
    }

    private static void mounts(List<Finding> out, List<Mount> mounts) {
        boolean any = false;
        for (Mount m : mounts) {
            if (!isBind(m)) {
                continue;
            }
            String src = normalise(m.source());
            boolean ro = m.options().contains("ro");
            String name = src.substring(src.lastIndexOf('/') + 1);
            if (ENGINE_SOCKET_NAMES.contains(name) || ENGINE_DIRS.contains(src)) {
                any = true;
                out.add(f("container.mount.engine-socket#" + m.destination(), Status.FAIL, Severity.HIGH,
                        "no container engine socket", src + " on " + m.destination(),
                        "the engine's API socket starts privileged containers: root on the host", DOCKER,
                        ro ? "read-only does not help: connecting to a socket is not a write" : ""));
            } else if (src.equals("/")) {
                any = true;
                out.add(f("container.mount.host-root#" + m.destination(), Status.FAIL, ro ? Severity.MEDIUM : Severity.HIGH,
                        "no bind mount of the host's /", "/ on " + m.destination() + (ro ? " (ro)" : ""),
                        "the host's whole filesystem, credentials and engine state are inside", DOCKER, ""));
            } else if (SENSITIVE.stream().anyMatch(s -> src.equals(s) || src.startsWith(s + "/"))) {
                any = true;
                out.add(f("container.mount.host-path#" + m.destination(), Status.FAIL, ro ? Severity.LOW : Severity.MEDIUM,
                        "no bind mount of host system paths", src + " on " + m.destination() + (ro ? " (ro)" : ""),
                        "host system directories expose credentials, devices or the kernel", DOCKER, ""));
            }
        }
        if (!any) {
            out.add(f("container.mounts", Status.PASS, Severity.HIGH, "no engine socket, host root or system paths",
                    "none", "bind mounts of host system paths open the host", DOCKER, ""));
        }
    }

    private static void lsm(List<Finding> out, Spec spec) {
        String aa = spec.process().map(Spec.Process::apparmorProfile).orElse("");
        String se = spec.process().map(Spec.Process::selinuxLabel).orElse("");
        boolean has = !aa.isEmpty() && !aa.equals("unconfined") || !se.isEmpty();
        out.add(f("container.lsm-profile", has ? Status.PASS : Status.FAIL, Severity.LOW,
                "an AppArmor profile or SELinux label",
                has ? (!aa.isEmpty() ? "apparmor " + aa : "selinux " + se) : aa.equals("unconfined") ? "unconfined" : "none",
                "a MAC profile is a second fence behind seccomp and capabilities", DOCKER, ""));
    }

    private static void privileged(List<Finding> out, Spec spec, Optional<Linux> linux, boolean userns) {
        Set<String> held = new LinkedHashSet<>();
        spec.process().flatMap(Spec.Process::capabilities).ifPresent(c -> c.bounding().forEach(x -> held.add(capName(x))));
        List<String> signs = new ArrayList<>();
        if (held.contains("CAP_SYS_ADMIN")) {
            signs.add(held.size() >= ALL_CAPS - 3 ? "all capabilities" : "CAP_SYS_ADMIN");
        }
        Optional<Seccomp> sc = linux.flatMap(Linux::seccomp);
        if (sc.isEmpty() || Set.of("SCMP_ACT_ALLOW", "SCMP_ACT_LOG").contains(sc.get().defaultAction())) {
            signs.add("no seccomp");
        }
        if (linux.map(Linux::maskedPaths).orElse(List.of()).isEmpty()) {
            signs.add("nothing masked");
        }
        boolean allDevices = linux.flatMap(Linux::resources).map(Spec.Resources::devices).orElse(List.of()).stream()
                .filter(d -> d.type().equals("a") && d.major().isEmpty() && d.minor().isEmpty())
                .reduce((a, b) -> b).map(DeviceCgroup::allow).orElse(false);
        if (allDevices) {
            signs.add("all devices");
        }
        // --privileged is CAP_SYS_ADMIN plus the fences down; any two of those with it is the same door.
        boolean privileged = held.contains("CAP_SYS_ADMIN") && signs.size() >= 3;
        out.add(f("container.privileged", privileged ? Status.FAIL : Status.PASS, userns ? Severity.MEDIUM : Severity.HIGH,
                "not privileged", privileged ? "privileged-like: " + String.join(", ", signs) : "not privileged",
                "a privileged container is the host's root with extra steps", BULWARK,
                privileged && userns ? "inside a user namespace, which keeps host root out of reach" : ""));
    }
}
