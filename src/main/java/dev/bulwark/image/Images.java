package dev.bulwark.image;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** The named images of a store: list, resolve, inspect, remove, unpack into a rootfs. */
public final class Images {
    private final ContentStore store;
    private final Platform platform;

    public Images(ContentStore store, Platform platform) {
        this.store = store;
        this.platform = platform;
    }

    public ContentStore store() {
        return store;
    }

    /** One line of `bulwark images`. */
    public record Summary(String name, Digest digest, long size) {}

    public List<Summary> list() {
        List<Summary> out = new ArrayList<>();
        for (Map.Entry<String, Descriptor> e : store.refs().entrySet()) {
            Descriptor d = e.getValue();
            long size;
            try {
                size = d.size() + manifest(d).size();
            } catch (ImageException x) {
                size = -1;
            }
            out.add(new Summary(e.getKey(), d.digest(), size));
        }
        out.sort((a, b) -> a.name().compareTo(b.name()));
        return out;
    }

    /**
     * The entry a user's reference means: a name (normalised as Docker does, "alpine" is
     * docker.io/library/alpine:latest), name@digest (the digest must match), a full digest, or a
     * unique prefix of at least 12 hex digits of one.
     */
    public Map.Entry<String, Descriptor> resolve(String ref) {
        Map<String, Descriptor> refs = store.refs();
        String hex = ref.startsWith("sha256:") ? ref.substring(7) : ref;
        if (hex.length() >= 12 && hex.length() <= 64 && hex.chars().allMatch(c -> c >= '0' && c <= '9' || c >= 'a' && c <= 'f')) {
            List<Map.Entry<String, Descriptor>> hits = new ArrayList<>();
            for (Map.Entry<String, Descriptor> e : refs.entrySet()) {
                if (e.getValue().digest().hex().startsWith(hex)) {
                    hits.add(e);
                }
            }
            if (hits.size() == 1 || hits.size() > 1 && hits.stream().map(e -> e.getValue().digest()).distinct().count() == 1) {
                return hits.get(0);
            }
            if (hits.size() > 1) {
                throw new ImageException("reference " + ref + " is ambiguous: " + hits.stream().map(Map.Entry::getKey).toList());
            }
        }
        Reference r = Reference.parse(ref);
        if (!r.digest().isEmpty()) {
            // NAME@DIGEST as a pull by digest records it, else NAME:TAG (the tag given, or any)
            // whose content, or whose index at the registry, is that digest
            Descriptor exact = refs.get(r.name() + "@" + r.digest());
            if (exact != null) {
                return Map.entry(r.name() + "@" + r.digest(), exact);
            }
            String prefix = r.name() + (r.tag().isEmpty() ? ":" : ":" + r.tag());
            for (Map.Entry<String, Descriptor> e : refs.entrySet()) {
                boolean named = r.tag().isEmpty() ? e.getKey().startsWith(prefix) : e.getKey().equals(prefix);
                if (named && (e.getValue().digest().toString().equals(r.digest())
                        || resolvedDigest(e.getValue()).toString().equals(r.digest()))) {
                    return e;
                }
            }
            throw new ImageException("image " + ref + " is not in the store " + store.root());
        }
        String name = r.name() + (r.tag().isEmpty() ? ":latest" : ":" + r.tag());
        Descriptor d = refs.get(name);
        if (d == null) {
            throw new ImageException("image " + ref + " is not in the store " + store.root()
                    + (ref.equals(name) ? "" : " (looked for " + name + ")"));
        }
        return Map.entry(name, d);
    }

    /**
     * The digest a store entry's reference resolved to at its registry: the index a pull chose
     * this platform's manifest from (what a tag names and what signatures sign), else the entry's own.
     */
    public static Digest resolvedDigest(Descriptor entry) {
        String r = entry.annotations().getOrDefault(Puller.RESOLVED_DIGEST, "");
        return r.isEmpty() ? entry.digest() : Digest.parse(r);
    }

