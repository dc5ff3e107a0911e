package dev.bulwark.image;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.zip.GZIPInputStream;

/**
 * Imports images into the store from what other tools write:
 * <ul>
 * <li>OCI image layouts, as directories or tarballs (skopeo {@code oci:} and
 *     {@code oci-archive:}, umoci, Docker 25+ {@code docker save}, which is both);</li>
 * <li>{@code docker save} archives in the older layout: manifest.json naming a config JSON and
 *     {@code <id>/layer.tar} files, each layer's SHA-256 checked against the config's diff_ids;</li>
 * <li>either of those gzip-compressed ({@code docker save | gzip}).</li>
 * </ul>
 * Every blob is verified while it is stored. From an index only the manifest for the wanted
 * platform is taken. Names come from {@code --name}, else from the archive
 * (io.containerd.image.name, a reference-like org.opencontainers.image.ref.name, RepoTags).
 */
public final class Importer {
    private final ContentStore store;
    private final Platform platform;

    /** One image named in the store by an import. */
    public record Imported(String name, Descriptor manifest) {}

    public Importer(ContentStore store, Platform platform) {
        this.store = store;
        this.platform = platform;
    }

    /**
     * Imports from a file or directory; name (may be empty) overrides the archive's names and
     * then the archive must hold exactly one image.
     */
    public List<Imported> importFrom(Path source, Optional<String> name) {
        Optional<String> normalized = name.map(n -> Reference.parse(n).toString());
        try (ContentStore.Hold h = store.holdForWriting()) {
            Source src;
            if (Files.isDirectory(source)) {
                src = new DirSource(source.toRealPath());
            } else if (Files.isRegularFile(source)) {
                src = TarSource.scan(store, source);
            } else {
                throw new ImageException("import " + source + ": no such file or directory");
            }
            List<Imported> out;
            if (src.exists("oci-layout") && src.exists("index.json")) {
                out = importOci(src, normalized);
            } else if (src.exists("manifest.json")) {
                out = importDocker(src, normalized);
            } else {
                throw new ImageException("import " + source + ": neither an OCI layout (oci-layout, index.json) nor a "
                        + "docker save archive (manifest.json)");
            }
            return out;
        } catch (IOException e) {
            throw new ImageException("import " + source + ": " + e.getMessage(), e);
        }
    }

    // ---- OCI layout ----

    private List<Imported> importOci(Source src, Optional<String> name) throws IOException {
        Doc layout = Doc.parse(src.small("oci-layout"), "oci-layout");
        String v = layout.req("imageLayoutVersion").string();
        if (!v.startsWith("1.")) {
            throw layout.req("imageLayoutVersion").error("version " + v + " is not supported (expected 1.x)");
        }
        List<Descriptor> tops = ImageIndex.parse(src.small("index.json"), "index.json").manifests();
        if (tops.isEmpty()) {
            throw new ImageException("index.json: the layout holds no image");
        }
        List<Imported> out = new ArrayList<>();
        if (name.isPresent()) {
            if (tops.size() != 1) {
                throw new ImageException("index.json: the layout holds " + tops.size() + " images ("
                        + String.join(", ", names(tops)) + "); --name names one");
            }
            Descriptor m = fetchImage(src, tops.get(0));
            store.tag(name.get(), m);
            out.add(new Imported(name.get(), m));
            return out;
        }
        for (Descriptor top : tops) {
            String n = archiveName(top).orElseThrow(() -> new ImageException("index.json: image " + top.digest()
                    + " has no reference name" + top.annotation(Descriptor.REF_NAME).map(t -> " (only the tag \"" + t + "\")").orElse("")
                    + "; give one with --name"));
            Descriptor m = fetchImage(src, top);
            store.tag(n, m);
            out.add(new Imported(n, m));
        }
        return out;
    }

    private static List<String> names(List<Descriptor> tops) {
        List<String> n = new ArrayList<>();
        for (Descriptor d : tops) {
            n.add(d.annotation(Descriptor.CONTAINERD_NAME).or(() -> d.annotation(Descriptor.REF_NAME)).orElse(d.digest().toString()));
        }
        return n;
    }

