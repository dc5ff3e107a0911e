package dev.bulwark.image;

import java.io.BufferedInputStream;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributeView;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.channels.SeekableByteChannel;
import java.nio.file.attribute.UserDefinedFileAttributeView;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.zip.GZIPInputStream;

/**
 * Applies image layers, bottom first, to a target directory, keeping every write inside it.
 *
 * <h2>How paths stay inside the target</h2>
 * An entry name is split into components; an absolute name, a {@code ..} component, a NUL or a
 * newline is an error (never "cleaned" into something else). The parent directory is then
 * reached from the target one component at a time with {@code lstat} (NOFOLLOW_LINKS): a
 * missing component is created as a directory, a real directory is entered, and a symlink —
 * whoever planted it, this layer or an earlier one — is an error, because following it could
 * lead anywhere ({@code /etc}, or a loop). The last component is never followed either: an
 * existing entry there is removed (a symlink is unlinked, not its target) and the new one is
 * created with O_CREAT|O_EXCL|O_NOFOLLOW, so a link planted at the name cannot redirect the
 * write. Hard-link targets go through the same walk and must already exist inside the target.
 * Symlink targets are stored as text and never resolved here; they only mean something inside
 * the container's root.
 *
 * <p>The walk assumes nothing else writes into the target while it is unpacked (it is fresh,
 * and no container runs in it yet). Against a concurrent writer the kernel's openat2 with
 * RESOLVE_BENEATH would be needed, which the JDK does not offer.
 *
 * <h2>Rules</h2>
 * Duplicate entries: the later one wins, as in Docker — a file replaces whatever was at its
 * name, a directory over a directory only updates its metadata. Whiteouts ({@code .wh.NAME})
 * delete NAME from the layers below; an opaque marker ({@code .wh..wh..opq}) empties its
 * directory of everything the layers below put there; both only act on lower layers (OCI
 * image-spec), never on entries of the same layer. Directory metadata is applied at the end of
 * each layer, so a read-only directory can still receive its entries.
 */
public final class LayerUnpacker {
    private static final String OPAQUE = ".wh..wh..opq";
    private static final String WHITEOUT = ".wh.";
    private static final int BUFFER = 256 * 1024;
    private static final int NAME_MAX = 255;

    private final Path target;
    private final UnpackOptions opt;
    private final UnpackOptions.Limits limits;
    /** Relative paths already checked to be real directories; dropped when something replaces them. */
    private final Set<String> verifiedDirs = new HashSet<>();
    private final byte[] buffer = new byte[BUFFER];

    private Set<String> thisLayer = new HashSet<>();
    private Map<String, TarEntry> deferredDirs = new LinkedHashMap<>();
    private String label = "";

    private long entries;
    private long bytes;
    private long files;
    private long dirs;
    private long symlinks;
    private long hardlinks;
    private long whiteouts;
    private long ignoredXattrs;
    private final List<String> stripped = new ArrayList<>();
    private long strippedCount;

    /** What an unpack did; strippedSetuid lists up to 20 paths whose setuid/setgid bits or capabilities were removed. */
    public record Report(long entries, long bytes, long files, long dirs, long symlinks, long hardlinks,
            long whiteouts, long strippedCount, List<String> strippedSetuid, long ignoredXattrs) {}

