package dev.bulwark.build;

import dev.bulwark.image.TarEntry;
import dev.bulwark.image.TarWriter;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.stream.Stream;

/**
 * The built system's root as a sorted list of entries, written reproducibly: entries in byte
 * order of their paths (a directory before what it holds), every mtime 0, owners as the images
 * gave them (the builder's own files 0:0), hard links written as copies. The same tree always
 * gives the same bytes, as a newc cpio (an initramfs) or a tar.
 */
final class RootTree {
    enum Kind { DIR, FILE, SYMLINK, CHAR, BLOCK, FIFO }

    /** One entry: a file's bytes come from {@code source} on disk or from {@code data}. */
    record Node(Kind kind, int mode, int uid, int gid, Optional<Path> source, byte[] data, String link, int major, int minor) {
        long size() throws IOException {
            return kind != Kind.FILE ? 0 : source.isPresent() ? Files.size(source.get()) : data.length;
        }

        InputStream open() throws IOException {
            return source.isPresent() ? Files.newInputStream(source.get(), LinkOption.NOFOLLOW_LINKS) : new ByteArrayInputStream(data);
        }
    }

    private final TreeMap<String, Node> nodes = new TreeMap<>(RootTree::compareBytes);

    private static int compareBytes(String a, String b) {
        byte[] x = a.getBytes(StandardCharsets.UTF_8);
        byte[] y = b.getBytes(StandardCharsets.UTF_8);
        return java.util.Arrays.compareUnsigned(x, y);
    }

    Map<String, Node> nodes() {
        return nodes;
    }

    void dir(String path, int mode) {
        put(path, new Node(Kind.DIR, mode, 0, 0, Optional.empty(), new byte[0], "", 0, 0));
    }

    void file(String path, int mode, byte[] data) {
        put(path, new Node(Kind.FILE, mode, 0, 0, Optional.empty(), data, "", 0, 0));
    }

    void file(String path, int mode, Path source) {
        put(path, new Node(Kind.FILE, mode, 0, 0, Optional.of(source), new byte[0], "", 0, 0));
    }

    void symlink(String path, String target) {
        put(path, new Node(Kind.SYMLINK, 0777, 0, 0, Optional.empty(), new byte[0], target, 0, 0));
    }

    void charDevice(String path, int mode, int major, int minor) {
        put(path, new Node(Kind.CHAR, mode, 0, 0, Optional.empty(), new byte[0], "", major, minor));
    }

    /** Puts an entry, adding missing parents as 0755 directories owned by root. */
    void put(String path, Node n) {
        if (path.isEmpty() || path.startsWith("/") || path.endsWith("/")) {
            throw new IllegalArgumentException("root entry \"" + path + "\"");
        }
        int slash = path.lastIndexOf('/');
        if (slash > 0 && !nodes.containsKey(path.substring(0, slash))) {
            dir(path.substring(0, slash), 0755);
        }
        Node old = nodes.get(path);
        if (old != null && old.kind() == Kind.DIR && n.kind() != Kind.DIR) {
            // a later layer replaced a directory: drop what it held
            nodes.subMap(path + "/", path + "0").clear();
        }
        nodes.put(path, n);
    }

