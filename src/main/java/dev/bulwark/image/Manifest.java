package dev.bulwark.image;

import dev.bulwark.json.Json;
import dev.bulwark.json.JsonBuilder;
import dev.bulwark.json.JsonValue;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/** An image manifest (OCI or Docker schema 2): a config blob and the layers, bottom first. */
public record Manifest(String mediaType, Descriptor config, List<Descriptor> layers) {
    public Manifest {
        layers = List.copyOf(layers);
    }

    static Manifest parse(byte[] json, String source) {
        Doc d = Doc.parse(json, source);
        long schema = d.req("schemaVersion").nonNegative();
        if (schema != 2) {
            throw d.req("schemaVersion").error("expected 2, found " + schema + " (schema 1 manifests are not supported)");
        }
        String mt = d.string("mediaType", MediaTypes.OCI_MANIFEST);
        if (!MediaTypes.isManifest(mt)) {
            throw d.req("mediaType").error("expected an image manifest, found " + mt);
        }
        List<Descriptor> layers = new ArrayList<>();
        for (Doc l : d.array("layers")) {
            layers.add(Descriptor.read(l));
        }
        return new Manifest(mt, Descriptor.read(d.req("config")), layers);
    }

    /** The manifest as JSON bytes, as Bulwark writes it when it converts a `docker save` archive. */
    byte[] toJson() {
        List<JsonValue> ls = new ArrayList<>();
        for (Descriptor l : layers) {
            ls.add(l.toJson());
        }
        JsonValue v = JsonBuilder.object()
                .put("schemaVersion", 2)
                .put("mediaType", mediaType)
                .put("config", config.toJson())
                .put("layers", JsonBuilder.array(ls))
                .build();
        return Json.write(v).getBytes(StandardCharsets.UTF_8);
    }

    /** The size of the image: config plus the layers as stored (compressed, if they are). */
    public long size() {
        long s = config.size();
        for (Descriptor l : layers) {
            s += l.size();
        }
        return s;
    }
}
