package dev.bulwark.agent;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.TreeSet;

/**
 * What a system container's own software reads in /proc/meminfo, /proc/cpuinfo, /proc/stat,
 * /proc/uptime and /sys/devices/system/cpu/online, computed for the process that reads (as LXCFS
 * does): memory from its memory cgroup's limit and usage, CPUs from its cpuset and CPU quota
 * (ceil(quota / period), at least one), time from the start of its PID namespace's init.
 *
 * <p>Everything is read through {@link Host}, so the rules are tested with a fake host. Lines this
 * does not compute are the host's, unchanged.
 */
final class ProcView {
    /** The files served, by the name under the mount, and where each is bound in a container. */
    static final Map<String, String> FILES = Map.of(
            "meminfo", "/proc/meminfo",
            "cpuinfo", "/proc/cpuinfo",
            "stat", "/proc/stat",
            "uptime", "/proc/uptime",
            "cpu-online", "/sys/devices/system/cpu/online");

    private static final long USER_HZ = 100;

    /** The host's files, by absolute path; empty when absent or unreadable. */
    interface Host {
        Optional<String> read(String path);

        Host REAL = path -> {
            try {
                return Optional.of(java.nio.file.Files.readString(Path.of(path), StandardCharsets.ISO_8859_1));
            } catch (IOException | RuntimeException e) {
                return Optional.empty();
            }
        };
    }

    private final Host host;

    ProcView(Host host) {
        this.host = host;
    }

    /** The content of file {@code name} (a key of FILES) as process pid should see it. */
    String render(String name, long pid) {
        Reader r = new Reader(pid);
        return switch (name) {
            case "meminfo" -> meminfo(r);
            case "cpuinfo" -> cpuinfo(r);
            case "stat" -> stat(r);
            case "uptime" -> uptime(r);
            case "cpu-online" -> ranges(r.cpus()) + "\n";
            default -> throw new IllegalArgumentException(name);
        };
    }

    // ---- the reader's cgroups ----

    /** The reading process: its cgroup paths by controller ("" for cgroup v2), read once. */
    private final class Reader {
        final long pid;
        final Map<String, String> cgroups = new LinkedHashMap<>();
        /** Controller to its v1 hierarchy's name as mounted under /sys/fs/cgroup ("cpu,cpuacct", or "cpu" alone). */
        final Map<String, String> hierarchies = new LinkedHashMap<>();
        private List<Integer> cpus;

        Reader(long pid) {
            this.pid = pid;
            for (String l : host.read("/proc/" + pid + "/cgroup").orElse("").split("\n")) {
                String[] f = l.split(":", 3);
                if (f.length != 3) {
                    continue;
                }
                if (f[1].isEmpty()) {
                    cgroups.putIfAbsent("", f[2]);
                }
                for (String c : f[1].split(",")) {
                    if (!c.isEmpty()) {
                        cgroups.put(c, f[2]);
                        hierarchies.put(c, f[1]);
                    }
                }
            }
        }

        boolean v2() {
            return !cgroups.containsKey("memory") && cgroups.containsKey("") && host.read("/sys/fs/cgroup/cgroup.controllers").isPresent();
        }

        /** A file of the reader's cgroup of controller c (v1), or of its unified cgroup (v2). */
        Optional<String> file(String controller, String name) {
            if (v2()) {
                return host.read("/sys/fs/cgroup" + cgroups.get("") + "/" + name).map(String::strip);
            }
            String p = cgroups.get(controller);
            if (p == null) {
                return Optional.empty();
            }
            String dir = "/sys/fs/cgroup/" + hierarchies.get(controller);
            return host.read(dir + p + "/" + name).or(() -> host.read("/sys/fs/cgroup/" + controller + p + "/" + name)).map(String::strip);
        }

