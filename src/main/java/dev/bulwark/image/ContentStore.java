package dev.bulwark.image;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * A content-addressable store in OCI image-layout form:
 * <pre>
 *   ROOT/oci-layout            {"imageLayoutVersion": "1.0.0"}
 *   ROOT/index.json            the named images (annotation org.opencontainers.image.ref.name)
 *   ROOT/blobs/sha256/HEX      content, read-only, named by its SHA-256
 *   ROOT/ingest/               blobs being written (never visible under blobs/)
 *   ROOT/lock                  see {@link StoreLock}
 * </pre>
 * A blob is hashed while it is written to a temp file in ingest/, checked against the expected
 * digest and size, flushed to disk, and only then renamed into blobs/: rename is atomic, so a
 * reader, or the next process after a kill -9, sees either no blob or the complete one. Temp
 * files of a dead writer are removed by the next open or GC that holds the store alone.
 */
public final class ContentStore {
    public static final Path DEFAULT_ROOT = Path.of("/var/lib/bulwark");
    /** Manifests, indexes and configs are read into memory; containerd caps them the same way. */
    public static final long MAX_DOCUMENT = 4L << 20;

    private static final String LAYOUT = "{\"imageLayoutVersion\":\"1.0.0\"}";
    private static final int BUFFER = 1 << 20;

    private final Path root;
    private final Path blobs;
    private final Path ingest;
    private final StoreLock lock;

    private ContentStore(Path root) {
        this.root = root;
        this.blobs = root.resolve("blobs").resolve(Digest.ALGORITHM);
        this.ingest = root.resolve("ingest");
        this.lock = StoreLock.of(root);
    }

    /** Opens the store at root, creating an empty layout if there is none. */
    public static ContentStore open(Path root) {
        Path r = root.toAbsolutePath().normalize();
        try {
            Files.createDirectories(r);
            Path layout = r.resolve("oci-layout");
            ContentStore s = new ContentStore(r);
            Files.createDirectories(s.blobs);
            Files.createDirectories(s.ingest);
            if (!Files.exists(layout)) {
                s.writeAtomically(layout, LAYOUT.getBytes(StandardCharsets.UTF_8));
            } else {
                checkLayout(layout);
            }
            if (!Files.exists(r.resolve("index.json"))) {
                try (StoreLock.Held h = s.lock.shared(); StoreLock.Held i = s.lock.index()) {
                    if (!Files.exists(r.resolve("index.json"))) {
                        s.writeAtomically(r.resolve("index.json"), new ImageIndex(List.of()).toJson());
                    }
                }
            }
            s.lock.tryExclusive().ifPresent(h -> {
                try (h) {
                    s.cleanIngest();
                }
            });
            return s;
        } catch (IOException e) {
            throw new ImageException("open store " + r + ": " + e.getMessage(), e);
        }
    }

    private static void checkLayout(Path layout) throws IOException {
        Doc d = Doc.parse(Files.readAllBytes(layout), layout.toString());
        String v = d.req("imageLayoutVersion").string();
        if (!v.startsWith("1.")) {
            throw new ImageException(layout + ": imageLayoutVersion " + v + " is not supported (expected 1.x)");
        }
    }

    public Path root() {
        return root;
    }

    /** Where a blob lives; it may not exist. */
    public Path blobPath(Digest d) {
        return blobs.resolve(d.hex());
    }

    public boolean has(Digest d) {
        return Files.isRegularFile(blobPath(d));
    }

    public long size(Digest d) {
        try {
            return Files.size(blobPath(d));
        } catch (IOException e) {
            throw new ImageException("blob " + d + " is not in the store " + root, e);
        }
    }

    public InputStream open(Digest d) {
        try {
            return Files.newInputStream(blobPath(d));
        } catch (NoSuchFileException e) {
            throw new ImageException("blob " + d + " is not in the store " + root);
        } catch (IOException e) {
            throw new ImageException("open blob " + d + ": " + e.getMessage(), e);
        }
    }

