package dev.bulwark.audit;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/** /proc/self/mountinfo, as far as the audit needs it. */
record MountInfo(List<Entry> entries) {

    /** @param superOptions the per-superblock options; for cgroup v1 they name the controllers */
    record Entry(String mountPoint, String fsType, String source, List<String> superOptions) {}

    MountInfo {
        entries = List.copyOf(entries);
    }

    static MountInfo parse(String origin, String text) {
        List<Entry> out = new ArrayList<>();
        String[] lines = text.split("\n", -1);
        for (int i = 0; i < lines.length; i++) {
            String line = lines[i].strip();
            if (line.isEmpty()) {
                continue;
            }
            // id parent major:minor root mount-point options [optional fields...] - fstype source super-options
            String[] f = line.split(" ");
            int dash = -1;
            for (int j = 6; j < f.length; j++) {
                if (f[j].equals("-")) {
                    dash = j;
                    break;
                }
            }
            if (f.length < 7 || dash < 0 || dash + 2 >= f.length) {
                throw new AuditException(origin + ":" + (i + 1) + ": expected a mountinfo line "
                        + "(id parent dev root mountpoint options ... - fstype source options), found \""
                        + KernelConfig.abbreviate(line) + "\"");
            }
            out.add(new Entry(unescape(f[4]), f[dash + 1], unescape(f[dash + 2]),
                    dash + 3 < f.length ? List.of(f[dash + 3].split(",")) : List.of()));
        }
        return new MountInfo(out);
    }

    /** The kernel escapes space, tab, newline and backslash in paths as \ooo. */
    static String unescape(String s) {
        if (s.indexOf('\\') < 0) {
            return s;
        }
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '\\' && i + 3 < s.length()
                    && s.substring(i + 1, i + 4).chars().allMatch(d -> d >= '0' && d <= '7')) {
                sb.append((char) Integer.parseInt(s.substring(i + 1, i + 4), 8));
                i += 3;
            } else {
                sb.append(c);
            }
        }
        return sb.toString();
    }

    /** The mount a path lives on: the longest mount point that contains it, the last mounted one on ties. */
    Optional<Entry> mountOf(String path) {
        Entry best = null;
        for (Entry e : entries) {
            String mp = e.mountPoint();
            boolean contains = mp.equals("/") || path.equals(mp) || path.startsWith(mp + "/");
            if (contains && (best == null || mp.length() >= best.mountPoint().length())) {
                best = e;
            }
        }
        return Optional.ofNullable(best);
    }

    /** The last mount exactly at this point (the visible one). */
    Optional<Entry> at(String mountPoint) {
        Entry found = null;
        for (Entry e : entries) {
            if (e.mountPoint().equals(mountPoint)) {
                found = e;
            }
        }
        return Optional.ofNullable(found);
    }
}
