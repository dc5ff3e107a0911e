package dev.bulwark.cgroup;

import dev.bulwark.spec.Spec.BlockIO;
import dev.bulwark.spec.Spec.Cpu;
import dev.bulwark.spec.Spec.HugepageLimit;
import dev.bulwark.spec.Spec.InterfacePriority;
import dev.bulwark.spec.Spec.Memory;
import dev.bulwark.spec.Spec.Network;
import dev.bulwark.spec.Spec.Rdma;
import dev.bulwark.spec.Spec.Resources;
import dev.bulwark.spec.Spec.ThrottleDevice;
import dev.bulwark.spec.Spec.WeightDevice;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** cgroup v1 (and hybrid): one directory per mounted hierarchy, one file per setting. */
final class V1Manager implements CgroupManager {
    private static final long FREEZE_TIMEOUT_MS = 2000;
    private static final long DESTROY_TIMEOUT_MS = 1000;

    private final Map<String, Path> dirs;
    private final Map<String, Path> byController = new LinkedHashMap<>();

    V1Manager(Cgroups host, Map<String, Path> dirs) {
        this.dirs = Collections.unmodifiableMap(new LinkedHashMap<>(dirs));
        for (Map.Entry<String, Path> e : dirs.entrySet()) {
            for (String c : e.getKey().split(",")) {
                if (Cgroups.V1_CONTROLLERS.contains(c)) {
                    byController.put(c, e.getValue());
                }
            }
        }
    }

    @Override
    public Map<String, Path> dirs() {
        return dirs;
    }

    @Override
    public List<Path> procsFiles() {
        List<Path> out = new ArrayList<>();
        dirs.values().forEach(d -> out.add(d.resolve("cgroup.procs")));
        return out;
    }

    /** The container's directory for a controller, or an error naming the setting that needs it. */
    private Path dir(String controller, String setting) {
        Path d = byController.get(controller);
        if (d == null) {
            throw new CgroupException(setting + ": needs the " + controller
                    + " cgroup controller, which is not mounted on this host");
        }
        return d;
    }

    private void write(String controller, String file, String value, String setting) {
        CgroupFiles.write(dir(controller, setting).resolve(file), value, setting);
    }

    @Override
    public Optional<DeviceProgram> create(Resources resources) {
        List<Path> created = new ArrayList<>();
        try {
            for (Map.Entry<String, Path> e : dirs.entrySet()) {
                boolean cpuset = List.of(e.getKey().split(",")).contains("cpuset");
                // A new v1 cpuset cgroup starts with empty cpus and mems, and the kernel refuses
                // tasks in it (ENOSPC) until both are set; fill them from the parent.
                CgroupDirs.mkdirs(e.getValue(), created, cpuset ? V1Manager::inheritCpuset : d -> {});
            }
            apply(resources);
            return Optional.empty();
        } catch (RuntimeException e) {
            CgroupDirs.rollback(created, e);
            throw e;
        }
    }

    private static void inheritCpuset(Path dir) {
        for (String f : List.of("cpuset.cpus", "cpuset.mems")) {
            if (CgroupFiles.read(dir.resolve(f), "").isEmpty()) {
                String parent = CgroupFiles.read(dir.getParent().resolve(f), "");
                CgroupFiles.write(dir.resolve(f), parent, "copying " + f + " from the parent cgroup");
            }
        }
    }

    @Override
    public Optional<DeviceProgram> update(Resources resources) {
        apply(resources);
        return Optional.empty();
    }

