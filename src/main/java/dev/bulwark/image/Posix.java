package dev.bulwark.image;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The few POSIX operations the JDK lacks (mknod, security.* xattrs), done by the coreutils and
 * attr tools: they are rare in layers, and a process per device node costs less than loading
 * FFM on every unpack.
 */
final class Posix {
    private Posix() {}

    private static Boolean root;
    private static int umask = -1;

    /** The process umask, from /proc/self/status (Linux 4.7+); 022 when it cannot be read. */
    static synchronized int umask() {
        if (umask < 0) {
            umask = 022;
            try {
                for (String l : Files.readAllLines(Path.of("/proc/self/status"))) {
                    if (l.startsWith("Umask:")) {
                        umask = Integer.parseInt(l.substring(6).trim(), 8);
                    }
                }
            } catch (IOException | NumberFormatException e) {
                // keep 022: at worst a chmod more than needed
            }
        }
        return umask;
    }

    static String permString(int mode) {
        char[] c = new char[9];
        String rwx = "rwxrwxrwx";
        for (int i = 0; i < 9; i++) {
            c[i] = (mode & (1 << (8 - i))) != 0 ? rwx.charAt(i) : '-';
        }
        return new String(c);
    }

    static synchronized boolean isRoot() {
        if (root == null) {
            try {
                root = Files.readString(Path.of("/proc/self/status")).lines()
                        .anyMatch(l -> l.startsWith("Uid:") && l.split("\\s+")[2].equals("0"));
            } catch (IOException e) {
                root = false;
            }
        }
        return root;
    }

    /** mknod(2) through mknod(1): type 'c', 'b' or 'p'. */
    static void mknod(Path p, char type, int mode, int major, int minor) {
        List<String> cmd = new ArrayList<>(List.of("mknod", "-m", Integer.toOctalString(mode & 0777), p.toString(),
                String.valueOf(type)));
        if (type != 'p') {
            cmd.add(Integer.toString(major));
            cmd.add(Integer.toString(minor));
        }
        run(cmd, "mknod " + p);
    }

    /** lsetxattr(2) through setfattr(1), for security.capability. */
    static void setxattr(Path p, String name, byte[] value) {
        run(List.of("setfattr", "-h", "-n", name, "-v", "0x" + java.util.HexFormat.of().formatHex(value), "--", p.toString()),
                "setxattr " + name + " on " + p);
    }

    private static void run(List<String> cmd, String what) {
        try {
            Process pr = new ProcessBuilder(cmd).redirectErrorStream(true).redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null"))).start();
            String out = new String(pr.getInputStream().readAllBytes()).trim();
            int rc = pr.waitFor();
            if (rc != 0) {
                throw new ImageException(what + ": " + cmd.get(0) + " exited " + rc + (out.isEmpty() ? "" : ": " + out));
            }
        } catch (IOException e) {
            throw new ImageException(what + ": cannot run " + cmd.get(0) + " (" + e.getMessage() + ")"
                    + (cmd.get(0).equals("setfattr") ? "; install the Debian package attr" : ""), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ImageException(what + ": interrupted", e);
        }
    }
}
