package dev.bulwark.runtime;

import dev.bulwark.spec.Spec;
import dev.bulwark.spec.SpecException;
import dev.bulwark.stage.Op;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * AppArmor and SELinux as runc 1.1.5 applies them. The process's profile or label is written
 * to its own /proc/self/attr just before the credentials are dropped, and the kernel applies it
 * at execve:
 * <ul>
 *   <li>{@code process.apparmorProfile}: "exec PROFILE" to attr/apparmor/exec, or to attr/exec on
 *       kernels without the per-LSM directory. runc writes it whether or not AppArmor is enabled,
 *       so on a host without AppArmor the write is refused (EINVAL) and the container fails to
 *       start, on runc and on Bulwark alike;</li>
 *   <li>{@code process.selinuxLabel}: the label to attr/exec; refused before anything is made
 *       where SELinux is not enabled, with runc's reason;</li>
 *   <li>{@code linux.mountLabel}: context="LABEL" added to the data of the filesystems the
 *       runtime mounts (not proc, sysfs, mqueue or binds, as with runc); a kernel without
 *       SELinux refuses the option, so the first such mount fails, as with runc.</li>
 * </ul>
 */
public final class Lsm {
    private Lsm() {}

    /** What go-selinux's GetEnabled looks for first: selinuxfs mounted where the kernel puts it. */
    static boolean selinuxEnabled() {
        return Files.exists(Path.of("/sys/fs/selinux/enforce"));
    }

    /** Refuses what runc's validator refuses. */
    static void check(Spec.Process p) {
        if (!p.selinuxLabel().isEmpty() && !selinuxEnabled()) {
            throw new SpecException("process.selinuxLabel",
                    "selinux label is specified in config, but selinux is disabled or not supported (no /sys/fs/selinux)");
        }
    }

    /** The attribute writes for process, in runc's order (AppArmor, then the SELinux exec label). */
    static List<Op> ops(Spec.Process p) {
        List<Op> ops = new java.util.ArrayList<>();
        if (!p.apparmorProfile().isEmpty()) {
            String attr = Files.isDirectory(Path.of("/proc/self/attr/apparmor")) ? "apparmor/exec" : "exec";
            ops.add(new Op.ProcAttr(attr, "exec " + p.apparmorProfile()));
        }
        if (!p.selinuxLabel().isEmpty()) {
            ops.add(new Op.ProcAttr("exec", p.selinuxLabel()));
        }
        return ops;
    }

    /** Mount data with the config's mount label, as go-selinux's FormatMountLabel writes it. */
    static String mountData(String data, String mountLabel) {
        if (mountLabel.isEmpty()) {
            return data;
        }
        String context = "context=\"" + mountLabel + "\"";
        return data.isEmpty() ? context : data + "," + context;
    }
}
