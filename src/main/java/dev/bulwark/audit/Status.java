package dev.bulwark.audit;

import java.util.Locale;

/** The outcome of one check. */
public enum Status {
    /** The setting is as recommended. */
    PASS,
    /** The setting is weaker than recommended. */
    FAIL,
    /**
     * The setting differs from the hardening recommendation, but following it would break
     * containers (user.max_user_namespaces=0). Reported, never counted by --fail-on.
     */
    CONFLICT,
    /** Not applicable here (other architecture or kernel version) or the input is not available. */
    SKIP;

    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }
}
