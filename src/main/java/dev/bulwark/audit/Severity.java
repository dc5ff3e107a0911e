package dev.bulwark.audit;

import java.util.Locale;

/** How much a failed check weakens the host or container. Ordered from most to least severe. */
public enum Severity {
    HIGH, MEDIUM, LOW;

    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** True when this is as severe as {@code threshold} or more. */
    public boolean atLeast(Severity threshold) {
        return ordinal() <= threshold.ordinal();
    }

    public static Severity parse(String s, String where) {
        return switch (s) {
            case "high" -> HIGH;
            case "medium" -> MEDIUM;
            case "low" -> LOW;
            default -> throw new AuditException(where + ": severity must be high, medium or low, not \"" + s + "\"");
        };
    }
}