    public LayerUnpacker(Path target, UnpackOptions options) {
        try {
            BasicFileAttributes a = Files.readAttributes(target, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
            if (!a.isDirectory()) {
                throw new ImageException("unpack target " + target + ": not a directory (symlinks are not followed)");
            }
            this.target = target.toRealPath();
        } catch (IOException e) {
            throw new ImageException("unpack target " + target + ": " + e.getMessage(), e);
        }
        this.opt = options;
        this.limits = options.limits();
    }

    public Path target() {
        return target;
    }

    public Report report() {
        return new Report(entries, bytes, files, dirs, symlinks, hardlinks, whiteouts, strippedCount,
                List.copyOf(stripped), ignoredXattrs);
    }

    /**
     * Applies one layer.
     *
     * @param layer     the layer as stored (compressed or not)
     * @param mediaType its media type, or "" to detect the compression from the data
     * @param name      how errors name the layer (its digest, usually)
     */
    public void apply(InputStream layer, String mediaType, String name) {
        label = "layer " + name;
        thisLayer = new HashSet<>();
        deferredDirs = new LinkedHashMap<>();
        Counting raw = new Counting(layer);
        try {
            InputStream tar = decompress(new BufferedInputStream(raw, 1 << 16), mediaType);
            TarReader reader = new TarReader(new Limited(tar, raw), label);
            Optional<TarEntry> e;
            while ((e = reader.next()).isPresent()) {
                entries++;
                if (entries > limits.maxEntries()) {
                    throw new ImageException(label + ": more than " + limits.maxEntries()
                            + " entries (limit maxEntries)");
                }
                entry(e.get(), reader);
            }
            finishLayer();
        } catch (IOException e) {
            throw new ImageException(label + ": " + e.getMessage(), e);
        }
    }

    private InputStream decompress(BufferedInputStream in, String mediaType) throws IOException {
        MediaTypes.Compression declared = mediaType.isEmpty() ? MediaTypes.Compression.UNKNOWN
                : MediaTypes.layerCompression(mediaType);
        in.mark(8);
        byte[] m = in.readNBytes(6);
        in.reset();
        boolean gzip = m.length >= 2 && (m[0] & 0xff) == 0x1f && (m[1] & 0xff) == 0x8b;
        // A zstd frame starts with the magic number 0xFD2FB528, little-endian.
        boolean zstd = m.length >= 4 && (m[0] & 0xff) == 0x28 && (m[1] & 0xff) == 0xb5 && (m[2] & 0xff) == 0x2f
                && (m[3] & 0xff) == 0xfd;
        if (m.length >= 3 && m[0] == 'B' && m[1] == 'Z' && m[2] == 'h'
                || m.length >= 6 && (m[0] & 0xff) == 0xfd && m[1] == '7' && m[2] == 'z' && m[3] == 'X' && m[4] == 'Z') {
            throw new ImageException(label + ": bzip2 and xz compressed layers are not supported (OCI layers are tar, tar+gzip or tar+zstd)");
        }
        if (declared == MediaTypes.Compression.GZIP && !gzip) {
            throw new ImageException(label + ": media type " + mediaType + " says gzip, but the data is not gzip");
        }
        if (declared == MediaTypes.Compression.ZSTD && !zstd) {
            throw new ImageException(label + ": media type " + mediaType + " says zstd, but the data is not zstd");
        }
        if (gzip) {
            return new GZIPInputStream(in, 1 << 16);
        }
        return zstd ? ZstdLayer.open(in) : in;
    }

    // ---- one entry ----

    private void entry(TarEntry e, TarReader reader) throws IOException {
        List<String> comps = components(e.name(), "entry name");
        if (comps.isEmpty()) {
            if (e.type() == TarEntry.Type.DIR) {
                return; // "./": the target itself, whose metadata the caller owns
            }
            throw error(e, "names the target directory itself but is not a directory");
        }
        String base = comps.get(comps.size() - 1);
        for (int i = 0; i < comps.size() - 1; i++) {
            if (comps.get(i).startsWith(WHITEOUT)) {
                throw error(e, "directory component \"" + comps.get(i) + "\" uses the reserved whiteout prefix .wh.");
            }
        }
        if (base.startsWith(WHITEOUT)) {
            whiteout(e, comps, base);
            return;
        }
        String key = String.join("/", comps);
        Path parent = dirCreating(e, comps, comps.size() - 1);
        Path p = resolve(e, parent, base);
        switch (e.type()) {
            case DIR -> {
                Optional<BasicFileAttributes> a = lstat(p);
                if (a.isEmpty() || !a.get().isDirectory()) {
                    replace(p, key, a);
                    Files.createDirectory(p);
                }
                verifiedDirs.add(key);
                deferredDirs.remove(key);
                deferredDirs.put(key, e);
                dirs++;
            }
            case FILE -> {
                long left = limits.maxBytes() - bytes;
                if (e.size() > left) {
                    throw error(e, "claims " + e.size() + " bytes, more than the " + limits.maxBytes()
                            + " the layers may unpack to (limit maxBytes)");
                }
                replace(p, key, lstat(p));
                // Created with its permission bits, so the chmod (which the JDK does as
                // open+fchmod+close) is only needed when the umask took bits away or for
                // setuid/setgid/sticky.
                int perms = e.mode() & 0777;
                try (SeekableByteChannel ch = Files.newByteChannel(p, CREATE_FILE, PosixFilePermissions.asFileAttribute(
                        PosixFilePermissions.fromString(Posix.permString(perms))))) {
                    InputStream in = reader.content();
                    ByteBuffer bb = ByteBuffer.wrap(buffer);
                    int n;
                    while ((n = in.read(buffer)) > 0) {
                        bb.clear().limit(n);
                        while (bb.hasRemaining()) {
                            ch.write(bb);
                        }
                    }
                }
                metadata(p, key, e, (e.mode() & 07777) == (perms & ~Posix.umask()) ? Kind.PLAIN_MODE_SET : Kind.PLAIN);
                files++;
            }
            case SYMLINK -> {
                if (!opt.symlinks()) {
                    throw error(e, "is a symlink; symlinks are refused by the unpack options");
                }
                checkText(e, e.linkName(), "symlink target");
                if (e.linkName().isEmpty()) {
                    throw error(e, "symlink with an empty target");
                }
                Path linkText;
                try {
                    linkText = Path.of(e.linkName());
                } catch (InvalidPathException x) {
                    throw error(e, "symlink target cannot be represented: " + x.getMessage());
                }
                replace(p, key, lstat(p));
                Files.createSymbolicLink(p, linkText);
                metadata(p, key, e, Kind.SYMLINK);
                symlinks++;
            }
            case HARDLINK -> {
                if (!opt.hardlinks()) {
                    throw error(e, "is a hard link; hard links are refused by the unpack options");
                }
                List<String> t = components(e.linkName(), "hard link target");
                if (t.isEmpty()) {
                    throw error(e, "hard link to the target directory itself");
                }
                String tkey = String.join("/", t);
                if (tkey.equals(key)) {
                    throw error(e, "hard link to itself");
                }
                Path tdir = dirExisting(e, t, t.size() - 1)
                        .orElseThrow(() -> error(e, "hard link target \"" + e.linkName() + "\" does not exist in the layers so far"));
                Path tp = resolve(e, tdir, t.get(t.size() - 1));
                Optional<BasicFileAttributes> ta = lstat(tp);
                if (ta.isEmpty()) {
                    throw error(e, "hard link target \"" + e.linkName() + "\" does not exist in the layers so far");
                }
                if (ta.get().isDirectory()) {
                    throw error(e, "hard link target \"" + e.linkName() + "\" is a directory");
                }
                replace(p, key, lstat(p));
                // link(2) does not follow a symlink target on Linux, and the new name shares
                // the inode's metadata: a hard-link header cannot add setuid bits to it.
                Files.createLink(p, tp);
                hardlinks++;
            }
            case CHAR, BLOCK -> {
                String what = (e.type() == TarEntry.Type.CHAR ? "character" : "block") + " device "
                        + e.devMajor() + ":" + e.devMinor();
                if (!opt.devices()) {
                    throw error(e, "is a " + what + "; device nodes are refused (allow them with the devices option)");
                }
                if (!Posix.isRoot()) {
                    throw error(e, "is a " + what + "; creating device nodes needs root");
                }
                replace(p, key, lstat(p));
                Posix.mknod(p, e.type() == TarEntry.Type.CHAR ? 'c' : 'b', privileged(key, e.mode()), e.devMajor(), e.devMinor());
                metadata(p, key, e, Kind.SPECIAL);
                files++;
            }
            case FIFO -> {
                replace(p, key, lstat(p));
                Posix.mknod(p, 'p', privileged(key, e.mode()), 0, 0);
                metadata(p, key, e, Kind.SPECIAL);
                files++;
            }
        }
        thisLayer.add(key);
    }

    private void whiteout(TarEntry e, List<String> comps, String base) throws IOException {
        whiteouts++;
        List<String> dirComps = comps.subList(0, comps.size() - 1);
        String dirKey = String.join("/", dirComps);
        if (base.equals(OPAQUE)) {
            Path dir = dirCreating(e, comps, comps.size() - 1);
            opaque(dir, dirKey);
            thisLayer.add(dirKey);
            return;
        }
        String victim = base.substring(WHITEOUT.length());
        if (victim.isEmpty() || victim.equals(".") || victim.equals("..")) {
            throw error(e, "whiteout of \"" + victim + "\" names no entry below the target");
        }
        if (victim.startsWith(WHITEOUT)) {
            throw error(e, "whiteout of a whiteout name \"" + victim + "\" (the .wh..wh. prefix is reserved)");
        }
        String vkey = dirKey.isEmpty() ? victim : dirKey + "/" + victim;
        if (thisLayer.contains(vkey)) {
            return; // whiteouts hide lower layers only
        }
        Optional<Path> dir = dirExisting(e, comps, comps.size() - 1);
        if (dir.isEmpty()) {
            return;
        }
        Path v = resolve(e, dir.get(), victim);
        Optional<BasicFileAttributes> a = lstat(v);
        if (a.isPresent()) {
            replace(v, vkey, a);
        }
    }

    /** Removes what the lower layers put below dir; this layer's entries stay (and are cleaned below). */
    private void opaque(Path dir, String dirKey) throws IOException {
        List<Path> children = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
            ds.forEach(children::add);
        }
        for (Path c : children) {
            String ckey = dirKey.isEmpty() ? c.getFileName().toString() : dirKey + "/" + c.getFileName();
            Optional<BasicFileAttributes> a = lstat(c);
            if (a.isEmpty()) {
                continue;
            }
            if (!thisLayer.contains(ckey)) {
                replace(c, ckey, a);
            } else if (a.get().isDirectory()) {
                opaque(c, ckey);
            }
        }
    }

