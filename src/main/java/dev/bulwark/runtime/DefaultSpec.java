package dev.bulwark.runtime;

import dev.bulwark.json.JsonBuilder;
import dev.bulwark.json.JsonValue;
import dev.bulwark.json.JsonValue.JsonObject;
import dev.bulwark.seccomp.DefaultProfile;
import dev.bulwark.spec.Spec;
import java.util.ArrayList;
import java.util.List;

/**
 * The config `bulwark spec` writes: hardened the way Docker's defaults are. Docker's 14
 * capabilities, its masked and read-only /proc and /sys paths, no-new-privileges, a read-only
 * root, every namespace but user (user namespaces need a host ID range, chosen per container).
 */
public final class DefaultSpec {
    /** Docker's masked paths (moby oci/defaults.go). */
    public static final List<String> MASKED_PATHS = List.of(
            "/proc/asound", "/proc/acpi", "/proc/interrupts", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
            "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware",
            "/sys/devices/virtual/powercap");

    /** Docker's read-only paths. */
    public static final List<String> READONLY_PATHS =
            List.of("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger");

    /** A fork bomb stops here: Podman's default, as Docker sets none. */
    public static final long PIDS_LIMIT = 2048;

    /**
     * Docker's default device cgroup rules after deny-all: mknod of any device (m), and use of
     * null, zero, full, random, urandom, tty, console, ptmx and the pts devices. {type, major,
     * minor (-1 any), mknod-only}.
     */
    private static final long[][] DEFAULT_DEVICE_RULES = {
        {'c', -1, -1, 1}, {'b', -1, -1, 1}, {'c', 1, 3, 0}, {'c', 1, 5, 0}, {'c', 1, 7, 0}, {'c', 1, 8, 0},
        {'c', 1, 9, 0}, {'c', 5, 0, 0}, {'c', 5, 1, 0}, {'c', 5, 2, 0}, {'c', 136, -1, 0},
    };

    private DefaultSpec() {}

    private static JsonValue deviceRule(boolean allow, String type, long major, long minor, String access) {
        JsonBuilder b = JsonBuilder.object().put("allow", allow).put("type", type);
        if (major >= 0) {
            b.put("major", major);
        }
        if (minor >= 0) {
            b.put("minor", minor);
        }
        return b.put("access", access).build();
    }

    /** linux.seccomp as config.json spells it. */
    public static JsonValue seccomp(Spec.Seccomp s) {
        JsonBuilder b = JsonBuilder.object().put("defaultAction", s.defaultAction());
        s.defaultErrnoRet().ifPresent(e -> b.put("defaultErrnoRet", e));
        b.put("architectures", JsonBuilder.strings(s.architectures()));
        if (!s.flags().isEmpty()) {
            b.put("flags", JsonBuilder.strings(s.flags()));
        }
        if (!s.listenerPath().isEmpty()) {
            b.put("listenerPath", s.listenerPath());
        }
        List<JsonValue> syscalls = new ArrayList<>();
        for (Spec.SeccompSyscall sc : s.syscalls()) {
            JsonBuilder r = JsonBuilder.object().put("names", JsonBuilder.strings(sc.names())).put("action", sc.action());
            sc.errnoRet().ifPresent(e -> r.put("errnoRet", e));
            if (!sc.args().isEmpty()) {
                List<JsonValue> args = new ArrayList<>();
                for (Spec.SeccompArg a : sc.args()) {
                    args.add(JsonBuilder.object().put("index", a.index())
                            .put("value", new JsonValue.JsonNumber(new java.math.BigDecimal(Long.toUnsignedString(a.value()))))
                            .put("valueTwo", new JsonValue.JsonNumber(new java.math.BigDecimal(Long.toUnsignedString(a.valueTwo()))))
                            .put("op", a.op()).build());
                }
                r.put("args", JsonBuilder.array(args));
            }
            syscalls.add(r.build());
        }
        return b.put("syscalls", JsonBuilder.array(syscalls)).build();
    }

    public static JsonObject build(List<String> args, String rootfs) {
        JsonValue caps = JsonBuilder.strings(Capabilities.DOCKER_DEFAULT);
        JsonBuilder process = JsonBuilder.object()
                .put("terminal", false)
                .put("user", JsonBuilder.object().put("uid", 0).put("gid", 0))
                .put("args", JsonBuilder.strings(args))
                .put("env", JsonBuilder.strings(List.of(
                        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm")))
                .put("cwd", "/")
                .put("capabilities", JsonBuilder.object()
                        .put("bounding", caps).put("effective", caps).put("permitted", caps))
                .put("rlimits", JsonBuilder.array(List.of(JsonBuilder.object()
                        .put("type", "RLIMIT_NOFILE").put("hard", 1024).put("soft", 1024).build())))
                .put("noNewPrivileges", true);
        List<JsonValue> mounts = new ArrayList<>();
        mounts.add(mount("/proc", "proc", "proc", List.of("nosuid", "noexec", "nodev")));
        mounts.add(mount("/dev", "tmpfs", "tmpfs", List.of("nosuid", "strictatime", "mode=755", "size=65536k")));
        mounts.add(mount("/dev/pts", "devpts", "devpts",
                List.of("nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5")));
        mounts.add(mount("/dev/shm", "tmpfs", "shm", List.of("nosuid", "noexec", "nodev", "mode=1777", "size=65536k")));
        mounts.add(mount("/dev/mqueue", "mqueue", "mqueue", List.of("nosuid", "noexec", "nodev")));
        mounts.add(mount("/sys", "sysfs", "sysfs", List.of("nosuid", "noexec", "nodev", "ro")));
        mounts.add(mount("/sys/fs/cgroup", "cgroup", "cgroup", List.of("nosuid", "noexec", "nodev", "relatime", "ro")));
        List<JsonValue> namespaces = new ArrayList<>();
        for (String ns : List.of("pid", "network", "ipc", "uts", "mount", "cgroup")) {
            namespaces.add(JsonBuilder.object().put("type", ns).build());
        }
        List<JsonValue> devices = new ArrayList<>();
        devices.add(deviceRule(false, "a", -1, -1, "rwm"));
        for (long[] d : DEFAULT_DEVICE_RULES) {
            devices.add(deviceRule(true, d[0] == 'b' ? "b" : "c", d[1], d[2], d[3] == 1 ? "m" : "rwm"));
        }
        JsonBuilder resources = JsonBuilder.object()
                .put("devices", JsonBuilder.array(devices))
                .put("pids", JsonBuilder.object().put("limit", PIDS_LIMIT));
        JsonBuilder linux = JsonBuilder.object()
                .put("resources", resources)
                .put("namespaces", JsonBuilder.array(namespaces))
                .put("maskedPaths", JsonBuilder.strings(MASKED_PATHS))
                .put("readonlyPaths", JsonBuilder.strings(READONLY_PATHS))
                .put("seccomp", seccomp(DefaultProfile.oci(new java.util.HashSet<>(Capabilities.DOCKER_DEFAULT))));
        return JsonBuilder.object()
                .put("ociVersion", "1.2.0")
                .put("process", process)
                .put("root", JsonBuilder.object().put("path", rootfs).put("readonly", true))
                .put("hostname", "bulwark")
                .put("mounts", JsonBuilder.array(mounts))
                .put("linux", linux)
                .build();
    }

    private static JsonValue mount(String dest, String type, String source, List<String> options) {
        return JsonBuilder.object()
                .put("destination", dest).put("type", type).put("source", source)
                .put("options", JsonBuilder.strings(options)).build();
    }
}
