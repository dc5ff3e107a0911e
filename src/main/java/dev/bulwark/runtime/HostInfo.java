package dev.bulwark.runtime;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;

/**
 * What the planner needs to know about the host. Read lazily from /proc, so a plan that needs no
 * cgroup mount never reads mountinfo; tests pass a fixed one.
 */
public record HostInfo(
        int capLastCap, long capBounding, Supplier<List<CgroupMount>> cgroupMounts, Supplier<List<String>> ownCgroups,
        Supplier<Landlock.Abi> landlock) {

    /** A host with no Landlock (tests that do not plan one). */
    public HostInfo(int capLastCap, long capBounding, Supplier<List<CgroupMount>> cgroupMounts, Supplier<List<String>> ownCgroups) {
        this(capLastCap, capBounding, cgroupMounts, ownCgroups, () -> new Landlock.Abi(0, "not probed"));
    }

    /** The kernel's Landlock ABI, probed on first use. */
    public Landlock.Abi landlockAbi() {
        return landlock.get();
    }

    /** A cgroup or cgroup2 mount of the host: where, which type and its super options. */
    public record CgroupMount(String mountPoint, String fsType, String superOptions) {}

    public static HostInfo read() {
        int last;
        try {
            last = Integer.parseInt(Procfs.read(Path.of("/proc/sys/kernel/cap_last_cap")).trim());
        } catch (IOException | NumberFormatException e) {
            last = Capabilities.NAMES.size() - 1;
        }
        long bounding = -1L;
        try {
            for (String line : Procfs.read(Path.of("/proc/self/status")).split("\n")) {
                if (line.startsWith("CapBnd:")) {
                    bounding = Long.parseUnsignedLong(line.substring(7).strip(), 16);
                }
            }
        } catch (IOException | NumberFormatException e) {
            bounding = -1L;
        }
        return new HostInfo(last, bounding, HostInfo::readCgroupMounts, HostInfo::readOwnCgroups, Landlock::probe);
    }

    static List<CgroupMount> readCgroupMounts() {
        List<CgroupMount> out = new ArrayList<>();
        try {
            for (String line : Procfs.read(Path.of("/proc/self/mountinfo")).split("\n")) {
                // id parent major:minor root mountpoint options [optional...] - fstype source superoptions
                String[] f = line.split(" ");
                int dash = java.util.Arrays.asList(f).indexOf("-");
                if (dash < 0 || dash + 3 >= f.length) {
                    continue;
                }
                String type = f[dash + 1];
                if ((type.equals("cgroup") || type.equals("cgroup2")) && f[4].startsWith("/sys/fs/cgroup")) {
                    out.add(new CgroupMount(unescape(f[4]), type, f[dash + 3]));
                }
            }
        } catch (IOException e) {
            throw new RuntimeFailure("read /proc/self/mountinfo: " + e.getMessage(), e);
        }
        return out;
    }

    /** Lines of /proc/self/cgroup: "hierarchy-id:controllers:path". */
    static List<String> readOwnCgroups() {
        try {
            return java.util.Arrays.asList(Procfs.read(Path.of("/proc/self/cgroup")).split("\n"));
        } catch (IOException e) {
            throw new RuntimeFailure("read /proc/self/cgroup: " + e.getMessage(), e);
        }
    }

    private static String unescape(String s) {
        return s.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n").replace("\\134", "\\");
    }
}
