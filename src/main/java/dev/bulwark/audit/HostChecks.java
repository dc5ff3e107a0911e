package dev.bulwark.audit;

import dev.bulwark.audit.Rule.Alt;
import dev.bulwark.audit.Rule.Kind;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/** Judges the kernel config, command line and sysctls against the rule set. */
final class HostChecks {
    private HostChecks() {}

    /** One value as found: present, absent, or not knowable here (with why). */
    record Observed(Optional<String> value, String shown, Optional<String> unknown) {
        static Observed unknown(String why) {
            return new Observed(Optional.empty(), "unknown", Optional.of(why));
        }
    }

    static List<Finding> check(List<Rule> rules, HostFacts facts) {
        List<Finding> out = new ArrayList<>(rules.size());
        for (Rule r : rules) {
            out.add(check(r, facts));
        }
        return out;
    }

    static Finding check(Rule r, HostFacts facts) {
        if (!r.arches().isEmpty() && !r.arches().contains(facts.arch())) {
            return finding(r, Status.SKIP, "n/a", "only on " + String.join(", ", r.arches()));
        }
        if (facts.version().isPresent()) {
            KernelVersion v = facts.version().get();
            if (r.since().isPresent() && v.compareTo(r.since().get()) < 0) {
                return finding(r, Status.SKIP, "n/a", "needs kernel " + r.since().get() + " or later (this is " + v + ")");
            }
            if (r.until().isPresent() && v.compareTo(r.until().get()) >= 0) {
                return finding(r, Status.SKIP, "n/a", "removed in kernel " + r.until().get() + " (this is " + v + ")");
            }
        }
        for (Alt w : r.when()) {
            Observed wo = observe(w.kind(), w.key(), facts);
            if (wo.unknown().isPresent()) {
                return finding(r, Status.SKIP, "n/a", "cannot tell whether it applies: " + w.key() + ": " + wo.unknown().get());
            }
            if (!w.expect().test(wo.value())) {
                return finding(r, Status.SKIP, "n/a", "only when " + w.describe());
            }
        }
        Observed o = observe(r.kind(), r.key(), facts);
        if (o.unknown().isPresent()) {
            return finding(r, Status.SKIP, o.shown(), o.unknown().get());
        }
        if (r.expect().test(o.value())) {
            return withConflict(r, Status.PASS, o.shown(), "");
        }
        // An alternative stands in only for an absent key: a renamed config option, or a config
        // default that an explicit command-line parameter would override.
        if (o.value().isEmpty() && !r.alts().isEmpty()) {
            List<String> unknown = new ArrayList<>();
            for (Alt a : r.alts()) {
                Observed ao = observe(a.kind(), a.key(), facts);
                if (ao.unknown().isPresent()) {
                    unknown.add(a.key() + ": " + ao.unknown().get());
                } else if (a.expect().test(ao.value())) {
                    return withConflict(r, Status.PASS, o.shown() + "; " + a.key() + "=" + ao.shown(), "");
                }
            }
            if (!unknown.isEmpty()) {
                return finding(r, Status.SKIP, o.shown(), "cannot tell: " + String.join("; ", unknown));
            }
        }
        return withConflict(r, r.conflict().isEmpty() ? Status.FAIL : Status.CONFLICT, o.shown(), "");
    }

    static Observed observe(Kind kind, String key, HostFacts facts) {
        return switch (kind) {
            case KCONFIG -> facts.config()
                    .map(c -> new Observed(c.value(key), c.shown(key), Optional.<String>empty()))
                    .orElseGet(() -> Observed.unknown("kernel config not available"));
            case CMDLINE -> facts.cmdline()
                    .map(c -> new Observed(c.value(key), c.shown(key), Optional.<String>empty()))
                    .orElseGet(() -> Observed.unknown("kernel command line not available"));
            case SYSCTL -> facts.sysctls()
                    .map(s -> s.value(key)
                            .map(v -> new Observed(Optional.of(v), v, Optional.<String>empty()))
                            .orElseGet(() -> Observed.unknown(s.missing())))
                    .orElseGet(() -> Observed.unknown("sysctls not available"));
        };
    }

    private static Finding withConflict(Rule r, Status status, String actual, String note) {
        String n = r.conflict().isEmpty() ? note : "conflicts with containers: " + r.conflict();
        return finding(r, status, actual, n);
    }

    private static Finding finding(Rule r, Status status, String actual, String note) {
        String expected = r.expect().describe();
        if (!r.alts().isEmpty()) {
            expected += " (or " + String.join(", or ", r.alts().stream().map(Alt::describe).toList()) + ")";
        }
        return new Finding(r.id(), r.kind().section, r.category(), status, r.severity(), expected, actual,
                r.reason(), r.source(), note);
    }
}
