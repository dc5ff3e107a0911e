package dev.bulwark.image;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.KeyPair;
import java.security.PublicKey;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** Cosign-format signatures: exact format, round trip in the store, interop with openssl, and every refusal. */
@Timeout(120)
class SignatureTest {
    @TempDir
    Path tmp;

    private static final Reference IMAGE = Reference.parse("registry.example.com/team/app:1");

    /** A stored image named registry.example.com/team/app:1; returns its manifest digest. */
    private Digest storedImage(ContentStore s) {
        Descriptor d = TestImages.store(s, Platform.host(), TestImages.twoLayers());
        s.tag("registry.example.com/team/app:1", d);
        return d.digest();
    }

    record Run(int status, String out) {}

    static Run run(Path dir, String... cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        return new Run(p.waitFor(), out);
    }

    static void ok(Path dir, String... cmd) throws IOException, InterruptedException {
        Run r = run(dir, cmd);
        assertEquals(0, r.status, String.join(" ", cmd) + ": " + r.out);
    }

    private static Signatures.Layer layer(byte[] payload, byte[] signature) {
        return new Signatures.Layer(new Descriptor(Signatures.SIMPLE_SIGNING, Digest.of(payload), payload.length,
                Map.of(Signatures.SIGNATURE_ANNOTATION, Base64.getEncoder().encodeToString(signature)), Platform.UNSPECIFIED),
                payload);
    }

    private static Digest digest(char c) {
        return new Digest(String.valueOf(c).repeat(64));
    }

    // ---- the format, against bytes a real cosign (v1.13.1) pushed to Docker Hub ----

    @Test
    void payloadAndConfigAreCosignsBytes() {
        // Published in a cosign -d trace: payload blob sha256:b671489e.. (252 bytes) and config
        // sha256:85ad8e17.. (247 bytes) of the signature of chihjenhuang/cosign1@sha256:4c1c50d0..
        Digest image = Digest.parse("sha256:4c1c50d0ffc614f90b93b07d778028dc765548e823f676fb027f61d281ac380d");
        byte[] payload = SimpleSigning.of(Reference.parse("chihjenhuang/cosign1"), image).toJson();
        assertEquals("{\"critical\":{\"identity\":{\"docker-reference\":\"index.docker.io/chihjenhuang/cosign1\"},"
                + "\"image\":{\"docker-manifest-digest\":\"sha256:4c1c50d0ffc614f90b93b07d778028dc765548e823f676fb027f61d281ac380d\"},"
                + "\"type\":\"cosign container image signature\"},\"optional\":null}",
                new String(payload, StandardCharsets.UTF_8));
        assertEquals("sha256:b671489ededd1a180bd87235bba00fd83354f9c7d13b71d9f8b66a8e52965ebc", Digest.of(payload).toString());
        byte[] config = Signatures.config(List.of(Digest.of(payload)), "2023-02-17T09:25:33.91047962-08:00");
        assertEquals(247, config.length);
        assertEquals("sha256:85ad8e17d3d7c00664855c638832bd99f32d42542c2d587851410a45a7f60b95", Digest.of(config).toString());

        SimpleSigning back = SimpleSigning.parse(payload, "payload");
        assertEquals(image, back.manifestDigest());
        assertTrue(back.names(Reference.parse("docker.io/chihjenhuang/cosign1:any")), "index.docker.io is docker.io");
        assertFalse(back.names(Reference.parse("chihjenhuang/other")));
        assertEquals("sha256-" + image.hex() + ".sig", Signatures.tag(image));
    }

    // ---- round trip in the store ----

