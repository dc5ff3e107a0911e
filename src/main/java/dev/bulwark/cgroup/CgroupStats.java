package dev.bulwark.cgroup;

import dev.bulwark.json.JsonBuilder;
import dev.bulwark.json.JsonValue;
import dev.bulwark.json.JsonValue.JsonNumber;
import dev.bulwark.json.JsonValue.JsonObject;
import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A container's resource usage, the data of {@code runc events --stats}. A section is empty when
 * its controller is not there (not mounted on v1, not enabled on v2). All counters are unsigned
 * 64-bit values held in a long; -1 is 2^64-1, which is how "no limit" reads.
 */
public record CgroupStats(
        Optional<Cpu> cpu, Optional<Memory> memory, Optional<Pids> pids, Optional<Blkio> blkio) {

    /** Times in nanoseconds. */
    public record Cpu(long total, List<Long> percpu, long kernel, long user,
                      long periods, long throttledPeriods, long throttledTime) {}

    /**
     * @param usage      current usage in bytes
     * @param maxUsage   peak usage (0 where the kernel has no peak file)
     * @param limit      memory limit
     * @param failcnt    times the limit was hit
     * @param cache      page cache bytes
     * @param swapUsage  on v1 memory+swap usage, on v2 swap usage (as runc reports them)
     * @param swapLimit  on v1 the memory+swap limit, on v2 the swap limit
     * @param raw        memory.stat
     */
    public record Memory(long usage, long maxUsage, long limit, long failcnt, long cache,
                         long swapUsage, long swapLimit, Map<String, Long> raw) {}

    /** limit is 0 when there is none, as runc reports it. */
    public record Pids(long current, long limit) {}

    public record BlkioEntry(long major, long minor, String op, long value) {}

    public record Blkio(List<BlkioEntry> ioServiceBytesRecursive, List<BlkioEntry> ioServicedRecursive) {}

    /** The JSON runc prints as the "data" of a stats event (libcontainer's types.Stats). */
    public JsonObject toJson() {
        JsonBuilder b = JsonBuilder.object();
        cpu.ifPresent(c -> {
            List<JsonValue> percpu = new ArrayList<>();
            c.percpu().forEach(v -> percpu.add(u64(v)));
            b.put("cpu", JsonBuilder.object()
                    .put("usage", JsonBuilder.object().put("total", u64(c.total()))
                            .put("percpu", JsonBuilder.array(percpu))
                            .put("kernel", u64(c.kernel())).put("user", u64(c.user())))
                    .put("throttling", JsonBuilder.object().put("periods", u64(c.periods()))
                            .put("throttledPeriods", u64(c.throttledPeriods()))
                            .put("throttledTime", u64(c.throttledTime()))));
        });
        memory.ifPresent(m -> {
            JsonBuilder raw = JsonBuilder.object();
            m.raw().forEach((k, v) -> raw.put(k, u64(v)));
            b.put("memory", JsonBuilder.object()
                    .put("cache", u64(m.cache()))
                    .put("usage", JsonBuilder.object().put("limit", u64(m.limit())).put("usage", u64(m.usage()))
                            .put("max", u64(m.maxUsage())).put("failcnt", u64(m.failcnt())))
                    .put("swap", JsonBuilder.object().put("limit", u64(m.swapLimit())).put("usage", u64(m.swapUsage())))
                    .put("raw", raw));
        });
        pids.ifPresent(p -> b.put("pids", JsonBuilder.object().put("current", u64(p.current())).put("limit", u64(p.limit()))));
        blkio.ifPresent(io -> b.put("blkio", JsonBuilder.object()
                .put("ioServiceBytesRecursive", entries(io.ioServiceBytesRecursive()))
                .put("ioServicedRecursive", entries(io.ioServicedRecursive()))));
        return b.build();
    }

    private static JsonValue entries(List<BlkioEntry> list) {
        List<JsonValue> out = new ArrayList<>();
        for (BlkioEntry e : list) {
            out.add(JsonBuilder.object().put("major", u64(e.major())).put("minor", u64(e.minor()))
                    .put("op", e.op()).put("value", u64(e.value())).build());
        }
        return JsonBuilder.array(out);
    }

    private static JsonNumber u64(long v) {
        return new JsonNumber(new BigDecimal(Long.toUnsignedString(v)));
    }
}