    /**
     * A small blob (manifest, index, config) read into memory and hashed again, so a blob
     * changed on disk after it was stored is never parsed.
     */
    public byte[] read(Digest d) {
        Path p = blobPath(d);
        try {
            long size = Files.size(p);
            if (size > MAX_DOCUMENT) {
                throw new ImageException("blob " + d + ": " + size + " bytes, more than the " + MAX_DOCUMENT
                        + " allowed for a manifest, index or config");
            }
            byte[] b = Files.readAllBytes(p);
            Digest actual = Digest.of(b);
            if (!actual.equals(d)) {
                throw new ImageException("blob " + d + " is corrupt: its content hashes to " + actual);
            }
            return b;
        } catch (NoSuchFileException e) {
            throw new ImageException("blob " + d + " is not in the store " + root);
        } catch (IOException e) {
            throw new ImageException("read blob " + d + ": " + e.getMessage(), e);
        }
    }

    /** Stores bytes and returns their digest. */
    public Digest put(byte[] data) {
        Digest d = Digest.of(data);
        put(new java.io.ByteArrayInputStream(data), d, data.length);
        return d;
    }

    /** Stores a stream of unknown digest and returns the digest it had. */
    public Descriptor put(InputStream in, String mediaType) {
        Written w = write(in, Optional.empty(), -1);
        return new Descriptor(mediaType, w.digest, w.size);
    }

    /**
     * Stores a stream that must hash to {@code expected} and, unless expectedSize is -1, be
     * exactly that long. Reads at most expectedSize + 1 bytes, so an endless stream is refused
     * as soon as it is too long. On a mismatch nothing is stored and the error names both digests.
     */
    public void put(InputStream in, Digest expected, long expectedSize) {
        write(in, Optional.of(expected), expectedSize);
    }

    private record Written(Digest digest, long size) {}

