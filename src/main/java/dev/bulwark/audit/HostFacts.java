package dev.bulwark.audit;

import java.util.List;
import java.util.Optional;

/**
 * What the host checks look at. Each input is empty when it could not be found; its checks are
 * then skipped and {@code notes} says why.
 *
 * @param version the kernel version the rules are judged against: the config's own header when
 *                it has one, else the running kernel's
 * @param running the running kernel's version, for runtime readiness
 * @param arch    x86_64, arm64, ...
 */
record HostFacts(
        Optional<KernelConfig> config,
        Optional<Cmdline> cmdline,
        Optional<Sysctls> sysctls,
        Optional<KernelVersion> version,
        Optional<KernelVersion> running,
        String arch,
        List<String> notes) {

    HostFacts {
        notes = List.copyOf(notes);
    }

    static String archOf(String osArch) {
        return switch (osArch) {
            case "amd64", "x86_64" -> "x86_64";
            case "aarch64", "arm64" -> "arm64";
            default -> osArch;
        };
    }
}
