package dev.bulwark.cgroup;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The host's cgroup layout, read from /proc/self/mountinfo and /proc/self/cgroup: which
 * hierarchies are mounted where, and the runtime's own cgroup in each (relative cgroupsPath
 * values are resolved against it).
 *
 * @param layout  v1 (controllers on v1 hierarchies only), unified (pure v2) or hybrid (v1
 *                controllers plus a cgroup2 mount, usually /sys/fs/cgroup/unified)
 * @param v1      the v1 hierarchies, one per mounted hierarchy (co-mounted controllers share one)
 * @param unified the cgroup2 mount, if any
 */
public record Cgroups(Layout layout, List<Hierarchy> v1, Optional<Hierarchy> unified) {

    public enum Layout { V1, UNIFIED, HYBRID }

    /**
     * One mounted hierarchy.
     *
     * @param name        the controller list as /proc/self/cgroup spells it ("cpu,cpuacct",
     *                    "name=systemd"); "" for cgroup2
     * @param controllers the v1 controllers bound to it (empty for cgroup2 and named hierarchies)
     * @param mountPoint  where it is mounted
     * @param root        the mount's root inside the hierarchy (not "/" in a cgroup namespace or bind mount)
     * @param own         this process's cgroup in the hierarchy, "" if /proc/self/cgroup has no line for it
     */
    public record Hierarchy(String name, Set<String> controllers, Path mountPoint, String root, String own) {
        /** The directory of this process's own cgroup. */
        Path ownDir() {
            if (own.isEmpty()) {
                throw new CgroupException("cgroup hierarchy " + display() + ": /proc/self/cgroup has no entry for it,"
                        + " so a relative cgroupsPath cannot be resolved");
            }
            String rel;
            if (root.equals("/")) {
                rel = own;
            } else if (own.equals(root) || own.startsWith(root + "/")) {
                rel = own.substring(root.length());
            } else {
                throw new CgroupException("cgroup hierarchy " + display() + ": own cgroup " + own
                        + " is outside the mounted root " + root + " at " + mountPoint);
            }
            return join(mountPoint, rel);
        }

        String display() {
            return name.isEmpty() ? "cgroup2 (" + mountPoint + ")" : name;
        }
    }

    /** The v1 controllers Bulwark knows; other mount options of a cgroup mount are not controllers. */
    static final Set<String> V1_CONTROLLERS = Set.of(
            "cpuset", "cpu", "cpuacct", "memory", "devices", "freezer", "net_cls", "blkio", "perf_event",
            "net_prio", "hugetlb", "pids", "rdma", "misc");

    /** The layout of the calling process's host. */
    public static Cgroups detect() {
        try {
            return parse(Files.readString(Path.of("/proc/self/mountinfo")), Files.readString(Path.of("/proc/self/cgroup")));
        } catch (IOException e) {
            throw new CgroupException("cannot read /proc/self/mountinfo or /proc/self/cgroup: " + CgroupFiles.reason(e), e);
        }
    }

    /** The layout described by the text of a mountinfo and a /proc/PID/cgroup file. */
    public static Cgroups parse(String mountinfo, String procCgroup) {
        Map<String, String> own = new LinkedHashMap<>();
        for (String line : procCgroup.split("\n")) {
            if (line.isBlank()) {
                continue;
            }
            String[] f = line.split(":", 3);
            if (f.length != 3) {
                throw new CgroupException("/proc/self/cgroup: malformed line \"" + line + "\"");
            }
            own.put(f[0].equals("0") && f[1].isEmpty() ? "" : canonicalName(f[1]), f[2]);
        }

        Map<String, Hierarchy> v1 = new LinkedHashMap<>();
        Hierarchy unified = null;
        for (String line : mountinfo.split("\n")) {
            if (line.isBlank()) {
                continue;
            }
            // id parent major:minor root mountpoint options [optional fields...] - fstype source superoptions
            String[] f = line.split(" ");
            int dash = List.of(f).indexOf("-");
            if (dash < 6 || f.length < dash + 4) {
                throw new CgroupException("/proc/self/mountinfo: malformed line \"" + line + "\"");
            }
            String fstype = f[dash + 1];
            String root = unescape(f[3]);
            Path mountPoint = Path.of(unescape(f[4]));
            if (fstype.equals("cgroup2")) {
                Hierarchy h = new Hierarchy("", Set.of(), mountPoint, root, own.getOrDefault("", ""));
                // A cgroup2 mount at /sys/fs/cgroup is the host's; a second mount elsewhere (a bind
                // mount, a tool's private mount) is not preferred over it.
                if (unified == null || mountPoint.equals(Path.of("/sys/fs/cgroup"))) {
                    unified = h;
                }
            } else if (fstype.equals("cgroup")) {
                Set<String> controllers = new LinkedHashSet<>();
                String named = "";
                for (String opt : f[dash + 3].split(",")) {
                    if (V1_CONTROLLERS.contains(opt)) {
                        controllers.add(opt);
                    } else if (opt.startsWith("name=")) {
                        named = opt;
                    }
                }
                List<String> parts = new ArrayList<>(controllers);
                if (!named.isEmpty()) {
                    parts.add(named);
                }
                if (parts.isEmpty()) {
                    continue;
                }
                String name = canonicalName(String.join(",", parts));
                // The same hierarchy can be mounted more than once; the first mount wins, as in runc.
                v1.putIfAbsent(name, new Hierarchy(name, Set.copyOf(controllers), mountPoint, root,
                        own.getOrDefault(name, "")));
            }
        }
        boolean v1Controllers = v1.values().stream().anyMatch(h -> !h.controllers().isEmpty());
        Layout layout;
        if (unified != null && unified.mountPoint().equals(Path.of("/sys/fs/cgroup"))) {
            layout = Layout.UNIFIED;
        } else if (v1Controllers) {
            layout = unified == null ? Layout.V1 : Layout.HYBRID;
        } else if (unified != null) {
            layout = Layout.UNIFIED;
        } else {
            throw new CgroupException("no cgroup filesystem is mounted (neither cgroup nor cgroup2 in /proc/self/mountinfo)");
        }
        List<Hierarchy> hierarchies = layout == Layout.UNIFIED ? List.of() : List.copyOf(v1.values());
        return new Cgroups(layout, hierarchies, Optional.ofNullable(unified));
    }