        /** The CPUs shown: the cpuset's, cut to ceil(quota / period) when there is a quota. */
        List<Integer> cpus() {
            if (cpus != null) {
                return cpus;
            }
            List<Integer> set = parseList(file("cpuset", v2() ? "cpuset.cpus.effective" : "cpuset.effective_cpus")
                    .or(() -> file("cpuset", "cpuset.cpus"))
                    .or(() -> host.read("/sys/devices/system/cpu/online").map(String::strip)).orElse("0"));
            if (set.isEmpty()) {
                set = List.of(0);
            }
            long quota = -1;
            long period = 100_000;
            if (v2()) {
                String[] m = file("cpu", "cpu.max").orElse("max").split("\\s+");
                if (!m[0].equals("max")) {
                    quota = parseLong(m[0], -1);
                    period = m.length > 1 ? parseLong(m[1], 100_000) : 100_000;
                }
            } else {
                quota = parseLong(file("cpu", "cpu.cfs_quota_us").orElse("-1"), -1);
                period = parseLong(file("cpu", "cpu.cfs_period_us").orElse("100000"), 100_000);
            }
            int n = set.size();
            if (quota > 0 && period > 0) {
                n = (int) Math.max(1, Math.min(n, (quota + period - 1) / period));
            }
            cpus = List.copyOf(set.subList(0, n));
            return cpus;
        }

        /** Seconds since the start of the init of the reader's PID namespace. */
        double uptime() {
            double hostUp = parseDouble(host.read("/proc/uptime").orElse("0").split("\\s+")[0]);
            long init = nsInit(pid);
            long ticks = startTicks(init);
            if (ticks < 0) {
                return hostUp;
            }
            return Math.max(0, hostUp - (double) ticks / USER_HZ);
        }

        /** The container's CPU time in USER_HZ ticks: user and system. */
        long[] used() {
            if (v2()) {
                long user = 0;
                long sys = 0;
                for (String l : file("cpu", "cpu.stat").orElse("").split("\n")) {
                    String[] f = l.split("\\s+");
                    if (f.length == 2 && f[0].equals("user_usec")) {
                        user = parseLong(f[1], 0) * USER_HZ / 1_000_000;
                    } else if (f.length == 2 && f[0].equals("system_usec")) {
                        sys = parseLong(f[1], 0) * USER_HZ / 1_000_000;
                    }
                }
                return new long[] {user, sys};
            }
            long user = 0;
            long sys = 0;
            for (String l : file("cpuacct", "cpuacct.stat").orElse("").split("\n")) {
                String[] f = l.split("\\s+");
                if (f.length == 2 && f[0].equals("user")) {
                    user = parseLong(f[1], 0);
                } else if (f.length == 2 && f[0].equals("system")) {
                    sys = parseLong(f[1], 0);
                }
            }
            return new long[] {user, sys};
        }
    }

    /** The host PID of the init of pid's (innermost) PID namespace: up the parents until NSpid ends in 1. */
    private long nsInit(long pid) {
        long p = pid;
        for (int hops = 0; hops < 4096 && p > 1; hops++) {
            String status = host.read("/proc/" + p + "/status").orElse("");
            String nspid = field(status, "NSpid:");
            String[] ids = nspid.isEmpty() ? new String[0] : nspid.split("\\s+");
            if (ids.length > 1 && ids[ids.length - 1].equals("1")) {
                return p;
            }
            if (ids.length <= 1) {
                return 1; // the host's own namespace
            }
            long parent = parseLong(field(status, "PPid:"), 0);
            if (parent <= 0) {
                return p;
            }
            p = parent;
        }
        return p;
    }

    private long startTicks(long pid) {
        String s = host.read("/proc/" + pid + "/stat").orElse("");
        int close = s.lastIndexOf(')');
        if (close < 0) {
            return -1;
        }
        String[] f = s.substring(close + 2).split(" ");
        // after "pid (comm) ": state is field 3, starttime field 22
        return f.length > 19 ? parseLong(f[19], -1) : -1;
    }

    // ---- the files ----

