package dev.bulwark.agent;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import org.junit.jupiter.api.Test;

/** sysinfo and sched_getaffinity answers from rendered view files (no container). */
class LimitsTest {
    private static final String MEMINFO = """
            MemTotal:         204800 kB
            MemFree:          150000 kB
            MemAvailable:     180000 kB
            Buffers:             100 kB
            Shmem:                64 kB
            SwapTotal:             0 kB
            SwapFree:              0 kB
            """;

    @Test
    void sysinfoIsTheViewsMemoryAndUptimeInBytes() {
        ByteBuffer b = ByteBuffer.wrap(Limits.sysinfo(MEMINFO, "12.34 20.00\n", "0.50 1.00 2.00 3/456 789\n"))
                .order(ByteOrder.nativeOrder());
        assertEquals(Limits.SYSINFO_SIZE, b.capacity());
        assertEquals(12, b.getLong(0), "uptime, whole seconds");
        assertEquals(32768, b.getLong(8), "1-minute load 0.5 in 16.16 fixed point");
        assertEquals(131072, b.getLong(24));
        assertEquals(204800L * 1024, b.getLong(32), "totalram");
        assertEquals(150000L * 1024, b.getLong(40), "freeram");
        assertEquals(64L * 1024, b.getLong(48), "sharedram");
        assertEquals(100L * 1024, b.getLong(56), "bufferram");
        assertEquals(0, b.getLong(64));
        assertEquals(456, b.getShort(80), "procs");
        assertEquals(1, b.getInt(104), "mem_unit");
    }

    @Test
    void affinityIsTheViewsCpusTheCallerMayRunOn() {
        // 2 CPUs possible: the kernel's mask is one long, 8 bytes
        assertArrayEquals(new byte[] {1, 0, 0, 0, 0, 0, 0, 0}, Limits.affinity(List.of(0), List.of(0, 1), 128, 2).orElseThrow());
        // pinned (taskset) to CPU 1, the view's CPU 0 is not among them: what it may run on
        assertArrayEquals(new byte[] {2, 0, 0, 0, 0, 0, 0, 0}, Limits.affinity(List.of(0), List.of(1), 8, 2).orElseThrow());
        assertArrayEquals(new byte[] {3, 0, 0, 0, 0, 0, 0, 0}, Limits.affinity(List.of(0, 1), List.of(0, 1), 8, 2).orElseThrow());
        // 70 CPUs: two longs; CPU 65 is bit 1 of byte 8
        byte[] m = Limits.affinity(List.of(0, 65), List.of(0, 65, 66), 64, 70).orElseThrow();
        assertEquals(16, m.length, "retlen: the kernel's cpumask size, not the caller's len");
        assertEquals(1, m[0]);
        assertEquals(2, m[8]);
        // the kernel's EINVAL: fewer bits than nr_cpu_ids, or not a multiple of a long
        assertTrue(Limits.affinity(List.of(0), List.of(0), 8, 70).isEmpty());
        assertTrue(Limits.affinity(List.of(0), List.of(0), 12, 2).isEmpty());
    }
}
