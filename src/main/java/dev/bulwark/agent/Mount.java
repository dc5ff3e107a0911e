package dev.bulwark.agent;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/** One line of /proc/PID/mountinfo: what the policy needs to know about a mount. */
record Mount(int id, int parent, String dev, String root, String mountPoint, boolean readOnly, String type) {

    /** A mount whose filesystem type is not known (statmount's answer, tests). */
    Mount(int id, int parent, String dev, String root, String mountPoint, boolean readOnly) {
        this(id, parent, dev, root, mountPoint, readOnly, "");
    }

    /** Parses a whole mountinfo file; a line that does not parse is an error naming it. */
    static List<Mount> parse(String mountinfo) {
        List<Mount> out = new ArrayList<>();
        for (String line : mountinfo.split("\n")) {
            if (line.isBlank()) {
                continue;
            }
            String[] f = line.split(" ");
            int dash = List.of(f).indexOf("-");
            if (f.length < 7 || dash < 6 || dash + 3 >= f.length + 1) {
                throw new AgentException("mountinfo line is not in the kernel's format: " + line);
            }
            String superOpts = dash + 3 < f.length ? f[dash + 3] : "";
            // read-only at the mount or at the superblock: either way writes fail until changed
            boolean ro = List.of(f[5].split(",")).contains("ro") || List.of(superOpts.split(",")).contains("ro");
            out.add(new Mount(Integer.parseInt(f[0]), Integer.parseInt(f[1]), f[2], unescape(f[3]), unescape(f[4]), ro,
                    dash + 1 < f.length ? f[dash + 1] : ""));
        }
        return out;
    }

    /** The kernel escapes space, tab, newline and backslash as \ooo. */
    static String unescape(String s) {
        if (s.indexOf('\\') < 0) {
            return s;
        }
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        byte[] in = s.getBytes(StandardCharsets.UTF_8);
        for (int i = 0; i < in.length; i++) {
            if (in[i] == '\\' && i + 3 < in.length + 0 && isOctal(in, i + 1)) {
                b.write(Integer.parseInt(new String(in, i + 1, 3, StandardCharsets.US_ASCII), 8));
                i += 3;
            } else {
                b.write(in[i]);
            }
        }
        return b.toString(StandardCharsets.UTF_8);
    }

    private static boolean isOctal(byte[] in, int at) {
        if (at + 3 > in.length) {
            return false;
        }
        for (int i = at; i < at + 3; i++) {
            if (in[i] < '0' || in[i] > '7') {
                return false;
            }
        }
        return true;
    }

    /** path is p itself or below it. */
    static boolean under(String path, String p) {
        return path.equals(p) || path.startsWith(p.endsWith("/") ? p : p + "/");
    }
}
