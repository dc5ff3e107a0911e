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

    /**
     * A number as its JSON text, so its exact value is kept (64-bit unsigned rlimits and seccomp
     * arguments fit) and BigDecimal, whose first use costs a cold JVM tens of milliseconds, is
     * only built when a value is not a plain integer.
     */
    record JsonNumber(String text) implements JsonValue {
        public JsonNumber(BigDecimal value) {
            this(value.toPlainString());
        }

        public static JsonNumber of(long v) {
            return new JsonNumber(Long.toString(v));
        }

        public BigDecimal value() {
            return new BigDecimal(text);
        }

        /** The value when it is an integer that fits a long without BigDecimal; else empty. */
        public java.util.OptionalLong simpleLong() {
            int digits = text.length() - (text.startsWith("-") ? 1 : 0);
            if (digits < 1 || digits > 18) {
                return java.util.OptionalLong.empty();
            }
            for (int i = text.length() - digits; i < text.length(); i++) {
                char c = text.charAt(i);
                if (c < '0' || c > '9') {
                    return java.util.OptionalLong.empty();
                }
            }
            return java.util.OptionalLong.of(Long.parseLong(text));
        }
    }

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
