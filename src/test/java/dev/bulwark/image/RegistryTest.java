package dev.bulwark.image;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.bulwark.cli.Globals;
import dev.bulwark.cli.RegistryCommands;
import dev.bulwark.testing.TestEnv;
import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Pulls and pushes against a real registry: Debian's docker-registry on 127.0.0.1 with TLS from a
 * CA made here, images put into it by skopeo (or by Bulwark's push).
 */
@Timeout(300)
class RegistryTest {
    @TempDir
    static Path shared;
    static TestPki pki;
    static TestPki otherPki;
    static TestRegistry plain;

    @TempDir
    Path tmp;

    @BeforeAll
    static void up() throws Exception {
        pki = TestPki.create(shared.resolve("pki"));
        otherPki = TestPki.create(shared.resolve("other-pki"));
        plain = TestRegistry.start(shared.resolve("plain"), pki, "");
    }

    @AfterAll
    static void down() throws Exception {
        if (plain != null) {
            plain.close();
        }
    }

    private RegistryClient.Config config() {
        return RegistryClient.Config.defaults().withCa(pki.caCert).withCertsDir(tmp.resolve("no-certs.d"));
    }

    private static Puller.Pulled pull(Path store, String ref, RegistryClient.Config c, Platform p) {
        return new Puller(ContentStore.open(store), c, p, Progress.off()).pull(Reference.parse(ref));
    }

    /** A layer with a file of random bytes: content no other test shares. */
    static byte[] randomLayer(Random r, int bytes) {
        byte[] data = new byte[bytes];
        r.nextBytes(data);
        return Layer.of().dir("data").add(TarEntry.file("data/blob", 0644, 0), data).tar();
    }

    /** An image in an OCI layout (a ContentStore dir) named "v1", for skopeo to copy. */
    private Descriptor layoutImage(Path layout, Platform p, List<byte[]> layers) {
        ContentStore s = ContentStore.open(layout);
        Descriptor d = TestImages.store(s, p, layers);
        s.tag("v1", d);
        return d;
    }

    private String cli(dev.bulwark.cli.Command c, List<String> args) throws Exception {
        PrintStream old = System.out;
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        System.setOut(new PrintStream(b, true, StandardCharsets.UTF_8));
        try {
            assertEquals(0, c.run(new Globals(Globals.DEFAULT_ROOT, null, "text", false, false), args));
        } finally {
            System.setOut(old);
        }
        return b.toString(StandardCharsets.UTF_8);
    }

    /**
     * Signatures through a registry: an image signed in one store, its sha256-HEX.sig artifact
     * pushed beside it; a pull under a signedBy policy refuses it before it is signed (nothing
     * named, no layer fetched), accepts it once signed, keeps the signature, and run's check on
     * the store then passes offline. A wrong key is refused.
     */
    @Test
    void pullUnderASignedByPolicy() throws Exception {
        Random r = new Random(7);
        Path layout = tmp.resolve("layout");
        Descriptor m = layoutImage(layout, Platform.host(), List.of(randomLayer(r, 50_000)));
        plain.skopeoPush(pki, layout, "v1", "team/signed:v1", false, "");
        String ref = plain.host() + "/team/signed:v1";
        Path keys = Files.createDirectories(tmp.resolve("keys"));
        Keys.write(Keys.generate(), keys.resolve("team"));
        Keys.write(Keys.generate(), keys.resolve("other"));
        Path policy = keys.resolve("policy.json");
        Files.writeString(policy, "{\"default\":{\"type\":\"reject\"},\"scopes\":{\"" + plain.host()
                + "/team/*\":{\"type\":\"signedBy\",\"keys\":[\"team.pub\"]}}}");
        Path store = tmp.resolve("store");
        List<String> pullArgs = List.of("--store", store.toString(), "--ca", pki.caCert.toString(), "--certs-dir",
                tmp.resolve("none").toString(), "--policy", policy.toString(), ref);

        ImageException unsigned = assertThrows(ImageException.class, () -> cli(RegistryCommands::pull, pullArgs));
        assertTrue(unsigned.getMessage().contains("no signature found"), unsigned.getMessage());
        assertTrue(ContentStore.open(store).refs().isEmpty(), "nothing named after a refused pull");
        assertTrue(ContentStore.open(store).blobs().isEmpty(), "no blob fetched before the policy said yes");

        // sign in a second store (what a release pipeline holds), push the artifact as an image
        Path signer = tmp.resolve("signer");
        cli(RegistryCommands::pull, List.of("--store", signer.toString(), "--ca", pki.caCert.toString(), "--certs-dir",
                tmp.resolve("none").toString(), ref));
        Signatures.sign(ContentStore.open(signer), Reference.parse(ref), m.digest(), Keys.readPrivate(keys.resolve("other.key")));
        cli(RegistryCommands::push, List.of("--store", signer.toString(), "--ca", pki.caCert.toString(), "--certs-dir",
                tmp.resolve("none").toString(), Signatures.artifactName(Reference.parse(ref), m.digest())));
        ImageException wrongKey = assertThrows(ImageException.class, () -> cli(RegistryCommands::pull, pullArgs));
        assertTrue(wrongKey.getMessage().contains("the signature does not verify under the key"), wrongKey.getMessage());

        ContentStore sig = ContentStore.open(signer);
        sig.untag(Signatures.artifactName(Reference.parse(ref), m.digest()));
        Signatures.sign(sig, Reference.parse(ref), m.digest(), Keys.readPrivate(keys.resolve("team.key")));
        cli(RegistryCommands::push, List.of("--store", signer.toString(), "--ca", pki.caCert.toString(), "--certs-dir",
                tmp.resolve("none").toString(), Signatures.artifactName(Reference.parse(ref), m.digest())));
        String out = cli(RegistryCommands::pull, pullArgs);
        assertEquals(ref + " " + m.digest() + "\n", out);
        ContentStore s = ContentStore.open(store);
        assertTrue(s.resolve(Signatures.artifactName(Reference.parse(ref), m.digest())).isPresent(), "signature kept: " + s.refs());
        TrustPolicy.Decision d = TrustPolicy.load(policy).checkStored(new Images(s, Platform.host()), ref);
        assertTrue(d.signature().isPresent(), d.describe());
        assertTrue(s.verify().isEmpty(), s.verify().toString());
    }

    @Test
    void pullByTagThenByDigest() throws Exception {
        Random r = new Random(1);
        Path layout = tmp.resolve("layout");
        Descriptor m = layoutImage(layout, Platform.host(), List.of(randomLayer(r, 300_000), randomLayer(r, 1000)));
        plain.skopeoPush(pki, layout, "v1", "test/tagged:v1", false, "");

        Path store = tmp.resolve("store");
        String ref = plain.host() + "/test/tagged:v1";
        String out = cli(RegistryCommands::pull, List.of("--store", store.toString(), "--ca", pki.caCert.toString(),
                "--certs-dir", tmp.resolve("none").toString(), ref));
        assertEquals(ref + " " + m.digest() + "\n", out, "the tag resolves to the digest of the manifest pushed");
        ContentStore s = ContentStore.open(store);
        assertEquals(m.digest(), s.resolve(ref).orElseThrow().digest());
        assertEquals(m.digest().toString(), s.resolve(ref).orElseThrow().annotations().get(Puller.RESOLVED_DIGEST));
        assertTrue(s.verify().isEmpty(), s.verify().toString());
        assertEquals(4, s.blobs().size(), "manifest, config, two layers");
        Manifest pulled = new Images(s, Platform.host()).manifest(s.resolve(ref).orElseThrow());
        assertEquals(Manifest.parse(ContentStore.open(layout).read(m.digest()), "x"), pulled);

        // Again: everything is present, nothing is fetched.
        Puller.Pulled again = pull(store, ref, config(), Platform.host());
        assertEquals(0, again.fetched());
        assertEquals(3, again.present());

        // By digest, into a fresh store: recorded as NAME@DIGEST.
        Path store2 = tmp.resolve("store2");
        Puller.Pulled byDigest = pull(store2, plain.host() + "/test/tagged@" + m.digest(), config(), Platform.host());
        assertEquals(m.digest(), byDigest.resolved());
        assertEquals(3, byDigest.fetched());
        assertEquals(m.digest(), ContentStore.open(store2).resolve(plain.host() + "/test/tagged@" + m.digest()).orElseThrow().digest());

        // A digest the registry does not have, and a tag+digest that disagree.
        Digest other = Digest.of("nothing".getBytes(StandardCharsets.UTF_8));
        ImageException e = assertThrows(ImageException.class,
                () -> pull(tmp.resolve("store3"), plain.host() + "/test/tagged@" + other, config(), Platform.host()));
        assertTrue(e.getMessage().contains("not found") && e.getMessage().contains(other.toString()), e.getMessage());
        e = assertThrows(ImageException.class,
                () -> pull(tmp.resolve("store3"), plain.host() + "/test/tagged:v1@" + other, config(), Platform.host()));
        assertTrue(e.getMessage().contains("not found"), e.getMessage());
        assertTrue(ContentStore.open(tmp.resolve("store3")).refs().isEmpty());
        e = assertThrows(ImageException.class,
                () -> pull(tmp.resolve("store3"), plain.host() + "/test/tagged:nope", config(), Platform.host()));
        assertTrue(e.getMessage().contains("manifest " + plain.host() + "/test/tagged:nope: not found"), e.getMessage());
    }

    @Test
    void indexWithTwoPlatforms() throws Exception {
        Random r = new Random(2);
        Path layout = tmp.resolve("layout");
        ContentStore l = ContentStore.open(layout);
        Platform amd = new Platform("linux", "amd64", "");
        Platform arm = new Platform("linux", "arm64", "v8");
        Descriptor a = TestImages.store(l, amd, List.of(randomLayer(r, 5000)));
        Descriptor b = TestImages.store(l, arm, List.of(randomLayer(r, 6000)));
        byte[] idx = new ImageIndex(List.of(
                new Descriptor(a.mediaType(), a.digest(), a.size(), java.util.Map.of(), amd),
                new Descriptor(b.mediaType(), b.digest(), b.size(), java.util.Map.of(), arm))).toJson();
        Descriptor index = new Descriptor(MediaTypes.OCI_INDEX, l.put(idx), idx.length);
        l.tag("v1", index);
        plain.skopeoPush(pki, layout, "v1", "test/multi:v1", true, "");
        String ref = plain.host() + "/test/multi:v1";

        Puller.Pulled pa = pull(tmp.resolve("a"), ref, config(), amd);
        assertEquals(index.digest(), pa.resolved(), "the tag resolves to the index");
        assertEquals(a.digest(), pa.manifest().digest());
        assertEquals(amd, pa.manifest().platform());
        assertEquals(index.digest().toString(), pa.manifest().annotations().get(Puller.INDEX_DIGEST));
        ContentStore sa = ContentStore.open(tmp.resolve("a"));
        assertEquals(a.digest(), sa.resolve(ref).orElseThrow().digest());
        assertFalse(sa.has(b.digest()), "the other platform's manifest is not fetched");
        assertTrue(sa.verify().isEmpty(), sa.verify().toString());

        Puller.Pulled pb = pull(tmp.resolve("b"), ref, config(), Platform.parse("linux/arm64"));
        assertEquals(b.digest(), pb.manifest().digest());
        assertEquals(index.digest(), pb.resolved());

        // By the index digest, choosing arm64.
        Puller.Pulled pd = pull(tmp.resolve("d"), plain.host() + "/test/multi@" + index.digest(), config(), arm);
        assertEquals(b.digest(), pd.manifest().digest());

        ImageException e = assertThrows(ImageException.class, () -> pull(tmp.resolve("c"), ref, config(), Platform.parse("linux/s390x")));
        assertTrue(e.getMessage().contains("no manifest for linux/s390x") && e.getMessage().contains("linux/arm64/v8"), e.getMessage());
        assertTrue(ContentStore.open(tmp.resolve("c")).refs().isEmpty());
    }

    @Test
    void wrongCaIsRefusedAndCertsDirIsRead() throws Exception {
        Random r = new Random(3);
        Path layout = tmp.resolve("layout");
        layoutImage(layout, Platform.host(), List.of(randomLayer(r, 1000)));
        plain.skopeoPush(pki, layout, "v1", "test/ca:v1", false, "");
        String ref = plain.host() + "/test/ca:v1";

        RegistryClient.Config wrong = RegistryClient.Config.defaults().withCa(otherPki.caCert).withCertsDir(tmp.resolve("none"));
        ImageException e = assertThrows(ImageException.class, () -> pull(tmp.resolve("s"), ref, wrong, Platform.host()));
        assertTrue(e.getMessage().contains("certificate is not trusted") && e.getMessage().contains("--ca FILE")
                && e.getMessage().contains(plain.host()), e.getMessage());
        RegistryClient.Config none = RegistryClient.Config.defaults().withCertsDir(tmp.resolve("none"));
        e = assertThrows(ImageException.class, () -> pull(tmp.resolve("s"), ref, none, Platform.host()));
        assertTrue(e.getMessage().contains("certificate is not trusted"), e.getMessage());
        ContentStore s = ContentStore.open(tmp.resolve("s"));
        assertTrue(s.refs().isEmpty());
        assertTrue(s.blobs().isEmpty());

        // The CA in certs.d/HOST:PORT/ca.crt is trusted for that registry.
        Path certsD = tmp.resolve("certs.d");
        Files.createDirectories(certsD.resolve(plain.host()));
        Files.copy(pki.caCert, certsD.resolve(plain.host()).resolve("ca.crt"));
        Puller.Pulled ok = pull(tmp.resolve("s"), ref, RegistryClient.Config.defaults().withCertsDir(certsD), Platform.host());
        assertEquals(2, ok.fetched());
    }

    @Test
    void tamperedBlobIsRefusedAndNothingIsNamed() throws Exception {
        Random r = new Random(4);
        Path layout = tmp.resolve("layout");
        byte[] tar = randomLayer(r, 200_000);
        Descriptor m = layoutImage(layout, Platform.host(), List.of(tar));
        plain.skopeoPush(pki, layout, "v1", "test/tampered:v1", false, "");
        Manifest man = Manifest.parse(ContentStore.open(layout).read(m.digest()), "m");
        Digest layer = man.layers().get(0).digest();
        Path data = plain.blobData(layer);
        byte[] bytes = Files.readAllBytes(data);
        bytes[bytes.length / 2] ^= 1; // same size, one bit different
        Files.write(data, bytes);

        Path store = tmp.resolve("store");
        ImageException e = assertThrows(ImageException.class,
                () -> pull(store, plain.host() + "/test/tampered:v1", config(), Platform.host()));
        assertTrue(e.getMessage().contains("expected digest " + layer), e.getMessage());
        ContentStore s = ContentStore.open(store);
        assertTrue(s.refs().isEmpty(), "no name for an image with a refused blob");
        assertFalse(s.has(layer), "the tampered blob is not stored");
        try (Stream<Path> in = Files.list(store.resolve("ingest"))) {
            assertEquals(0, in.count(), "no partial file is left");
        }
        assertTrue(s.verify().isEmpty(), s.verify().toString());
    }

    @Test
    void truncatedDownloadIsResumedWithARange() throws Exception {
        Random r = new Random(5);
        Path layout = tmp.resolve("layout");
        int size = 8 << 20;
        Descriptor m = layoutImage(layout, Platform.host(), List.of(randomLayer(r, size)));
        plain.skopeoPush(pki, layout, "v1", "test/cut:v1", false, "");
        long cutAt = 3 << 20;
        String ref;
        try (CutProxy proxy = new CutProxy(plain.port, cutAt, 0)) {
            ref = proxy.host() + "/test/cut:v1";
            Puller.Pulled p = pull(tmp.resolve("store"), ref, config(), Platform.host());
            assertTrue(proxy.didCut(), "the proxy cut a connection");
            assertEquals(m.digest(), p.resolved());
            assertTrue(p.resumed() >= 1, "resumed " + p.resumed());
            // A restart from byte 0 would move the cut 3 MB again.
            assertTrue(proxy.bytesToClient() < size + (1 << 20), "bytes through the proxy: " + proxy.bytesToClient());
        }
        ContentStore s = ContentStore.open(tmp.resolve("store"));
        assertTrue(s.verify().isEmpty(), s.verify().toString());
        s.checkComplete(s.resolve(ref).orElseThrow());
    }

    @Test
    void killDuringAPullLeavesTheStoreConsistent() throws Exception {
        Random r = new Random(6);
        Path layout = tmp.resolve("layout");
        Descriptor m = layoutImage(layout, Platform.host(), List.of(randomLayer(r, 6 << 20), randomLayer(r, 3 << 20)));
        plain.skopeoPush(pki, layout, "v1", "test/killed:v1", false, "");
        Path store = tmp.resolve("store");
        ContentStore.open(store);
        // Slow enough (512 kB/s a connection) that the kill lands mid-layer.
        try (CutProxy proxy = new CutProxy(plain.port, 0, 512 << 10)) {
            String ref = proxy.host() + "/test/killed:v1";
            Path classes = TestEnv.classesDir();
            Process p = new ProcessBuilder(TestEnv.java().toString(), "-Xmx256m", "-cp", classes.toString(),
                    "dev.bulwark.cli.Main", "pull", "--store", store.toString(), "--ca", pki.caCert.toString(),
                    "--certs-dir", tmp.resolve("none").toString(), ref).redirectErrorStream(true).start();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            long partial = 0;
            while (partial < (1 << 20) && System.nanoTime() < deadline && p.isAlive()) {
                Thread.sleep(20);
                try (Stream<Path> l = Files.list(store.resolve("ingest"))) {
                    for (Path f : l.toList()) {
                        try {
                            partial = Math.max(partial, Files.size(f));
                        } catch (IOException gone) {
                            // renamed into blobs/ meanwhile
                        }
                    }
                }
            }
            assertTrue(p.isAlive(), "the pull ended before it was killed");
            assertTrue(partial >= 1 << 20, "the pull did not start writing a layer");
            p.destroyForcibly(); // SIGKILL
            assertTrue(p.waitFor(30, TimeUnit.SECONDS));
            assertEquals(137, p.exitValue());

            ContentStore s = ContentStore.open(store); // removes the dead writer's partial file
            assertTrue(s.refs().isEmpty(), "a killed pull names nothing");
            assertTrue(s.verify().isEmpty(), s.verify().toString());
            try (Stream<Path> l = Files.list(store.resolve("ingest"))) {
                assertEquals(0, l.count());
            }
            // The pull again (straight to the registry) completes, and keeps what the first one finished.
            Puller.Pulled again = pull(store, plain.host() + "/test/killed:v1", config(), Platform.host());
            assertEquals(m.digest(), again.resolved());
            assertEquals(3, again.fetched() + again.present());
            assertTrue(s.verify().isEmpty(), s.verify().toString());
        }
    }

    @Test
    void pushFromTheStoreThenPullBack() throws Exception {
        Random r = new Random(7);
        Path store = tmp.resolve("store");
        ContentStore s = ContentStore.open(store);
        Descriptor m = TestImages.store(s, Platform.host(), List.of(randomLayer(r, 100_000), randomLayer(r, 2000)));
        String name = plain.host() + "/test/pushed:v2";
        s.tag(name, m);
        String out = cli(RegistryCommands::push, List.of("--store", store.toString(), "--ca", pki.caCert.toString(),
                "--certs-dir", tmp.resolve("none").toString(), name));
        assertEquals(name + " " + m.digest() + "\n", out);
        // skopeo, a peer, reads it back with the same digest.
        String raw = TestRegistry.run(List.of("skopeo", "inspect", "--raw", "--cert-dir", pki.certDir().toString(),
                "docker://" + name));
        assertEquals(m.digest(), Digest.of(raw.getBytes(StandardCharsets.UTF_8)));
        // Pushing again sends no blob; under a second tag too.
        Pusher.Pushed again = new Pusher(s, config(), Progress.off()).push(m, Reference.parse(plain.host() + "/test/pushed:v3"));
        assertEquals(0, again.sent());
        assertEquals(3, again.existed());
        Puller.Pulled back = pull(tmp.resolve("back"), plain.host() + "/test/pushed:v3", config(), Platform.host());
        assertEquals(m.digest(), back.resolved());
        // The public API: a manifest under a digest must be the digest of its bytes.
        RegistryClient c = RegistryClient.connect(plain.host(), config());
        ImageException e = assertThrows(ImageException.class, () -> c.pushManifest(
                Reference.parse(plain.host() + "/test/pushed@" + Digest.of(new byte[1])), MediaTypes.OCI_MANIFEST, s.read(m.digest())));
        assertTrue(e.getMessage().contains("hash to " + m.digest()), e.getMessage());
    }

    @Test
    void basicAuth() throws Exception {
        Path dir = tmp.resolve("basic");
        Files.createDirectories(dir);
        TestRegistry.run(List.of("htpasswd", "-Bbc", dir.resolve("htpasswd").toString(), "bob", "hunter2"));
        try (TestRegistry reg = TestRegistry.start(dir.resolve("registry"), pki,
                "  htpasswd:\n    realm: bulwark-test\n    path: " + dir.resolve("htpasswd") + "\n")) {
            Random r = new Random(8);
            Path layout = tmp.resolve("layout");
            Descriptor m = layoutImage(layout, Platform.host(), List.of(randomLayer(r, 1000)));
            reg.skopeoPush(pki, layout, "v1", "test/basic:v1", false, "bob:hunter2");
            String ref = reg.host() + "/test/basic:v1";

            assertEquals(m.digest(), pull(tmp.resolve("s1"), ref, config().withCreds("bob:hunter2"), Platform.host()).resolved());
            ImageException e = assertThrows(ImageException.class, () -> pull(tmp.resolve("s2"), ref, config(), Platform.host()));
            assertTrue(e.getMessage().contains("basic auth") && e.getMessage().contains("--creds"), e.getMessage());
            e = assertThrows(ImageException.class,
                    () -> pull(tmp.resolve("s2"), ref, config().withCreds("bob:wrong"), Platform.host()));
            assertTrue(e.getMessage().contains("refused the credentials of user bob"), e.getMessage());
            assertTrue(ContentStore.open(tmp.resolve("s2")).refs().isEmpty());

            Path authfile = tmp.resolve("auth.json");
            Files.writeString(authfile, "{\"auths\":{\"" + reg.host() + "\":{\"auth\":\""
                    + Base64.getEncoder().encodeToString("bob:hunter2".getBytes(StandardCharsets.UTF_8)) + "\"}}}");
            assertEquals(m.digest(), pull(tmp.resolve("s3"), ref, config().withAuthfile(authfile), Platform.host()).resolved());
        }
    }

    @Test
    void tokenAuth() throws Exception {
        try (TokenServer tokens = new TokenServer(pki, "alice", "s3cret");
                TestRegistry reg = TestRegistry.start(tmp.resolve("registry"), pki, tokens.registryAuth(pki))) {
            Random r = new Random(9);
            ContentStore src = ContentStore.open(tmp.resolve("src"));
            Descriptor m = TestImages.store(src, Platform.host(), List.of(randomLayer(r, 50_000)));
            Reference dest = Reference.parse(reg.host() + "/team/app:v1");
            RegistryClient.Config creds = config().withCreds("alice:s3cret");

            // Push with a token for pull,push.
            Pusher.Pushed pushed = new Pusher(src, creds, Progress.off()).push(m, dest);
            assertEquals(m.digest(), pushed.digest());
            assertEquals(2, pushed.sent());
            // the registry's challenge names the actions in either order (push,pull or pull,push)
            assertTrue(tokens.requests.stream().anyMatch(q -> q.startsWith("alice repository:team/app:")
                    && java.util.Set.of(q.substring(q.lastIndexOf(':') + 1).split(",")).equals(java.util.Set.of("pull", "push"))),
                    tokens.requests.toString());

            // Pull with the credentials: one token, anonymous requests are not made.
            tokens.requests.clear();
            Puller.Pulled p = pull(tmp.resolve("s1"), dest.toString(), creds, Platform.host());
            assertEquals(m.digest(), p.resolved());
            assertEquals(List.of("alice repository:team/app:pull"), tokens.requests);

            // Anonymous: the token server grants nothing and the registry says so.
            ImageException e = assertThrows(ImageException.class,
                    () -> pull(tmp.resolve("s2"), dest.toString(), config(), Platform.host()));
            assertTrue(e.getMessage().contains("unauthorized"), e.getMessage());
            // Wrong password: the token server refuses.
            e = assertThrows(ImageException.class,
                    () -> pull(tmp.resolve("s2"), dest.toString(), config().withCreds("alice:nope"), Platform.host()));
            assertTrue(e.getMessage().contains("refused user alice"), e.getMessage());
            assertTrue(ContentStore.open(tmp.resolve("s2")).refs().isEmpty());
        }
    }
}
