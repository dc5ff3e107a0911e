package dev.bulwark.image;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

@Timeout(300)
class ImportExportTest {
    @TempDir
    Path tmp;

    private static final String NAME = "docker.io/library/test:1";

    private ContentStore store(String n) {
        return ContentStore.open(tmp.resolve(n));
    }

    private Descriptor sample(ContentStore s) {
        Descriptor m = TestImages.store(s, Platform.host(), TestImages.twoLayers());
        s.tag(NAME, m);
        return m;
    }

    private static void checkRootfs(Path r) throws IOException {
        assertEquals("ID=test\n", Files.readString(r.resolve("etc/os-release")));
        assertEquals("hello\n", Files.readString(r.resolve("etc/motd")));
        assertEquals("../bin", Files.readSymbolicLink(r.resolve("usr/bin")).toString());
        assertFalse(Files.exists(r.resolve("gone")));
    }

    @Test
    void ociDirectoryRoundTrip() throws IOException {
        ContentStore a = store("a");
        Descriptor m = sample(a);
        Path layout = tmp.resolve("layout");
        new Exporter(a).export(NAME, layout);
        assertTrue(Files.isRegularFile(layout.resolve("oci-layout")));
        String index = Files.readString(layout.resolve("index.json"));
        assertTrue(index.contains("\"io.containerd.image.name\": \"" + NAME + "\""), index);
        assertTrue(index.contains("\"org.opencontainers.image.ref.name\": \"1\""), index);

        ContentStore b = store("b");
        List<Importer.Imported> got = new Importer(b, Platform.host()).importFrom(layout, Optional.empty());
        assertEquals(List.of(new Importer.Imported(NAME, new Descriptor(m.mediaType(), m.digest(), m.size()))), got);
        assertTrue(b.verify().isEmpty(), b.verify().toString());
        Path rootfs = tmp.resolve("rootfs");
        new Images(b, Platform.host()).unpack("test:1", rootfs, UnpackOptions.defaults());
        checkRootfs(rootfs);
    }

    @Test
    void ociTarballRoundTripAndRename() throws IOException {
        ContentStore a = store("a");
        Descriptor m = sample(a);
        Path tar = tmp.resolve("img.tar");
        new Exporter(a).export(NAME, tar);
        ContentStore b = store("b");
        List<Importer.Imported> got = new Importer(b, Platform.host()).importFrom(tar, Optional.of("other/name:2"));
        assertEquals("docker.io/other/name:2", got.get(0).name());
        assertEquals(m.digest(), got.get(0).manifest().digest());
        assertEquals(a.blobs().stream().sorted().toList(), b.blobs().stream().sorted().toList());
    }

    @Test
    void dockerSaveLegacyArchive() throws IOException {
        for (boolean gzip : List.of(false, true)) {
            ContentStore s = store("s" + gzip);
            Path archive = tmp.resolve("save" + gzip + ".tar");
            List<byte[]> layers = new ArrayList<>(TestImages.twoLayers());
            layers.add(layers.get(0)); // a repeated layer: stored once, referenced through a symlink
            TestImages.dockerSave(archive, "busybox:musl", layers, gzip);
            List<Importer.Imported> got = new Importer(s, Platform.host()).importFrom(archive, Optional.empty());
            assertEquals("docker.io/library/busybox:musl", got.get(0).name());
            Manifest m = Manifest.parse(s.read(got.get(0).manifest().digest()), "m");
            assertEquals(3, m.layers().size());
            for (int i = 0; i < layers.size(); i++) {
                assertEquals(Digest.of(layers.get(i)), m.layers().get(i).digest(), "layer digest is the diff_id");
                assertEquals(MediaTypes.OCI_LAYER, m.layers().get(i).mediaType());
            }
            assertTrue(s.verify().isEmpty(), s.verify().toString());
            Path rootfs = tmp.resolve("rootfs" + gzip);
            new Images(s, Platform.host()).unpack("busybox:musl", rootfs, UnpackOptions.defaults());
            assertTrue(Files.exists(rootfs.resolve("gone")), "the repeated first layer brings it back");
        }
    }

