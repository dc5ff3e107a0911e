package dev.bulwark.audit;

/** Where a finding comes from; the table groups findings by section, in this order. */
public enum Section {
    KERNEL_CONFIG("kernel config"),
    CMDLINE("kernel command line"),
    SYSCTL("sysctls"),
    RUNTIME("runtime readiness"),
    CONTAINER("container");

    private final String title;

    Section(String title) {
        this.title = title;
    }

    public String title() {
        return title;
    }

    /** The name used in JSON output. */
    public String key() {
        return name().toLowerCase(java.util.Locale.ROOT).replace('_', '-');
    }
}
