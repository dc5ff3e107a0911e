package dev.bulwark.audit;

import java.util.Collection;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;

/**
 * Sysctl values, from a file in the "key = value" form that sysctl -a prints and sysctl.conf
 * uses, or read from /proc/sys. Values have their whitespace collapsed to single spaces
 * (kernel.printk reads "4\t4\t1\t7").
 *
 * @param missing what an absent key means here, e.g. "not available on this kernel"
 */
record Sysctls(String origin, Map<String, String> values, String missing) {
    Sysctls {
        values = Map.copyOf(values);
    }

    static Sysctls parse(String origin, String text) {
        Map<String, String> values = new HashMap<>();
        String[] lines = text.split("\n", -1);
        for (int i = 0; i < lines.length; i++) {
            String line = lines[i].strip();
            if (line.isEmpty() || line.startsWith("#") || line.startsWith(";")) {
                continue;
            }
            String where = origin + ":" + (i + 1);
            int eq = line.indexOf('=');
            if (eq < 0) {
                throw new AuditException(where + ": expected \"key = value\", found \"" + KernelConfig.abbreviate(line) + "\"");
            }
            String key = line.substring(0, eq).strip();
            if (key.startsWith("-")) {
                key = key.substring(1); // sysctl.conf: ignore errors for this key
            }
            if (key.isEmpty() || key.chars().anyMatch(c -> Character.isWhitespace(c) || c < 0x20 || c == 0xfffd)) {
                throw new AuditException(where + ": invalid sysctl key \"" + KernelConfig.abbreviate(key) + "\"");
            }
            values.put(normaliseKey(key), collapse(line.substring(eq + 1)));
        }
        return new Sysctls(origin, values, "not in " + origin);
    }

    /**
     * sysctl accepts keys with '/' separators; then a '.' is part of a name (an interface such as
     * eth0.100), so the two swap, as procps does.
     */
    static String normaliseKey(String key) {
        if (key.indexOf('/') < 0) {
            return key;
        }
        StringBuilder sb = new StringBuilder(key.length());
        for (char c : (key.startsWith("/") ? key.substring(1) : key).toCharArray()) {
            sb.append(c == '/' ? '.' : c == '.' ? '/' : c);
        }
        return sb.toString();
    }

    static String collapse(String v) {
        return v.strip().replaceAll("\\s+", " ");
    }

    /** Reads the given keys from /proc/sys under the host root. */
    static Sysctls fromProc(Host host, Collection<String> keys) {
        Map<String, String> values = new HashMap<>();
        for (String key : keys) {
            host.read("/proc/sys/" + key.replace('.', '/')).ifPresent(v -> values.put(key, collapse(v)));
        }
        return new Sysctls("/proc/sys", values, "not available on this kernel");
    }

    Optional<String> value(String key) {
        return Optional.ofNullable(values.get(key));
    }
}
