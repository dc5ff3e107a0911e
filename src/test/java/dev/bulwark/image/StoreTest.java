package dev.bulwark.image;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.bulwark.testing.TestEnv;
import java.io.BufferedReader;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

@Timeout(300)
class StoreTest {
    @TempDir
    Path tmp;

    /** Stores an image of random layers and names it; returns its manifest descriptor. */
    static Descriptor image(ContentStore s, String name, Random r, int layers, int layerSize) {
        try (ContentStore.Hold h = s.holdForWriting()) {
            List<Descriptor> ls = new ArrayList<>();
            for (int i = 0; i < layers; i++) {
                byte[] b = new byte[layerSize];
                r.nextBytes(b);
                ls.add(new Descriptor(MediaTypes.OCI_LAYER, s.put(b), b.length));
            }
            byte[] config = ("{\"architecture\":\"amd64\",\"os\":\"linux\",\"name\":\"" + name + "\",\"n\":" + r.nextInt() + "}").getBytes();
            Descriptor c = new Descriptor(MediaTypes.OCI_CONFIG, s.put(config), config.length);
            byte[] m = new Manifest(MediaTypes.OCI_MANIFEST, c, ls).toJson();
            Descriptor md = new Descriptor(MediaTypes.OCI_MANIFEST, s.put(m), m.length);
            s.tag(name, md);
            return md;
        }
    }

    private static List<Path> ingest(ContentStore s) throws IOException {
        try (Stream<Path> l = Files.list(s.root().resolve("ingest"))) {
            return l.toList();
        }
    }

    @Test
    void layoutAndBlobs() throws IOException {
        ContentStore s = ContentStore.open(tmp.resolve("store"));
        assertEquals("{\"imageLayoutVersion\":\"1.0.0\"}", Files.readString(s.root().resolve("oci-layout")));
        assertTrue(s.entries().isEmpty());
        byte[] data = "hello".getBytes();
        Digest d = s.put(data);
        assertEquals("sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824", d.toString());
        assertTrue(s.has(d));
        assertArrayEquals(data, s.read(d));
        Path p = s.root().resolve("blobs/sha256/" + d.hex());
        assertEquals("r--r--r--", PosixFilePermissions.toString(Files.getPosixFilePermissions(p)));
        assertTrue(ingest(s).isEmpty());
        // Storing the same content again is a no-op that still verifies.
        s.put(new ByteArrayInputStream(data), d, data.length);
        assertEquals(List.of(d), s.blobs());
    }

    @Test
    void mismatchRejectedNamingBothDigests() throws IOException {
        ContentStore s = ContentStore.open(tmp.resolve("store"));
        Digest wrong = Digest.of("other".getBytes());
        Digest actual = Digest.of("hello".getBytes());
        ImageException e = assertThrows(ImageException.class,
                () -> s.put(new ByteArrayInputStream("hello".getBytes()), wrong, 5));
        assertTrue(e.getMessage().contains("expected digest " + wrong), e.getMessage());
        assertTrue(e.getMessage().contains("found " + actual), e.getMessage());
        assertFalse(s.has(wrong));
        assertFalse(s.has(actual));
        assertTrue(ingest(s).isEmpty());

        ImageException longer = assertThrows(ImageException.class,
                () -> s.put(new ByteArrayInputStream("hello world".getBytes()), actual, 5));
        assertTrue(longer.getMessage().contains("expected 5 bytes, the content is longer"), longer.getMessage());
        ImageException shorter = assertThrows(ImageException.class,
                () -> s.put(new ByteArrayInputStream("hell".getBytes()), actual, 5));
        assertTrue(shorter.getMessage().contains("expected 5 bytes, found 4"), shorter.getMessage());
        assertTrue(s.blobs().isEmpty());
        assertThrows(ImageException.class, () -> Digest.parse("sha512:abc"));
        assertThrows(ImageException.class, () -> Digest.parse("sha256:ABC"));
    }

    @Test
    void corruptionOnDiskDetected() throws IOException {
        ContentStore s = ContentStore.open(tmp.resolve("store"));
        Digest d = s.put("{\"a\":1}".getBytes());
        Path p = s.blobPath(d);
        Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rw-r--r--"));
        Files.writeString(p, "{\"a\":2}");
        ImageException e = assertThrows(ImageException.class, () -> s.read(d));
        assertTrue(e.getMessage().contains("corrupt"), e.getMessage());
        List<String> problems = s.verify();
        assertEquals(1, problems.size(), problems.toString());
        assertTrue(problems.get(0).contains(d.hex()) && problems.get(0).contains("hashes to"), problems.toString());
    }

