package dev.bulwark.image;

import dev.bulwark.json.JsonBuilder;
import dev.bulwark.json.JsonValue;
import dev.bulwark.json.JsonValue.JsonObject;
import dev.bulwark.json.JsonValue.JsonString;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/** An OCI content descriptor: what a blob is, its digest and size, and optional annotations and platform. */
public record Descriptor(String mediaType, Digest digest, long size, Map<String, String> annotations, Platform platform) {
    /** The annotation OCI layouts (skopeo, umoci) use to name an entry of index.json. */
    public static final String REF_NAME = "org.opencontainers.image.ref.name";
    /** containerd and Docker 25+ put the full image name here. */
    public static final String CONTAINERD_NAME = "io.containerd.image.name";

    public Descriptor {
        annotations = Map.copyOf(annotations);
        if (size < 0) {
            throw new ImageException("descriptor " + digest + ": negative size " + size);
        }
    }

    public Descriptor(String mediaType, Digest digest, long size) {
        this(mediaType, digest, size, Map.of(), Platform.UNSPECIFIED);
    }

    public Optional<String> annotation(String key) {
        return Optional.ofNullable(annotations.get(key));
    }

    public Descriptor withAnnotations(Map<String, String> a) {
        return new Descriptor(mediaType, digest, size, a, platform);
    }

    static Descriptor read(Doc d) {
        Digest digest;
        try {
            digest = Digest.parse(d.req("digest").string());
        } catch (ImageException e) {
            throw d.req("digest").error(e.getMessage());
        }
        Platform p = d.opt("platform").map(Platform::read).orElse(Platform.UNSPECIFIED);
        return new Descriptor(d.req("mediaType").string(), digest, d.req("size").nonNegative(),
                d.stringMap("annotations"), p);
    }

    JsonObject toJson() {
        JsonBuilder b = JsonBuilder.object()
                .put("mediaType", mediaType)
                .put("digest", digest.toString())
                .put("size", size);
        if (!annotations.isEmpty()) {
            Map<String, JsonValue> a = new LinkedHashMap<>();
            annotations.entrySet().stream().sorted(Map.Entry.comparingByKey())
                    .forEach(e -> a.put(e.getKey(), new JsonString(e.getValue())));
            b.put("annotations", new JsonObject(a));
        }
        if (platform.specified()) {
            b.put("platform", platform.toJson());
        }
        return b.build();
    }
}
