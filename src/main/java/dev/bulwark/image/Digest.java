package dev.bulwark.image;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/** A content digest, {@code sha256:<64 lowercase hex>}; the only algorithm the store accepts. */
public record Digest(String hex) implements Comparable<Digest> {
    public static final String ALGORITHM = "sha256";

    public Digest {
        if (!isHex64(hex)) {
            throw new ImageException("digest: expected 64 lowercase hex digits, found \"" + hex + "\"");
        }
    }

    /** Parses {@code sha256:<hex>}; other algorithms are refused by name. */
    public static Digest parse(String text) {
        int colon = text.indexOf(':');
        if (colon < 0) {
            throw new ImageException("digest \"" + text + "\": expected sha256:<64 hex digits>");
        }
        String alg = text.substring(0, colon);
        if (!alg.equals(ALGORITHM)) {
            throw new ImageException("digest \"" + text + "\": algorithm " + alg + " is not supported (only sha256)");
        }
        String hex = text.substring(colon + 1);
        if (!isHex64(hex)) {
            throw new ImageException("digest \"" + text + "\": expected sha256:<64 lowercase hex digits>");
        }
        return new Digest(hex);
    }

    public static boolean isHex64(String s) {
        if (s.length() != 64) {
            return false;
        }
        for (int i = 0; i < 64; i++) {
            char c = s.charAt(i);
            if (!(c >= '0' && c <= '9' || c >= 'a' && c <= 'f')) {
                return false;
            }
        }
        return true;
    }

    public static Digest of(byte[] data) {
        MessageDigest md = sha256();
        return new Digest(HexFormat.of().formatHex(md.digest(data)));
    }

    public static Digest of(MessageDigest finished) {
        return new Digest(HexFormat.of().formatHex(finished.digest()));
    }

    public static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new ImageException("SHA-256 is not available in this JDK", e);
        }
    }

    /** The short form shown in tables: the first 12 hex digits. */
    public String shortHex() {
        return hex.substring(0, 12);
    }

    @Override
    public int compareTo(Digest o) {
        return hex.compareTo(o.hex);
    }

    @Override
    public String toString() {
        return ALGORITHM + ":" + hex;
    }
}
