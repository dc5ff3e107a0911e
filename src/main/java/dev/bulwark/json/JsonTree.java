package dev.bulwark.json;

import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * JSON as mutable maps and lists, to edit a document in place (the demo's config, tests). Numbers
 * become BigDecimal, strings String, booleans Boolean, null null.
 */
public final class JsonTree {
    private JsonTree() {}

    public static Object mutable(JsonValue v) {
        return switch (v) {
            case JsonValue.JsonObject o -> {
                Map<String, Object> m = new LinkedHashMap<>();
                o.members().forEach((k, x) -> m.put(k, mutable(x)));
                yield m;
            }
            case JsonValue.JsonArray a -> {
                List<Object> l = new ArrayList<>();
                a.elements().forEach(x -> l.add(mutable(x)));
                yield l;
            }
            case JsonValue.JsonString s -> s.value();
            case JsonValue.JsonNumber n -> n.value();
            case JsonValue.JsonBoolean b -> b.value();
            case JsonValue.JsonNull n -> null;
        };
    }

    public static JsonValue value(Object o) {
        return switch (o) {
            case null -> JsonValue.JsonNull.INSTANCE;
            case JsonValue v -> v;
            case Map<?, ?> m -> {
                JsonBuilder b = JsonBuilder.object();
                m.forEach((k, v) -> b.put((String) k, value(v)));
                yield b.build();
            }
            case List<?> l -> {
                List<JsonValue> out = new ArrayList<>();
                l.forEach(x -> out.add(value(x)));
                yield new JsonValue.JsonArray(out);
            }
            case String s -> new JsonValue.JsonString(s);
            case Boolean b -> new JsonValue.JsonBoolean(b);
            case BigDecimal d -> new JsonValue.JsonNumber(d);
            case Number n -> new JsonValue.JsonNumber(n.toString());
            default -> throw new IllegalArgumentException("not JSON: " + o.getClass().getName());
        };
    }
}