    private Written write(InputStream in, Optional<Digest> expected, long expectedSize) {
        try (StoreLock.Held h = lock.shared()) {
            Path tmp = ingest.resolve(randomName() + ".partial");
            MessageDigest md = Digest.sha256();
            long total = 0;
            try {
                try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                    byte[] buf = new byte[BUFFER];
                    ByteBuffer bb = ByteBuffer.wrap(buf);
                    while (true) {
                        int want = buf.length;
                        if (expectedSize >= 0 && expectedSize + 1 - total < want) {
                            want = (int) (expectedSize + 1 - total);
                        }
                        int n = in.readNBytes(buf, 0, want);
                        if (n <= 0) {
                            break;
                        }
                        md.update(buf, 0, n);
                        total += n;
                        if (expectedSize >= 0 && total > expectedSize) {
                            throw new ImageException("blob " + expected.map(Digest::toString).orElse("") + ": expected "
                                    + expectedSize + " bytes, the content is longer");
                        }
                        bb.clear().limit(n);
                        while (bb.hasRemaining()) {
                            ch.write(bb);
                        }
                    }
                    Digest actual = Digest.of(md);
                    if (expectedSize >= 0 && total != expectedSize) {
                        throw new ImageException("blob " + expected.map(Digest::toString).orElse(actual.toString())
                                + ": expected " + expectedSize + " bytes, found " + total);
                    }
                    if (expected.isPresent() && !expected.get().equals(actual)) {
                        throw new ImageException("blob rejected: expected digest " + expected.get() + ", found " + actual
                                + " (" + total + " bytes)");
                    }
                    // Data and size on disk before the name appears: after a crash the name
                    // never points at a file shorter than its digest says.
                    ch.force(true);
                    Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("r--r--r--"));
                    Path target = blobPath(actual);
                    if (!Files.isRegularFile(target)) {
                        move(tmp, target);
                        fsyncDir(blobs);
                    }
                    return new Written(actual, total);
                }
            } finally {
                // Still there when the content was refused, or when the blob was already stored.
                Files.deleteIfExists(tmp);
            }
        } catch (IOException e) {
            throw new ImageException("write blob into " + root + ": " + e.getMessage(), e);
        }
    }

    private static void move(Path from, Path to) throws IOException {
        try {
            Files.move(from, to, StandardCopyOption.ATOMIC_MOVE);
        } catch (AtomicMoveNotSupportedException e) {
            throw new IOException("rename " + from + " to " + to + " is not atomic on this filesystem", e);
        }
    }

    private static String randomName() {
        byte[] b = new byte[12];
        new java.security.SecureRandom().nextBytes(b);
        return HexFormat.of().formatHex(b);
    }

    static void fsyncDir(Path dir) throws IOException {
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
            ch.force(true);
        }
    }

    /** temp + fsync + rename + fsync of the directory, for index.json and oci-layout. */
    private void writeAtomically(Path target, byte[] data) throws IOException {
        Path tmp = ingest.resolve(randomName() + ".partial");
        try {
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                ByteBuffer bb = ByteBuffer.wrap(data);
                while (bb.hasRemaining()) {
                    ch.write(bb);
                }
                ch.force(true);
            }
            Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rw-r--r--"));
            move(tmp, target);
            fsyncDir(target.getParent());
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    // ---- references (index.json) ----

    /** The entries of index.json, in file order. */
    public List<Descriptor> entries() {
        Path p = root.resolve("index.json");
        try {
            return ImageIndex.parse(Files.readAllBytes(p), p.toString()).manifests();
        } catch (IOException e) {
            throw new ImageException("read " + p + ": " + e.getMessage(), e);
        }
    }

    /** Named entries: reference name to descriptor. */
    public Map<String, Descriptor> refs() {
        Map<String, Descriptor> out = new LinkedHashMap<>();
        for (Descriptor d : entries()) {
            d.annotation(Descriptor.REF_NAME).ifPresent(n -> out.put(n, d));
        }
        return out;
    }

    public Optional<Descriptor> resolve(String name) {
        return Optional.ofNullable(refs().get(name));
    }

    /**
     * Names a manifest or index already in the store; an existing entry of that name is
     * replaced. The blob and everything it references must be present (checked here), so a
     * name never points at missing content.
     */
    public void tag(String name, Descriptor target) {
        try (StoreLock.Held h = lock.shared()) {
            checkComplete(target);
            try (StoreLock.Held i = lock.index()) {
                List<Descriptor> out = new ArrayList<>();
                for (Descriptor d : entries()) {
                    if (!name.equals(d.annotations().get(Descriptor.REF_NAME))) {
                        out.add(d);
                    }
                }
                Map<String, String> a = new LinkedHashMap<>(target.annotations());
                a.put(Descriptor.REF_NAME, name);
                out.add(target.withAnnotations(a));
                writeAtomically(root.resolve("index.json"), new ImageIndex(out).toJson());
            }
        } catch (IOException e) {
            throw new ImageException("update " + root.resolve("index.json") + ": " + e.getMessage(), e);
        }
    }

    /** Removes a name; returns whether it existed. Blobs stay until {@link #gc()}. */
    public boolean untag(String name) {
        try (StoreLock.Held h = lock.shared(); StoreLock.Held i = lock.index()) {
            List<Descriptor> all = entries();
            List<Descriptor> out = new ArrayList<>();
            for (Descriptor d : all) {
                if (!name.equals(d.annotations().get(Descriptor.REF_NAME))) {
                    out.add(d);
                }
            }
            if (out.size() == all.size()) {
                return false;
            }
            writeAtomically(root.resolve("index.json"), new ImageIndex(out).toJson());
            return true;
        } catch (IOException e) {
            throw new ImageException("update " + root.resolve("index.json") + ": " + e.getMessage(), e);
        }
    }

    /** Throws unless the descriptor's blob and everything below it are in the store with their sizes. */
    public void checkComplete(Descriptor top) {
        walk(top, d -> {
            if (!has(d.digest())) {
                throw new ImageException("blob " + d.digest() + " (" + d.mediaType() + ") is missing from the store " + root);
            }
            long s = size(d.digest());
            if (s != d.size()) {
                throw new ImageException("blob " + d.digest() + ": descriptor says " + d.size() + " bytes, the store has " + s);
            }
            return true;
        });
    }

    /**
     * Visits a descriptor and, for manifests and indexes, what they reference (depth first).
     * The visitor returns whether to descend; children are read (and verified) from the store.
     */
    void walk(Descriptor top, java.util.function.Predicate<Descriptor> visit) {
        Deque<Descriptor> todo = new ArrayDeque<>();
        todo.push(top);
        Set<Digest> seen = new HashSet<>();
        while (!todo.isEmpty()) {
            Descriptor d = todo.pop();
            if (!seen.add(d.digest()) || !visit.test(d)) {
                continue;
            }
            for (Descriptor c : children(d)) {
                todo.push(c);
            }
        }
    }

    List<Descriptor> children(Descriptor d) {
        if (MediaTypes.isIndex(d.mediaType())) {
            return ImageIndex.parse(read(d.digest()), "index " + d.digest()).manifests();
        }
        if (MediaTypes.isManifest(d.mediaType())) {
            Manifest m = Manifest.parse(read(d.digest()), "manifest " + d.digest());
            List<Descriptor> out = new ArrayList<>(m.layers());
            out.add(0, m.config());
            return out;
        }
        return List.of();
    }

    // ---- garbage collection and verification ----

    /** What a GC removed. */
    public record GcResult(int blobs, long bytes, int tempFiles) {}

    /**
     * Removes every blob not reachable from index.json (through indexes and manifests to
     * configs and layers) and abandoned temp files. Holds the store alone, so no writer can be
     * between storing a blob and naming it. If a reachable manifest cannot be read, nothing is
     * removed: a damaged store is not made worse by guessing.
     */
    public GcResult gc() {
        try (StoreLock.Held h = lock.exclusive()) {
            Set<String> live = new HashSet<>();
            for (Descriptor top : entries()) {
                walk(top, d -> {
                    live.add(d.digest().hex());
                    return has(d.digest());
                });
            }
            int n = 0;
            long bytes = 0;
            try (DirectoryStream<Path> ds = Files.newDirectoryStream(blobs)) {
                for (Path p : ds) {
                    String name = p.getFileName().toString();
                    if (!live.contains(name)) {
                        long s = Files.size(p);
                        Files.delete(p);
                        n++;
                        bytes += s;
                    }
                }
            }
            fsyncDir(blobs);
            int temps = cleanIngest();
            return new GcResult(n, bytes, temps);
        } catch (IOException e) {
            throw new ImageException("gc " + root + ": " + e.getMessage(), e);
        }
    }

    private int cleanIngest() {
        int n = 0;
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(ingest)) {
            for (Path p : ds) {
                Files.deleteIfExists(p);
                n++;
            }
        } catch (IOException e) {
            throw new ImageException("clean " + ingest + ": " + e.getMessage(), e);
        }
        return n;
    }

    /**
     * Re-hashes every blob and checks that every named image is complete. Returns the problems
     * found, one line each; empty means the store is sound.
     */
    public List<String> verify() {
        List<String> problems = new ArrayList<>();
        try (StoreLock.Held h = lock.shared()) {
            try (DirectoryStream<Path> ds = Files.newDirectoryStream(blobs)) {
                for (Path p : ds) {
                    String name = p.getFileName().toString();
                    if (!Digest.isHex64(name) || !Files.isRegularFile(p, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
                        problems.add(p + ": not a blob (name or type)");
                        continue;
                    }
                    Digest actual = hashFile(p);
                    if (!actual.hex().equals(name)) {
                        problems.add(p + ": content hashes to " + actual);
                    }
                }
            }
            try (DirectoryStream<Path> ds = Files.newDirectoryStream(ingest)) {
                for (Path p : ds) {
                    problems.add(p + ": unfinished write");
                }
            }
            for (Descriptor top : entries()) {
                try {
                    checkComplete(top);
                } catch (ImageException e) {
                    problems.add(top.annotation(Descriptor.REF_NAME).orElse(top.digest().toString()) + ": " + e.getMessage());
                }
            }
        } catch (IOException e) {
            problems.add(root + ": " + e.getMessage());
        }
        return problems;
    }

    static Digest hashFile(Path p) throws IOException {
        MessageDigest md = Digest.sha256();
        try (FileChannel ch = FileChannel.open(p, StandardOpenOption.READ)) {
            ByteBuffer bb = ByteBuffer.allocateDirect(BUFFER);
            while (ch.read(bb) >= 0) {
                bb.flip();
                md.update(bb);
                bb.clear();
            }
        }
        return Digest.of(md);
    }

    /** The hex names of all blobs present (for tests and listings). */
    public List<Digest> blobs() {
        List<Digest> out = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(blobs)) {
            for (Path p : ds) {
                String n = p.getFileName().toString();
                if (Digest.isHex64(n)) {
                    out.add(new Digest(n));
                }
            }
        } catch (IOException e) {
            throw new ImageException("list " + blobs + ": " + e.getMessage(), e);
        }
        return out;
    }

    /** A hold on the store; close releases it. */
    public interface Hold extends AutoCloseable {
        @Override
        void close();
    }

    /**
     * Keeps GC away for a sequence of writes that ends in {@link #tag}: between storing a blob
     * and naming it, nothing references it.
     */
    public Hold holdForWriting() {
        StoreLock.Held h = lock.shared();
        return h::close;
    }
}