    @Test
    void referencesInIndexJson() throws IOException {
        ContentStore s = ContentStore.open(tmp.resolve("store"));
        Descriptor a = image(s, "docker.io/library/a:1", new Random(1), 2, 100);
        Descriptor b = image(s, "docker.io/library/b:1", new Random(2), 1, 100);
        assertEquals(a.digest(), s.resolve("docker.io/library/a:1").orElseThrow().digest());
        String json = Files.readString(s.root().resolve("index.json"));
        assertTrue(json.contains("\"org.opencontainers.image.ref.name\": \"docker.io/library/a:1\""), json);
        // Re-tagging moves the name.
        s.tag("docker.io/library/a:1", b);
        assertEquals(b.digest(), s.resolve("docker.io/library/a:1").orElseThrow().digest());
        assertEquals(2, s.entries().size());
        assertTrue(s.untag("docker.io/library/a:1"));
        assertFalse(s.untag("docker.io/library/a:1"));
        assertTrue(s.resolve("docker.io/library/a:1").isEmpty());
        // A name never points at missing content.
        Descriptor missing = new Descriptor(MediaTypes.OCI_MANIFEST, Digest.of("nope".getBytes()), 4);
        ImageException e = assertThrows(ImageException.class, () -> s.tag("x:1", missing));
        assertTrue(e.getMessage().contains("missing from the store"), e.getMessage());
        assertTrue(s.verify().isEmpty(), s.verify().toString());
    }

    @Test
    void gcKeepsWhatIndexJsonReaches() throws IOException {
        ContentStore s = ContentStore.open(tmp.resolve("store"));
        Descriptor a = image(s, "a:1", new Random(1), 2, 1000);
        Descriptor b = image(s, "b:1", new Random(1), 2, 1000); // same layers as a, other config
        Descriptor c = image(s, "c:1", new Random(3), 1, 1000);
        // c reachable only through a nested index
        byte[] idx = new ImageIndex(List.of(new Descriptor(c.mediaType(), c.digest(), c.size(), java.util.Map.of(),
                new Platform("linux", "arm64", "")))).toJson();
        Descriptor id = new Descriptor(MediaTypes.OCI_INDEX, s.put(idx), idx.length);
        s.tag("multi:1", id);
        s.untag("c:1");
        Digest loose = s.put("loose".getBytes());
        Files.writeString(s.root().resolve("ingest/dead.partial"), "left by a killed writer");

        Set<Digest> before = new HashSet<>(s.blobs());
        ContentStore.GcResult r = s.gc();
        assertEquals(1, r.blobs());
        assertEquals(1, r.tempFiles());
        assertFalse(s.has(loose));
        assertTrue(s.verify().isEmpty(), s.verify().toString());

        s.untag("a:1");
        r = s.gc();
        assertEquals(2, r.blobs(), "a's manifest and config go, the shared layers stay");
        assertTrue(s.has(b.digest()));
        s.untag("b:1");
        s.untag("multi:1");
        s.gc();
        assertTrue(s.blobs().isEmpty(), "all gone: " + s.blobs());
        assertTrue(before.contains(a.digest()));
    }

    @Test
    void gcRefusesToGuessOnADamagedManifest() throws IOException {
        ContentStore s = ContentStore.open(tmp.resolve("store"));
        Descriptor a = image(s, "a:1", new Random(1), 1, 10);
        Digest loose = s.put("loose".getBytes());
        Path m = s.blobPath(a.digest());
        Files.setPosixFilePermissions(m, PosixFilePermissions.fromString("rw-r--r--"));
        Files.writeString(m, "garbage");
        assertThrows(ImageException.class, s::gc);
        assertTrue(s.has(loose), "nothing removed");
    }

    @Test
    void gcWaitsForAWriterBetweenStoreAndTag() throws Exception {
        ContentStore s = ContentStore.open(tmp.resolve("store"));
        CountDownLatch stored = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        Digest[] d = new Digest[1];
        CompletableFuture<Void> writer = CompletableFuture.runAsync(() -> {
            try (ContentStore.Hold h = s.holdForWriting()) {
                d[0] = s.put("{\"config\":true}".getBytes());
                stored.countDown();
                release.await();
                byte[] m = new Manifest(MediaTypes.OCI_MANIFEST, new Descriptor(MediaTypes.OCI_CONFIG, d[0], 15), List.of()).toJson();
                s.tag("w:1", new Descriptor(MediaTypes.OCI_MANIFEST, s.put(m), m.length));
            } catch (InterruptedException e) {
                throw new RuntimeException(e);
            }
        });
        assertTrue(stored.await(10, TimeUnit.SECONDS));
        CompletableFuture<ContentStore.GcResult> gc = CompletableFuture.supplyAsync(s::gc);
        Thread.sleep(300);
        assertFalse(gc.isDone(), "GC ran while a writer held the store");
        release.countDown();
        writer.get(10, TimeUnit.SECONDS);
        assertEquals(0, gc.get(10, TimeUnit.SECONDS).blobs());
        assertTrue(s.has(d[0]));
    }

