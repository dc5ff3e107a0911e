package dev.bulwark.json;

import java.math.BigDecimal;
import java.util.List;
import java.util.Map;

/** A parsed JSON value. Objects keep their key order, so written files read like their input. */
public sealed interface JsonValue {

    record JsonObject(Map<String, JsonValue> members) implements JsonValue {
        public JsonObject {
            members = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(members));
        }
    }

    record JsonArray(List<JsonValue> elements) implements JsonValue {
        public JsonArray {
            elements = List.copyOf(elements);
        }
    }

    record JsonString(String value) implements JsonValue {}

    /** Numbers keep their exact decimal value; 64-bit unsigned values (rlimits, seccomp args) fit. */
    record JsonNumber(BigDecimal value) implements JsonValue {}

    record JsonBoolean(boolean value) implements JsonValue {}

    enum JsonNull implements JsonValue { INSTANCE }

    /** The JSON type name, as used in error messages ("expected a string, found an object"). */
    default String typeName() {
        return switch (this) {
            case JsonObject o -> "an object";
            case JsonArray a -> "an array";
            case JsonString s -> "a string";
            case JsonNumber n -> "a number";
            case JsonBoolean b -> "a boolean";
            case JsonNull n -> "null";
        };
    }
}