    // ---- paths ----

    /**
     * The entry name's components after the checks that keep it inside the target. Names are
     * refused rather than repaired: an archive that says "../x" or "/x" was not made by an
     * image builder.
     */
    private List<String> components(String name, String what) {
        if (name.indexOf('\0') >= 0) {
            throw new ImageException(label + ": " + what + " " + quote(name) + " contains a NUL byte");
        }
        if (name.indexOf('\n') >= 0 || name.indexOf('\r') >= 0) {
            throw new ImageException(label + ": " + what + " " + quote(name) + " contains a newline");
        }
        if (name.startsWith("/")) {
            throw new ImageException(label + ": " + what + " " + quote(name) + " is absolute (layer paths are relative to the root)");
        }
        int len = name.getBytes(StandardCharsets.UTF_8).length;
        if (len > limits.maxPathLength()) {
            throw new ImageException(label + ": " + what + " " + quote(shorten(name)) + " is " + len
                    + " bytes long, more than " + limits.maxPathLength() + " (limit maxPathLength)");
        }
        List<String> out = new ArrayList<>();
        for (String c : name.split("/")) {
            if (c.isEmpty() || c.equals(".")) {
                continue;
            }
            if (c.equals("..")) {
                throw new ImageException(label + ": " + what + " " + quote(name) + " has a \"..\" component (path traversal)");
            }
            if (c.getBytes(StandardCharsets.UTF_8).length > NAME_MAX) {
                throw new ImageException(label + ": " + what + " " + quote(shorten(name)) + " has a component longer than "
                        + NAME_MAX + " bytes");
            }
            out.add(c);
        }
        if (out.size() > limits.maxDepth()) {
            throw new ImageException(label + ": " + what + " " + quote(shorten(name)) + " is " + out.size()
                    + " levels deep, more than " + limits.maxDepth() + " (limit maxDepth)");
        }
        return out;
    }

