package dev.bulwark.cgroup;

import dev.bulwark.spec.Spec.BlockIO;
import dev.bulwark.spec.Spec.Cpu;
import dev.bulwark.spec.Spec.HugepageLimit;
import dev.bulwark.spec.Spec.Memory;
import dev.bulwark.spec.Spec.Rdma;
import dev.bulwark.spec.Spec.Resources;
import dev.bulwark.spec.Spec.ThrottleDevice;
import dev.bulwark.spec.Spec.WeightDevice;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/** cgroup v2: one directory; controllers are enabled from the parents' cgroup.subtree_control. */
final class V2Manager implements CgroupManager {
    private static final long FREEZE_TIMEOUT_MS = 2000;
    private static final long DESTROY_TIMEOUT_MS = 1000;
    /** Files a unified entry may not write: they move or kill tasks or change the tree, they set no limit. */
    private static final Set<String> NOT_LIMITS = Set.of(
            "cgroup.procs", "cgroup.threads", "cgroup.kill", "cgroup.subtree_control", "cgroup.type");

    private final Path mount;
    private final Path dir;
    private final Map<String, Path> dirs;

    V2Manager(Path mount, Map<String, Path> dirs) {
        Path d = dirs.get("");
        if (d == null || dirs.size() != 1) {
            throw new CgroupException("a cgroup v2 container has one directory, keyed \"\"; got " + dirs.keySet());
        }
        if (!d.startsWith(mount) || d.equals(mount)) {
            throw new CgroupException("cgroup " + d + " is not below the cgroup2 mount " + mount);
        }
        this.mount = mount;
        this.dir = d;
        this.dirs = Collections.unmodifiableMap(new LinkedHashMap<>(dirs));
    }

    @Override
    public Map<String, Path> dirs() {
        return dirs;
    }

    @Override
    public List<Path> procsFiles() {
        return List.of(dir.resolve("cgroup.procs"));
    }

    @Override
    public Optional<DeviceProgram> create(Resources resources) {
        List<Path> created = new ArrayList<>();
        try {
            // Controllers are handed down level by level: each parent must list a controller in
            // cgroup.subtree_control for its child to have the files. The leaf's own
            // subtree_control is left alone ("no internal processes": a cgroup with tasks
            // cannot enable controllers for children).
            Path cur = mount;
            for (Path component : mount.relativize(dir)) {
                enableControllers(cur);
                cur = cur.resolve(component.toString());
                CgroupDirs.mkdirs(cur, created, d -> {});
            }
            return apply(resources);
        } catch (RuntimeException e) {
            CgroupDirs.rollback(created, e);
            throw e;
        }
    }

    /**
     * Enables in {@code parent} every controller it has available, as runc does, so stats and
     * later updates find their files. A controller the kernel will not enable here (for example
     * cpu while a realtime task sits in the parent) is left off: a limit that needs it fails
     * later with the missing file named.
     */
    static void enableControllers(Path parent) {
        Path available = parent.resolve("cgroup.controllers");
        Path control = parent.resolve("cgroup.subtree_control");
        Set<String> missing = new LinkedHashSet<>(List.of(CgroupFiles.read(available, "").split("\\s+")));
        missing.removeAll(List.of(CgroupFiles.read(control, "").split("\\s+")));
        missing.remove("");
        if (missing.isEmpty()) {
            return;
        }
        try {
            CgroupFiles.write(control, "+" + String.join(" +", missing), "enabling controllers");
        } catch (CgroupException all) {
            for (String c : missing) {
                try {
                    CgroupFiles.write(control, "+" + c, "enabling controller " + c);
                } catch (CgroupException one) {
                    // left off; see above
                }
            }
        }
    }

    @Override
    public Optional<DeviceProgram> update(Resources resources) {
        return apply(resources);
    }

    private void write(String file, String value, String setting) {
        CgroupFiles.write(dir.resolve(file), value, setting);
    }