    void apply(Resources r) {
        if (!r.unified().isEmpty()) {
            throw new CgroupException("linux.resources.unified: sets cgroup v2 files, but this host's controllers are on cgroup v1");
        }
        r.cpu().ifPresent(this::cpu);
        r.memory().ifPresent(this::memory);
        r.pidsLimit().filter(l -> l != 0).ifPresent(l ->
                write("pids", "pids.max", l > 0 ? Long.toString(l) : "max", "linux.resources.pids.limit"));
        r.blockIO().ifPresent(this::blockIO);
        for (int i = 0; i < r.hugepageLimits().size(); i++) {
            HugepageLimit h = r.hugepageLimits().get(i);
            String at = "linux.resources.hugepageLimits[" + i + "]";
            write("hugetlb", "hugetlb." + Convert.pageSize(at + ".pageSize", h.pageSize()) + ".limit_in_bytes",
                    Long.toUnsignedString(h.limit()), at + ".limit");
        }
        r.network().ifPresent(this::network);
        for (Map.Entry<String, Rdma> e : r.rdma().entrySet()) {
            write("rdma", "rdma.max", rdmaLine(e.getKey(), e.getValue()), "linux.resources.rdma." + e.getKey());
        }
        if (!r.devices().isEmpty()) {
            for (DeviceRules.V1Write w : DeviceRules.of(r.devices()).v1Writes()) {
                write("devices", w.file(), w.line(), w.setting());
            }
        }
    }

    static String rdmaLine(String device, Rdma r) {
        StringBuilder b = new StringBuilder(device);
        r.hcaHandles().ifPresent(v -> b.append(" hca_handle=").append(v));
        r.hcaObjects().ifPresent(v -> b.append(" hca_object=").append(v));
        if (r.hcaHandles().isEmpty() && r.hcaObjects().isEmpty()) {
            throw new CgroupException("linux.resources.rdma." + device + ": sets neither hcaHandles nor hcaObjects");
        }
        return b.toString();
    }

    private void cpu(Cpu c) {
        String at = "linux.resources.cpu";
        if (!c.cpus().isEmpty()) {
            write("cpuset", "cpuset.cpus", c.cpus(), at + ".cpus");
        }
        if (!c.mems().isEmpty()) {
            write("cpuset", "cpuset.mems", c.mems(), at + ".mems");
        }
        c.shares().filter(v -> v != 0).ifPresent(v -> {
            write("cpu", "cpu.shares", Long.toUnsignedString(v), at + ".shares");
            // The kernel clamps shares to [2, 262144] without an error; a clamped value is not what was asked.
            long kept = CgroupFiles.readLong(dir("cpu", at).resolve("cpu.shares"), at + ".shares");
            if (kept != v) {
                throw new CgroupException(at + ".shares: wrote " + Long.toUnsignedString(v) + " to "
                        + dir("cpu", at).resolve("cpu.shares") + " but the kernel kept " + kept + " (allowed: 2 to 262144)");
            }
        });
        // The period goes first so a quota is checked against the new period.
        c.period().filter(v -> v != 0).ifPresent(v -> write("cpu", "cpu.cfs_period_us", Long.toUnsignedString(v), at + ".period"));
        c.quota().filter(v -> v != 0).ifPresent(v -> write("cpu", "cpu.cfs_quota_us", Long.toString(v), at + ".quota"));
        c.burst().ifPresent(v -> write("cpu", "cpu.cfs_burst_us", Long.toUnsignedString(v), at + ".burst"));
        c.realtimePeriod().filter(v -> v != 0).ifPresent(v ->
                write("cpu", "cpu.rt_period_us", Long.toUnsignedString(v), at + ".realtimePeriod"));
        c.realtimeRuntime().filter(v -> v != 0).ifPresent(v ->
                write("cpu", "cpu.rt_runtime_us", Long.toString(v), at + ".realtimeRuntime"));
        c.idle().ifPresent(v -> write("cpu", "cpu.idle", Long.toString(v), at + ".idle"));
    }