    @Test
    void signStoreVerifyAndSignAgain() {
        ContentStore s = ContentStore.open(tmp.resolve("store"));
        Digest m = storedImage(s);
        KeyPair a = Keys.generate();
        KeyPair b = Keys.generate();

        Descriptor art = Signatures.sign(s, IMAGE, m, a.getPrivate());
        String name = "registry.example.com/team/app:sha256-" + m.hex() + ".sig";
        assertEquals(art, s.resolve(name).orElseThrow().withAnnotations(Map.of()));
        Signatures.Artifact got = Signatures.artifact(s, IMAGE, m).orElseThrow();
        assertEquals(1, got.layers().size());
        assertEquals(Signatures.SIMPLE_SIGNING, got.layers().get(0).descriptor().mediaType());
        assertArrayEquals(SimpleSigning.of(IMAGE, m).toJson(), got.layers().get(0).payload());
        assertEquals(2, got.blobs().size(), "the config and the payload; the manifest is apart");
        String manifest = new String(got.manifestJson(), StandardCharsets.UTF_8);
        assertTrue(manifest.contains("\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\""), manifest);
        assertTrue(manifest.contains("\"dev.cosignproject.cosign/signature\":\"ME"), manifest);

        Signatures.Verification v = Signatures.verify(Signatures.inStore(s).signatures(IMAGE, m), m, IMAGE, List.of(a.getPublic()));
        assertEquals(Keys.fingerprint(a.getPublic()), v.fingerprint());

        Signatures.sign(s, IMAGE, m, b.getPrivate());
        Signatures.Artifact two = Signatures.artifact(s, IMAGE, m).orElseThrow();
        assertEquals(2, two.layers().size(), "signing again adds a layer");
        String config = new String(two.blobs().get(0).data(), StandardCharsets.UTF_8);
        assertTrue(config.contains(two.layers().get(0).descriptor().digest() + "\",\"" + two.layers().get(1).descriptor().digest()),
                config);
        assertEquals(Keys.fingerprint(b.getPublic()),
                Signatures.verify(two.layers(), m, IMAGE, List.of(b.getPublic())).fingerprint());
        assertEquals(Keys.fingerprint(a.getPublic()),
                Signatures.verify(two.layers(), m, IMAGE, List.of(b.getPublic(), a.getPublic())).fingerprint(),
                "the first layer verifies under a");
        assertEquals(List.of(), s.verify(), "the store is sound and the artifact complete");
        s.gc();
        assertTrue(Signatures.artifact(s, IMAGE, m).isPresent(), "GC keeps a named artifact");

        // What a registry fetch would do: read the manifest and blobs, keep them in another store.
        ContentStore other = ContentStore.open(tmp.resolve("other"));
        Map<Digest, byte[]> blobs = new java.util.HashMap<>();
        two.blobs().forEach(bl -> blobs.put(bl.descriptor().digest(), bl.data()));
        Signatures.save(other, IMAGE, m, two.manifestJson(), d -> blobs.get(d.digest()));
        assertEquals(2, Signatures.layers(two.manifestJson(), "fetched", d -> blobs.get(d.digest())).size());
        Signatures.verify(Signatures.inStore(other).signatures(IMAGE, m), m, IMAGE, List.of(a.getPublic()));

        // Exported and imported like any image: the artifact survives an OCI layout tarball.
        new Exporter(s).export(name, tmp.resolve("sig.tar"));
        ContentStore third = ContentStore.open(tmp.resolve("third"));
        new Importer(third, Platform.host()).importFrom(tmp.resolve("sig.tar"), java.util.Optional.empty());
        assertEquals(two.manifest().digest(), third.resolve(name).orElseThrow().digest());
        Signatures.verify(Signatures.inStore(third).signatures(IMAGE, m), m, IMAGE, List.of(b.getPublic()));
    }

    @Test
    void tamperedPayloadBlobInTheStoreIsRefused() throws IOException {
        ContentStore s = ContentStore.open(tmp.resolve("store"));
        Digest m = storedImage(s);
        KeyPair a = Keys.generate();
        Signatures.sign(s, IMAGE, m, a.getPrivate());
        Descriptor l = Signatures.artifact(s, IMAGE, m).orElseThrow().layers().get(0).descriptor();
        Path blob = s.blobPath(l.digest());
        Files.setPosixFilePermissions(blob, PosixFilePermissions.fromString("rw-r--r--"));
        String forged = Files.readString(blob).replace(m.hex(), digest('e').hex());
        Files.writeString(blob, forged);
        ImageException e = assertThrows(ImageException.class,
                () -> Signatures.verify(Signatures.inStore(s).signatures(IMAGE, m), m, IMAGE, List.of(a.getPublic())));
        assertTrue(e.getMessage().contains("payload was altered"), e.getMessage());
    }

    // ---- refusals, each with its reason ----

