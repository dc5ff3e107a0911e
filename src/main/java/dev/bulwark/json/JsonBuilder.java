package dev.bulwark.json;

import dev.bulwark.json.JsonValue.JsonArray;
import dev.bulwark.json.JsonValue.JsonBoolean;
import dev.bulwark.json.JsonValue.JsonNumber;
import dev.bulwark.json.JsonValue.JsonObject;
import dev.bulwark.json.JsonValue.JsonString;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Small helpers to build JSON trees in code (state files, `spec` output). */
public final class JsonBuilder {
    private final Map<String, JsonValue> members = new LinkedHashMap<>();

    public static JsonBuilder object() {
        return new JsonBuilder();
    }

    public JsonBuilder put(String key, JsonValue v) {
        members.put(key, v);
        return this;
    }

    public JsonBuilder put(String key, String v) {
        return put(key, new JsonString(v));
    }

    public JsonBuilder put(String key, long v) {
        return put(key, JsonNumber.of(v));
    }

    public JsonBuilder put(String key, boolean v) {
        return put(key, new JsonBoolean(v));
    }

    public JsonBuilder put(String key, JsonBuilder v) {
        return put(key, v.build());
    }

    public JsonObject build() {
        return new JsonObject(members);
    }

    public static JsonArray strings(List<String> values) {
        List<JsonValue> out = new ArrayList<>(values.size());
        for (String s : values) {
            out.add(new JsonString(s));
        }
        return new JsonArray(out);
    }

    public static JsonArray array(List<? extends JsonValue> values) {
        return new JsonArray(new ArrayList<>(values));
    }

    public static JsonNumber number(long v) {
        return JsonNumber.of(v);
    }
}