    /** The directory made of the first n components, created where missing; symlinks refused. */
    private Path dirCreating(TarEntry e, List<String> comps, int n) throws IOException {
        return walkDirs(e, comps, n, true).orElseThrow();
    }

    /** The directory made of the first n components if it exists; symlinks refused. */
    private Optional<Path> dirExisting(TarEntry e, List<String> comps, int n) throws IOException {
        return walkDirs(e, comps, n, false);
    }

    /**
     * Walks the first n components beneath the target, checking each is a real directory (not a
     * symlink). A missing one is created as a plain 0755 directory, as Docker makes implicit
     * parents, or ends the walk empty.
     */
    private Optional<Path> walkDirs(TarEntry e, List<String> comps, int n, boolean create) throws IOException {
        Path cur = target;
        StringBuilder key = new StringBuilder();
        for (int i = 0; i < n; i++) {
            String c = comps.get(i);
            if (i > 0) {
                key.append('/');
            }
            key.append(c);
            cur = resolve(e, cur, c);
            String k = key.toString();
            if (verifiedDirs.contains(k)) {
                continue;
            }
            Optional<BasicFileAttributes> a = lstat(cur);
            if (a.isPresent()) {
                checkDirectory(e, cur, k, a.get());
            } else if (create) {
                Files.createDirectory(cur);
                Files.setAttribute(cur, "unix:mode", 0755, LinkOption.NOFOLLOW_LINKS);
                thisLayer.add(k);
            } else {
                return Optional.empty();
            }
            verifiedDirs.add(k);
        }
        return Optional.of(cur);
    }