    Optional<DeviceProgram> apply(Resources r) {
        r.cpu().ifPresent(this::cpu);
        r.memory().ifPresent(this::memory);
        r.pidsLimit().filter(l -> l != 0).ifPresent(l -> write("pids.max", l > 0 ? Long.toString(l) : "max", "linux.resources.pids.limit"));
        r.blockIO().ifPresent(this::blockIO);
        for (int i = 0; i < r.hugepageLimits().size(); i++) {
            HugepageLimit h = r.hugepageLimits().get(i);
            String at = "linux.resources.hugepageLimits[" + i + "]";
            write("hugetlb." + Convert.pageSize(at + ".pageSize", h.pageSize()) + ".max",
                    Long.toUnsignedString(h.limit()), at + ".limit");
        }
        r.network().ifPresent(n -> {
            throw new CgroupException("linux.resources.network: net_cls and net_prio do not exist on cgroup v2"
                    + " (classify traffic by cgroup with BPF or nftables instead)");
        });
        for (Map.Entry<String, Rdma> e : r.rdma().entrySet()) {
            write("rdma.max", V1Manager.rdmaLine(e.getKey(), e.getValue()), "linux.resources.rdma." + e.getKey());
        }
        // unified goes last so its exact file values win over the converted ones, as in runc.
        for (Map.Entry<String, String> e : r.unified().entrySet()) {
            String at = "linux.resources.unified." + e.getKey();
            String f = e.getKey();
            if (f.isEmpty() || f.contains("/") || f.equals(".") || f.equals("..") || !f.contains(".")) {
                throw new CgroupException(at + ": expected a cgroup interface file name such as \"memory.high\"");
            }
            if (NOT_LIMITS.contains(f)) {
                throw new CgroupException(at + ": " + f + " is not a resource setting");
            }
            write(f, e.getValue(), at);
        }
        if (r.devices().isEmpty()) {
            return Optional.empty();
        }
        return Optional.of(DeviceRules.of(r.devices()).v2Program(dir));
    }

    private void cpu(Cpu c) {
        String at = "linux.resources.cpu";
        if (c.realtimeRuntime().filter(v -> v != 0).isPresent() || c.realtimePeriod().filter(v -> v != 0).isPresent()) {
            throw new CgroupException(at + ".realtimeRuntime/realtimePeriod: cgroup v2 has no realtime CPU"
                    + " bandwidth controller (cpu.rt_* exist only on v1)");
        }
        if (!c.cpus().isEmpty()) {
            write("cpuset.cpus", c.cpus(), at + ".cpus");
        }
        if (!c.mems().isEmpty()) {
            write("cpuset.mems", c.mems(), at + ".mems");
        }
        c.shares().filter(v -> v != 0).ifPresent(v -> {
            if (v < 2 || v > 262144) {
                throw new CgroupException(at + ".shares: expected 2 to 262144, found " + Long.toUnsignedString(v));
            }
            write("cpu.weight", Long.toString(Convert.sharesToWeight(v)), at + ".shares");
        });
        Optional<Long> quota = c.quota().filter(v -> v != 0);
        Optional<Long> period = c.period().filter(v -> v != 0);
        if (quota.isPresent() || period.isPresent()) {
            // cpu.max is "$QUOTA $PERIOD"; written with one field the kernel keeps the period,
            // so a period alone needs the current quota.
            String q = quota.isPresent() ? Convert.maxOr(quota.get())
                    : CgroupFiles.read(dir.resolve("cpu.max"), at + ".period").split("\\s+")[0];
            write("cpu.max", q + period.map(p -> " " + Long.toUnsignedString(p)).orElse(""),
                    at + (quota.isPresent() ? ".quota" : ".period"));
        }
        c.burst().ifPresent(v -> write("cpu.max.burst", Long.toUnsignedString(v), at + ".burst"));
        c.idle().ifPresent(v -> write("cpu.idle", Long.toString(v), at + ".idle"));
    }

    private void memory(Memory m) {
        String at = "linux.resources.memory";
        if (m.kernel().filter(v -> v != 0).isPresent() || m.kernelTCP().filter(v -> v != 0).isPresent()) {
            throw new CgroupException(at + ".kernel/kernelTCP: cgroup v2 has no separate kernel memory limit"
                    + " (kernel memory counts against memory.max)");
        }
        if (m.swappiness().filter(v -> v != -1).isPresent()) {
            throw new CgroupException(at + ".swappiness: cgroup v2 has no per-cgroup swappiness");
        }
        if (m.disableOOMKiller().orElse(false)) {
            throw new CgroupException(at + ".disableOOMKiller: cgroup v2 cannot switch the OOM killer off for a cgroup");
        }
        if (!m.useHierarchy().orElse(true)) {
            throw new CgroupException(at + ".useHierarchy: cgroup v2 is always hierarchical; false cannot be honoured");
        }
        Optional<Long> limit = m.limit().filter(v -> v != 0);
        if (limit.isPresent() && limit.get() > 0 && m.checkBeforeUpdate().orElse(false)) {
            long current = CgroupFiles.readLong(dir.resolve("memory.current"), at + ".checkBeforeUpdate");
            if (Long.compareUnsigned(current, limit.get()) > 0) {
                throw new CgroupException(at + ".limit: " + limit.get() + " is below the current usage " + current
                        + " (checkBeforeUpdate is set)");
            }
        }
        Optional<Long> swap = m.swap().filter(v -> v != 0);
        if (swap.isPresent()) {
            long memLimit = limit.orElseGet(() -> CgroupFiles.readLong(dir.resolve("memory.max"), at + ".swap"));
            long v2 = Convert.swapToV2(swap.get(), memLimit);
            write("memory.swap.max", Convert.maxOr(v2), at + ".swap");
        }
        limit.ifPresent(v -> write("memory.max", Convert.maxOr(v), at + ".limit"));
        m.reservation().filter(v -> v != 0).ifPresent(v -> write("memory.low", Convert.maxOr(v), at + ".reservation"));
    }

