package dev.bulwark.runtime;

import dev.bulwark.spec.Spec;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.TreeSet;

/**
 * The five capability masks a process gets, decided as runc decides them, with the warnings
 * runc logs on the way. Two kinds of request are dropped rather than refused, because running
 * without them gives less privilege than asked, never more:
 * <ul>
 *   <li>a name this kernel does not know (unknown, or above /proc/sys/kernel/cap_last_cap) is
 *       left out of every set, with runc's warning "ignoring unknown or unavailable
 *       capabilities: [...]";</li>
 *   <li>an ambient capability that is not in both the permitted and the inheritable set cannot
 *       be raised (prctl(PR_CAP_AMBIENT_RAISE) is EPERM): runc 1.1.5 ignores the error
 *       silently, runc 1.3 and later log "can't raise ambient capability CAP_X: operation not
 *       permitted"; Bulwark leaves it out and logs runc's later warning.</li>
 * </ul>
 */
public record CapabilitySets(long bounding, long effective, long permitted, long inheritable, long ambient,
        List<String> warnings) {
    public static final CapabilitySets NONE = new CapabilitySets(0, 0, 0, 0, 0, List.of());

    public static CapabilitySets of(Optional<Spec.Capabilities> caps, HostInfo host) {
        if (caps.isEmpty()) {
            return NONE;
        }
        Spec.Capabilities c = caps.get();
        TreeSet<String> unknown = new TreeSet<>();
        long bounding = known(c.bounding(), host, unknown);
        long effective = known(c.effective(), host, unknown);
        long permitted = known(c.permitted(), host, unknown);
        long inheritable = known(c.inheritable(), host, unknown);
        long asked = known(c.ambient(), host, unknown);
        List<String> warnings = new ArrayList<>();
        if (!unknown.isEmpty()) {
            warnings.add("ignoring unknown or unavailable capabilities: [" + String.join(" ", unknown) + "]");
        }
        long ambient = asked & permitted & inheritable;
        for (long skipped = asked & ~ambient; skipped != 0; skipped &= skipped - 1) {
            warnings.add("can't raise ambient capability " + Capabilities.NAMES.get(Long.numberOfTrailingZeros(skipped))
                    + ": operation not permitted");
        }
        return new CapabilitySets(bounding, effective, permitted, inheritable, ambient, List.copyOf(warnings));
    }

    private static long known(List<String> names, HostInfo host, TreeSet<String> unknown) {
        long mask = 0;
        for (String name : names) {
            int n = Capabilities.number(name);
            if (n < 0 || n > host.capLastCap() || n > 63) {
                unknown.add(name);
            } else {
                mask |= 1L << n;
            }
        }
        return mask;
    }
}
