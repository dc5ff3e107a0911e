package dev.bulwark.seccomp;

import java.util.Optional;

/**
 * The architectures Bulwark compiles seccomp filters for, with the names OCI (libseccomp) and
 * Docker's profile use for them and the kernel's AUDIT_ARCH value the filter sees in
 * {@code seccomp_data.arch}.
 */
public enum Arch {
    X86_64("SCMP_ARCH_X86_64", "amd64", 0xC000003E, false, 0),
    X86("SCMP_ARCH_X86", "x86", 0x40000003, true, 1),
    // x32 shares AUDIT_ARCH_X86_64 with x86_64; the kernel tells them apart only by bit 30 of the
    // syscall number (__X32_SYSCALL_BIT), so the filter must split on that bit.
    X32("SCMP_ARCH_X32", "x32", 0xC000003E, true, 2),
    AARCH64("SCMP_ARCH_AARCH64", "arm64", 0xC00000B7, false, 3),
    ARM("SCMP_ARCH_ARM", "arm", 0x40000028, true, 4);

    /** __X32_SYSCALL_BIT: every x32 syscall number has it, no x86_64 number does. */
    public static final int X32_SYSCALL_BIT = 0x40000000;

    private final String ociName;
    private final String dockerName;
    private final int auditArch;
    private final boolean args32;
    final int column;

    Arch(String ociName, String dockerName, int auditArch, boolean args32, int column) {
        this.ociName = ociName;
        this.dockerName = dockerName;
        this.auditArch = auditArch;
        this.args32 = args32;
        this.column = column;
    }

    /** The OCI / libseccomp name, e.g. "SCMP_ARCH_X86_64". */
    public String ociName() {
        return ociName;
    }

    /** The name Docker's profile uses in includes/excludes.arches (libseccomp's short name). */
    public String dockerName() {
        return dockerName;
    }

    /** AUDIT_ARCH_* as the kernel puts it in seccomp_data.arch. */
    public int auditArch() {
        return auditArch;
    }

    /**
     * Whether libseccomp treats syscall arguments as 32-bit on this ABI (it compares only the low
     * word and truncates the rule's value). x32 counts as 32-bit there, as libseccomp has it.
     */
    public boolean args32() {
        return args32;
    }

    public static Optional<Arch> byOciName(String name) {
        for (Arch a : values()) {
            if (a.ociName.equals(name)) {
                return Optional.of(a);
            }
        }
        return Optional.empty();
    }

    /** The architecture this JVM runs on, which libseccomp always includes in a filter. */
    public static Arch host() {
        String os = System.getProperty("os.arch", "");
        return switch (os) {
            case "amd64", "x86_64" -> X86_64;
            case "aarch64", "arm64" -> AARCH64;
            case "x86", "i386", "i686" -> X86;
            case "arm" -> ARM;
            default -> throw new SeccompException("", "seccomp is not supported on architecture \"" + os + "\"");
        };
    }
}