    private String meminfo(Reader r) {
        String hostInfo = host.read("/proc/meminfo").orElse("");
        Map<String, Long> h = kib(hostInfo);
        long hostTotal = h.getOrDefault("MemTotal", 0L);
        long limit;
        long usage;
        Map<String, Long> st = new LinkedHashMap<>();
        long swapLimit = -1;
        long swapUsage = 0;
        if (r.v2()) {
            String max = r.file("memory", "memory.max").orElse("max");
            limit = max.equals("max") ? Long.MAX_VALUE : parseLong(max, Long.MAX_VALUE) / 1024;
            usage = parseLong(r.file("memory", "memory.current").orElse("0"), 0) / 1024;
            for (Map.Entry<String, Long> e : pairs(r.file("memory", "memory.stat").orElse("")).entrySet()) {
                st.put(e.getKey(), e.getValue() / 1024);
            }
            String smax = r.file("memory", "memory.swap.max").orElse("");
            if (!smax.isEmpty() && !smax.equals("max")) {
                swapLimit = parseLong(smax, -1) / 1024;
                swapUsage = parseLong(r.file("memory", "memory.swap.current").orElse("0"), 0) / 1024;
            }
        } else {
            limit = parseLong(r.file("memory", "memory.limit_in_bytes").orElse(""), Long.MAX_VALUE) / 1024;
            usage = parseLong(r.file("memory", "memory.usage_in_bytes").orElse("0"), 0) / 1024;
            for (Map.Entry<String, Long> e : pairs(r.file("memory", "memory.stat").orElse("")).entrySet()) {
                if (e.getKey().startsWith("total_")) {
                    st.put(e.getKey().substring(6).replace("cache", "file").replace("rss", "anon"), e.getValue() / 1024);
                }
            }
            Optional<String> msw = r.file("memory", "memory.memsw.limit_in_bytes");
            if (msw.isPresent()) {
                long both = parseLong(msw.get(), Long.MAX_VALUE) / 1024;
                if (both < Long.MAX_VALUE / 1024 - 1 && limit < Long.MAX_VALUE / 1024 - 1) {
                    swapLimit = Math.max(0, both - limit);
                    swapUsage = Math.max(0, parseLong(r.file("memory", "memory.memsw.usage_in_bytes").orElse("0"), 0) / 1024 - usage);
                }
            }
        }
        if (hostTotal <= 0) {
            return hostInfo;
        }
        long total = Math.min(limit, hostTotal);
        long file = st.getOrDefault("file", 0L);
        long free = Math.max(0, total - usage);
        long available = Math.min(total, free + st.getOrDefault("inactive_file", 0L) + st.getOrDefault("active_file", 0L) / 2);
        Map<String, Long> set = new LinkedHashMap<>();
        set.put("MemTotal", total);
        set.put("MemFree", free);
        set.put("MemAvailable", available);
        set.put("Buffers", 0L);
        set.put("Cached", file);
        set.put("Active", st.getOrDefault("active_anon", 0L) + st.getOrDefault("active_file", 0L));
        set.put("Inactive", st.getOrDefault("inactive_anon", 0L) + st.getOrDefault("inactive_file", 0L));
        set.put("Active(anon)", st.getOrDefault("active_anon", 0L));
        set.put("Inactive(anon)", st.getOrDefault("inactive_anon", 0L));
        set.put("Active(file)", st.getOrDefault("active_file", 0L));
        set.put("Inactive(file)", st.getOrDefault("inactive_file", 0L));
        set.put("Shmem", st.getOrDefault("shmem", 0L));
        // the cgroup's own slab (cgroup v2 counts it; v1's memory.stat does not, so none): free
        // and top add SReclaimable to the cache, and the host's would exceed what the limit leaves
        set.put("Slab", st.getOrDefault("slab", 0L));
        set.put("SReclaimable", st.getOrDefault("slab_reclaimable", 0L));
        set.put("SUnreclaim", st.getOrDefault("slab_unreclaimable", 0L));
        set.put("KReclaimable", st.getOrDefault("slab_reclaimable", 0L));
        if (swapLimit >= 0) {
            long swapTotal = Math.min(swapLimit, h.getOrDefault("SwapTotal", 0L));
            set.put("SwapTotal", swapTotal);
            set.put("SwapFree", Math.max(0, swapTotal - swapUsage));
        }
        StringBuilder out = new StringBuilder(hostInfo.length());
        for (String l : hostInfo.split("\n")) {
            int c = l.indexOf(':');
            String k = c > 0 ? l.substring(0, c) : "";
            Long v = set.get(k);
            if (v != null && l.endsWith(" kB")) {
                out.append(String.format(Locale.ROOT, "%-16s%8d kB", k + ":", v)).append('\n');
            } else if (!l.isEmpty()) {
                out.append(l).append('\n');
            }
        }
        return out.toString();
    }

    private String cpuinfo(Reader r) {
        String info = host.read("/proc/cpuinfo").orElse("");
        List<Integer> cpus = r.cpus();
        StringBuilder out = new StringBuilder();
        int shown = 0;
        for (String block : info.split("\n\n")) {
            String proc = field(block, "processor");
            if (proc.isEmpty()) {
                continue;
            }
            int k = (int) parseLong(proc.replace(":", "").strip(), -1);
            if (!cpus.contains(k)) {
                continue;
            }
            int idx = shown++;
            StringBuilder b = new StringBuilder();
            for (String l : block.split("\n")) {
                if (l.startsWith("processor")) {
                    b.append("processor\t: ").append(idx);
                } else if (l.startsWith("siblings")) {
                    b.append("siblings\t: ").append(cpus.size());
                } else if (l.startsWith("cpu cores")) {
                    b.append("cpu cores\t: ").append(cpus.size());
                } else {
                    b.append(l);
                }
                b.append('\n');
            }
            out.append(b.toString().strip()).append("\n\n");
        }
        return out.toString();
    }