    private void checkDirectory(TarEntry e, Path p, String k, BasicFileAttributes a) throws IOException {
        if (a.isSymbolicLink()) {
            throw error(e, "parent \"" + k + "\" is a symlink (to " + quote(Files.readSymbolicLink(p).toString())
                    + "); paths through symlinks are refused, they could lead outside the target");
        }
        if (!a.isDirectory()) {
            throw error(e, "parent \"" + k + "\" is not a directory");
        }
    }

    private Path resolve(TarEntry e, Path dir, String component) {
        try {
            return dir.resolve(component);
        } catch (InvalidPathException x) {
            throw error(e, "name cannot be represented in this JVM's file name encoding (sun.jnu.encoding="
                    + System.getProperty("sun.jnu.encoding") + "); run with a UTF-8 locale such as LC_ALL=C.UTF-8");
        }
    }

    private static Optional<BasicFileAttributes> lstat(Path p) throws IOException {
        try {
            return Optional.of(Files.readAttributes(p, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS));
        } catch (NoSuchFileException e) {
            return Optional.empty();
        }
    }

    /** Removes whatever is at p (a directory with its contents, never through a symlink). */
    private void replace(Path p, String key, Optional<BasicFileAttributes> a) throws IOException {
        if (a.isEmpty()) {
            return;
        }
        if (a.get().isDirectory()) {
            removeTree(p);
            verifiedDirs.remove(key);
            String prefix = key + "/";
            verifiedDirs.removeIf(k -> k.startsWith(prefix));
            deferredDirs.remove(key);
            deferredDirs.keySet().removeIf(k -> k.startsWith(prefix));
        } else {
            Files.delete(p);
        }
    }

