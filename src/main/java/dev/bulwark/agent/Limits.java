package dev.bulwark.agent;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import java.util.Optional;
import java.util.TreeSet;

/**
 * What sysinfo(2) and sched_getaffinity(2) answer a system container's process, from the same
 * view of its limits as the agent's /proc files ({@link ProcView}): `free` (sysinfo) shows the
 * memory limit as /proc/meminfo does, `nproc` (sched_getaffinity) the CPUs /proc/cpuinfo and
 * cpu/online list. Pure: the rendered files in, the bytes the kernel would write out.
 */
final class Limits {
    /** sizeof(struct sysinfo) on x86_64 and aarch64. */
    static final int SYSINFO_SIZE = 112;
    private static final int SI_LOAD_SHIFT = 16;

    private Limits() {}

    /**
     * struct sysinfo: uptime from the view's /proc/uptime, memory and swap from its /proc/meminfo
     * (in bytes: mem_unit 1), the load averages and the number of processes from the host's
     * /proc/loadavg (not virtualised).
     */
    static byte[] sysinfo(String meminfo, String uptime, String loadavg) {
        ByteBuffer b = ByteBuffer.allocate(SYSINFO_SIZE).order(ByteOrder.nativeOrder());
        String[] up = uptime.strip().split("\\s+");
        String[] load = loadavg.strip().split("\\s+");
        b.putLong(0, (long) Double.parseDouble(up[0]));
        for (int i = 0; i < 3; i++) {
            b.putLong(8 + 8 * i, (long) (Double.parseDouble(load[i]) * (1 << SI_LOAD_SHIFT)));
        }
        b.putLong(32, kB(meminfo, "MemTotal") * 1024);
        b.putLong(40, kB(meminfo, "MemFree") * 1024);
        b.putLong(48, kB(meminfo, "Shmem") * 1024);
        b.putLong(56, kB(meminfo, "Buffers") * 1024);
        b.putLong(64, kB(meminfo, "SwapTotal") * 1024);
        b.putLong(72, kB(meminfo, "SwapFree") * 1024);
        String[] procs = load.length > 3 ? load[3].split("/") : new String[0];
        long n = procs.length == 2 ? Long.parseLong(procs[1]) : 0;
        b.putShort(80, (short) Math.min(n, 0xffff));
        b.putInt(104, 1); // mem_unit
        return b.array();
    }

    private static long kB(String meminfo, String key) {
        for (String l : meminfo.split("\n")) {
            if (l.startsWith(key + ":")) {
                return Long.parseLong(l.substring(key.length() + 1).replace("kB", "").strip());
            }
        }
        return 0;
    }

    /**
     * sched_getaffinity(0, len, mask)'s answer: the mask of the CPUs the view gives the caller
     * that it may also run on (all it may run on when none), retlen bytes of it (what the system
     * call returns), or the kernel's EINVAL for a len that is too small or not a multiple of a
     * long. nrCpuIds: the kernel's nr_cpu_ids (one more than the highest possible CPU).
     */
    static Optional<byte[]> affinity(List<Integer> view, List<Integer> allowed, long len, int nrCpuIds) {
        int size = (nrCpuIds + 63) / 64 * 8;
        if (len * 8 < nrCpuIds || (len & 7) != 0) {
            return Optional.empty();
        }
        TreeSet<Integer> cpus = new TreeSet<>(view);
        cpus.retainAll(allowed);
        if (cpus.isEmpty()) {
            cpus.addAll(allowed);
        }
        byte[] out = new byte[(int) Math.min(len, size)];
        for (int c : cpus) {
            if (c >= 0 && c / 8 < out.length) {
                out[c / 8] |= (byte) (1 << (c % 8));
            }
        }
        return Optional.of(out);
    }
}
