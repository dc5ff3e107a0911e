package dev.bulwark.image;

import dev.bulwark.json.Json;
import dev.bulwark.json.JsonException;
import dev.bulwark.json.JsonValue;
import dev.bulwark.json.JsonValue.JsonObject;
import dev.bulwark.json.JsonValue.JsonString;
import java.nio.charset.StandardCharsets;

/**
 * The simple-signing payload cosign signs (containers/image's "atomic container signature",
 * with cosign's type string):
 * <pre>{"critical":{"identity":{"docker-reference":"REPO"},"image":{"docker-manifest-digest":"sha256:HEX"},
 *   "type":"cosign container image signature"},"optional":null}</pre>
 * Written byte for byte as cosign writes it (Go's encoding/json: no spaces, no trailing newline).
 *
 * @param dockerReference the repository, as cosign names it: Docker Hub is {@code index.docker.io}
 * @param manifestDigest  the signed manifest (or index) digest
 */
public record SimpleSigning(String dockerReference, Digest manifestDigest) {
    public static final String TYPE = "cosign container image signature";

    /** The payload for an image: its repository (tag and digest dropped) and the manifest digest. */
    public static SimpleSigning of(Reference image, Digest manifest) {
        return new SimpleSigning(identity(image), manifest);
    }

    /**
     * The repository as go-containerregistry names it, which is what cosign writes: Docker Hub
     * is {@code index.docker.io/library/alpine}, where Bulwark and Docker say docker.io.
     */
    public static String identity(Reference image) {
        String domain = image.domain().equals(Reference.DEFAULT_DOMAIN) ? "index.docker.io" : image.domain();
        return domain + "/" + image.repository();
    }

    public byte[] toJson() {
        StringBuilder sb = new StringBuilder(256);
        sb.append("{\"critical\":{\"identity\":{\"docker-reference\":");
        Json.quote(sb, dockerReference);
        sb.append("},\"image\":{\"docker-manifest-digest\":");
        Json.quote(sb, manifestDigest.toString());
        sb.append("},\"type\":");
        Json.quote(sb, TYPE);
        sb.append("},\"optional\":null}");
        return sb.toString().getBytes(StandardCharsets.UTF_8);
    }

    /**
     * Reads a payload whose signature has already been checked. {@code optional} may hold any
     * claims (cosign's -a annotations); they are not interpreted.
     */
    public static SimpleSigning parse(byte[] payload, String source) {
        JsonValue v;
        try {
            v = Json.parse(new String(payload, StandardCharsets.UTF_8));
        } catch (JsonException e) {
            throw new ImageException(source + ": not valid JSON: " + e.getMessage());
        }
        JsonObject critical = object(member(object(v, source, "payload"), "critical", source, "critical"), source, "critical");
        String type = string(critical, "type", source, "critical.type");
        if (!type.equals(TYPE)) {
            throw new ImageException(source + ": critical.type: expected \"" + TYPE + "\", found \"" + type + "\"");
        }
        JsonObject identity = object(member(critical, "identity", source, "critical.identity"), source, "critical.identity");
        JsonObject image = object(member(critical, "image", source, "critical.image"), source, "critical.image");
        String ref = string(identity, "docker-reference", source, "critical.identity.docker-reference");
        String digest = string(image, "docker-manifest-digest", source, "critical.image.docker-manifest-digest");
        try {
            return new SimpleSigning(ref, Digest.parse(digest));
        } catch (ImageException e) {
            throw new ImageException(source + ": critical.image.docker-manifest-digest: " + e.getMessage());
        }
    }

    /**
     * Whether the payload names this image's repository. Docker Hub's two spellings
     * (docker.io, index.docker.io) are the same registry; the payload may carry a tag or digest
     * (containers/image writes one), which is not compared: the manifest digest is.
     */
    public boolean names(Reference image) {
        Reference mine;
        try {
            mine = Reference.parse(dockerReference.replaceFirst("^index\\.docker\\.io/", Reference.DEFAULT_DOMAIN + "/"));
        } catch (ImageException e) {
            return false;
        }
        return mine.domain().equals(image.domain()) && mine.repository().equals(image.repository());
    }

    private static JsonValue member(JsonObject o, String key, String source, String path) {
        JsonValue v = o.members().get(key);
        if (v == null) {
            throw new ImageException(source + ": " + path + ": required field is missing");
        }
        return v;
    }

    private static JsonObject object(JsonValue v, String source, String path) {
        if (v instanceof JsonObject o) {
            return o;
        }
        throw new ImageException(source + ": " + path + ": expected an object, found " + v.typeName());
    }

    private static String string(JsonObject o, String key, String source, String path) {
        JsonValue v = member(o, key, source, path);
        if (v instanceof JsonString s) {
            return s.value();
        }
        throw new ImageException(source + ": " + path + ": expected a string, found " + v.typeName());
    }
}
