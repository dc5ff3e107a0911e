package dev.bulwark.image;

import dev.bulwark.json.Json;
import dev.bulwark.json.JsonException;
import dev.bulwark.json.JsonValue;
import dev.bulwark.json.JsonValue.JsonArray;
import dev.bulwark.json.JsonValue.JsonNull;
import dev.bulwark.json.JsonValue.JsonNumber;
import dev.bulwark.json.JsonValue.JsonObject;
import dev.bulwark.json.JsonValue.JsonString;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A JSON value read from an image document, with where it came from, so every error names the
 * document and the field: {@code manifest sha256:ab..: layers[2].size: expected a non-negative integer}.
 */
record Doc(JsonValue value, String source, String path) {

    static Doc parse(byte[] bytes, String source) {
        try {
            return new Doc(Json.parse(new String(bytes, StandardCharsets.UTF_8)), source, "");
        } catch (JsonException e) {
            throw new ImageException(source + ": not valid JSON: " + e.getMessage());
        }
    }

    ImageException error(String problem) {
        return new ImageException(source + ": " + (path.isEmpty() ? "" : path + ": ") + problem);
    }

    private String child(String key) {
        return path.isEmpty() ? key : path + "." + key;
    }

    JsonObject object() {
        if (value instanceof JsonObject o) {
            return o;
        }
        throw error("expected an object, found " + value.typeName());
    }

    Optional<Doc> opt(String key) {
        JsonValue v = object().members().get(key);
        if (v == null || v instanceof JsonNull) {
            return Optional.empty();
        }
        return Optional.of(new Doc(v, source, child(key)));
    }

    Doc req(String key) {
        return opt(key).orElseThrow(() -> new ImageException(source + ": " + child(key) + ": required field is missing"));
    }

    String string() {
        if (value instanceof JsonString s) {
            return s.value();
        }
        throw error("expected a string, found " + value.typeName());
    }

    String string(String key, String dflt) {
        return opt(key).map(Doc::string).orElse(dflt);
    }

    long nonNegative() {
        if (value instanceof JsonNumber n && n.simpleLong().isPresent() && n.simpleLong().getAsLong() >= 0) {
            return n.simpleLong().getAsLong();
        }
        throw error("expected a non-negative integer, found " + (value instanceof JsonNumber n ? n.text() : value.typeName()));
    }

    List<Doc> array() {
        if (value instanceof JsonArray a) {
            List<Doc> out = new ArrayList<>(a.elements().size());
            for (int i = 0; i < a.elements().size(); i++) {
                out.add(new Doc(a.elements().get(i), source, path + "[" + i + "]"));
            }
            return out;
        }
        throw error("expected an array, found " + value.typeName());
    }

    List<Doc> array(String key) {
        return opt(key).map(Doc::array).orElse(List.of());
    }

    Map<String, String> stringMap(String key) {
        Optional<Doc> d = opt(key);
        if (d.isEmpty()) {
            return Map.of();
        }
        Map<String, String> out = new LinkedHashMap<>();
        for (String k : d.get().object().members().keySet()) {
            out.put(k, d.get().req(k).string());
        }
        return out;
    }
}
