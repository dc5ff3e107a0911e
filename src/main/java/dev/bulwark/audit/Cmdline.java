package dev.bulwark.audit;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A kernel command line. Parameters are split as the kernel's next_arg() does: on spaces
 * outside double quotes, with quotes allowed around the whole parameter or its value. Everything
 * after a lone "--" goes to init and is not a kernel parameter. The kernel treats '-' and '_' in
 * parameter names alike, so names are stored with '_'. A later parameter overrides an earlier one.
 *
 * @param params name to value; a flag without '=' has the value ""
 */
record Cmdline(String origin, Map<String, String> params) {
    Cmdline {
        params = Map.copyOf(params);
    }

    static Cmdline parse(String origin, String text) {
        Map<String, String> params = new LinkedHashMap<>();
        String[] lines = text.split("\n", -1);
        for (int i = 0; i < lines.length; i++) {
            String where = origin + ":" + (i + 1);
            boolean end = false;
            for (String token : tokens(lines[i], where)) {
                if (token.equals("--")) {
                    end = true;
                    break;
                }
                int eq = token.indexOf('=');
                String name = eq < 0 ? token : token.substring(0, eq);
                String value = eq < 0 ? "" : unquote(token.substring(eq + 1));
                if (name.isEmpty()) {
                    throw new AuditException(where + ": parameter without a name: \"" + KernelConfig.abbreviate(token) + "\"");
                }
                params.put(normalise(name), value);
            }
            if (end) {
                break;
            }
        }
        return new Cmdline(origin, params);
    }

    private static List<String> tokens(String line, String where) {
        List<String> out = new ArrayList<>();
        StringBuilder cur = new StringBuilder();
        boolean quoted = false;
        for (int i = 0; i < line.length(); i++) {
            char c = line.charAt(i);
            if (c == '\0') {
                // /proc/PID/cmdline separates with NUL; /proc/cmdline never does, so a NUL
                // means the wrong file was given.
                throw new AuditException(where + ": NUL byte at column " + (i + 1)
                        + "; expected a kernel command line such as /proc/cmdline");
            }
            if (c < 0x20 && c != '\t' && c != '\r' || c == 0xfffd) {
                throw new AuditException(where + ": control or invalid character at column " + (i + 1)
                        + "; expected a kernel command line such as /proc/cmdline");
            }
            if (c == '"') {
                quoted = !quoted;
                cur.append(c);
            } else if (!quoted && Character.isWhitespace(c)) {
                if (!cur.isEmpty()) {
                    out.add(cur.toString());
                    cur.setLength(0);
                }
            } else {
                cur.append(c);
            }
        }
        if (quoted) {
            throw new AuditException(where + ": unterminated double quote in \"" + KernelConfig.abbreviate(cur.toString()) + "\"");
        }
        if (!cur.isEmpty()) {
            out.add(cur.toString());
        }
        // "param=value" quoted as a whole: drop the outer quotes as next_arg() does.
        out.replaceAll(t -> t.startsWith("\"") && t.endsWith("\"") && t.length() >= 2 && t.indexOf('"', 1) == t.length() - 1
                ? t.substring(1, t.length() - 1) : t);
        return out;
    }

    private static String unquote(String v) {
        return v.length() >= 2 && v.startsWith("\"") && v.endsWith("\"") ? v.substring(1, v.length() - 1) : v;
    }

    static String normalise(String name) {
        return name.replace('-', '_');
    }

    Optional<String> value(String name) {
        return Optional.ofNullable(params.get(normalise(name)));
    }

    String shown(String name) {
        String v = params.get(normalise(name));
        if (v == null) {
            return "not given";
        }
        return v.isEmpty() ? name : name + "=" + v;
    }
}
