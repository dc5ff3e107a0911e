package dev.bulwark.agent;

import java.util.ArrayList;
import java.util.List;

/**
 * The uid= and gid= options of a superblock remount, as a host gives them to a container.
 *
 * In a user namespace, mountinfo shows a filesystem's uid= and gid= options in the host's IDs
 * (tmpfs, devpts and proc print them with from_kuid_munged(&init_user_ns, ...)), while a mount
 * call takes them in the caller's namespace. So `mount -o remount,ro /x` of the container's own
 * tmpfs, which busybox and util-linux make by passing the options mountinfo shows back, fails
 * with EINVAL (uid=600000 is not an ID of a namespace that maps 0-65535): docs/system-containers.md
 * has the reproduction with plain unshare. Here an option whose value is not an ID of the caller's
 * namespace but is the host ID of one is given as that ID, which is what mountinfo would have
 * shown on a host. Any other value is left as it is, for the kernel to judge.
 */
final class RemountIds {
    private RemountIds() {}

    /** One line of /proc/PID/uid_map as read from the host's user namespace: inside, outside (host), count. */
    record Range(long inside, long outside, long count) {}

    static List<Range> parseMap(String map) {
        List<Range> out = new ArrayList<>();
        for (String line : map.split("\n")) {
            String[] f = line.trim().split("\\s+");
            if (f.length == 3) {
                out.add(new Range(Long.parseLong(f[0]), Long.parseLong(f[1]), Long.parseLong(f[2])));
            }
        }
        return out;
    }

    /** data with uid= and gid= given in the caller's namespace where they were the host's IDs. */
    static String translate(String data, List<Range> uids, List<Range> gids) {
        String[] opts = data.split(",", -1);
        boolean changed = false;
        for (int i = 0; i < opts.length; i++) {
            String o = opts[i];
            List<Range> map = o.startsWith("uid=") ? uids : o.startsWith("gid=") ? gids : null;
            if (map == null) {
                continue;
            }
            long v;
            try {
                v = Long.parseLong(o.substring(4));
            } catch (NumberFormatException e) {
                continue; // the kernel's to refuse
            }
            if (inside(map, v)) {
                continue;
            }
            for (Range r : map) {
                if (v >= r.outside() && v - r.outside() < r.count()) {
                    opts[i] = o.substring(0, 4) + (r.inside() + v - r.outside());
                    changed = true;
                    break;
                }
            }
        }
        return changed ? String.join(",", opts) : data;
    }

    private static boolean inside(List<Range> map, long v) {
        for (Range r : map) {
            if (v >= r.inside() && v - r.inside() < r.count()) {
                return true;
            }
        }
        return false;
    }
}