    @Test
    void everyTamperingIsRefusedWithItsReason() {
        KeyPair a = Keys.generate();
        Digest m = digest('a');
        byte[] payload = SimpleSigning.of(IMAGE, m).toJson();
        byte[] sig = Signatures.signBytes(payload, a.getPrivate());
        List<PublicKey> keyA = List.of(a.getPublic());
        assertEquals(Keys.fingerprint(a.getPublic()), Signatures.verify(List.of(layer(payload, sig)), m, IMAGE, keyA).fingerprint());

        // Payload changed, layer descriptor kept: the digest check catches it.
        byte[] changed = payload.clone();
        changed[changed.length - 3] = 'X';
        Signatures.Layer tp = new Signatures.Layer(layer(payload, sig).descriptor(), changed);
        assertRefused(List.of(tp), m, IMAGE, keyA, "payload was altered");

        // Payload and descriptor changed together (a forged layer): the signature catches it.
        byte[] forged = SimpleSigning.of(IMAGE, digest('b')).toJson();
        assertRefused(List.of(layer(forged, sig)), digest('b'), IMAGE, keyA, "does not verify under the key");

        // Signature bytes changed.
        byte[] badSig = sig.clone();
        badSig[badSig.length - 1] ^= 1;
        assertRefused(List.of(layer(payload, badSig)), m, IMAGE, keyA, "does not verify");
        byte[] garbage = "not DER at all".getBytes(StandardCharsets.UTF_8);
        assertRefused(List.of(layer(payload, garbage)), m, IMAGE, keyA, "does not verify");

        // A valid signature of another image's digest, offered for this one.
        byte[] other = SimpleSigning.of(IMAGE, digest('c')).toJson();
        assertRefused(List.of(layer(other, Signatures.signBytes(other, a.getPrivate()))), m, IMAGE, keyA,
                "for another image: the payload names sha256:cccc");

        // A valid signature of this digest, but for another repository.
        byte[] otherRepo = SimpleSigning.of(Reference.parse("registry.example.com/team/evil"), m).toJson();
        assertRefused(List.of(layer(otherRepo, Signatures.signBytes(otherRepo, a.getPrivate()))), m, IMAGE, keyA,
                "for another repository: the payload names registry.example.com/team/evil");

        // The wrong key.
        KeyPair b = Keys.generate();
        assertRefused(List.of(layer(payload, sig)), m, IMAGE, List.of(b.getPublic()),
                "does not verify under the key " + Keys.fingerprint(b.getPublic()));

        // No signature at all.
        assertRefused(List.of(), m, IMAGE, keyA, "no signature found (expected the artifact registry.example.com/team/app:sha256-aaaa");

        // Not base64, no annotation, wrong media type, wrong type string.
        Signatures.Layer l = layer(payload, sig);
        assertRefused(List.of(new Signatures.Layer(l.descriptor().withAnnotations(Map.of(Signatures.SIGNATURE_ANNOTATION, "@@@")), payload)),
                m, IMAGE, keyA, "is not base64");
        assertRefused(List.of(new Signatures.Layer(l.descriptor().withAnnotations(Map.of()), payload)), m, IMAGE, keyA,
                "no dev.cosignproject.cosign/signature annotation");
        assertRefused(List.of(new Signatures.Layer(new Descriptor("application/octet-stream", l.descriptor().digest(), payload.length,
                l.descriptor().annotations(), Platform.UNSPECIFIED), payload)), m, IMAGE, keyA, "is not application/vnd.dev.cosign");
        byte[] wrongType = new String(payload, StandardCharsets.UTF_8).replace("cosign container image signature", "atomic container signature")
                .getBytes(StandardCharsets.UTF_8);
        assertRefused(List.of(layer(wrongType, Signatures.signBytes(wrongType, a.getPrivate()))), m, IMAGE, keyA,
                "critical.type: expected \"cosign container image signature\"");

        // One bad layer does not hide a good one, and every bad one is named when none is good.
        assertEquals(Keys.fingerprint(a.getPublic()),
                Signatures.verify(List.of(layer(payload, badSig), layer(payload, sig)), m, IMAGE, keyA).fingerprint());
        ImageException e = assertThrows(ImageException.class,
                () -> Signatures.verify(List.of(layer(payload, badSig), tp), m, IMAGE, keyA));
        assertTrue(e.getMessage().contains("signature 0 ") && e.getMessage().contains("signature 1 "), e.getMessage());
    }

