package dev.bulwark.json;

import dev.bulwark.json.JsonValue.JsonArray;
import dev.bulwark.json.JsonValue.JsonBoolean;
import dev.bulwark.json.JsonValue.JsonNull;
import dev.bulwark.json.JsonValue.JsonNumber;
import dev.bulwark.json.JsonValue.JsonObject;
import dev.bulwark.json.JsonValue.JsonString;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A strict RFC 8259 parser and a writer. Written here rather than taken from a library because
 * the CLI path must start fast and this is all Bulwark needs: duplicate keys and trailing data
 * are errors, nesting is bounded.
 */
public final class Json {
    private static final int MAX_DEPTH = 256;

    private final String text;
    private int pos;
    private int depth;

    private Json(String text) {
        this.text = text;
    }

    public static JsonValue parse(String text) {
        Json p = new Json(text);
        p.skipSpace();
        JsonValue v = p.value();
        p.skipSpace();
        if (p.pos != text.length()) {
            throw p.error("unexpected data after the JSON value");
        }
        return v;
    }

    private JsonValue value() {
        if (pos >= text.length()) {
            throw error("unexpected end of input");
        }
        char c = text.charAt(pos);
        return switch (c) {
            case '{' -> object();
            case '[' -> array();
            case '"' -> new JsonString(string());
            case 't' -> literal("true", new JsonBoolean(true));
            case 'f' -> literal("false", new JsonBoolean(false));
            case 'n' -> literal("null", JsonNull.INSTANCE);
            default -> {
                if (c == '-' || (c >= '0' && c <= '9')) {
                    yield number();
                }
                throw error("unexpected character '" + c + "'");
            }
        };
    }

    private JsonValue literal(String word, JsonValue v) {
        if (!text.startsWith(word, pos)) {
            throw error("invalid literal");
        }
        pos += word.length();
        return v;
    }

    private JsonObject object() {
        enter();
        pos++;
        Map<String, JsonValue> members = new LinkedHashMap<>();
        skipSpace();
        if (peek() == '}') {
            pos++;
            depth--;
            return new JsonObject(members);
        }
        while (true) {
            skipSpace();
            if (peek() != '"') {
                throw error("expected a member name in double quotes");
            }
            int keyPos = pos;
            String key = string();
            skipSpace();
            expect(':');
            skipSpace();
            JsonValue v = value();
            if (members.putIfAbsent(key, v) != null) {
                pos = keyPos;
                throw error("duplicate member \"" + key + "\"");
            }
            skipSpace();
            char c = peek();
            pos++;
            if (c == '}') {
                depth--;
                return new JsonObject(members);
            }
            if (c != ',') {
                pos--;
                throw error("expected ',' or '}'");
            }
        }
    }

    private JsonArray array() {
        enter();
        pos++;
        List<JsonValue> elements = new ArrayList<>();
        skipSpace();
        if (peek() == ']') {
            pos++;
            depth--;
            return new JsonArray(elements);
        }
        while (true) {
            skipSpace();
            elements.add(value());
            skipSpace();
            char c = peek();
            pos++;
            if (c == ']') {
                depth--;
                return new JsonArray(elements);
            }
            if (c != ',') {
                pos--;
                throw error("expected ',' or ']'");
            }
        }
    }

    private void enter() {
        if (++depth > MAX_DEPTH) {
            throw error("nesting deeper than " + MAX_DEPTH);
        }
    }

    private String string() {
        pos++;
        StringBuilder sb = null;
        int start = pos;
        while (true) {
            if (pos >= text.length()) {
                throw error("unterminated string");
            }
            char c = text.charAt(pos);
            if (c == '"') {
                String s = sb == null ? text.substring(start, pos) : sb.append(text, start, pos).toString();
                pos++;
                return s;
            }
            if (c < 0x20) {
                throw error("control character in string");
            }
            if (c == '\\') {
                if (sb == null) {
                    sb = new StringBuilder();
                }
                sb.append(text, start, pos);
                pos++;
                if (pos >= text.length()) {
                    throw error("unterminated string");
                }
                char e = text.charAt(pos++);
                switch (e) {
                    case '"' -> sb.append('"');
                    case '\\' -> sb.append('\\');
                    case '/' -> sb.append('/');
                    case 'b' -> sb.append('\b');
                    case 'f' -> sb.append('\f');
                    case 'n' -> sb.append('\n');
                    case 'r' -> sb.append('\r');
                    case 't' -> sb.append('\t');
                    case 'u' -> {
                        if (pos + 4 > text.length()) {
                            throw error("truncated \\u escape");
                        }
                        int cp = 0;
                        for (int i = 0; i < 4; i++) {
                            int d = Character.digit(text.charAt(pos + i), 16);
                            if (d < 0) {
                                throw error("invalid \\u escape");
                            }
                            cp = cp * 16 + d;
                        }
                        pos += 4;
                        sb.append((char) cp);
                    }
                    default -> {
                        pos -= 2;
                        throw error("invalid escape '\\" + e + "'");
                    }
                }
                start = pos;
            } else {
                pos++;
            }
        }
    }

