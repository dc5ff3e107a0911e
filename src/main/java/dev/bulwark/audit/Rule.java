package dev.bulwark.audit;

import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * One host hardening rule from kspp.rules.
 *
 * @param key      the config option (CONFIG_...), command-line parameter or sysctl it checks
 * @param arches   architectures it applies to; empty for all
 * @param since    first kernel version that has the setting
 * @param until    first kernel version that no longer has it
 * @param alts     accepted instead when the key itself is absent
 * @param when     preconditions: the rule applies only when all hold (a compiler-specific option)
 * @param conflict why following the rule breaks containers; empty when it does not
 */
record Rule(
        String id,
        Kind kind,
        String key,
        Expect expect,
        Severity severity,
        String category,
        String source,
        String reason,
        Set<String> arches,
        Optional<KernelVersion> since,
        Optional<KernelVersion> until,
        List<Alt> alts,
        List<Alt> when,
        String conflict) {

    enum Kind {
        KCONFIG("kconfig", Section.KERNEL_CONFIG),
        CMDLINE("cmdline", Section.CMDLINE),
        SYSCTL("sysctl", Section.SYSCTL);

        final String prefix;
        final Section section;

        Kind(String prefix, Section section) {
            this.prefix = prefix;
            this.section = section;
        }

        static Optional<Kind> of(String prefix) {
            for (Kind k : values()) {
                if (k.prefix.equals(prefix)) {
                    return Optional.of(k);
                }
            }
            return Optional.empty();
        }

        /** The key a rule id or alternative names: kconfig keys gain their CONFIG_ prefix. */
        String key(String name) {
            return this == KCONFIG && !name.startsWith("CONFIG_") ? "CONFIG_" + name : name;
        }
    }

    record Alt(Kind kind, String key, Expect expect) {
        String describe() {
            return switch (expect) {
                case Expect.OneOf o -> key + "=" + String.join(",", o.values());
                default -> key + " " + expect.describe();
            };
        }
    }
}
