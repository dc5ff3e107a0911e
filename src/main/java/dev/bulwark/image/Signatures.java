package dev.bulwark.image;

import dev.bulwark.json.Json;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.Signature;
import java.security.SignatureException;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;

/**
 * Keyed cosign-format signatures. A signature of manifest {@code sha256:HEX} of repository REPO
 * is an OCI image manifest tagged {@code REPO:sha256-HEX.sig}: a config blob as cosign writes
 * it, and one layer per signature whose blob is the {@link SimpleSigning} payload (media type
 * {@value #SIMPLE_SIGNING}) and whose annotation {@value #SIGNATURE_ANNOTATION} is the base64
 * ASN.1 DER ECDSA P-256 / SHA-256 signature of those bytes. Signing again adds a layer.
 * In the store the artifact is an ordinary named entry, so export and push carry it like an image.
 */
public final class Signatures {
    private Signatures() {}

    public static final String SIMPLE_SIGNING = "application/vnd.dev.cosign.simplesigning.v1+json";
    public static final String SIGNATURE_ANNOTATION = "dev.cosignproject.cosign/signature";
    /** A payload is a few hundred bytes; cosign's -a claims make it larger, never by this much. */
    public static final int MAX_PAYLOAD = 64 << 10;
    private static final String ALGORITHM = "SHA256withECDSA";

    /** One signature: the layer's descriptor (with the signature annotation) and the payload bytes as received. */
    public record Layer(Descriptor descriptor, byte[] payload) {}

    /** A blob of the artifact, to upload before its manifest. */
    public record Blob(Descriptor descriptor, byte[] data) {}

    /**
     * The signature artifact of one image manifest, as it is pushed: upload {@link #blobs()},
     * then put {@link #manifestJson()} (media type {@link MediaTypes#OCI_MANIFEST}) under the
     * tag {@link #tag()} of the image's repository.
     */
    public record Artifact(String name, String tag, Descriptor manifest, byte[] manifestJson, List<Blob> blobs,
            List<Layer> layers) {
        public Artifact {
            blobs = List.copyOf(blobs);
            layers = List.copyOf(layers);
        }
    }

    /** A signature that verified: the key, its fingerprint, the layer and what it says. */
    public record Verification(PublicKey key, String fingerprint, Descriptor layer, SimpleSigning payload) {}

    /** The tag cosign derives from a digest: {@code sha256-HEX.sig}. */
    public static String tag(Digest manifest) {
        return Digest.ALGORITHM + "-" + manifest.hex() + ".sig";
    }

    /** The store name of an image's signature artifact: {@code REPO:sha256-HEX.sig}. */
    public static String artifactName(Reference image, Digest manifest) {
        return image.name() + ":" + tag(manifest);
    }

    /**
     * Signs a manifest digest of the image's repository with a P-256 key, and stores or extends
     * the artifact {@code REPO:sha256-HEX.sig}. Returns the artifact's manifest descriptor.
     * The image itself need not be in the store: what is signed is the digest.
     */
    public static Descriptor sign(ContentStore store, Reference image, Digest manifest, PrivateKey key) {
        byte[] payload = SimpleSigning.of(image, manifest).toJson();
        String signature = Base64.getEncoder().encodeToString(signBytes(payload, key));
        String name = artifactName(image, manifest);
        try (ContentStore.Hold h = store.holdForWriting()) {
            List<Descriptor> layers = new ArrayList<>();
            artifact(store, image, manifest).ifPresent(a -> a.layers().forEach(l -> layers.add(l.descriptor())));
            Digest p = store.put(payload);
            Map<String, String> ann = new LinkedHashMap<>();
            ann.put(SIGNATURE_ANNOTATION, signature);
            layers.add(new Descriptor(SIMPLE_SIGNING, p, payload.length, ann, Platform.UNSPECIFIED));
            List<Digest> diffIds = layers.stream().map(Descriptor::digest).toList();
            byte[] config = config(diffIds, Instant.now().truncatedTo(ChronoUnit.SECONDS).toString());
            Descriptor c = new Descriptor(MediaTypes.OCI_CONFIG, store.put(config), config.length);
            byte[] m = new Manifest(MediaTypes.OCI_MANIFEST, c, layers).toJson();
            Descriptor md = new Descriptor(MediaTypes.OCI_MANIFEST, store.put(m), m.length);
            store.tag(name, md);
            return md;
        }
    }

    static byte[] signBytes(byte[] payload, PrivateKey key) {
        try {
            Signature s = Signature.getInstance(ALGORITHM);
            s.initSign(key);
            s.update(payload);
            return s.sign();
        } catch (GeneralSecurityException e) {
            throw new ImageException("sign with " + ALGORITHM + ": " + e.getMessage(), e);
        }
    }

