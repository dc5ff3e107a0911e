package dev.bulwark.image;

import java.io.IOException;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.AlgorithmParameters;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.spec.ECGenParameterSpec;
import java.security.spec.ECParameterSpec;
import java.security.spec.ECPrivateKeySpec;
import java.security.spec.PKCS8EncodedKeySpec;
import java.security.spec.X509EncodedKeySpec;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;

/**
 * ECDSA P-256 keys in PEM, the only kind cosign-format keyed signatures use. Private keys:
 * PKCS#8 {@code PRIVATE KEY} (openssl genpkey, cosign import-key-pair input) and SEC1
 * {@code EC PRIVATE KEY} (openssl ecparam -genkey, which writes an {@code EC PARAMETERS} block
 * first; it is skipped). Public keys: PKIX {@code PUBLIC KEY}, the form of cosign.pub.
 * Encrypted keys are refused with the command that converts them.
 */
public final class Keys {
    private Keys() {}

    static final String OID_EC_PUBLIC_KEY = "1.2.840.10045.2.1";
    static final String OID_P256 = "1.2.840.10045.3.1.7";

    private static final Map<String, String> ALGORITHMS = Map.of(
            OID_EC_PUBLIC_KEY, "EC",
            "1.2.840.113549.1.1.1", "RSA",
            "1.2.840.10040.4.1", "DSA",
            "1.3.101.112", "Ed25519",
            "1.3.101.113", "Ed448");
    private static final Map<String, String> CURVES = Map.of(
            OID_P256, "P-256 (prime256v1)",
            "1.3.132.0.34", "P-384 (secp384r1)",
            "1.3.132.0.35", "P-521 (secp521r1)",
            "1.3.132.0.10", "secp256k1");

    /** Generates a new P-256 key pair. */
    public static KeyPair generate() {
        try {
            KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
            g.initialize(new ECGenParameterSpec("secp256r1"));
            return g.generateKeyPair();
        } catch (GeneralSecurityException e) {
            throw new ImageException("generate an ECDSA P-256 key: " + e.getMessage(), e);
        }
    }

