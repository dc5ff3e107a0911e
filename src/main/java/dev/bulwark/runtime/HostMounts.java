package dev.bulwark.runtime;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * What a container without a mount namespace of its own mounts on the host. Its root is set up
 * in the host's mount namespace, as runc does: the root bound onto itself (made private, so
 * nothing under it propagates), then /proc, /dev, /sys and the config's mounts inside that bind.
 * runc leaves all of it mounted after the container is gone; Bulwark records, before the stage
 * runs, which mounts were already at the root's path, and detaches every mount stacked on top of
 * those when the container is deleted (or its create fails), which takes everything under it.
 */
final class HostMounts {
    static final String FILE = "host-mounts";

    private HostMounts() {}

    /** Records the root's path and the mounts already there, in the state directory. */
    static void record(Path stateDir, Path rootfs) {
        Path real;
        try {
            real = rootfs.toRealPath();
        } catch (IOException e) {
            throw new RuntimeFailure("resolve the root " + rootfs + ": " + e.getMessage());
        }
        StringBuilder sb = new StringBuilder(real.toString()).append('\n');
        for (Entry e : at(real.toString())) {
            sb.append(e.id()).append('\n');
        }
        try {
            Files.writeString(stateDir.resolve(FILE), sb.toString(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new RuntimeFailure("write " + stateDir.resolve(FILE) + ": " + e.getMessage());
        }
    }

    /** Detaches what the container mounted at its root, if it recorded any; a no-op otherwise. */
    static void release(Path stateDir) {
        List<String> lines;
        try {
            lines = Files.readAllLines(stateDir.resolve(FILE), StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            return;
        } catch (IOException e) {
            throw new RuntimeFailure("read " + stateDir.resolve(FILE) + ": " + e.getMessage());
        }
        if (lines.isEmpty()) {
            return;
        }
        String path = lines.get(0);
        Set<Long> before = new HashSet<>();
        for (String l : lines.subList(1, lines.size())) {
            before.add(Long.parseLong(l.trim()));
        }
        for (int i = 0; i < 64; i++) {
            Entry top = topmost(at(path));
            if (top == null || before.contains(top.id())) {
                return;
            }
            detach(path);
        }
        throw new RuntimeFailure("mounts at " + path + " keep coming back; not all were detached");
    }

    record Entry(long id, long parent) {}

    /** The mounts whose mount point is path, from this process's mountinfo. */
    static List<Entry> at(String path) {
        List<Entry> out = new ArrayList<>();
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/mountinfo"), StandardCharsets.UTF_8)) {
                String[] f = line.split(" ");
                if (f.length > 4 && unescape(f[4]).equals(path)) {
                    out.add(new Entry(Long.parseLong(f[0]), Long.parseLong(f[1])));
                }
            }
        } catch (IOException e) {
            throw new RuntimeFailure("read /proc/self/mountinfo: " + e.getMessage());
        }
        return out;
    }

    /** The one mount at a path that no other mount there sits on. */
    static Entry topmost(List<Entry> here) {
        for (Entry e : here) {
            if (here.stream().noneMatch(o -> o.parent() == e.id())) {
                return e;
            }
        }
        return null;
    }

    /** mountinfo escapes space, tab, newline and backslash as \ooo. */
    static String unescape(String s) {
        if (s.indexOf('\\') < 0) {
            return s;
        }
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '\\' && i + 3 < s.length()) {
                b.append((char) Integer.parseInt(s.substring(i + 1, i + 4), 8));
                i += 3;
            } else {
                b.append(c);
            }
        }
        return b.toString();
    }

    /** umount2(path, MNT_DETACH), through util-linux's umount (the JVM has no syscall for it). */
    private static void detach(String path) {
        try {
            Process p = new ProcessBuilder("umount", "--lazy", "--", path).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
            if (!p.waitFor(30, TimeUnit.SECONDS) || p.exitValue() != 0) {
                throw new RuntimeFailure("detach the container's mounts at " + path + ": " + out);
            }
        } catch (IOException e) {
            throw new RuntimeFailure("detach the container's mounts at " + path + ": " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new RuntimeFailure("detach the container's mounts at " + path + ": interrupted");
        }
    }
}
