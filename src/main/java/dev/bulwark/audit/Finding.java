package dev.bulwark.audit;

/**
 * One check's result.
 *
 * @param id       stable identifier, e.g. {@code kconfig.STRICT_KERNEL_RWX}, {@code container.seccomp}
 * @param expected what the recommendation wants, in words ("y", "not off", "a pids limit")
 * @param actual   what was found ("is not set", "mitigations=off", "no linux.seccomp")
 * @param reason   one line: why it matters
 * @param source   where the recommendation comes from (KSPP, Docker, Bulwark)
 * @param note     extra context, e.g. the conflict with containers; empty when there is none
 */
public record Finding(
        String id,
        Section section,
        String category,
        Status status,
        Severity severity,
        String expected,
        String actual,
        String reason,
        String source,
        String note) {

    /** A failure at or above {@code threshold}: what --fail-on counts. */
    public boolean failsAt(Severity threshold) {
        return status == Status.FAIL && severity.atLeast(threshold);
    }
}