    private static void assertRefused(List<Signatures.Layer> layers, Digest m, Reference image, List<PublicKey> keys, String reason) {
        ImageException e = assertThrows(ImageException.class, () -> Signatures.verify(layers, m, image, keys));
        assertTrue(e.getMessage().contains(reason), "expected \"" + reason + "\" in: " + e.getMessage());
        assertTrue(e.getMessage().startsWith("verify " + image.name() + "@" + m), e.getMessage());
    }

    // ---- interop with openssl ----

    @Test
    void opensslVerifiesOurSignatures() throws Exception {
        ok(tmp, "openssl", "version");
        KeyPair a = Keys.generate();
        List<Path> files = Keys.write(a, tmp.resolve("ours"));
        byte[] payload = SimpleSigning.of(IMAGE, digest('d')).toJson();
        Files.write(tmp.resolve("payload"), payload);
        Files.write(tmp.resolve("sig.der"), Signatures.signBytes(payload, Keys.readPrivate(files.get(0))));
        Run r = run(tmp, "openssl", "dgst", "-sha256", "-verify", files.get(1).toString(), "-signature", "sig.der", "payload");
        assertEquals(0, r.status, r.out);
        assertTrue(r.out.contains("Verified OK"), r.out);
        Files.write(tmp.resolve("payload"), SimpleSigning.of(IMAGE, digest('e')).toJson());
        assertNotEquals(0, run(tmp, "openssl", "dgst", "-sha256", "-verify", files.get(1).toString(), "-signature", "sig.der",
                "payload").status, "openssl refuses another payload: the check above can fail");

        // openssl reads our private key (PKCS#8) and the fingerprint is the SHA-256 of the DER public key.
        ok(tmp, "openssl", "pkey", "-in", files.get(0).toString(), "-pubout", "-out", "derived.pub");
        assertEquals(Files.readString(files.get(1)), Files.readString(tmp.resolve("derived.pub")));
        ok(tmp, "openssl", "pkey", "-pubin", "-in", files.get(1).toString(), "-outform", "DER", "-out", "pub.der");
        assertEquals(Digest.of(Files.readAllBytes(tmp.resolve("pub.der"))).toString(), Keys.fingerprint(a.getPublic()));
    }