    @Test
    void concurrentTaggersInThreadsAndProcesses() throws Exception {
        Path root = tmp.resolve("store");
        ContentStore s = ContentStore.open(root);
        List<Process> children = new ArrayList<>();
        for (String prefix : List.of("p1", "p2")) {
            children.add(child(root, "tag", "15", prefix).start());
        }
        List<CompletableFuture<Void>> threads = new ArrayList<>();
        for (int t = 0; t < 4; t++) {
            int tt = t;
            threads.add(CompletableFuture.runAsync(() -> {
                for (int i = 0; i < 10; i++) {
                    image(s, "t" + tt + ":" + i, new Random(tt * 100 + i), 1, 500);
                }
            }));
        }
        for (CompletableFuture<Void> f : threads) {
            f.get(120, TimeUnit.SECONDS);
        }
        for (Process p : children) {
            assertTrue(p.waitFor(120, TimeUnit.SECONDS));
            assertEquals(0, p.exitValue(), new String(p.getInputStream().readAllBytes()));
        }
        assertEquals(70, s.refs().size(), s.refs().keySet().toString());
        assertTrue(s.verify().isEmpty(), s.verify().toString());
    }

    private static ProcessBuilder child(Path root, String... args) {
        Path classes = TestEnv.classesDir();
        Path testClasses = classes.resolveSibling("test-classes");
        List<String> cmd = new ArrayList<>(List.of(TestEnv.java().toString(), "-Xmx256m", "-cp",
                classes + ":" + testClasses, StoreCrashChild.class.getName(), root.toString()));
        cmd.addAll(List.of(args));
        return new ProcessBuilder(cmd).redirectErrorStream(true);
    }

    /** A child writing a multi-GB blob is killed with SIGKILL mid-write. */
    @Test
    void killDuringABigWriteLeavesNoBlob() throws Exception {
        Path root = tmp.resolve("store");
        ContentStore.open(root);
        Process p = child(root, "big").start();
        BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream()));
        assertEquals("open", out.readLine());
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        long partial = 0;
        while (partial < (64L << 20) && System.nanoTime() < deadline) {
            Thread.sleep(20);
            try (Stream<Path> l = Files.list(root.resolve("ingest"))) {
                for (Path f : l.toList()) {
                    try {
                        partial = Math.max(partial, Files.size(f));
                    } catch (IOException gone) {
                        // raced with a rename
                    }
                }
            }
        }
        assertTrue(partial >= 64L << 20, "the child did not start writing");
        p.destroyForcibly(); // SIGKILL
        assertTrue(p.waitFor(30, TimeUnit.SECONDS));
        assertEquals(137, p.exitValue());
        try (Stream<Path> l = Files.list(root.resolve("ingest"))) {
            assertEquals(1, l.count(), "the partial file is left by the kill");
        }
        try (Stream<Path> l = Files.list(root.resolve("blobs/sha256"))) {
            assertEquals(0, l.count(), "no half-written blob is visible");
        }
        ContentStore s = ContentStore.open(root); // cleans the abandoned temp file
        assertTrue(ingest(s).isEmpty());
        assertTrue(s.verify().isEmpty(), s.verify().toString());
        // A retry succeeds.
        byte[] big = new byte[64 << 20];
        new Random(5).nextBytes(big);
        Digest d = Digest.of(big);
        s.put(new ByteArrayInputStream(big), d, big.length);
        try (InputStream in = s.open(d)) {
            assertEquals(d, Digest.of(in.readAllBytes()));
        }
        assertTrue(s.verify().isEmpty(), s.verify().toString());
    }

    /** A child storing and naming images in a loop is killed at random moments, again and again. */
    @Test
    void killAtRandomMomentsKeepsTheStoreConsistent() throws Exception {
        Path root = tmp.resolve("store");
        ContentStore.open(root);
        Random r = new Random(42);
        int named = 0;
        for (int round = 0; round < 5; round++) {
            Process p = child(root, "loop").start();
            BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream()));
            assertEquals("open", out.readLine());
            assertTrue(out.readLine() != null, "the child stored nothing");
            Thread.sleep(r.nextInt(400));
            p.destroyForcibly();
            assertTrue(p.waitFor(30, TimeUnit.SECONDS));
            ContentStore s = ContentStore.open(root);
            assertTrue(s.verify().isEmpty(), "round " + round + ": " + s.verify());
            for (Descriptor d : s.entries()) {
                s.checkComplete(d);
            }
            named = s.refs().size();
            assertTrue(named >= 1);
            s.gc();
            assertTrue(s.verify().isEmpty(), "round " + round + " after gc: " + s.verify());
        }
        assertTrue(named <= 5);
    }
}