    private JsonNumber number() {
        int start = pos;
        if (peek() == '-') {
            pos++;
        }
        if (peek() == '0') {
            pos++;
        } else if (isDigit(peek())) {
            while (isDigit(peek())) {
                pos++;
            }
        } else {
            throw error("invalid number");
        }
        if (peek() == '.') {
            pos++;
            if (!isDigit(peek())) {
                throw error("invalid number");
            }
            while (isDigit(peek())) {
                pos++;
            }
        }
        if (peek() == 'e' || peek() == 'E') {
            pos++;
            if (peek() == '+' || peek() == '-') {
                pos++;
            }
            if (!isDigit(peek())) {
                throw error("invalid number");
            }
            while (isDigit(peek())) {
                pos++;
            }
        }
        return new JsonNumber(text.substring(start, pos));
    }

    private static boolean isDigit(char c) {
        return c >= '0' && c <= '9';
    }

    private char peek() {
        return pos < text.length() ? text.charAt(pos) : '\0';
    }

    private void expect(char c) {
        if (peek() != c) {
            throw error("expected '" + c + "'");
        }
        pos++;
    }

    private void skipSpace() {
        while (pos < text.length()) {
            char c = text.charAt(pos);
            if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
                return;
            }
            pos++;
        }
    }

    private JsonException error(String what) {
        int line = 1;
        int col = 1;
        for (int i = 0; i < Math.min(pos, text.length()); i++) {
            if (text.charAt(i) == '\n') {
                line++;
                col = 1;
            } else {
                col++;
            }
        }
        return new JsonException("line " + line + ", column " + col + ": " + what);
    }

    // ---- writing ----

    /** Compact form, as state files and hook input use. */
    public static String write(JsonValue v) {
        StringBuilder sb = new StringBuilder();
        write(sb, v, -1, 0);
        return sb.toString();
    }

    /** Indented with tabs, as `runc spec` writes config.json. */
    public static String writePretty(JsonValue v) {
        StringBuilder sb = new StringBuilder();
        write(sb, v, 0, 0);
        return sb.append('\n').toString();
    }

    private static void write(StringBuilder sb, JsonValue v, int indent, int level) {
        switch (v) {
            case JsonObject o -> {
                if (o.members().isEmpty()) {
                    sb.append("{}");
                    return;
                }
                sb.append('{');
                boolean first = true;
                for (Map.Entry<String, JsonValue> e : o.members().entrySet()) {
                    if (!first) {
                        sb.append(',');
                    }
                    first = false;
                    newline(sb, indent, level + 1);
                    quote(sb, e.getKey());
                    sb.append(indent >= 0 ? ": " : ":");
                    write(sb, e.getValue(), indent, level + 1);
                }
                newline(sb, indent, level);
                sb.append('}');
            }
            case JsonArray a -> {
                if (a.elements().isEmpty()) {
                    sb.append("[]");
                    return;
                }
                sb.append('[');
                for (int i = 0; i < a.elements().size(); i++) {
                    if (i > 0) {
                        sb.append(',');
                    }
                    newline(sb, indent, level + 1);
                    write(sb, a.elements().get(i), indent, level + 1);
                }
                newline(sb, indent, level);
                sb.append(']');
            }
            case JsonString s -> quote(sb, s.value());
            case JsonNumber n -> sb.append(n.text());
            case JsonBoolean b -> sb.append(b.value());
            case JsonNull n -> sb.append("null");
        }
    }

    private static void newline(StringBuilder sb, int indent, int level) {
        if (indent < 0) {
            return;
        }
        sb.append('\n');
        sb.append("\t".repeat(level));
    }

    public static void quote(StringBuilder sb, String s) {
        sb.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                case '\n' -> sb.append("\\n");
                case '\r' -> sb.append("\\r");
                case '\t' -> sb.append("\\t");
                default -> {
                    if (c < 0x20) {
                        sb.append(String.format("\\u%04x", (int) c));
                    } else {
                        sb.append(c);
                    }
                }
            }
        }
        sb.append('"');
    }
}
