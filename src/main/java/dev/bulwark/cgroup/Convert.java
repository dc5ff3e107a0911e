package dev.bulwark.cgroup;

import java.util.regex.Pattern;

/** Conversions between the runtime-spec's (cgroup v1 shaped) values and cgroup v2's, as runc does them. */
public final class Convert {
    private Convert() {}

    /**
     * cpu.shares [2, 262144] to cpu.weight [1, 10000], linearly, so the default 1024 shares
     * maps to weight 39 and the extremes to the extremes. 0 (not set) stays 0.
     */
    public static long sharesToWeight(long shares) {
        if (shares == 0) {
            return 0;
        }
        return 1 + ((shares - 2) * 9999) / 262142;
    }

    /** blkio.weight [10, 1000] to io.weight [1, 10000], linearly. 0 (not set) stays 0. */
    public static long blkioWeightToIoWeight(long weight) {
        if (weight == 0) {
            return 0;
        }
        return 1 + ((weight - 10) * 9999) / 990;
    }

    /**
     * The spec's memory.swap is memory+swap (the v1 memsw limit); v2's memory.swap.max is swap
     * alone. -1 is unlimited; the result -1 means "max".
     */
    public static long swapToV2(long memorySwap, long memoryLimit) {
        if (memorySwap == -1) {
            return -1;
        }
        if (memoryLimit <= 0) {
            throw new CgroupException("linux.resources.memory.swap: " + memorySwap
                    + " needs a memory limit too (swap is memory+swap in the spec); the memory limit is "
                    + (memoryLimit == -1 ? "unlimited" : "not set"));
        }
        if (memorySwap < memoryLimit) {
            throw new CgroupException("linux.resources.memory.swap: " + memorySwap
                    + " is below the memory limit " + memoryLimit + " (swap is memory+swap, so it must be at least the limit)");
        }
        return memorySwap - memoryLimit;
    }

    /** A value for a v2 file where "max" is the spelling of no limit. */
    static String maxOr(long v) {
        return v < 0 ? "max" : Long.toString(v);
    }

    private static final Pattern PAGE_SIZE = Pattern.compile("[1-9][0-9]*(KB|MB|GB)");

    /** hugetlb file names use the page size as the kernel prints it ("2MB", "1GB"). */
    static String pageSize(String setting, String pageSize) {
        if (!PAGE_SIZE.matcher(pageSize).matches()) {
            throw new CgroupException(setting + ": expected a page size such as \"2MB\" or \"1GB\", found \"" + pageSize + "\"");
        }
        return pageSize;
    }
}
