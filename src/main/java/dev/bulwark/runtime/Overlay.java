package dev.bulwark.runtime;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The layers of an overlayfs mount (Docker's overlay2 rootfs), read from /proc/self/mountinfo.
 * overlayfs cannot be ID-mapped as a whole (the kernel gives EINVAL), but its layers can: a system
 * container's root is then a new overlay of the ID-mapped layers (the stage's IDMAP_OVERLAY).
 */
record Overlay(List<String> lowers, String upper, String work) {

    /** The overlay mounted last on mountPoint (symlinks resolved), if the top mount there is one. */
    static Optional<Overlay> at(Path mountPoint) {
        String info;
        try {
            mountPoint = mountPoint.toRealPath();
            info = Procfs.read(Path.of("/proc/self/mountinfo"));
        } catch (IOException e) {
            return Optional.empty();
        }
        Optional<Overlay> top = Optional.empty();
        for (String line : info.split("\n")) {
            // id parent major:minor root mountpoint options [optional...] - fstype source superoptions
            String[] f = line.split(" ");
            int dash = java.util.Arrays.asList(f).indexOf("-");
            if (dash < 0 || dash + 3 >= f.length || !unescape(f[4]).equals(mountPoint.toString())) {
                continue;
            }
            top = f[dash + 1].equals("overlay") ? Optional.of(parse(unescape(f[dash + 3]))) : Optional.empty();
        }
        return top;
    }

    /** Super options such as "rw,lowerdir=/a:/b,upperdir=/u,workdir=/w" (',' and ':' in paths are backslash-escaped). */
    static Overlay parse(String options) {
        List<String> lowers = new ArrayList<>();
        String upper = "";
        String work = "";
        for (String opt : split(options, ',')) {
            if (opt.startsWith("lowerdir=")) {
                for (String l : split(opt.substring(9), ':')) {
                    if (!l.isEmpty()) {
                        lowers.add(l);
                    }
                }
            } else if (opt.startsWith("upperdir=")) {
                upper = opt.substring(9);
            } else if (opt.startsWith("workdir=")) {
                work = opt.substring(8);
            }
        }
        if (lowers.isEmpty()) {
            throw new RuntimeFailure("overlay mount options \"" + options + "\" name no lowerdir");
        }
        // Docker's overlay2 gives lower layers relative to its root (l/ID) when the list is long:
        // that root is the upper layer's grandparent (overlay2/ID/diff).
        List<String> abs = new ArrayList<>();
        for (String l : lowers) {
            if (l.startsWith("/")) {
                abs.add(l);
            } else if (!upper.isEmpty() && Path.of(upper).getParent() != null && Path.of(upper).getParent().getParent() != null) {
                abs.add(Path.of(upper).getParent().getParent().resolve(l).toString());
            } else {
                throw new RuntimeFailure("overlay lower layer \"" + l + "\" is relative and cannot be resolved");
            }
        }
        return new Overlay(List.copyOf(abs), upper, work);
    }

    private static List<String> split(String s, char sep) {
        List<String> out = new ArrayList<>();
        StringBuilder cur = new StringBuilder();
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '\\' && i + 1 < s.length()) {
                cur.append(s.charAt(++i));
            } else if (c == sep) {
                out.add(cur.toString());
                cur.setLength(0);
            } else {
                cur.append(c);
            }
        }
        out.add(cur.toString());
        return out;
    }

    private static String unescape(String s) {
        return s.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n").replace("\\134", "\\");
    }
}
