package dev.bulwark.image;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Exports a named image as an OCI image layout, a directory or a tarball (what skopeo's
 * {@code oci:} and {@code oci-archive:} read, and umoci). The entry in the layout's index.json
 * carries the full name in io.containerd.image.name and the tag in
 * org.opencontainers.image.ref.name, as Docker 25+ writes them, so umoci (which wants a bare
 * tag) and skopeo both find it. Blobs are hashed again as they are copied out.
 */
public final class Exporter {
    private static final String LAYOUT = "{\"imageLayoutVersion\":\"1.0.0\"}";

    private final ContentStore store;

    public Exporter(ContentStore store) {
        this.store = store;
    }

    /** Exports to DIR, or to a tarball when the path ends in .tar. */
    public Descriptor export(String name, Path dest) {
        Descriptor top = store.resolve(name).orElseThrow(() -> new ImageException("image " + name + " is not in the store"));
        List<Descriptor> blobs = new ArrayList<>();
        store.walk(top, d -> {
            blobs.add(d);
            return true;
        });
        Reference ref = Reference.parse(name);
        Map<String, String> a = new LinkedHashMap<>();
        a.put(Descriptor.CONTAINERD_NAME, name);
        a.put(Descriptor.REF_NAME, ref.tag().isEmpty() ? "latest" : ref.tag());
        Descriptor entry = top.withAnnotations(a);
        try {
            if (dest.getFileName().toString().endsWith(".tar")) {
                tarball(entry, blobs, dest);
            } else {
                directory(entry, blobs, dest);
            }
        } catch (IOException e) {
            throw new ImageException("export " + name + " to " + dest + ": " + e.getMessage(), e);
        }
        return entry;
    }

    private void directory(Descriptor entry, List<Descriptor> blobs, Path dir) throws IOException {
        List<Descriptor> index = new ArrayList<>();
        if (Files.isDirectory(dir)) {
            boolean empty;
            try (var l = Files.list(dir)) {
                empty = l.findAny().isEmpty();
            }
            if (!empty) {
                if (!Files.isRegularFile(dir.resolve("oci-layout")) || !Files.isRegularFile(dir.resolve("index.json"))) {
                    throw new ImageException("export: " + dir + " is neither empty nor an OCI layout");
                }
                String containerdName = entry.annotations().get(Descriptor.CONTAINERD_NAME);
                for (Descriptor d : ImageIndex.parse(Files.readAllBytes(dir.resolve("index.json")), dir + "/index.json").manifests()) {
                    if (!containerdName.equals(d.annotations().get(Descriptor.CONTAINERD_NAME))) {
                        index.add(d);
                    }
                }
            }
        } else {
            Files.createDirectories(dir);
        }
        Path b = Files.createDirectories(dir.resolve("blobs").resolve("sha256"));
        for (Descriptor d : blobs) {
            Path target = b.resolve(d.digest().hex());
            if (Files.isRegularFile(target) && Files.size(target) == d.size()) {
                continue;
            }
            Path tmp = b.resolve(".tmp-" + d.digest().hex());
            try (InputStream in = store.open(d.digest());
                    OutputStream out = Files.newOutputStream(tmp, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING)) {
                copyVerified(in, out, d);
            }
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        }
        Files.writeString(dir.resolve("oci-layout"), LAYOUT, StandardCharsets.UTF_8);
        index.add(entry);
        Path tmp = dir.resolve(".index.json.tmp");
        Files.write(tmp, new ImageIndex(index).toJson());
        Files.move(tmp, dir.resolve("index.json"), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }

    private void tarball(Descriptor entry, List<Descriptor> blobs, Path file) throws IOException {
        Path parent = file.toAbsolutePath().getParent();
        Path tmp = Files.createTempFile(parent, ".bulwark-export-", ".tar");
        try {
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE);
                    OutputStream out = new BufferedOutputStream(Channels.newOutputStream(ch), 1 << 16)) {
                TarWriter t = new TarWriter(out);
                t.add(TarEntry.file("oci-layout", 0644, 0), LAYOUT.getBytes(StandardCharsets.UTF_8));
                t.add(TarEntry.dir("blobs/", 0755), new byte[0]);
                t.add(TarEntry.dir("blobs/sha256/", 0755), new byte[0]);
                for (Descriptor d : blobs) {
                    try (InputStream in = store.open(d.digest())) {
                        MessageDigest md = Digest.sha256();
                        t.add(TarEntry.file("blobs/sha256/" + d.digest().hex(), 0644, d.size()), new DigestInputStream(in, md));
                        Digest actual = Digest.of(md);
                        if (!actual.equals(d.digest())) {
                            throw new ImageException("blob " + d.digest() + " is corrupt in the store: it hashes to " + actual);
                        }
                    }
                }
                t.add(TarEntry.file("index.json", 0644, 0), new ImageIndex(List.of(entry)).toJson());
                t.finish();
                out.flush();
                ch.force(true);
            }
            Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    private static void copyVerified(InputStream in, OutputStream out, Descriptor d) throws IOException {
        MessageDigest md = Digest.sha256();
        byte[] buf = new byte[1 << 16];
        long n = 0;
        int r;
        while ((r = in.read(buf)) > 0) {
            md.update(buf, 0, r);
            out.write(buf, 0, r);
            n += r;
        }
        Digest actual = Digest.of(md);
        if (!actual.equals(d.digest()) || n != d.size()) {
            throw new ImageException("blob " + d.digest() + " is corrupt in the store: " + n + " bytes hashing to " + actual);
        }
    }
}
