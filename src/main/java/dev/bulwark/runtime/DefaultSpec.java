package dev.bulwark.runtime;

import dev.bulwark.json.JsonBuilder;
import dev.bulwark.json.JsonValue;
import dev.bulwark.json.JsonValue.JsonObject;
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

    private DefaultSpec() {}

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
        JsonBuilder linux = JsonBuilder.object()
                .put("namespaces", JsonBuilder.array(namespaces))
                .put("maskedPaths", JsonBuilder.strings(MASKED_PATHS))
                .put("readonlyPaths", JsonBuilder.strings(READONLY_PATHS));
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