    private void blockIO(BlockIO b) {
        String at = "linux.resources.blockIO";
        if (b.leafWeight().filter(v -> v != 0).isPresent()) {
            throw new CgroupException(at + ".leafWeight: cgroup v2 has no leaf weights");
        }
        // With BFQ the weight lives in io.bfq.weight on the blkio scale (1-1000); otherwise
        // io.weight on its own scale (1-10000), converted.
        boolean bfq = Files.exists(dir.resolve("io.bfq.weight"));
        b.weight().filter(v -> v != 0).ifPresent(v -> {
            if (bfq) {
                write("io.bfq.weight", v.toString(), at + ".weight");
            } else {
                write("io.weight", "default " + Convert.blkioWeightToIoWeight(v), at + ".weight");
            }
        });
        for (int i = 0; i < b.weightDevice().size(); i++) {
            WeightDevice w = b.weightDevice().get(i);
            String wat = at + ".weightDevice[" + i + "]";
            if (w.leafWeight().isPresent()) {
                throw new CgroupException(wat + ".leafWeight: cgroup v2 has no leaf weights");
            }
            w.weight().ifPresent(v -> write(bfq ? "io.bfq.weight" : "io.weight",
                    w.major() + ":" + w.minor() + " " + (bfq ? v : Convert.blkioWeightToIoWeight(v)), wat + ".weight"));
        }
        throttle(b.throttleReadBpsDevice(), "rbps", at + ".throttleReadBpsDevice");
        throttle(b.throttleWriteBpsDevice(), "wbps", at + ".throttleWriteBpsDevice");
        throttle(b.throttleReadIOPSDevice(), "riops", at + ".throttleReadIOPSDevice");
        throttle(b.throttleWriteIOPSDevice(), "wiops", at + ".throttleWriteIOPSDevice");
    }

    private void throttle(List<ThrottleDevice> list, String key, String at) {
        for (int i = 0; i < list.size(); i++) {
            ThrottleDevice t = list.get(i);
            // On v1 a rate of 0 removes the throttle; v2 spells that "max".
            String rate = t.rate() == 0 ? "max" : Long.toUnsignedString(t.rate());
            write("io.max", t.major() + ":" + t.minor() + " " + key + "=" + rate, at + "[" + i + "]");
        }
    }

    @Override
    public CgroupStats stats() {
        Optional<CgroupStats.Cpu> cpu = Optional.empty();
        // cpu.stat is there even without the cpu controller (usage only); throttling needs it.
        Path cpuStat = dir.resolve("cpu.stat");
        if (Files.exists(cpuStat)) {
            Map<String, Long> st = CgroupFiles.keyValues(cpuStat, "cpu stats");
            cpu = Optional.of(new CgroupStats.Cpu(st.getOrDefault("usage_usec", 0L) * 1000, List.of(),
                    st.getOrDefault("system_usec", 0L) * 1000, st.getOrDefault("user_usec", 0L) * 1000,
                    st.getOrDefault("nr_periods", 0L), st.getOrDefault("nr_throttled", 0L),
                    st.getOrDefault("throttled_usec", 0L) * 1000));
        }
        Optional<CgroupStats.Memory> memory = Optional.empty();
        if (Files.exists(dir.resolve("memory.current"))) {
            Map<String, Long> st = CgroupFiles.keyValues(dir.resolve("memory.stat"), "memory stats");
            Map<String, Long> events = CgroupFiles.keyValues(dir.resolve("memory.events"), "memory stats");
            memory = Optional.of(new CgroupStats.Memory(
                    CgroupFiles.readLong(dir.resolve("memory.current"), "memory stats"),
                    CgroupFiles.readLongIfExists(dir.resolve("memory.peak")).orElse(0L),
                    CgroupFiles.readLong(dir.resolve("memory.max"), "memory stats"),
                    events.getOrDefault("max", 0L),
                    st.getOrDefault("file", 0L),
                    CgroupFiles.readLongIfExists(dir.resolve("memory.swap.current")).orElse(0L),
                    CgroupFiles.readLongIfExists(dir.resolve("memory.swap.max")).orElse(0L),
                    Collections.unmodifiableMap(st)));
        }
        Optional<CgroupStats.Pids> pids = Optional.empty();
        if (Files.exists(dir.resolve("pids.current"))) {
            long max = CgroupFiles.readLong(dir.resolve("pids.max"), "pids stats");
            pids = Optional.of(new CgroupStats.Pids(CgroupFiles.readLong(dir.resolve("pids.current"), "pids stats"),
                    max == -1 ? 0 : max));
        }
        Optional<CgroupStats.Blkio> blkio = Optional.empty();
        if (Files.exists(dir.resolve("io.stat"))) {
            blkio = Optional.of(ioStat(CgroupFiles.read(dir.resolve("io.stat"), "io stats")));
        }
        return new CgroupStats(cpu, memory, pids, blkio);
    }