    /** A full reference from the annotations; a bare tag ("latest", as umoci writes) is not a name. */
    private static Optional<String> archiveName(Descriptor d) {
        Optional<String> c = d.annotation(Descriptor.CONTAINERD_NAME);
        if (c.isPresent()) {
            return Optional.of(Reference.parse(c.get()).toString());
        }
        Optional<String> r = d.annotation(Descriptor.REF_NAME);
        if (r.isPresent() && (r.get().contains("/") || r.get().contains(":"))) {
            return Optional.of(Reference.parse(r.get()).toString());
        }
        return Optional.empty();
    }

    /**
     * Copies the manifest for this platform (through indexes) with its config and layers into
     * the store; returns the manifest's descriptor.
     */
    private Descriptor fetchImage(Source src, Descriptor top) throws IOException {
        Descriptor d = top;
        for (int depth = 0; MediaTypes.isIndex(d.mediaType()); depth++) {
            if (depth > 4) {
                throw new ImageException("index " + top.digest() + ": indexes nested more than 4 deep");
            }
            ImageIndex idx = ImageIndex.parse(blob(src, d), "index " + d.digest());
            Descriptor from = d;
            d = idx.select(platform).orElseThrow(() -> new ImageException("index " + from.digest() + ": no manifest for "
                    + platform + " (it has " + platforms(idx) + ")"));
        }
        if (!MediaTypes.isManifest(d.mediaType())) {
            throw new ImageException("descriptor " + d.digest() + ": media type " + d.mediaType()
                    + " is neither an image manifest nor an index");
        }
        byte[] mb = blob(src, d);
        Manifest m = Manifest.parse(mb, "manifest " + d.digest());
        blob(src, m.config());
        for (Descriptor l : m.layers()) {
            src.store(blobPath(l.digest()), l.digest(), l.size());
        }
        return new Descriptor(d.mediaType(), d.digest(), d.size(), Map.of(), d.platform());
    }

    private static String platforms(ImageIndex idx) {
        Set<String> p = new LinkedHashSet<>();
        for (Descriptor m : idx.manifests()) {
            p.add(m.platform().specified() ? m.platform().toString() : "unspecified");
        }
        return String.join(", ", p);
    }

    private static String blobPath(Digest d) {
        return "blobs/sha256/" + d.hex();
    }

    /** A small blob, verified, stored, and returned. */
    private byte[] blob(Source src, Descriptor d) throws IOException {
        if (d.size() > ContentStore.MAX_DOCUMENT) {
            throw new ImageException("blob " + d.digest() + " (" + d.mediaType() + "): " + d.size()
                    + " bytes, more than the " + ContentStore.MAX_DOCUMENT + " allowed for a document");
        }
        src.store(blobPath(d.digest()), d.digest(), d.size());
        return store.read(d.digest());
    }

    // ---- docker save ----

    private List<Imported> importDocker(Source src, Optional<String> name) throws IOException {
        Doc manifests = Doc.parse(src.small("manifest.json"), "manifest.json");
        List<Doc> items = manifests.array();
        if (items.isEmpty()) {
            throw new ImageException("manifest.json: the archive holds no image");
        }
        if (name.isPresent() && items.size() != 1) {
            throw new ImageException("manifest.json: the archive holds " + items.size() + " images; --name names one");
        }
        List<Imported> out = new ArrayList<>();
        for (Doc item : items) {
            String configPath = item.req("Config").string();
            byte[] config = src.small(configPath);
            Digest configDigest = Digest.of(config);
            store.put(config);
            Doc cfg = Doc.parse(config, configPath);
            List<Doc> diffIds = cfg.req("rootfs").array("diff_ids");
            List<Doc> layerPaths = item.req("Layers").array();
            if (diffIds.size() != layerPaths.size()) {
                throw new ImageException("manifest.json: " + configPath + " lists " + diffIds.size()
                        + " diff_ids but the image has " + layerPaths.size() + " layers");
            }
            List<Descriptor> layers = new ArrayList<>();
            for (int i = 0; i < layerPaths.size(); i++) {
                String lp = layerPaths.get(i).string();
                Digest diffId = Digest.parse(diffIds.get(i).string());
                // docker save writes layers uncompressed, so each one's digest is its diff_id.
                Descriptor l = src.store(lp, diffId, -1);
                layers.add(new Descriptor(MediaTypes.OCI_LAYER, l.digest(), l.size()));
            }
            Manifest m = new Manifest(MediaTypes.OCI_MANIFEST,
                    new Descriptor(MediaTypes.OCI_CONFIG, configDigest, config.length), layers);
            byte[] mb = m.toJson();
            Descriptor md = new Descriptor(MediaTypes.OCI_MANIFEST, store.put(mb), mb.length);
            List<String> tags = new ArrayList<>();
            if (name.isPresent()) {
                tags.add(name.get());
            } else {
                for (Doc t : item.array("RepoTags")) {
                    tags.add(Reference.parse(t.string()).toString());
                }
            }
            if (tags.isEmpty()) {
                throw new ImageException("manifest.json: image " + configPath + " has no RepoTags; give it a name with --name");
            }
            for (String t : tags) {
                store.tag(t, md);
                out.add(new Imported(t, md));
            }
        }
        return out;
    }

