package dev.bulwark.testing;

import dev.bulwark.json.JsonBuilder;
import dev.bulwark.json.JsonValue;
import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** JSON as mutable maps and lists, so tests can edit a config in place. */
public final class MutableJson {
    private MutableJson() {}

    public static Object from(JsonValue v) {
        return switch (v) {
            case JsonValue.JsonObject o -> {
                Map<String, Object> m = new LinkedHashMap<>();
                o.members().forEach((k, x) -> m.put(k, from(x)));
                yield m;
            }
            case JsonValue.JsonArray a -> {
                List<Object> l = new ArrayList<>();
                a.elements().forEach(x -> l.add(from(x)));
                yield l;
            }
            case JsonValue.JsonString s -> s.value();
            case JsonValue.JsonNumber n -> n.value();
            case JsonValue.JsonBoolean b -> b.value();
            case JsonValue.JsonNull n -> null;
        };
    }

    public static JsonValue to(Object o) {
        if (o == null) {
            return JsonValue.JsonNull.INSTANCE;
        }
        if (o instanceof Map<?, ?> m) {
            JsonBuilder b = JsonBuilder.object();
            m.forEach((k, v) -> b.put((String) k, to(v)));
            return b.build();
        }
        if (o instanceof List<?> l) {
            List<JsonValue> out = new ArrayList<>();
            l.forEach(x -> out.add(to(x)));
            return new JsonValue.JsonArray(out);
        }
        if (o instanceof String s) {
            return new JsonValue.JsonString(s);
        }
        if (o instanceof Boolean b) {
            return new JsonValue.JsonBoolean(b);
        }
        if (o instanceof BigDecimal d) {
            return new JsonValue.JsonNumber(d);
        }
        if (o instanceof Number n) {
            return new JsonValue.JsonNumber(new BigDecimal(n.toString()));
        }
        throw new IllegalArgumentException("not JSON: " + o);
    }
}