    @Test
    void weVerifyOpensslSignaturesAndReadItsKeys() throws Exception {
        // SEC1 as `openssl ecparam -genkey` writes it: an EC PARAMETERS block, then EC PRIVATE KEY.
        ok(tmp, "openssl", "ecparam", "-name", "prime256v1", "-genkey", "-out", "sec1.pem");
        assertTrue(Files.readString(tmp.resolve("sec1.pem")).contains("BEGIN EC PARAMETERS"));
        ok(tmp, "openssl", "ec", "-in", "sec1.pem", "-pubout", "-out", "sec1.pub");
        byte[] payload = SimpleSigning.of(IMAGE, digest('a')).toJson();
        Files.write(tmp.resolve("payload"), payload);
        ok(tmp, "openssl", "dgst", "-sha256", "-sign", "sec1.pem", "-out", "sig.der", "payload");
        PublicKey pub = Keys.readPublic(tmp.resolve("sec1.pub"));
        byte[] sig = Files.readAllBytes(tmp.resolve("sig.der"));
        assertEquals(Keys.fingerprint(pub), Signatures.verify(List.of(layer(payload, sig)), digest('a'), IMAGE, List.of(pub)).fingerprint());

        // Our signature with openssl's SEC1 key verifies under openssl's public key.
        byte[] ours = Signatures.signBytes(payload, Keys.readPrivate(tmp.resolve("sec1.pem")));
        Signatures.verify(List.of(layer(payload, ours)), digest('a'), IMAGE, List.of(pub));

        // PKCS#8 from genpkey.
        ok(tmp, "openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "p8.pem");
        ok(tmp, "openssl", "pkey", "-in", "p8.pem", "-pubout", "-out", "p8.pub");
        byte[] s2 = Signatures.signBytes(payload, Keys.readPrivate(tmp.resolve("p8.pem")));
        Signatures.verify(List.of(layer(payload, s2)), digest('a'), IMAGE, List.of(Keys.readPublic(tmp.resolve("p8.pub"))));
        assertRefused(List.of(layer(payload, s2)), digest('a'), IMAGE, List.of(pub), "does not verify");
    }

    // ---- keys ----

    @Test
    void keysOfOtherKindsAreRefusedByName() throws Exception {
        ok(tmp, "openssl", "ecparam", "-name", "secp384r1", "-genkey", "-noout", "-out", "p384.pem");
        ok(tmp, "openssl", "ec", "-in", "p384.pem", "-pubout", "-out", "p384.pub");
        ok(tmp, "openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:secp384r1", "-out", "p384p8.pem");
        ok(tmp, "openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024", "-out", "rsa.pem");
        ok(tmp, "openssl", "pkey", "-in", "rsa.pem", "-pubout", "-out", "rsa.pub");
        ok(tmp, "openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "enc.pem",
                "-aes256", "-pass", "pass:secret");
        keyError(() -> Keys.readPrivate(tmp.resolve("p384.pem")), "curve P-384 (secp384r1) is not supported");
        keyError(() -> Keys.readPrivate(tmp.resolve("p384p8.pem")), "curve P-384 (secp384r1) is not supported");
        keyError(() -> Keys.readPublic(tmp.resolve("p384.pub")), "curve P-384 (secp384r1) is not supported");
        keyError(() -> Keys.readPrivate(tmp.resolve("rsa.pem")), "a RSA key");
        keyError(() -> Keys.readPublic(tmp.resolve("rsa.pub")), "a RSA key");
        keyError(() -> Keys.readPrivate(tmp.resolve("enc.pem")), "encrypted private keys are not supported");
        Files.writeString(tmp.resolve("cosign.key"), "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n"
                + "eyJrZGYiOnsibmFtZSI6InNjcnlwdCJ9fQ==\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n");
        keyError(() -> Keys.readPrivate(tmp.resolve("cosign.key")), "cosign's encrypted key format (ENCRYPTED SIGSTORE PRIVATE KEY) is not supported");
        keyError(() -> Keys.readPublic(tmp.resolve("enc.pem")), "encrypted private keys are not supported");
        KeyPair a = Keys.generate();
        List<Path> files = Keys.write(a, tmp.resolve("k"));
        keyError(() -> Keys.readPublic(files.get(0)), "expected a public key in PEM (PUBLIC KEY), found PRIVATE KEY");
        keyError(() -> Keys.readPrivate(files.get(1)), "expected a private key in PEM (PRIVATE KEY or EC PRIVATE KEY), found PUBLIC KEY");
        keyError(() -> Keys.readPublic(tmp.resolve("missing.pub")), "missing.pub: no such file");
    }

    @Test
    void keyGenerateWritesPrivateKeyOwnerOnlyAndNeverOverwrites() throws IOException {
        KeyPair a = Keys.generate();
        List<Path> files = Keys.write(a, tmp.resolve("cosign"));
        assertEquals(List.of(tmp.resolve("cosign.key"), tmp.resolve("cosign.pub")), files);
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(files.get(0))));
        assertEquals("rw-r--r--", PosixFilePermissions.toString(Files.getPosixFilePermissions(files.get(1))));
        assertEquals(a.getPublic(), Keys.readPublic(files.get(1)));
        assertEquals(a.getPrivate(), Keys.readPrivate(files.get(0)));
        byte[] before = Files.readAllBytes(files.get(0));
        keyError(() -> Keys.write(Keys.generate(), tmp.resolve("cosign")), "cosign.key exists");
        assertArrayEquals(before, Files.readAllBytes(files.get(0)));
        Files.delete(files.get(0));
        keyError(() -> Keys.write(Keys.generate(), tmp.resolve("cosign")), "cosign.pub exists");
        assertFalse(Files.exists(files.get(0)), "nothing written when the pair cannot be");
    }

    private static void keyError(org.junit.jupiter.api.function.Executable x, String reason) {
        ImageException e = assertThrows(ImageException.class, x);
        assertTrue(e.getMessage().contains(reason), "expected \"" + reason + "\" in: " + e.getMessage());
    }
}