    /**
     * Writes PREFIX.key (PKCS#8, mode 0600, created with that mode so it is never readable by
     * others) and PREFIX.pub (PKIX). Existing files are not overwritten. Returns the two paths.
     */
    public static List<Path> write(KeyPair pair, Path prefix) {
        Path key = Path.of(prefix + ".key");
        Path pub = Path.of(prefix + ".pub");
        for (Path p : List.of(key, pub)) {
            if (Files.exists(p, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
                throw new ImageException("key generate: " + p + " exists; remove it or choose another prefix");
            }
        }
        try {
            // Created with mode 0600, so the key is never readable by others, not even briefly.
            try (var ch = Files.newByteChannel(key, java.util.Set.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE),
                    PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")))) {
                ch.write(java.nio.ByteBuffer.wrap(pem("PRIVATE KEY", pair.getPrivate().getEncoded())));
            }
        } catch (FileAlreadyExistsException e) {
            throw new ImageException("key generate: " + key + " exists; remove it or choose another prefix");
        } catch (IOException | UnsupportedOperationException e) {
            throw new ImageException("key generate: write " + key + ": " + e.getMessage(), e);
        }
        try {
            Files.write(pub, pem("PUBLIC KEY", pair.getPublic().getEncoded()), StandardOpenOption.CREATE_NEW,
                    StandardOpenOption.WRITE);
            Files.setPosixFilePermissions(pub, PosixFilePermissions.fromString("rw-r--r--"));
        } catch (IOException e) {
            try {
                Files.deleteIfExists(key);
            } catch (IOException ignored) {
                // The error below names the path; a leftover key file is the user's to remove.
            }
            throw new ImageException("key generate: write " + pub + ": " + e.getMessage(), e);
        }
        return List.of(key, pub);
    }

    private static byte[] pem(String type, byte[] der) {
        String b64 = Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII)).encodeToString(der);
        return ("-----BEGIN " + type + "-----\n" + b64 + "\n-----END " + type + "-----\n").getBytes(StandardCharsets.US_ASCII);
    }

    /** The PEM text of a public key (PKIX), as cosign.pub is written. */
    public static String publicPem(PublicKey key) {
        return new String(pem("PUBLIC KEY", key.getEncoded()), StandardCharsets.US_ASCII);
    }

    /**
     * The key's fingerprint: {@code sha256:} and the SHA-256 of its DER SubjectPublicKeyInfo,
     * what {@code openssl pkey -pubin -outform DER | sha256sum} prints.
     */
    public static String fingerprint(PublicKey key) {
        return Digest.of(key.getEncoded()).toString();
    }

    public static PrivateKey readPrivate(Path file) {
        String text = readText(file);
        Pem block = find(file, text, List.of("PRIVATE KEY", "EC PRIVATE KEY"), "a private key");
        try {
            if (block.type.equals("PRIVATE KEY")) {
                // PrivateKeyInfo ::= SEQUENCE { version, AlgorithmIdentifier, OCTET STRING }
                Der info = Der.read(block.der, 0).expect(Der.SEQUENCE, "PrivateKeyInfo");
                List<Der> f = info.children();
                checkAlgorithm(file, f.get(1));
                return KeyFactory.getInstance("EC").generatePrivate(new PKCS8EncodedKeySpec(block.der));
            }
            // SEC1 ECPrivateKey ::= SEQUENCE { version 1, OCTET STRING d, [0] curve OID, [1] public key }
            List<Der> f = Der.read(block.der, 0).expect(Der.SEQUENCE, "ECPrivateKey").children();
            String curve = null;
            for (Der d : f) {
                if (d.tag() == 0xa0) {
                    curve = d.children().get(0).expect(Der.OID, "ECPrivateKey parameters").oid();
                }
            }
            if (curve == null) {
                throw new ImageException("key " + file + ": the EC PRIVATE KEY names no curve (explicit parameters are "
                        + "not supported); write it with a named curve: openssl ec -in KEY -param_enc named_curve");
            }
            checkCurve(file, curve);
            byte[] d = f.get(1).expect(Der.OCTET_STRING, "ECPrivateKey privateKey").content();
            return KeyFactory.getInstance("EC").generatePrivate(new ECPrivateKeySpec(new BigInteger(1, d), p256()));
        } catch (GeneralSecurityException | IndexOutOfBoundsException e) {
            throw new ImageException("key " + file + ": malformed " + block.type + ": " + e.getMessage(), e);
        }
    }

    public static PublicKey readPublic(Path file) {
        return parsePublic(readText(file), file.toString());
    }

    /** A public key from PEM text; source names it in errors. */
    public static PublicKey parsePublic(String pemText, String source) {
        Pem block = find(Path.of(source), pemText, List.of("PUBLIC KEY"), "a public key");
        try {
            // SubjectPublicKeyInfo ::= SEQUENCE { AlgorithmIdentifier, BIT STRING }
            List<Der> f = Der.read(block.der, 0).expect(Der.SEQUENCE, "SubjectPublicKeyInfo").children();
            checkAlgorithm(Path.of(source), f.get(0));
            return KeyFactory.getInstance("EC").generatePublic(new X509EncodedKeySpec(block.der));
        } catch (GeneralSecurityException | IndexOutOfBoundsException e) {
            throw new ImageException("key " + source + ": malformed PUBLIC KEY: " + e.getMessage(), e);
        }
    }

    private static void checkAlgorithm(Path file, Der algorithmIdentifier) {
        List<Der> a = algorithmIdentifier.expect(Der.SEQUENCE, "AlgorithmIdentifier").children();
        String alg = a.get(0).expect(Der.OID, "algorithm").oid();
        if (!alg.equals(OID_EC_PUBLIC_KEY)) {
            throw new ImageException("key " + file + ": a " + ALGORITHMS.getOrDefault(alg, "OID " + alg)
                    + " key; cosign-format signatures need an ECDSA P-256 key (bulwark key generate PREFIX)");
        }
        if (a.size() < 2 || a.get(1).tag() != Der.OID) {
            throw new ImageException("key " + file + ": the EC key names no curve (explicit parameters are not "
                    + "supported); expected the named curve P-256 (prime256v1)");
        }
        checkCurve(file, a.get(1).oid());
    }

    private static void checkCurve(Path file, String oid) {
        if (!oid.equals(OID_P256)) {
            throw new ImageException("key " + file + ": curve " + CURVES.getOrDefault(oid, "OID " + oid)
                    + " is not supported; cosign-format signatures use ECDSA P-256 (prime256v1)");
        }
    }

    static ECParameterSpec p256() {
        try {
            AlgorithmParameters p = AlgorithmParameters.getInstance("EC");
            p.init(new ECGenParameterSpec("secp256r1"));
            return p.getParameterSpec(ECParameterSpec.class);
        } catch (GeneralSecurityException e) {
            throw new ImageException("P-256 is not available in this JDK", e);
        }
    }

    private static String readText(Path file) {
        try {
            if (Files.size(file) > 64 << 10) {
                throw new ImageException("key " + file + ": " + Files.size(file) + " bytes is too large for a PEM key");
            }
            return Files.readString(file, StandardCharsets.US_ASCII);
        } catch (NoSuchFileException e) {
            throw new ImageException("key " + file + ": no such file");
        } catch (IOException e) {
            throw new ImageException("key " + file + ": " + e.getMessage(), e);
        }
    }

    private record Pem(String type, byte[] der) {}

    /** The first block of a wanted type; other known blocks are skipped or refused by name. */
    private static Pem find(Path file, String text, List<String> wanted, String what) {
        List<String> seen = new ArrayList<>();
        int i = 0;
        while (true) {
            int b = text.indexOf("-----BEGIN ", i);
            if (b < 0) {
                break;
            }
            int e = text.indexOf("-----", b + 11);
            if (e < 0) {
                break;
            }
            String type = text.substring(b + 11, e);
            String end = "-----END " + type + "-----";
            int stop = text.indexOf(end, e + 5);
            if (stop < 0) {
                throw new ImageException("key " + file + ": PEM block " + type + " has no END line");
            }
            String body = text.substring(e + 5, stop);
            i = stop + end.length();
            seen.add(type);
            if (type.contains("SIGSTORE") || type.contains("COSIGN")) {
                throw new ImageException("key " + file + ": cosign's encrypted key format (" + type + ") is not supported; "
                        + "use a PEM key (bulwark key generate, or openssl) and `cosign import-key-pair --key FILE` "
                        + "to use the same key with cosign");
            }
            if (type.equals("ENCRYPTED PRIVATE KEY") || body.contains("Proc-Type: 4,ENCRYPTED")) {
                throw new ImageException("key " + file + ": encrypted private keys are not supported; decrypt it with "
                        + "openssl pkcs8 -topk8 -nocrypt -in " + file + " -out KEY (and keep that file mode 0600)");
            }
            if (!wanted.contains(type)) {
                continue;
            }
            try {
                return new Pem(type, Base64.getMimeDecoder().decode(body.strip()));
            } catch (IllegalArgumentException x) {
                throw new ImageException("key " + file + ": PEM block " + type + " is not valid base64: " + x.getMessage());
            }
        }
        throw new ImageException("key " + file + ": expected " + what + " in PEM (" + String.join(" or ", wanted) + ")"
                + (seen.isEmpty() ? ", found no PEM block" : ", found " + String.join(", ", seen)));
    }

    /** A minimal DER reader: enough to find algorithm and curve identifiers and a SEC1 key. */
    record Der(int tag, byte[] content, int end) {
        static final int SEQUENCE = 0x30;
        static final int OID = 0x06;
        static final int OCTET_STRING = 0x04;

        static Der read(byte[] b, int off) {
            if (off + 2 > b.length) {
                throw new ImageException("DER: truncated at byte " + off);
            }
            int tag = b[off] & 0xff;
            int len = b[off + 1] & 0xff;
            int p = off + 2;
            if (len >= 0x80) {
                int n = len & 0x7f;
                if (n == 0 || n > 3 || p + n > b.length) {
                    throw new ImageException("DER: bad length at byte " + off);
                }
                len = 0;
                for (int k = 0; k < n; k++) {
                    len = len << 8 | b[p++] & 0xff;
                }
            }
            if (p + len > b.length) {
                throw new ImageException("DER: element at byte " + off + " runs past the end");
            }
            return new Der(tag, java.util.Arrays.copyOfRange(b, p, p + len), p + len);
        }

        Der expect(int wantedTag, String what) {
            if (tag != wantedTag) {
                throw new ImageException("DER: " + what + ": expected tag 0x" + Integer.toHexString(wantedTag)
                        + ", found 0x" + Integer.toHexString(tag));
            }
            return this;
        }

        List<Der> children() {
            List<Der> out = new ArrayList<>();
            int p = 0;
            while (p < content.length) {
                Der d = read(content, p);
                out.add(d);
                p = d.end;
            }
            return out;
        }

        String oid() {
            StringBuilder sb = new StringBuilder();
            long v = 0;
            for (int k = 0; k < content.length; k++) {
                v = v << 7 | content[k] & 0x7f;
                if ((content[k] & 0x80) == 0) {
                    if (sb.isEmpty()) {
                        sb.append(v < 80 ? v / 40 : 2).append('.').append(v < 80 ? v % 40 : v - 80);
                    } else {
                        sb.append('.').append(v);
                    }
                    v = 0;
                }
            }
            return sb.toString();
        }
    }
}