    /**
     * The config blob as cosign (go-containerregistry's empty image plus layers) writes it: empty
     * architecture and os, one history entry and one diff_id per layer (a payload is its own
     * uncompressed form).
     */
    static byte[] config(List<Digest> diffIds, String created) {
        StringBuilder sb = new StringBuilder("{\"architecture\":\"\",\"created\":");
        Json.quote(sb, created);
        sb.append(",\"history\":[");
        for (int i = 0; i < diffIds.size(); i++) {
            sb.append(i == 0 ? "" : ",").append("{\"created\":\"0001-01-01T00:00:00Z\"}");
        }
        sb.append("],\"os\":\"\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[");
        for (int i = 0; i < diffIds.size(); i++) {
            sb.append(i == 0 ? "" : ",").append('"').append(diffIds.get(i)).append('"');
        }
        sb.append("]},\"config\":{}}");
        return sb.toString().getBytes(StandardCharsets.UTF_8);
    }

    /**
     * The artifact stored for this image manifest, with every blob, ready to push; empty when
     * the image has not been signed. Payload bytes are read as stored, not checked here: that is
     * {@link #verify}'s job, which names the bad layer.
     */
    public static Optional<Artifact> artifact(ContentStore store, Reference image, Digest manifest) {
        String name = artifactName(image, manifest);
        Optional<Descriptor> top = store.resolve(name);
        if (top.isEmpty()) {
            return Optional.empty();
        }
        Descriptor d = top.get();
        if (!d.mediaType().equals(MediaTypes.OCI_MANIFEST)) {
            throw new ImageException("signature artifact " + name + ": media type " + d.mediaType() + ", expected "
                    + MediaTypes.OCI_MANIFEST);
        }
        byte[] json = store.read(d.digest());
        Manifest m = Manifest.parse(json, "signature artifact " + name);
        List<Blob> blobs = new ArrayList<>();
        blobs.add(new Blob(m.config(), store.read(m.config().digest())));
        List<Layer> layers = new ArrayList<>();
        for (Descriptor l : m.layers()) {
            byte[] p = readPayload(store, l);
            blobs.add(new Blob(l, p));
            layers.add(new Layer(l, p));
        }
        return Optional.of(new Artifact(name, tag(manifest), d, json, blobs, layers));
    }

    private static byte[] readPayload(ContentStore store, Descriptor l) {
        try (InputStream in = store.open(l.digest())) {
            return in.readNBytes(MAX_PAYLOAD + 1);
        } catch (IOException e) {
            throw new ImageException("read signature payload " + l.digest() + ": " + e.getMessage(), e);
        }
    }

    /** The signatures in the local store, under {@code REPO:sha256-HEX.sig}. */
    public static SignatureSource inStore(ContentStore store) {
        return (image, manifest) -> artifact(store, image, manifest).map(Artifact::layers).orElse(List.of());
    }

    /**
     * The signature layers of an artifact manifest fetched from elsewhere (a registry's
     * {@code sha256-HEX.sig} tag): fetch returns a layer's blob bytes, at most
     * {@link #MAX_PAYLOAD} + 1 of them. The bytes are checked by {@link #verify}.
     */
    public static List<Layer> layers(byte[] manifestJson, String source, Function<Descriptor, byte[]> fetch) {
        Manifest m = Manifest.parse(manifestJson, source);
        List<Layer> out = new ArrayList<>();
        for (Descriptor l : m.layers()) {
            if (l.size() > MAX_PAYLOAD) {
                throw new ImageException(source + ": signature layer " + l.digest() + " is " + l.size()
                        + " bytes, more than the " + MAX_PAYLOAD + " allowed for a payload");
            }
            out.add(new Layer(l, fetch.apply(l)));
        }
        return out;
    }

    /**
     * Keeps an artifact fetched from a registry in the store under {@code REPO:sha256-HEX.sig},
     * so the check at run finds it: every blob (config and payloads, from fetch) is stored
     * against its descriptor's digest and size, then the manifest is named. Returns its descriptor.
     */
    public static Descriptor save(ContentStore store, Reference image, Digest manifest, byte[] manifestJson,
            Function<Descriptor, byte[]> fetch) {
        String source = "signature artifact " + artifactName(image, manifest);
        Manifest m = Manifest.parse(manifestJson, source);
        try (ContentStore.Hold h = store.holdForWriting()) {
            List<Descriptor> all = new ArrayList<>(m.layers());
            all.add(0, m.config());
            for (Descriptor d : all) {
                if (d.size() > ContentStore.MAX_DOCUMENT) {
                    throw new ImageException(source + ": blob " + d.digest() + " is " + d.size() + " bytes, too large");
                }
                if (!store.has(d.digest())) {
                    store.put(new java.io.ByteArrayInputStream(fetch.apply(d)), d.digest(), d.size());
                }
            }
            Descriptor md = new Descriptor(MediaTypes.OCI_MANIFEST, store.put(manifestJson), manifestJson.length);
            store.tag(artifactName(image, manifest), md);
            return md;
        }
    }