    private void memory(Memory m) {
        String at = "linux.resources.memory";
        m.kernel().filter(v -> v != 0).ifPresent(v -> write("memory", "memory.kmem.limit_in_bytes", Long.toString(v), at + ".kernel"));
        m.kernelTCP().filter(v -> v != 0).ifPresent(v ->
                write("memory", "memory.kmem.tcp.limit_in_bytes", Long.toString(v), at + ".kernelTCP"));
        Optional<Long> limit = m.limit().filter(v -> v != 0);
        Optional<Long> swap = m.swap().filter(v -> v != 0);
        if (limit.isPresent() && swap.isPresent() && swap.get() != -1
                && (limit.get() == -1 || swap.get() < limit.get())) {
            throw new CgroupException(at + ".swap: " + swap.get() + " is below the memory limit "
                    + (limit.get() == -1 ? "(unlimited)" : limit.get()) + "; swap is memory+swap, so it must be at least the limit");
        }
        if (swap.isPresent()) {
            // memory.limit_in_bytes may never exceed memory.memsw.limit_in_bytes, so raising
            // memsw goes first and lowering it goes last.
            Path memsw = dir("memory", at + ".swap").resolve("memory.memsw.limit_in_bytes");
            long current = CgroupFiles.readLongIfExists(memsw).orElse(-1L);
            boolean raising = swap.get() == -1 || current == -1 || Long.compareUnsigned(swap.get(), current) >= 0;
            if (raising) {
                write("memory", "memory.memsw.limit_in_bytes", Long.toString(swap.get()), at + ".swap");
                limit.ifPresent(v -> write("memory", "memory.limit_in_bytes", Long.toString(v), at + ".limit"));
            } else {
                limit.ifPresent(v -> write("memory", "memory.limit_in_bytes", Long.toString(v), at + ".limit"));
                write("memory", "memory.memsw.limit_in_bytes", Long.toString(swap.get()), at + ".swap");
            }
        } else {
            limit.ifPresent(v -> write("memory", "memory.limit_in_bytes", Long.toString(v), at + ".limit"));
        }
        m.reservation().filter(v -> v != 0).ifPresent(v ->
                write("memory", "memory.soft_limit_in_bytes", Long.toString(v), at + ".reservation"));
        // Older engines write swappiness -1 (2^64-1 unsigned) for "the kernel's default".
        m.swappiness().filter(v -> v != -1).ifPresent(v -> {
            if (v < 0 || v > 100) {
                throw new CgroupException(at + ".swappiness: expected 0 to 100, found " + Long.toUnsignedString(v));
            }
            write("memory", "memory.swappiness", Long.toString(v), at + ".swappiness");
        });
        m.disableOOMKiller().ifPresent(v -> write("memory", "memory.oom_control", v ? "1" : "0", at + ".disableOOMKiller"));
        m.useHierarchy().ifPresent(v -> write("memory", "memory.use_hierarchy", v ? "1" : "0", at + ".useHierarchy"));
    }

    private void blockIO(BlockIO b) {
        String at = "linux.resources.blockIO";
        b.weight().filter(v -> v != 0).ifPresent(v -> write("blkio", weightFile(at + ".weight", "weight"), v.toString(), at + ".weight"));
        b.leafWeight().filter(v -> v != 0).ifPresent(v -> write("blkio", "blkio.leaf_weight", v.toString(), at + ".leafWeight"));
        for (int i = 0; i < b.weightDevice().size(); i++) {
            WeightDevice w = b.weightDevice().get(i);
            String wat = at + ".weightDevice[" + i + "]";
            w.weight().ifPresent(v -> write("blkio", weightFile(wat + ".weight", "weight_device"),
                    w.major() + ":" + w.minor() + " " + v, wat + ".weight"));
            w.leafWeight().ifPresent(v -> write("blkio", "blkio.leaf_weight_device",
                    w.major() + ":" + w.minor() + " " + v, wat + ".leafWeight"));
        }
        throttle(b.throttleReadBpsDevice(), "blkio.throttle.read_bps_device", at + ".throttleReadBpsDevice");
        throttle(b.throttleWriteBpsDevice(), "blkio.throttle.write_bps_device", at + ".throttleWriteBpsDevice");
        throttle(b.throttleReadIOPSDevice(), "blkio.throttle.read_iops_device", at + ".throttleReadIOPSDevice");
        throttle(b.throttleWriteIOPSDevice(), "blkio.throttle.write_iops_device", at + ".throttleWriteIOPSDevice");
    }