    /** The manifest of an entry, through an index for this platform. */
    public Manifest manifest(Descriptor d) {
        Descriptor cur = d;
        for (int i = 0; MediaTypes.isIndex(cur.mediaType()); i++) {
            if (i > 4) {
                throw new ImageException("index " + d.digest() + ": nested more than 4 deep");
            }
            Descriptor from = cur;
            cur = ImageIndex.parse(store.read(cur.digest()), "index " + cur.digest()).select(platform)
                    .orElseThrow(() -> new ImageException("index " + from.digest() + ": no manifest for " + platform));
        }
        if (!MediaTypes.isManifest(cur.mediaType())) {
            throw new ImageException("blob " + cur.digest() + ": media type " + cur.mediaType() + " is not an image manifest");
        }
        return Manifest.parse(store.read(cur.digest()), "manifest " + cur.digest());
    }

    /** The image config JSON, as stored. */
    public byte[] config(String ref) {
        return store.read(manifest(resolve(ref).getValue()).config().digest());
    }

    /**
     * Drops the name and collects what no other name needs. When no other name points to the
     * same image, its signature artifacts go with it, and so does its unpacked tree in the
     * rootfs cache (unless a container still uses it).
     */
    public ContentStore.GcResult remove(String ref) {
        Map.Entry<String, Descriptor> e = resolve(ref);
        store.untag(e.getKey());
        Digest signed = resolvedDigest(e.getValue());
        boolean stillNamed = store.refs().entrySet().stream()
                .anyMatch(o -> !o.getKey().endsWith(".sig") && resolvedDigest(o.getValue()).equals(signed));
        if (!stillNamed) {
            store.untag(Signatures.artifactName(Reference.parse(e.getKey()), signed));
        }
        ContentStore.GcResult r = store.gc();
        RootfsCache.of(store).prune(store);
        return r;
    }

    /**
     * Flattens the image's layers into dir, which must be absent or empty. On any error the
     * partial rootfs is removed, so a failed unpack leaves nothing behind. Each layer is hashed
     * again as it is read, so a blob changed on disk after it was stored is refused.
     */
    public LayerUnpacker.Report unpack(String ref, Path dir, UnpackOptions options) {
        Manifest m = manifest(resolve(ref).getValue());
        try {
            if (Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) {
                try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
                    if (ds.iterator().hasNext()) {
                        throw new ImageException("unpack: " + dir + " is not empty");
                    }
                }
            } else {
                Files.createDirectories(dir);
            }
        } catch (IOException e) {
            throw new ImageException("unpack: " + dir + ": " + e.getMessage(), e);
        }
        boolean ok = false;
        try {
            LayerUnpacker u = new LayerUnpacker(dir, options);
            for (Descriptor l : m.layers()) {
                MessageDigest md = Digest.sha256();
                try (InputStream in = new DigestInputStream(store.open(l.digest()), md)) {
                    u.apply(in, l.mediaType(), l.digest().toString());
                    in.transferTo(java.io.OutputStream.nullOutputStream());
                } catch (IOException e) {
                    throw new ImageException("layer " + l.digest() + ": " + e.getMessage(), e);
                }
                Digest actual = Digest.of(md);
                if (!actual.equals(l.digest())) {
                    throw new ImageException("layer " + l.digest() + " is corrupt in the store: it hashes to " + actual);
                }
            }
            ok = true;
            return u.report();
        } finally {
            if (!ok) {
                removeContents(dir);
            }
        }
    }

    private static void removeContents(Path dir) {
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
            for (Path c : ds) {
                removeTree(c);
            }
        } catch (IOException e) {
            // The original error matters more; what is left is inside the target only.
        }
    }

    private static void removeTree(Path p) throws IOException {
        BasicFileAttributes a = Files.readAttributes(p, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        if (a.isDirectory()) {
            if (!Files.isWritable(p)) {
                Files.setAttribute(p, "unix:mode", 0700, LinkOption.NOFOLLOW_LINKS);
            }
            try (DirectoryStream<Path> ds = Files.newDirectoryStream(p)) {
                for (Path c : ds) {
                    removeTree(c);
                }
            }
        }
        Files.delete(p);
    }
}
