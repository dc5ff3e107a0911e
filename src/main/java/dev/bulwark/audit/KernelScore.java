package dev.bulwark.audit;

import java.util.List;
import java.util.Optional;

/**
 * The KSPP kernel-config part of the audit for a config that is not the running kernel's (a
 * built system's kernel image): the builtin rules of kind kconfig against that config alone.
 */
public record KernelScore(String origin, Optional<String> version, int pass, int fail, int skip, List<Finding> failures) {

    public static KernelScore of(String origin, String configText) {
        KernelConfig c = KernelConfig.parse(origin, configText);
        HostFacts facts = new HostFacts(Optional.of(c), Optional.empty(), Optional.empty(), c.version(), Optional.empty(),
                c.arch().orElse(HostFacts.archOf(System.getProperty("os.arch"))), List.of());
        List<Rule> rules = RuleSet.builtin().stream().filter(r -> r.kind() == Rule.Kind.KCONFIG).toList();
        List<Finding> fs = HostChecks.check(rules, facts);
        int pass = (int) fs.stream().filter(f -> f.status() == Status.PASS).count();
        int fail = (int) fs.stream().filter(f -> f.status() == Status.FAIL).count();
        return new KernelScore(origin, c.version().map(Object::toString), pass, fail, fs.size() - pass - fail,
                fs.stream().filter(f -> f.status() == Status.FAIL).toList());
    }

    /** Failures at or above the severity (what --fail-on counts). */
    public List<Finding> failingAt(Severity s) {
        return failures.stream().filter(f -> f.failsAt(s)).toList();
    }

    public String summary() {
        long high = failingAt(Severity.HIGH).size();
        long medium = failures.stream().filter(f -> f.severity() == Severity.MEDIUM).count();
        long low = failures.stream().filter(f -> f.severity() == Severity.LOW).count();
        int checked = pass + fail;
        return String.format(java.util.Locale.ROOT, "KSPP kernel config: %d/%d pass (%d%%); failing: %d high, %d medium, %d low; %d not applicable",
                pass, checked, checked == 0 ? 0 : pass * 100 / checked, high, medium, low, skip);
    }
}