    /** CFQ had blkio.weight; with BFQ (kernels since 5.0) the file is blkio.bfq.weight. */
    private String weightFile(String setting, String kind) {
        Path d = dir("blkio", setting);
        if (Files.exists(d.resolve("blkio." + kind))) {
            return "blkio." + kind;
        }
        if (Files.exists(d.resolve("blkio.bfq." + kind))) {
            return "blkio.bfq." + kind;
        }
        throw new CgroupException(setting + ": neither blkio." + kind + " nor blkio.bfq." + kind + " exists in " + d
                + " (no proportional-weight I/O scheduler on this kernel)");
    }

    private void throttle(List<ThrottleDevice> list, String file, String at) {
        for (int i = 0; i < list.size(); i++) {
            ThrottleDevice t = list.get(i);
            write("blkio", file, t.major() + ":" + t.minor() + " " + Long.toUnsignedString(t.rate()), at + "[" + i + "]");
        }
    }

    private void network(Network n) {
        String at = "linux.resources.network";
        n.classID().ifPresent(v -> write("net_cls", "net_cls.classid", Long.toString(v), at + ".classID"));
        for (int i = 0; i < n.priorities().size(); i++) {
            InterfacePriority p = n.priorities().get(i);
            write("net_prio", "net_prio.ifpriomap", p.name() + " " + p.priority(), at + ".priorities[" + i + "]");
        }
    }

    @Override
    public CgroupStats stats() {
        Optional<CgroupStats.Cpu> cpu = Optional.empty();
        Path acct = byController.get("cpuacct");
        if (acct != null) {
            long total = CgroupFiles.readLong(acct.resolve("cpuacct.usage"), "cpu stats");
            List<Long> percpu = new ArrayList<>();
            for (String s : CgroupFiles.read(acct.resolve("cpuacct.usage_percpu"), "cpu stats").split("\\s+")) {
                if (!s.isEmpty()) {
                    percpu.add(Long.parseUnsignedLong(s));
                }
            }
            // cpuacct.stat counts USER_HZ ticks, which is 100 per second on every Linux ABI.
            Map<String, Long> st = CgroupFiles.keyValues(acct.resolve("cpuacct.stat"), "cpu stats");
            long tick = 1_000_000_000L / 100;
            Map<String, Long> throttle = byController.containsKey("cpu")
                    ? CgroupFiles.keyValues(byController.get("cpu").resolve("cpu.stat"), "cpu stats") : Map.of();
            cpu = Optional.of(new CgroupStats.Cpu(total, List.copyOf(percpu),
                    st.getOrDefault("system", 0L) * tick, st.getOrDefault("user", 0L) * tick,
                    throttle.getOrDefault("nr_periods", 0L), throttle.getOrDefault("nr_throttled", 0L),
                    throttle.getOrDefault("throttled_time", 0L)));
        }
        Optional<CgroupStats.Memory> memory = Optional.empty();
        Path mem = byController.get("memory");
        if (mem != null) {
            Map<String, Long> st = CgroupFiles.keyValues(mem.resolve("memory.stat"), "memory stats");
            long swapUsage = CgroupFiles.readLongIfExists(mem.resolve("memory.memsw.usage_in_bytes")).orElse(0L);
            long swapLimit = CgroupFiles.readLongIfExists(mem.resolve("memory.memsw.limit_in_bytes")).orElse(0L);
            memory = Optional.of(new CgroupStats.Memory(
                    CgroupFiles.readLong(mem.resolve("memory.usage_in_bytes"), "memory stats"),
                    CgroupFiles.readLong(mem.resolve("memory.max_usage_in_bytes"), "memory stats"),
                    CgroupFiles.readLong(mem.resolve("memory.limit_in_bytes"), "memory stats"),
                    CgroupFiles.readLong(mem.resolve("memory.failcnt"), "memory stats"),
                    st.getOrDefault("total_cache", st.getOrDefault("cache", 0L)),
                    swapUsage, swapLimit, Collections.unmodifiableMap(st)));
        }
        Optional<CgroupStats.Pids> pids = Optional.empty();
        Path p = byController.get("pids");
        if (p != null) {
            long max = CgroupFiles.readLong(p.resolve("pids.max"), "pids stats");
            pids = Optional.of(new CgroupStats.Pids(CgroupFiles.readLong(p.resolve("pids.current"), "pids stats"),
                    max == -1 ? 0 : max));
        }
        Optional<CgroupStats.Blkio> blkio = Optional.empty();
        Path io = byController.get("blkio");
        if (io != null) {
            blkio = Optional.of(new CgroupStats.Blkio(
                    blkioEntries(io.resolve("blkio.throttle.io_service_bytes_recursive")),
                    blkioEntries(io.resolve("blkio.throttle.io_serviced_recursive"))));
        }
        return new CgroupStats(cpu, memory, pids, blkio);
    }