    private static void removeTree(Path p) throws IOException {
        BasicFileAttributes a = Files.readAttributes(p, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        if (a.isDirectory()) {
            List<Path> children = new ArrayList<>();
            try (DirectoryStream<Path> ds = Files.newDirectoryStream(p)) {
                ds.forEach(children::add);
            }
            for (Path c : children) {
                removeTree(c);
            }
        }
        Files.delete(p);
    }

    // ---- metadata ----

    /**
     * How metadata is applied. The JDK's chmod and utimes open the file (O_NOFOLLOW) and use
     * fchmod/futimens; opening a FIFO blocks and opening a device can act on the device, so
     * special files get their mode from mknod and keep their creation time.
     */
    private enum Kind { PLAIN, PLAIN_MODE_SET, SYMLINK, SPECIAL }

    private static final Set<java.nio.file.OpenOption> CREATE_FILE = Set.of(StandardOpenOption.CREATE_NEW,
            StandardOpenOption.WRITE, LinkOption.NOFOLLOW_LINKS);

    /** The mode to give, setuid/setgid stripped unless allowed (counted in the report). */
    private int privileged(String key, int mode) {
        int m = mode & 07777;
        if ((m & 06000) != 0 && !opt.setuid()) {
            m &= ~06000;
            strippedSetuid(key);
        }
        return m;
    }

    private void metadata(Path p, String key, TarEntry e, Kind kind) throws IOException {
        if (opt.ownership()) {
            // lchown: never follows, never opens.
            Files.setAttribute(p, "unix:uid", (int) e.uid(), LinkOption.NOFOLLOW_LINKS);
            Files.setAttribute(p, "unix:gid", (int) e.gid(), LinkOption.NOFOLLOW_LINKS);
        }
        if (kind == Kind.PLAIN) {
            // After chown, which clears setuid bits. unix:mode is chmod with all 12 bits.
            Files.setAttribute(p, "unix:mode", privileged(key, e.mode()), LinkOption.NOFOLLOW_LINKS);
        }
        if (opt.xattrs() && !e.xattrs().isEmpty() && kind != Kind.SPECIAL) {
            xattrs(p, key, e, kind == Kind.SYMLINK);
        }
        if (kind != Kind.SPECIAL) {
            Files.getFileAttributeView(p, BasicFileAttributeView.class, LinkOption.NOFOLLOW_LINKS)
                    .setTimes(FileTime.fromMillis(e.mtime() * 1000), null, null);
        }
    }

    private void xattrs(Path p, String key, TarEntry e, boolean symlink) throws IOException {
        for (Map.Entry<String, byte[]> x : e.xattrs().entrySet()) {
            String n = x.getKey();
            if (n.startsWith("user.") && !symlink) {
                UserDefinedFileAttributeView v = Files.getFileAttributeView(p, UserDefinedFileAttributeView.class,
                        LinkOption.NOFOLLOW_LINKS);
                try {
                    v.write(n.substring(5), ByteBuffer.wrap(x.getValue()));
                } catch (IOException ex) {
                    throw error(e, "xattr " + n + ": " + ex.getMessage());
                }
            } else if (n.equals("security.capability")) {
                if (opt.setuid() && Posix.isRoot()) {
                    Posix.setxattr(p, n, x.getValue());
                } else {
                    strippedSetuid(key + " (security.capability)");
                }
            } else {
                ignoredXattrs++;
            }
        }
    }

    private void strippedSetuid(String what) {
        strippedCount++;
        if (stripped.size() < 20) {
            stripped.add(what);
        }
    }

    private void finishLayer() throws IOException {
        List<Map.Entry<String, TarEntry>> ds = new ArrayList<>(deferredDirs.entrySet());
        for (int i = ds.size() - 1; i >= 0; i--) {
            String key = ds.get(i).getKey();
            TarEntry e = ds.get(i).getValue();
            List<String> comps = List.of(key.split("/"));
            Optional<Path> parent = dirExisting(e, comps, comps.size() - 1);
            if (parent.isEmpty()) {
                continue;
            }
            Path p = parent.get().resolve(comps.get(comps.size() - 1));
            Optional<BasicFileAttributes> a = lstat(p);
            if (a.isPresent() && a.get().isDirectory()) {
                metadata(p, key, e, Kind.PLAIN);
            }
        }
        deferredDirs = new LinkedHashMap<>();
    }

    private void checkText(TarEntry e, String s, String what) {
        if (s.indexOf('\0') >= 0 || s.indexOf('\n') >= 0) {
            throw error(e, what + " " + quote(s) + " contains a NUL byte or a newline");
        }
        if (s.getBytes(StandardCharsets.UTF_8).length > limits.maxPathLength()) {
            throw error(e, what + " is longer than " + limits.maxPathLength() + " bytes (limit maxPathLength)");
        }
    }

    private ImageException error(TarEntry e, String problem) {
        return new ImageException(label + ": entry " + quote(shorten(e.name())) + ": " + problem);
    }

    private static String shorten(String s) {
        return s.length() <= 200 ? s : s.substring(0, 100) + "..." + s.substring(s.length() - 60);
    }

    /** Quoted, with control characters escaped, so a hostile name cannot forge log lines. */
    static String quote(String s) {
        StringBuilder sb = new StringBuilder("\"");
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '"' || c == '\\') {
                sb.append('\\').append(c);
            } else if (c < 0x20 || c == 0x7f) {
                sb.append(String.format("\\x%02x", (int) c));
            } else {
                sb.append(c);
            }
        }
        return sb.append('"').toString();
    }

    // ---- counting streams ----

    /** Counts the bytes of the layer as stored. */
    private static final class Counting extends FilterInputStream {
        long count;

        Counting(InputStream in) {
            super(in);
        }

        @Override
        public int read() throws IOException {
            int b = super.read();
            if (b >= 0) {
                count++;
            }
            return b;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            int n = super.read(b, off, len);
            if (n > 0) {
                count += n;
            }
            return n;
        }
    }

    /** Counts uncompressed bytes against maxBytes and, for this layer, maxRatio. */
    private final class Limited extends FilterInputStream {
        private final Counting raw;
        private long layerBytes;

        Limited(InputStream in, Counting raw) {
            super(in);
            this.raw = raw;
        }

        @Override
        public int read() throws IOException {
            byte[] b = new byte[1];
            return read(b, 0, 1) < 0 ? -1 : b[0] & 0xff;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            int n = super.read(b, off, len);
            if (n > 0) {
                count(n);
            }
            return n;
        }

        @Override
        public long skip(long n) throws IOException {
            long s = super.skip(n);
            if (s > 0) {
                count(s);
            }
            return s;
        }

        private void count(long n) {
            bytes += n;
            layerBytes += n;
            if (bytes > limits.maxBytes()) {
                throw new ImageException(label + ": unpacks to more than " + limits.maxBytes() + " bytes (limit maxBytes)");
            }
            if (layerBytes > UnpackOptions.Limits.RATIO_FLOOR && layerBytes / Math.max(1, raw.count) > limits.maxRatio()) {
                throw new ImageException(label + ": expands " + layerBytes / Math.max(1, raw.count)
                        + " times (" + raw.count + " bytes to " + layerBytes + " so far), more than "
                        + limits.maxRatio() + " (limit maxRatio): a decompression bomb?");
            }
        }
    }
}
