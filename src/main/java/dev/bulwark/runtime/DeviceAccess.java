package dev.bulwark.runtime;

import dev.bulwark.spec.Spec;
import dev.bulwark.spec.Spec.Device;
import dev.bulwark.spec.Spec.DeviceCgroup;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The devices cgroup rules a container gets: the config's, plus access to the nodes the runtime
 * itself puts in /dev. dockerd writes "deny all" and then allows only some of those nodes (not
 * /dev/full, /dev/tty's siblings or the pty devices), relying on runc to add its own; without
 * them the runtime's mknod of /dev/full fails with EPERM. A node the config names in any rule
 * (allow or deny, exactly or by wildcard) is left as the config says.
 */
public final class DeviceAccess {
    /** The pty devices behind devpts: /dev/pts/ptmx (5:2) and the slaves (136:*), as runc allows them. */
    private static final List<DeviceCgroup> PTY = List.of(
            new DeviceCgroup(true, "c", Optional.of(5L), Optional.of(2L), "rwm"),
            new DeviceCgroup(true, "c", Optional.of(136L), Optional.empty(), "rwm"));

    private DeviceAccess() {}

    public static Spec.Resources resources(Spec spec) {
        Spec.Resources r = spec.linux().flatMap(Spec.Linux::resources).orElse(Spec.Resources.none());
        // No rules means no devices cgroup restriction at all: nothing to add.
        if (r.devices().isEmpty()) {
            return r;
        }
        List<DeviceCgroup> rules = new ArrayList<>(r.devices());
        List<DeviceCgroup> own = new ArrayList<>();
        for (Device d : Planner.DEFAULT_DEVICES) {
            own.add(new DeviceCgroup(true, "c", Optional.of(d.major()), Optional.of(d.minor()), "rwm"));
        }
        own.addAll(PTY);
        for (DeviceCgroup d : own) {
            if (r.devices().stream().noneMatch(rule -> names(rule, d))) {
                rules.add(d);
            }
        }
        // runc applies the rules only after its init made the nodes, so every node linux.devices
        // lists exists whatever the rules say. The stage makes them under the rules, so each
        // listed node the rules do not name gets mknod only ("m": no read, no write).
        List<String> defaults = Planner.DEFAULT_DEVICES.stream().map(Device::path).toList();
        for (Device d : spec.linux().map(Spec.Linux::devices).orElse(List.of())) {
            if (d.type().equals("p") || defaults.contains(Planner.normalize(d.path()))) {
                continue;
            }
            DeviceCgroup node = new DeviceCgroup(true, d.type().equals("b") ? "b" : "c", Optional.of(d.major()),
                    Optional.of(d.minor()), "m");
            if (r.devices().stream().noneMatch(rule -> names(rule, node))) {
                rules.add(node);
            }
        }
        return new Spec.Resources(rules, r.memory(), r.cpu(), r.pids(), r.blockIO(), r.hugepageLimits(), r.network(),
                r.rdma(), r.unified(), r.raw());
    }

    /** Whether a rule other than a whole reset ("a", no numbers) covers a device of dev's type. */
    private static boolean names(DeviceCgroup rule, DeviceCgroup dev) {
        String type = rule.type().isEmpty() ? "a" : rule.type();
        if (type.equals("a") && rule.major().isEmpty() && rule.minor().isEmpty()) {
            return false;
        }
        if (!type.equals("a") && !type.equals(dev.type())) {
            return false;
        }
        boolean major = rule.major().isEmpty() || rule.major().get() < 0 || rule.major().equals(dev.major());
        boolean minor = rule.minor().isEmpty() || rule.minor().get() < 0 || dev.minor().isEmpty()
                || rule.minor().equals(dev.minor());
        return major && minor;
    }
}
