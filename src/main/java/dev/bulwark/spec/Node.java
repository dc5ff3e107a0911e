package dev.bulwark.spec;

import dev.bulwark.json.JsonValue;
import dev.bulwark.json.JsonValue.JsonArray;
import dev.bulwark.json.JsonValue.JsonBoolean;
import dev.bulwark.json.JsonValue.JsonNull;
import dev.bulwark.json.JsonValue.JsonNumber;
import dev.bulwark.json.JsonValue.JsonObject;
import dev.bulwark.json.JsonValue.JsonString;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;

/**
 * A JSON value with its path in the document, so every type error names the field:
 * {@code linux.uidMappings[0].size: expected an unsigned 32-bit integer, found a string}.
 * A member that is present with the value null is treated as absent, as Go's decoder does.
 */
public record Node(JsonValue value, String path) {
    private static final BigInteger U64_MAX = BigInteger.ONE.shiftLeft(64).subtract(BigInteger.ONE);

    public static Node root(JsonValue v) {
        return new Node(v, "");
    }

    public SpecException error(String problem) {
        return new SpecException(path, problem);
    }

    private String child(String key) {
        return path.isEmpty() ? key : path + "." + key;
    }

    public JsonObject object() {
        if (value instanceof JsonObject o) {
            return o;
        }
        throw error("expected an object, found " + value.typeName());
    }

    public Optional<Node> opt(String key) {
        JsonValue v = object().members().get(key);
        if (v == null || v instanceof JsonNull) {
            return Optional.empty();
        }
        return Optional.of(new Node(v, child(key)));
    }

    public Node req(String key) {
        return opt(key).orElseThrow(() -> new SpecException(child(key), "required field is missing"));
    }

    public String string() {
        if (value instanceof JsonString s) {
            return s.value();
        }
        throw error("expected a string, found " + value.typeName());
    }

    public boolean bool() {
        if (value instanceof JsonBoolean b) {
            return b.value();
        }
        throw error("expected a boolean, found " + value.typeName());
    }

    private BigDecimal number(String expected) {
        if (value instanceof JsonNumber n) {
            return n.value();
        }
        throw error("expected " + expected + ", found " + value.typeName());
    }

    /** A signed integer within [min, max]. */
    public long integer(long min, long max, String expected) {
        if (value instanceof JsonNumber n && n.simpleLong().isPresent()) {
            long v = n.simpleLong().getAsLong();
            if (v < min || v > max) {
                throw error("expected " + expected + ", found " + v);
            }
            return v;
        }
        BigDecimal d = number(expected);
        BigInteger i;
        try {
            i = d.toBigIntegerExact();
        } catch (ArithmeticException e) {
            throw error("expected " + expected + ", found " + d.toPlainString());
        }
        if (i.compareTo(BigInteger.valueOf(min)) < 0 || i.compareTo(BigInteger.valueOf(max)) > 0) {
            throw error("expected " + expected + ", found " + d.toPlainString());
        }
        return i.longValue();
    }

    public int int32() {
        return (int) integer(Integer.MIN_VALUE, Integer.MAX_VALUE, "a 32-bit integer");
    }

    public long uint32() {
        return integer(0, 0xFFFF_FFFFL, "an unsigned 32-bit integer");
    }

    public long int64() {
        return integer(Long.MIN_VALUE, Long.MAX_VALUE, "a 64-bit integer");
    }

    /**
     * An unsigned 64-bit integer, returned as the long with the same bits. -1 is also accepted
     * (Go writes RLIM_INFINITY that way in some tools) and means 2^64-1.
     */
    public long uint64() {
        if (value instanceof JsonNumber n && n.simpleLong().isPresent()) {
            long v = n.simpleLong().getAsLong();
            if (v < -1) {
                throw error("expected an unsigned 64-bit integer, found " + v);
            }
            return v;
        }
        BigDecimal d = number("an unsigned 64-bit integer");
        BigInteger i;
        try {
            i = d.toBigIntegerExact();
        } catch (ArithmeticException e) {
            throw error("expected an unsigned 64-bit integer, found " + d.toPlainString());
        }
        if (i.equals(BigInteger.valueOf(-1))) {
            return -1L;
        }
        if (i.signum() < 0 || i.compareTo(U64_MAX) > 0) {
            throw error("expected an unsigned 64-bit integer, found " + d.toPlainString());
        }
        return i.longValue();
    }

    public List<Node> list() {
        if (value instanceof JsonArray a) {
            List<Node> out = new ArrayList<>(a.elements().size());
            for (int i = 0; i < a.elements().size(); i++) {
                out.add(new Node(a.elements().get(i), path + "[" + i + "]"));
            }
            return out;
        }
        throw error("expected an array, found " + value.typeName());
    }

    public <T> List<T> list(Function<Node, T> f) {
        List<T> out = new ArrayList<>();
        for (Node n : list()) {
            out.add(f.apply(n));
        }
        return List.copyOf(out);
    }

    /** Members of an object, each with its path (keys that are not identifiers are still dotted). */
    public Map<String, Node> members() {
        Map<String, Node> out = new LinkedHashMap<>();
        for (Map.Entry<String, JsonValue> e : object().members().entrySet()) {
            out.put(e.getKey(), new Node(e.getValue(), child(e.getKey())));
        }
        return out;
    }

    // Convenience accessors for optional members with defaults.

    public String optString(String key, String dflt) {
        return opt(key).map(Node::string).orElse(dflt);
    }

    public boolean optBool(String key, boolean dflt) {
        return opt(key).map(Node::bool).orElse(dflt);
    }

    public List<String> optStrings(String key) {
        return opt(key).map(n -> n.list(Node::string)).orElse(List.of());
    }

    public <T> List<T> optList(String key, Function<Node, T> f) {
        return opt(key).map(n -> n.list(f)).orElse(List.of());
    }

    public Map<String, String> optStringMap(String key) {
        Optional<Node> n = opt(key);
        if (n.isEmpty()) {
            return Map.of();
        }
        Map<String, String> out = new LinkedHashMap<>();
        for (Map.Entry<String, Node> e : n.get().members().entrySet()) {
            out.put(e.getKey(), e.getValue().string());
        }
        return java.util.Collections.unmodifiableMap(out);
    }
}
