package dev.bulwark.image;

import dev.bulwark.json.Json;
import dev.bulwark.json.JsonBuilder;
import dev.bulwark.json.JsonValue;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/** An image index (OCI index, Docker manifest list, or a layout's index.json). */
public record ImageIndex(List<Descriptor> manifests) {
    public ImageIndex {
        manifests = List.copyOf(manifests);
    }

    static ImageIndex parse(byte[] json, String source) {
        Doc d = Doc.parse(json, source);
        long schema = d.req("schemaVersion").nonNegative();
        if (schema != 2) {
            throw d.req("schemaVersion").error("expected 2, found " + schema);
        }
        String mt = d.string("mediaType", MediaTypes.OCI_INDEX);
        if (!MediaTypes.isIndex(mt)) {
            throw d.req("mediaType").error("expected an image index, found " + mt);
        }
        List<Descriptor> out = new ArrayList<>();
        for (Doc m : d.array("manifests")) {
            out.add(Descriptor.read(m));
        }
        return new ImageIndex(out);
    }

    byte[] toJson() {
        List<JsonValue> ms = new ArrayList<>();
        for (Descriptor m : manifests) {
            ms.add(m.toJson());
        }
        JsonValue v = JsonBuilder.object()
                .put("schemaVersion", 2)
                .put("mediaType", MediaTypes.OCI_INDEX)
                .put("manifests", JsonBuilder.array(ms))
                .build();
        return Json.writePretty(v).getBytes(StandardCharsets.UTF_8);
    }

    /**
     * The manifest for a platform. Entries without a platform are taken only when they are the
     * sole manifest (a single-image index, as `docker save` and skopeo write).
     */
    public Optional<Descriptor> select(Platform wanted) {
        for (Descriptor m : manifests) {
            if (m.platform().specified() && wanted.accepts(m.platform())) {
                return Optional.of(m);
            }
        }
        if (manifests.size() == 1 && !manifests.get(0).platform().specified()) {
            return Optional.of(manifests.get(0));
        }
        return Optional.empty();
    }
}