    // ---- sources ----

    /** Paths inside an archive or directory, as its manifest files name them. */
    private interface Source {
        boolean exists(String path) throws IOException;

        /** A small file (JSON), read into memory. */
        byte[] small(String path) throws IOException;

        /**
         * Makes sure the file is in the store with that digest (and size, unless -1); returns
         * its descriptor (media type left empty).
         */
        Descriptor store(String path, Digest expected, long size) throws IOException;
    }

    /** Archive paths come from the archive's own JSON: no absolute names, no "..". */
    static String clean(String path) {
        List<String> out = new ArrayList<>();
        for (String c : path.split("/")) {
            if (c.isEmpty() || c.equals(".")) {
                continue;
            }
            if (c.equals("..")) {
                if (out.isEmpty()) {
                    throw new ImageException("archive path \"" + path + "\" leads outside the archive");
                }
                out.remove(out.size() - 1);
                continue;
            }
            out.add(c);
        }
        if (path.startsWith("/")) {
            throw new ImageException("archive path \"" + path + "\" is absolute");
        }
        return String.join("/", out);
    }

    private final class DirSource implements Source {
        private final Path dir;

        DirSource(Path dir) {
            this.dir = dir;
        }

        /** The file, which must be inside the directory even after its symlinks are resolved. */
        private Path file(String path) throws IOException {
            Path p = dir.resolve(clean(path));
            Path real;
            try {
                real = p.toRealPath();
            } catch (NoSuchFileException e) {
                throw new ImageException("import " + dir + ": " + path + " is missing");
            }
            if (!real.startsWith(dir)) {
                throw new ImageException("import " + dir + ": " + path + " resolves outside the directory, to " + real);
            }
            if (!Files.isRegularFile(real)) {
                throw new ImageException("import " + dir + ": " + path + " is not a regular file");
            }
            return real;
        }

        @Override
        public boolean exists(String path) {
            return Files.exists(dir.resolve(clean(path)), LinkOption.NOFOLLOW_LINKS);
        }

        @Override
        public byte[] small(String path) throws IOException {
            Path f = file(path);
            if (Files.size(f) > ContentStore.MAX_DOCUMENT) {
                throw new ImageException("import " + dir + ": " + path + " is larger than " + ContentStore.MAX_DOCUMENT + " bytes");
            }
            return Files.readAllBytes(f);
        }

        @Override
        public Descriptor store(String path, Digest expected, long size) throws IOException {
            if (store.has(expected) && (size < 0 || store.size(expected) == size)) {
                return new Descriptor("", expected, store.size(expected));
            }
            try (InputStream in = Files.newInputStream(file(path))) {
                try {
                    store.put(in, expected, size);
                } catch (ImageException e) {
                    throw new ImageException(path + ": " + e.getMessage(), e);
                }
            }
            return new Descriptor("", expected, store.size(expected));
        }
    }