    /** Lines "8:0 Read 4096"; the closing "Total N" line is a sum, not a device. */
    static List<CgroupStats.BlkioEntry> blkioEntries(Path file) {
        List<CgroupStats.BlkioEntry> out = new ArrayList<>();
        for (String line : CgroupFiles.read(file, "blkio stats").split("\n")) {
            String[] f = line.strip().split("\\s+");
            if (f.length != 3 || !f[0].contains(":")) {
                continue;
            }
            String[] mm = f[0].split(":");
            out.add(new CgroupStats.BlkioEntry(Long.parseLong(mm[0]), Long.parseLong(mm[1]), f[1], Long.parseUnsignedLong(f[2])));
        }
        return List.copyOf(out);
    }

    @Override
    public void freeze() {
        Path state = dir("freezer", "pause").resolve("freezer.state");
        long deadline = System.nanoTime() + FREEZE_TIMEOUT_MS * 1_000_000;
        long sleep = 1;
        while (true) {
            // Writing FROZEN again is how a stuck FREEZING is retried: the kernel re-walks the
            // tasks on each write, catching ones that forked or were in an uninterruptible wait.
            CgroupFiles.write(state, "FROZEN", "pause");
            if (CgroupFiles.read(state, "pause").equals("FROZEN")) {
                return;
            }
            if (System.nanoTime() > deadline) {
                CgroupFiles.write(state, "THAWED", "pause (undoing a freeze that did not finish)");
                throw new CgroupException("pause: " + state + " stayed FREEZING for " + FREEZE_TIMEOUT_MS
                        + " ms (a task would not stop); thawed it again");
            }
            CgroupDirs.pause(sleep, "freezing " + state);
            sleep = Math.min(sleep * 2, 10);
        }
    }

    @Override
    public void thaw() {
        Path state = dir("freezer", "resume").resolve("freezer.state");
        CgroupFiles.write(state, "THAWED", "resume");
        String now = CgroupFiles.read(state, "resume");
        if (!now.equals("THAWED")) {
            throw new CgroupException("resume: wrote THAWED to " + state + " but it reads " + now
                    + " (a parent cgroup is frozen)");
        }
    }

    @Override
    public FreezerState freezerState() {
        Path state = dir("freezer", "state").resolve("freezer.state");
        String s = CgroupFiles.read(state, "state");
        try {
            return FreezerState.valueOf(s);
        } catch (IllegalArgumentException e) {
            throw new CgroupException(state + ": expected THAWED, FREEZING or FROZEN, found \"" + s + "\"");
        }
    }

    @Override
    public List<Long> pids() {
        // Every hierarchy holds the same tasks; freezer is the one pause and kill --all act on.
        Path d = byController.getOrDefault("freezer", byController.getOrDefault("pids", dirs.values().iterator().next()));
        List<Long> out = new ArrayList<>();
        CgroupDirs.collectPids(d, out);
        return List.copyOf(out);
    }

    @Override
    public void destroy() {
        CgroupException first = null;
        for (Path d : dirs.values()) {
            try {
                CgroupDirs.removeTree(d, DESTROY_TIMEOUT_MS);
            } catch (CgroupException e) {
                if (first == null) {
                    first = e;
                } else {
                    first.addSuppressed(e);
                }
            }
        }
        if (first != null) {
            throw first;
        }
    }
}