    /** The v1 hierarchy that carries a controller. */
    public Optional<Hierarchy> v1Controller(String controller) {
        for (Hierarchy h : v1) {
            if (h.controllers().contains(controller)) {
                return Optional.of(h);
            }
        }
        return Optional.empty();
    }

    /**
     * The cgroup directory of a container in every hierarchy it should live in, keyed by
     * hierarchy name ("" for cgroup2). An absolute cgroupsPath is taken from each hierarchy's
     * root, a relative one from this process's own cgroup, and an empty one is
     * {@code /bulwark/<containerId>}.
     */
    public Map<String, Path> resolve(String cgroupsPath, String containerId) {
        String inner = clean(cgroupsPath.isEmpty() ? "/bulwark/" + containerId : cgroupsPath);
        boolean absolute = cgroupsPath.isEmpty() || cgroupsPath.startsWith("/");
        Map<String, Path> out = new LinkedHashMap<>();
        if (layout == Layout.UNIFIED) {
            Hierarchy h = unified.orElseThrow();
            out.put("", join(absolute ? h.mountPoint() : h.ownDir(), inner));
            return out;
        }
        for (Hierarchy h : v1) {
            // Named hierarchies other than systemd's belong to other tools; a container only needs
            // to be tracked where systemd looks for it.
            if (h.controllers().isEmpty() && !h.name().equals("name=systemd")) {
                continue;
            }
            out.put(h.name(), join(absolute ? h.mountPoint() : h.ownDir(), inner));
        }
        if (layout == Layout.HYBRID) {
            // In hybrid mode systemd tracks processes on the v2 hierarchy, so the container gets
            // a (controller-less) cgroup there too, as runc does.
            Hierarchy h = unified.orElseThrow();
            out.put("", join(absolute ? h.mountPoint() : h.ownDir(), inner));
        }
        return out;
    }

    /**
     * A cgroupsPath reduced to its components: no "..", no empty or "." components, and not the
     * root cgroup (a container needs a cgroup of its own, and destroy would otherwise rmdir the root).
     */
    static String clean(String cgroupsPath) {
        if (cgroupsPath.indexOf('\0') >= 0) {
            throw new CgroupException("linux.cgroupsPath: contains a NUL byte");
        }
        List<String> parts = new ArrayList<>();
        for (String p : cgroupsPath.split("/")) {
            if (p.isEmpty() || p.equals(".")) {
                continue;
            }
            if (p.equals("..")) {
                throw new CgroupException("linux.cgroupsPath: \"" + cgroupsPath
                        + "\" contains \"..\"; a container's cgroup must be below the hierarchy root or the runtime's cgroup");
            }
            parts.add(p);
        }
        if (parts.isEmpty()) {
            throw new CgroupException("linux.cgroupsPath: \"" + cgroupsPath
                    + "\" names the root of the hierarchy; a container needs a cgroup of its own");
        }
        return String.join("/", parts);
    }

    static Path join(Path base, String rel) {
        String r = rel;
        while (r.startsWith("/")) {
            r = r.substring(1);
        }
        return r.isEmpty() ? base : base.resolve(r);
    }

    /** The controllers of a v1 hierarchy in a fixed order, so mountinfo and /proc/self/cgroup names match. */
    private static String canonicalName(String list) {
        List<String> parts = new ArrayList<>(List.of(list.split(",")));
        parts.removeIf(String::isEmpty);
        parts.sort(null);
        return String.join(",", parts);
    }

    /** mountinfo escapes space, tab, newline and backslash as octal. */
    private static String unescape(String s) {
        if (s.indexOf('\\') < 0) {
            return s;
        }
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '\\' && i + 3 < s.length()
                    && s.substring(i + 1, i + 4).chars().allMatch(ch -> ch >= '0' && ch <= '7')) {
                b.append((char) Integer.parseInt(s.substring(i + 1, i + 4), 8));
                i += 3;
            } else {
                b.append(c);
            }
        }
        return b.toString();
    }
}