    private String stat(Reader r) {
        String st = host.read("/proc/stat").orElse("");
        List<Integer> cpus = r.cpus();
        int n = cpus.size();
        long[] used = r.used();
        long since = (long) (r.uptime() * USER_HZ);
        long user = used[0] / n;
        long sys = used[1] / n;
        long idle = Math.max(0, since - user - sys);
        StringBuilder out = new StringBuilder(st.length());
        boolean cpuDone = false;
        for (String l : st.split("\n")) {
            if (l.startsWith("cpu")) {
                if (!cpuDone) {
                    cpuDone = true;
                    out.append(cpuLine("cpu ", user * n, sys * n, idle * n));
                    for (int i = 0; i < n; i++) {
                        out.append(cpuLine("cpu" + i, user, sys, idle));
                    }
                }
            } else if (!l.isEmpty()) {
                out.append(l).append('\n');
            }
        }
        return out.toString();
    }

    private static String cpuLine(String name, long user, long sys, long idle) {
        // user nice system idle iowait irq softirq steal guest guest_nice
        return name + " " + user + " 0 " + sys + " " + idle + " 0 0 0 0 0 0\n";
    }

    private String uptime(Reader r) {
        double up = r.uptime();
        long[] used = r.used();
        double idle = Math.max(0, up * r.cpus().size() - (double) (used[0] + used[1]) / USER_HZ);
        return String.format(Locale.ROOT, "%.2f %.2f%n", up, idle);
    }

    // ---- parsing ----

    /** "0-3,5" as a sorted list. */
    static List<Integer> parseList(String s) {
        TreeSet<Integer> out = new TreeSet<>();
        for (String part : s.strip().split(",")) {
            if (part.isEmpty()) {
                continue;
            }
            int dash = part.indexOf('-');
            try {
                int a = Integer.parseInt(dash < 0 ? part : part.substring(0, dash));
                int b = dash < 0 ? a : Integer.parseInt(part.substring(dash + 1));
                for (int i = a; i <= b && i - a < 4096; i++) {
                    out.add(i);
                }
            } catch (NumberFormatException e) {
                // not a CPU list
            }
        }
        return new ArrayList<>(out);
    }

    /** A sorted list as "0-3,5". */
    static String ranges(List<Integer> cpus) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < cpus.size(); ) {
            int j = i;
            while (j + 1 < cpus.size() && cpus.get(j + 1) == cpus.get(j) + 1) {
                j++;
            }
            b.append(b.isEmpty() ? "" : ",").append(cpus.get(i));
            if (j > i) {
                b.append('-').append(cpus.get(j));
            }
            i = j + 1;
        }
        return b.toString();
    }

    private static Map<String, Long> kib(String meminfo) {
        Map<String, Long> out = new LinkedHashMap<>();
        for (String l : meminfo.split("\n")) {
            int c = l.indexOf(':');
            if (c > 0) {
                String v = l.substring(c + 1).strip().split("\\s+")[0];
                out.put(l.substring(0, c), parseLong(v, 0));
            }
        }
        return out;
    }

    private static Map<String, Long> pairs(String text) {
        Map<String, Long> out = new LinkedHashMap<>();
        for (String l : text.split("\n")) {
            String[] f = l.strip().split("\\s+");
            if (f.length == 2) {
                out.put(f[0], parseLong(f[1], 0));
            }
        }
        return out;
    }

    private static String field(String text, String key) {
        for (String l : text.split("\n")) {
            if (l.startsWith(key)) {
                int c = l.indexOf(':');
                return (c >= 0 ? l.substring(c + 1) : l.substring(key.length())).strip();
            }
        }
        return "";
    }

    private static long parseLong(String s, long dflt) {
        try {
            return Long.parseLong(s.strip());
        } catch (NumberFormatException e) {
            return dflt;
        }
    }

    private static double parseDouble(String s) {
        try {
            return Double.parseDouble(s.strip());
        } catch (NumberFormatException e) {
            return 0;
        }
    }
}