    /** Adds a directory tree on disk under {@code prefix}, with each entry's owner and mode. */
    void addTree(Path dir, String prefix) throws IOException {
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : (Iterable<Path>) s::iterator) {
                if (p.equals(dir)) {
                    continue;
                }
                String rel = dir.relativize(p).toString();
                String path = prefix.isEmpty() ? rel : prefix + "/" + rel;
                Map<String, Object> a = Files.readAttributes(p, "unix:mode,uid,gid,rdev", LinkOption.NOFOLLOW_LINKS);
                int mode = (Integer) a.get("mode");
                int uid = (Integer) a.get("uid");
                int gid = (Integer) a.get("gid");
                long rdev = (Long) a.get("rdev");
                int type = mode & 0170000;
                int perm = mode & 07777;
                Node n = switch (type) {
                    case 0040000 -> new Node(Kind.DIR, perm, uid, gid, Optional.empty(), new byte[0], "", 0, 0);
                    case 0100000 -> new Node(Kind.FILE, perm, uid, gid, Optional.of(p), new byte[0], "", 0, 0);
                    case 0120000 -> new Node(Kind.SYMLINK, 0777, uid, gid, Optional.empty(), new byte[0],
                            Files.readSymbolicLink(p).toString(), 0, 0);
                    case 0020000, 0060000 -> new Node(type == 0020000 ? Kind.CHAR : Kind.BLOCK, perm, uid, gid,
                            Optional.empty(), new byte[0], "", (int) ((rdev >>> 8) & 0xfff) | (int) ((rdev >>> 32) & ~0xfff),
                            (int) (rdev & 0xff) | (int) ((rdev >>> 12) & ~0xff));
                    case 0010000 -> new Node(Kind.FIFO, perm, uid, gid, Optional.empty(), new byte[0], "", 0, 0);
                    default -> throw new BuildException(p + ": a socket or unknown file type cannot go into the image");
                };
                put(path, n);
            }
        }
    }

    long totalBytes() throws IOException {
        long t = 0;
        for (Node n : nodes.values()) {
            t += n.size();
        }
        return t;
    }

    /** newc cpio, the kernel's initramfs format, ending with TRAILER!!!. */
    void writeCpio(OutputStream out) throws IOException {
        int ino = 1;
        for (Map.Entry<String, Node> e : nodes.entrySet()) {
            Node n = e.getValue();
            byte[] body = n.kind() == Kind.SYMLINK ? n.link().getBytes(StandardCharsets.UTF_8) : null;
            long size = body != null ? body.length : n.size();
            if (size > 0xffffffffL) {
                throw new BuildException(e.getKey() + ": larger than 4 GiB, which cpio cannot hold");
            }
            int type = switch (n.kind()) {
                case DIR -> 0040000;
                case FILE -> 0100000;
                case SYMLINK -> 0120000;
                case CHAR -> 0020000;
                case BLOCK -> 0060000;
                case FIFO -> 0010000;
            };
            cpioHeader(out, e.getKey(), ino++, type | n.mode(), n.uid(), n.gid(), n.kind() == Kind.DIR ? 2 : 1, size,
                    n.major(), n.minor());
            long written;
            if (body != null) {
                out.write(body);
                written = body.length;
            } else if (n.kind() == Kind.FILE) {
                try (InputStream in = n.open()) {
                    written = in.transferTo(out);
                }
            } else {
                written = 0;
            }
            if (written != size) {
                throw new BuildException(e.getKey() + ": changed while it was written (" + written + " bytes, not " + size + ")");
            }
            pad(out, size);
        }
        cpioHeader(out, "TRAILER!!!", 0, 0, 0, 0, 1, 0, 0, 0);
    }

    private static void cpioHeader(OutputStream out, String name, int ino, int mode, int uid, int gid, int nlink, long size,
            int rmajor, int rminor) throws IOException {
        byte[] nb = name.getBytes(StandardCharsets.UTF_8);
        StringBuilder h = new StringBuilder(110).append("070701");
        for (long v : new long[] {ino, mode, uid, gid, nlink, 0, size, 0, 0, rmajor, rminor, nb.length + 1, 0}) {
            h.append(String.format(java.util.Locale.ROOT, "%08x", v & 0xffffffffL));
        }
        out.write(h.toString().getBytes(StandardCharsets.US_ASCII));
        out.write(nb);
        out.write(0);
        pad(out, 110 + nb.length + 1);
    }

    private static void pad(OutputStream out, long n) throws IOException {
        int rem = (int) ((4 - (n & 3)) & 3);
        out.write(new byte[rem]);
    }

    /** A plain rootfs tar (ustar/pax through the store's writer), mtime 0. */
    void writeTar(OutputStream out) throws IOException {
        TarWriter w = new TarWriter(out);
        for (Map.Entry<String, Node> e : nodes.entrySet()) {
            Node n = e.getValue();
            String name = e.getKey();
            TarEntry t = switch (n.kind()) {
                case DIR -> TarEntry.dir(name + "/", n.mode());
                case FILE -> TarEntry.file(name, n.mode(), n.size());
                case SYMLINK -> TarEntry.symlink(name, n.link());
                case CHAR -> TarEntry.file(name, n.mode(), 0).withDevice(TarEntry.Type.CHAR, n.major(), n.minor());
                case BLOCK -> TarEntry.file(name, n.mode(), 0).withDevice(TarEntry.Type.BLOCK, n.major(), n.minor());
                case FIFO -> TarEntry.file(name, n.mode(), 0).withDevice(TarEntry.Type.FIFO, 0, 0);
            };
            t = t.withOwner(n.uid(), n.gid()).withMtime(0);
            if (n.kind() == Kind.FILE) {
                try (InputStream in = n.open()) {
                    w.add(t, in);
                }
            } else {
                w.add(t, new byte[0]);
            }
        }
        w.finish();
    }
}
