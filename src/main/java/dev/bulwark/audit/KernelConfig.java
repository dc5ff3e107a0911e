package dev.bulwark.audit;

import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A kernel .config. Options written as "# CONFIG_X is not set" are remembered apart from
 * options that are not mentioned at all, so the report can tell "is not set" from "not present"
 * (an option this kernel version or architecture does not have).
 *
 * @param origin  the file it came from, for messages
 * @param values  option name (with CONFIG_) to value, string values without their quotes
 * @param version the kernel version named in the header comment, when there is one
 */
record KernelConfig(String origin, Map<String, String> values, Set<String> notSet, Optional<KernelVersion> version) {
    private static final Pattern SET = Pattern.compile("(CONFIG_[A-Za-z0-9_]+)=(.*)");
    private static final Pattern NOT_SET = Pattern.compile("# (CONFIG_[A-Za-z0-9_]+) is not set");
    private static final Pattern HEADER = Pattern.compile("# Linux/\\S+ (\\S+) Kernel Configuration");

    KernelConfig {
        values = Map.copyOf(values);
        notSet = Set.copyOf(notSet);
    }

    static KernelConfig parse(String origin, String text) {
        Map<String, String> values = new HashMap<>();
        Set<String> notSet = new HashSet<>();
        Optional<KernelVersion> version = Optional.empty();
        String[] lines = text.split("\n", -1);
        for (int i = 0; i < lines.length; i++) {
            String line = lines[i].strip();
            if (line.isEmpty()) {
                continue;
            }
            Matcher m;
            if ((m = NOT_SET.matcher(line)).matches()) {
                notSet.add(m.group(1));
                values.remove(m.group(1));
            } else if ((m = HEADER.matcher(line)).matches()) {
                version = KernelVersion.parse(m.group(1));
            } else if (line.startsWith("#")) {
                continue;
            } else if ((m = SET.matcher(line)).matches()) {
                values.put(m.group(1), value(m.group(2), origin + ":" + (i + 1)));
                notSet.remove(m.group(1));
            } else {
                throw new AuditException(origin + ":" + (i + 1) + ": expected CONFIG_NAME=value or "
                        + "\"# CONFIG_NAME is not set\", found \"" + abbreviate(line) + "\"");
            }
        }
        if (values.isEmpty() && notSet.isEmpty()) {
            throw new AuditException(origin + ": no CONFIG_ options found; is this a kernel config?");
        }
        return new KernelConfig(origin, values, notSet, version);
    }

    private static String value(String raw, String where) {
        if (raw.isEmpty()) {
            throw new AuditException(where + ": empty value (kconfig writes strings as \"\" and unset options as comments)");
        }
        if (raw.startsWith("\"")) {
            if (raw.length() < 2 || !raw.endsWith("\"")) {
                throw new AuditException(where + ": unterminated string value " + abbreviate(raw));
            }
            return raw.substring(1, raw.length() - 1).replace("\\\"", "\"").replace("\\\\", "\\");
        }
        return raw;
    }

    static String abbreviate(String s) {
        String clean = s.codePoints().map(c -> c < 0x20 || c == 0x7f || c == 0xfffd ? '?' : c)
                .collect(StringBuilder::new, StringBuilder::appendCodePoint, StringBuilder::append).toString();
        return clean.length() > 60 ? clean.substring(0, 57) + "..." : clean;
    }

    Optional<String> value(String name) {
        return Optional.ofNullable(values.get(name));
    }

    /** How the option appears: its value, "is not set", or "not present". */
    String shown(String name) {
        String v = values.get(name);
        if (v != null) {
            return v;
        }
        return notSet.contains(name) ? "is not set" : "not present";
    }

    /** The architecture this config builds, from its arch options. */
    Optional<String> arch() {
        if (enabled("CONFIG_X86_64")) {
            return Optional.of("x86_64");
        }
        if (enabled("CONFIG_ARM64")) {
            return Optional.of("arm64");
        }
        if (enabled("CONFIG_X86_32")) {
            return Optional.of("x86");
        }
        if (enabled("CONFIG_ARM")) {
            return Optional.of("arm");
        }
        if (enabled("CONFIG_RISCV")) {
            return Optional.of("riscv");
        }
        return Optional.empty();
    }

    boolean enabled(String name) {
        String v = values.get(name);
        return "y".equals(v) || "m".equals(v);
    }
}