    @Test
    void dockerSaveDirectoryAndTamperedLayer() throws IOException, InterruptedException {
        Path archive = tmp.resolve("save.tar");
        TestImages.dockerSave(archive, "x/y:z", TestImages.twoLayers(), false);
        Path dir = Files.createDirectories(tmp.resolve("extracted"));
        Process p = new ProcessBuilder("tar", "-xf", archive.toString(), "-C", dir.toString()).inheritIO().start();
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue());
        ContentStore s = store("s");
        assertEquals("docker.io/x/y:z", new Importer(s, Platform.host()).importFrom(dir, Optional.empty()).get(0).name());

        // Replace the second layer.tar with other content: its digest no longer matches the diff_id.
        Path layerTar;
        try (var w = Files.walk(dir)) {
            layerTar = w.filter(f -> f.getFileName().toString().equals("layer.tar"))
                    .filter(f -> {
                        try {
                            return Digest.of(Files.readAllBytes(f)).equals(Digest.of(TestImages.twoLayers().get(1)));
                        } catch (IOException e) {
                            throw new RuntimeException(e);
                        }
                    }).findFirst().orElseThrow();
        }
        Files.write(layerTar, Layer.of().file("etc/motd", "evil\n").tar());
        ContentStore t = store("t");
        ImageException e = assertThrows(ImageException.class,
                () -> new Importer(t, Platform.host()).importFrom(dir, Optional.empty()));
        assertTrue(e.getMessage().contains("expected digest " + Digest.of(TestImages.twoLayers().get(1))), e.getMessage());
        assertTrue(e.getMessage().contains("found sha256:"), e.getMessage());
        assertTrue(t.refs().isEmpty());
    }

    /** Docker 25+ writes an OCI layout and a manifest.json side by side; the OCI index wins. */
    @Test
    void dockerSaveOciFormat() throws IOException {
        ContentStore a = store("a");
        sample(a);
        Path layout = tmp.resolve("layout");
        new Exporter(a).export(NAME, layout);
        Manifest m = Manifest.parse(a.read(a.resolve(NAME).orElseThrow().digest()), "m");
        List<String> ls = new ArrayList<>();
        for (Descriptor l : m.layers()) {
            ls.add("\"blobs/sha256/" + l.digest().hex() + "\"");
        }
        Files.writeString(layout.resolve("manifest.json"), "[{\"Config\":\"blobs/sha256/" + m.config().digest().hex()
                + "\",\"RepoTags\":[\"ignored:tag\"],\"Layers\":[" + String.join(",", ls) + "]}]");
        Path tar = tmp.resolve("docker25.tar");
        Process p = new ProcessBuilder("tar", "-cf", tar.toString(), "-C", layout.toString(), ".").inheritIO().start();
        try {
            assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        } catch (InterruptedException e) {
            throw new IOException(e);
        }
        ContentStore b = store("b");
        List<Importer.Imported> got = new Importer(b, Platform.host()).importFrom(tar, Optional.empty());
        assertEquals(List.of(NAME), got.stream().map(Importer.Imported::name).toList());
    }

    @Test
    void multiPlatformIndexSelectsOnePlatform() throws IOException {
        ContentStore a = store("a");
        Descriptor amd = TestImages.store(a, new Platform("linux", "amd64", ""), List.of(Layer.of().file("arch", "amd64").tar()));
        Descriptor arm = TestImages.store(a, new Platform("linux", "arm64", "v8"), List.of(Layer.of().file("arch", "arm64").tar()));
        byte[] idx = new ImageIndex(List.of(
                new Descriptor(amd.mediaType(), amd.digest(), amd.size(), Map.of(), new Platform("linux", "amd64", "")),
                new Descriptor(arm.mediaType(), arm.digest(), arm.size(), Map.of(), new Platform("linux", "arm64", "v8")),
                new Descriptor(MediaTypes.OCI_MANIFEST, Digest.of("attestation".getBytes()), 11, Map.of(),
                        new Platform("unknown", "unknown", "")))).toJson();
        // A layout holding the index, written by hand as skopeo copy --all would.
        Path layout = tmp.resolve("multi");
        Path blobs = Files.createDirectories(layout.resolve("blobs/sha256"));
        for (Digest d : a.blobs()) {
            Files.copy(a.blobPath(d), blobs.resolve(d.hex()));
        }
        Digest idxDigest = Digest.of(idx);
        Files.write(blobs.resolve(idxDigest.hex()), idx);
        Files.writeString(layout.resolve("oci-layout"), "{\"imageLayoutVersion\": \"1.0.0\"}");
        Files.write(layout.resolve("index.json"), new ImageIndex(List.of(new Descriptor(MediaTypes.OCI_INDEX, idxDigest, idx.length,
                Map.of(Descriptor.REF_NAME, "example.com/multi:1"), Platform.UNSPECIFIED))).toJson());

        ContentStore b = store("b");
        Importer.Imported amdGot = new Importer(b, Platform.parse("linux/amd64")).importFrom(layout, Optional.empty()).get(0);
        assertEquals("example.com/multi:1", amdGot.name());
        assertEquals(amd.digest(), amdGot.manifest().digest());
        assertFalse(b.has(arm.digest()), "only the selected platform is copied");

        ContentStore c = store("c");
        Importer.Imported armGot = new Importer(c, Platform.parse("linux/arm64")).importFrom(layout, Optional.empty()).get(0);
        assertEquals(arm.digest(), armGot.manifest().digest());
        Path rootfs = tmp.resolve("arm");
        new Images(c, Platform.parse("linux/arm64")).unpack("example.com/multi:1", rootfs, UnpackOptions.defaults());
        assertEquals("arm64", Files.readString(rootfs.resolve("arch")));

        ImageException e = assertThrows(ImageException.class,
                () -> new Importer(store("d"), Platform.parse("linux/s390x")).importFrom(layout, Optional.empty()));
        assertTrue(e.getMessage().contains("no manifest for linux/s390x (it has linux/amd64, linux/arm64/v8, unknown/unknown)"),
                e.getMessage());
    }

    @Test
    void tamperedBlobInOciArchiveRefused() throws IOException, InterruptedException {
        ContentStore a = store("a");
        Descriptor m = sample(a);
        Path layout = tmp.resolve("layout");
        new Exporter(a).export(NAME, layout);
        Manifest man = Manifest.parse(a.read(m.digest()), "m");
        Path layer = layout.resolve("blobs/sha256/" + man.layers().get(1).digest().hex());
        byte[] evil = Layer.gzip(Layer.of().file("etc/motd", "evil\n").tar());
        Files.write(layer, evil);
        Path tar = tmp.resolve("evil.tar");
        Process p = new ProcessBuilder("tar", "-cf", tar.toString(), "-C", layout.toString(), "oci-layout", "index.json", "blobs")
                .inheritIO().start();
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        for (Path src : List.of(layout, tar)) {
            ContentStore b = store("b" + src.getFileName());
            ImageException e = assertThrows(ImageException.class,
                    () -> new Importer(b, Platform.host()).importFrom(src, Optional.empty()));
            assertTrue(e.getMessage().contains("expected") && e.getMessage().contains(man.layers().get(1).digest().toString()),
                    e.getMessage());
            assertTrue(b.refs().isEmpty());
            assertFalse(b.has(Digest.of(evil)), "the tampered blob is not in the store");
        }
    }

    @Test
    void bareTagNeedsAName() throws IOException {
        ContentStore a = store("a");
        sample(a);
        Path layout = tmp.resolve("layout");
        new Exporter(a).export(NAME, layout);
        String index = Files.readString(layout.resolve("index.json"))
                .replace("\"io.containerd.image.name\": \"" + NAME + "\",", "");
        Files.writeString(layout.resolve("index.json"), index);
        ImageException e = assertThrows(ImageException.class,
                () -> new Importer(store("b"), Platform.host()).importFrom(layout, Optional.empty()));
        assertTrue(e.getMessage().contains("only the tag \"1\"") && e.getMessage().contains("--name"), e.getMessage());
        assertEquals("docker.io/library/named:latest",
                new Importer(store("c"), Platform.host()).importFrom(layout, Optional.of("named")).get(0).name());
    }

    @Test
    void exportIntoExistingLayoutKeepsOtherImages() throws IOException {
        ContentStore a = store("a");
        sample(a);
        Descriptor other = TestImages.store(a, Platform.host(), List.of(Layer.of().file("o", "o").tar()));
        a.tag("docker.io/library/other:1", other);
        Path layout = tmp.resolve("layout");
        new Exporter(a).export(NAME, layout);
        new Exporter(a).export("docker.io/library/other:1", layout);
        new Exporter(a).export(NAME, layout); // again: replaced, not duplicated
        ContentStore b = store("b");
        List<Importer.Imported> got = new Importer(b, Platform.host()).importFrom(layout, Optional.empty());
        assertEquals(List.of("docker.io/library/other:1", NAME), got.stream().map(Importer.Imported::name).toList());
        Files.writeString(tmp.resolve("notalayout"), "x");
        Path bad = Files.createDirectories(tmp.resolve("busy"));
        Files.writeString(bad.resolve("file"), "x");
        assertThrows(ImageException.class, () -> new Exporter(a).export(NAME, bad));
    }

    @Test
    void unpackFailureLeavesNothing() throws IOException {
        ContentStore a = store("a");
        Descriptor m = TestImages.store(a, Platform.host(), List.of(
                Layer.of().file("ok", "fine").symlink("etc", "/etc").tar(),
                Layer.of().file("etc/bulwark-pwned", "x").tar()));
        a.tag("docker.io/library/bad:1", m);
        Path rootfs = tmp.resolve("rootfs");
        ImageException e = assertThrows(ImageException.class,
                () -> new Images(a, Platform.host()).unpack("bad:1", rootfs, UnpackOptions.defaults()));
        assertTrue(e.getMessage().contains("is a symlink"), e.getMessage());
        try (var l = Files.list(rootfs)) {
            assertEquals(0, l.count());
        }
        assertFalse(Files.exists(Path.of("/etc/bulwark-pwned"), LinkOption.NOFOLLOW_LINKS));
    }

    // ---- peers: skopeo and umoci read what Bulwark writes, and Bulwark reads what skopeo writes ----

    private static boolean installed(String tool) {
        return Files.isExecutable(Path.of("/usr/bin/" + tool));
    }

    private static String run(Path dir, String... cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(120, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), String.join(" ", cmd) + ":\n" + out);
        return out;
    }

    @Test
    void skopeoReadsOurExportAndWeReadSkopeos() throws Exception {
        assumeTrue(installed("skopeo"), "skopeo (Debian package skopeo) is not installed");
        ContentStore a = store("a");
        Descriptor m = sample(a);
        Path layout = tmp.resolve("layout");
        new Exporter(a).export(NAME, layout);
        Path tar = tmp.resolve("ours.tar");
        new Exporter(a).export(NAME, tar);
        String raw = run(tmp, "skopeo", "inspect", "--raw", "oci:" + layout + ":1");
        assertEquals(new String(a.read(m.digest()), StandardCharsets.UTF_8), raw.strip());
        run(tmp, "skopeo", "copy", "oci-archive:" + tar, "oci-archive:" + tmp.resolve("skopeo.tar") + ":example.org/copied:7");
        run(tmp, "skopeo", "copy", "oci:" + layout + ":1", "oci:" + tmp.resolve("skopeo-dir") + ":example.org/dir:8");
        run(tmp, "skopeo", "copy", "oci:" + layout + ":1", "docker-archive:" + tmp.resolve("docker.tar") + ":example.org/docker:9");

        ContentStore b = store("b");
        Importer imp = new Importer(b, Platform.host());
        assertEquals("example.org/copied:7", imp.importFrom(tmp.resolve("skopeo.tar"), Optional.empty()).get(0).name());
        assertEquals("example.org/dir:8", imp.importFrom(tmp.resolve("skopeo-dir"), Optional.empty()).get(0).name());
        assertEquals("example.org/docker:9", imp.importFrom(tmp.resolve("docker.tar"), Optional.empty()).get(0).name());
        for (String n : List.of("example.org/copied:7", "example.org/dir:8", "example.org/docker:9")) {
            Path r = tmp.resolve("rootfs-" + n.replace('/', '_').replace(':', '_'));
            new Images(b, Platform.host()).unpack(n, r, UnpackOptions.defaults());
            checkRootfs(r);
        }
        assertTrue(b.verify().isEmpty(), b.verify().toString());
    }

    @Test
    void umociUnpacksOurExportLikeWeDo() throws Exception {
        assumeTrue(installed("umoci"), "umoci (Debian package umoci) is not installed");
        ContentStore a = store("a");
        sample(a);
        Path layout = tmp.resolve("layout");
        new Exporter(a).export(NAME, layout);
        Path bundle = tmp.resolve("bundle");
        run(tmp, "umoci", "unpack", "--rootless", "--image", layout + ":1", bundle.toString());
        checkRootfs(bundle.resolve("rootfs"));
    }
}
