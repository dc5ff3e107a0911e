package dev.bulwark.audit;

import dev.bulwark.audit.Rule.Alt;
import dev.bulwark.audit.Rule.Kind;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;

/** Reads the rule file (format in the header of kspp.rules). */
final class RuleSet {
    static final String BUILTIN = "kspp.rules";
    private static final Pattern ID = Pattern.compile("(kconfig|cmdline|sysctl)\\.([A-Za-z0-9_.\\-]+)(#[A-Za-z0-9_.\\-]+)?");
    private static final Set<String> CATEGORIES = Set.of("self-protection", "attack-surface", "user-space", "network");

    private RuleSet() {}

    /** The rules shipped with Bulwark. */
    static List<Rule> builtin() {
        try (InputStream in = RuleSet.class.getResourceAsStream(BUILTIN)) {
            if (in == null) {
                throw new AuditException("rule file " + BUILTIN + " is missing from the class path");
            }
            return parse(BUILTIN, new String(in.readAllBytes(), StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new AuditException("reading rule file " + BUILTIN + ": " + e.getMessage(), e);
        }
    }

    static List<Rule> parse(String origin, String text) {
        List<Rule> rules = new ArrayList<>();
        Set<String> ids = new HashSet<>();
        String[] lines = text.split("\n", -1);
        for (int i = 0; i < lines.length; i++) {
            String line = lines[i].strip();
            if (line.isEmpty() || line.startsWith("#")) {
                continue;
            }
            String where = origin + ":" + (i + 1);
            Rule r = rule(line, where);
            if (!ids.add(r.id())) {
                throw new AuditException(where + ": duplicate rule id " + r.id());
            }
            rules.add(r);
        }
        return List.copyOf(rules);
    }

    private static Rule rule(String line, String where) {
        String[] f = line.split(" \\| ", -1);
        if (f.length < 6) {
            throw new AuditException(where + ": expected \"id | expect | severity | category | source | reason\", found "
                    + f.length + " field" + (f.length == 1 ? "" : "s"));
        }
        String id = f[0].strip();
        var m = ID.matcher(id);
        if (!m.matches()) {
            throw new AuditException(where + ": rule id must be kconfig.NAME, cmdline.param or sysctl.key, not \"" + id + "\"");
        }
        Kind kind = Kind.of(m.group(1)).orElseThrow();
        String key = kind.key(m.group(2));
        Expect expect = Expect.parse(f[1], where);
        Severity severity = Severity.parse(f[2].strip(), where);
        String category = f[3].strip();
        if (!CATEGORIES.contains(category)) {
            throw new AuditException(where + ": category must be one of " + CATEGORIES + ", not \"" + category + "\"");
        }
        String source = f[4].strip();
        String reason = f[5].strip();
        if (source.isEmpty() || reason.isEmpty()) {
            throw new AuditException(where + ": source and reason must not be empty");
        }
        Set<String> arches = new LinkedHashSet<>();
        Optional<KernelVersion> since = Optional.empty();
        Optional<KernelVersion> until = Optional.empty();
        List<Alt> alts = new ArrayList<>();
        List<Alt> when = new ArrayList<>();
        String conflict = "";
        for (int j = 6; j < f.length; j++) {
            String opt = f[j].strip();
            int eq = opt.indexOf('=');
            if (eq <= 0) {
                throw new AuditException(where + ": option must be name=value, found \"" + opt + "\"");
            }
            String name = opt.substring(0, eq);
            String value = opt.substring(eq + 1);
            switch (name) {
                case "arch" -> arches.addAll(List.of(value.split(",")));
                case "since" -> since = Optional.of(version(value, where));
                case "until" -> until = Optional.of(version(value, where));
                case "alt" -> alts.add(alt(value, where));
                case "when" -> when.add(alt(value, where));
                case "conflict" -> conflict = value;
                default -> throw new AuditException(where + ": unknown option \"" + name
                        + "\" (expected arch, since, until, alt, when or conflict)");
            }
        }
        return new Rule(id, kind, key, expect, severity, category, source, reason, Set.copyOf(arches), since, until,
                List.copyOf(alts), List.copyOf(when), conflict);
    }

    private static KernelVersion version(String v, String where) {
        return KernelVersion.parse(v).orElseThrow(() ->
                new AuditException(where + ": expected a kernel version such as 5.13, found \"" + v + "\""));
    }

    private static Alt alt(String v, String where) {
        int colon = v.indexOf(':');
        int eq = v.indexOf('=');
        Optional<Kind> kind = colon > 0 ? Kind.of(v.substring(0, colon)) : Optional.empty();
        if (kind.isEmpty() || eq < colon + 2) {
            throw new AuditException(where + ": alt and when must be kconfig:NAME=EXPECT, cmdline:param=EXPECT or "
                    + "sysctl:key=EXPECT, found \"" + v + "\"");
        }
        return new Alt(kind.get(), kind.get().key(v.substring(colon + 1, eq)), Expect.parse(v.substring(eq + 1), where));
    }
}