    /**
     * Finds a signature of {@code manifest} for {@code image}'s repository that verifies under
     * one of the keys. Each layer must: be a simple-signing payload whose bytes hash to the
     * layer's digest and size; carry a base64 DER signature that verifies under a key; and
     * (checked only after the signature, so unsigned JSON is never interpreted) name this
     * manifest digest, this repository and cosign's type. Throws naming every layer and why it
     * failed when none passes.
     */
    public static Verification verify(List<Layer> layers, Digest manifest, Reference image, List<PublicKey> keys) {
        String what = image.name() + "@" + manifest;
        if (keys.isEmpty()) {
            throw new ImageException("verify " + what + ": no public keys given");
        }
        String keyDesc = keys.size() == 1 ? "the key " + Keys.fingerprint(keys.get(0))
                : "any of the " + keys.size() + " keys " + keys.stream().map(Keys::fingerprint).toList();
        if (layers.isEmpty()) {
            throw new ImageException("verify " + what + ": no signature found (expected the artifact "
                    + artifactName(image, manifest) + ")");
        }
        List<String> problems = new ArrayList<>();
        for (int i = 0; i < layers.size(); i++) {
            Layer l = layers.get(i);
            Descriptor d = l.descriptor();
            String where = "signature " + i + " (payload " + d.digest() + ")";
            if (!d.mediaType().equals(SIMPLE_SIGNING)) {
                problems.add(where + ": media type " + d.mediaType() + " is not " + SIMPLE_SIGNING);
                continue;
            }
            Digest actual = Digest.of(l.payload());
            if (l.payload().length > MAX_PAYLOAD || !actual.equals(d.digest()) || l.payload().length != d.size()) {
                problems.add(where + ": payload was altered: its " + l.payload().length + " bytes hash to " + actual
                        + ", the layer says " + d.size() + " bytes " + d.digest());
                continue;
            }
            Optional<String> b64 = d.annotation(SIGNATURE_ANNOTATION);
            if (b64.isEmpty()) {
                problems.add(where + ": no " + SIGNATURE_ANNOTATION + " annotation");
                continue;
            }
            byte[] sig;
            try {
                sig = Base64.getDecoder().decode(b64.get().strip());
            } catch (IllegalArgumentException e) {
                problems.add(where + ": annotation " + SIGNATURE_ANNOTATION + " is not base64: " + e.getMessage());
                continue;
            }
            PublicKey signer = null;
            String malformed = null;
            for (PublicKey k : keys) {
                try {
                    Signature s = Signature.getInstance(ALGORITHM);
                    s.initVerify(k);
                    s.update(l.payload());
                    if (s.verify(sig)) {
                        signer = k;
                        break;
                    }
                } catch (SignatureException e) {
                    malformed = e.getMessage();
                } catch (GeneralSecurityException e) {
                    throw new ImageException("verify with " + ALGORITHM + ": " + e.getMessage(), e);
                }
            }
            if (signer == null) {
                problems.add(where + ": the signature does not verify under " + keyDesc
                        + (malformed == null ? "" : " (not an ASN.1 DER ECDSA signature: " + malformed + ")"));
                continue;
            }
            SimpleSigning p;
            try {
                p = SimpleSigning.parse(l.payload(), where);
            } catch (ImageException e) {
                problems.add(e.getMessage());
                continue;
            }
            if (!p.manifestDigest().equals(manifest)) {
                problems.add(where + ": signed by " + Keys.fingerprint(signer) + " for another image: the payload names "
                        + p.manifestDigest() + ", not " + manifest);
                continue;
            }
            if (!p.names(image)) {
                problems.add(where + ": signed by " + Keys.fingerprint(signer) + " for another repository: the payload names "
                        + p.dockerReference() + ", not " + image.name());
                continue;
            }
            return new Verification(signer, Keys.fingerprint(signer), d, p);
        }
        throw new ImageException("verify " + what + ": no valid signature by " + keyDesc + ": " + String.join("; ", problems));
    }
}