    /** io.stat lines "8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0", in runc's v1-shaped entries. */
    static CgroupStats.Blkio ioStat(String text) {
        List<CgroupStats.BlkioEntry> bytes = new ArrayList<>();
        List<CgroupStats.BlkioEntry> ios = new ArrayList<>();
        for (String line : text.split("\n")) {
            String[] f = line.strip().split("\\s+");
            if (f.length < 2 || !f[0].contains(":")) {
                continue;
            }
            String[] mm = f[0].split(":");
            long major = Long.parseLong(mm[0]);
            long minor = Long.parseLong(mm[1]);
            for (int i = 1; i < f.length; i++) {
                String[] kv = f[i].split("=", 2);
                if (kv.length != 2) {
                    continue;
                }
                long v = Long.parseUnsignedLong(kv[1]);
                switch (kv[0]) {
                    case "rbytes" -> bytes.add(new CgroupStats.BlkioEntry(major, minor, "Read", v));
                    case "wbytes" -> bytes.add(new CgroupStats.BlkioEntry(major, minor, "Write", v));
                    case "rios" -> ios.add(new CgroupStats.BlkioEntry(major, minor, "Read", v));
                    case "wios" -> ios.add(new CgroupStats.BlkioEntry(major, minor, "Write", v));
                    default -> { }
                }
            }
        }
        return new CgroupStats.Blkio(List.copyOf(bytes), List.copyOf(ios));
    }

    @Override
    public void freeze() {
        CgroupFiles.write(dir.resolve("cgroup.freeze"), "1", "pause");
        long deadline = System.nanoTime() + FREEZE_TIMEOUT_MS * 1_000_000;
        long sleep = 1;
        // cgroup.freeze only asks; cgroup.events says "frozen 1" once every task has stopped.
        while (frozen() != 1) {
            if (System.nanoTime() > deadline) {
                CgroupFiles.write(dir.resolve("cgroup.freeze"), "0", "pause (undoing a freeze that did not finish)");
                throw new CgroupException("pause: " + dir.resolve("cgroup.events") + " did not report frozen within "
                        + FREEZE_TIMEOUT_MS + " ms; thawed it again");
            }
            CgroupDirs.pause(sleep, "freezing " + dir);
            sleep = Math.min(sleep * 2, 10);
        }
    }

    private long frozen() {
        Long f = CgroupFiles.keyValues(dir.resolve("cgroup.events"), "freezer state").get("frozen");
        if (f == null) {
            throw new CgroupException(dir.resolve("cgroup.events") + ": has no \"frozen\" line (kernel before 5.2 has no v2 freezer)");
        }
        return f;
    }

    @Override
    public void thaw() {
        CgroupFiles.write(dir.resolve("cgroup.freeze"), "0", "resume");
        long deadline = System.nanoTime() + FREEZE_TIMEOUT_MS * 1_000_000;
        while (frozen() != 0) {
            if (System.nanoTime() > deadline) {
                throw new CgroupException("resume: " + dir + " still reports frozen (a parent cgroup is frozen)");
            }
            CgroupDirs.pause(1, "thawing " + dir);
        }
    }

    @Override
    public FreezerState freezerState() {
        boolean asked = CgroupFiles.read(dir.resolve("cgroup.freeze"), "state").equals("1");
        long f = frozen();
        if (f == 1) {
            return FreezerState.FROZEN;
        }
        return asked ? FreezerState.FREEZING : FreezerState.THAWED;
    }

    @Override
    public List<Long> pids() {
        List<Long> out = new ArrayList<>();
        CgroupDirs.collectPids(dir, out);
        return List.copyOf(out);
    }

    @Override
    public void destroy() {
        CgroupDirs.removeTree(dir, DESTROY_TIMEOUT_MS);
    }
}