    /**
     * A tar archive read once, front to back: blobs go into the store as they stream past
     * (blobs/sha256/HEX verified against their names), small JSON files are kept in memory,
     * and links are remembered, since manifest.json may well come last.
     */
    private static final class TarSource implements Source {
        private final ContentStore store;
        private final String archive;
        private final Map<String, byte[]> small = new HashMap<>();
        private final Map<String, Descriptor> stored = new HashMap<>();
        private final Map<String, String> links = new HashMap<>();

        private TarSource(ContentStore store, String archive) {
            this.store = store;
            this.archive = archive;
        }

        static TarSource scan(ContentStore store, Path file) throws IOException {
            TarSource t = new TarSource(store, file.toString());
            try (InputStream raw = new BufferedInputStream(Files.newInputStream(file), 1 << 16)) {
                raw.mark(2);
                int b0 = raw.read();
                int b1 = raw.read();
                raw.reset();
                InputStream in = b0 == 0x1f && b1 == 0x8b ? new GZIPInputStream(raw, 1 << 16) : raw;
                TarReader r = new TarReader(in, file.toString());
                Optional<TarEntry> e;
                while ((e = r.next()).isPresent()) {
                    t.take(e.get(), r);
                }
            }
            return t;
        }

        private void take(TarEntry e, TarReader r) throws IOException {
            String name = clean(e.name());
            switch (e.type()) {
                case SYMLINK -> {
                    String base = name.contains("/") ? name.substring(0, name.lastIndexOf('/') + 1) : "";
                    links.put(name, e.linkName().startsWith("/") ? clean(e.linkName()) : clean(base + e.linkName()));
                }
                case HARDLINK -> links.put(name, clean(e.linkName()));
                case FILE -> {
                    String[] parts = name.split("/");
                    if (parts.length == 3 && parts[0].equals("blobs") && parts[1].equals("sha256") && Digest.isHex64(parts[2])) {
                        Digest d = new Digest(parts[2]);
                        try {
                            store.put(r.content(), d, e.size());
                        } catch (ImageException x) {
                            throw new ImageException(archive + ": " + name + ": " + x.getMessage(), x);
                        }
                        stored.put(name, new Descriptor("", d, e.size()));
                    } else if (name.endsWith(".json") || name.equals("oci-layout") || name.equals("repositories")) {
                        if (e.size() > ContentStore.MAX_DOCUMENT) {
                            throw new ImageException(archive + ": " + name + " is larger than " + ContentStore.MAX_DOCUMENT + " bytes");
                        }
                        small.put(name, r.content().readAllBytes());
                    } else if (name.endsWith(".tar") || name.endsWith("/layer")) {
                        stored.put(name, store.put(r.content(), ""));
                    }
                    // Anything else (<id>/json, VERSION) is not needed.
                }
                default -> { }
            }
        }

        private String follow(String path) {
            String p = clean(path);
            for (int i = 0; i < 16 && links.containsKey(p); i++) {
                p = links.get(p);
            }
            return p;
        }

        @Override
        public boolean exists(String path) {
            String p = follow(path);
            return small.containsKey(p) || stored.containsKey(p);
        }

        @Override
        public byte[] small(String path) throws IOException {
            String p = follow(path);
            byte[] b = small.get(p);
            if (b != null) {
                return b;
            }
            Descriptor d = stored.get(p);
            if (d != null) {
                return store.read(d.digest());
            }
            throw new ImageException(archive + ": " + path + " is missing");
        }

        @Override
        public Descriptor store(String path, Digest expected, long size) throws IOException {
            String p = follow(path);
            Descriptor d = stored.get(p);
            if (d == null) {
                byte[] b = small.get(p);
                if (b == null) {
                    throw new ImageException(archive + ": " + path + " is missing");
                }
                store.put(new java.io.ByteArrayInputStream(b), expected, size);
                return new Descriptor("", expected, b.length);
            }
            if (!d.digest().equals(expected)) {
                throw new ImageException(archive + ": " + path + ": expected digest " + expected + ", found " + d.digest());
            }
            if (size >= 0 && d.size() != size) {
                throw new ImageException(archive + ": " + path + ": expected " + size + " bytes, found " + d.size());
            }
            return d;
        }
    }
}
