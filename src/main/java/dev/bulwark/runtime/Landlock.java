package dev.bulwark.runtime;

import dev.bulwark.spec.Spec;
import dev.bulwark.spec.SpecException;
import dev.bulwark.stage.Op;
import dev.bulwark.stage.Stage;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The Landlock ruleset a container's processes are confined by, decided here and only executed
 * by the stage (LANDLOCK_RULESET, LANDLOCK_RULE..., LANDLOCK_RESTRICT).
 *
 * Two sources: the runtime-spec proposal's `process.landlock` (the config's own ruleset), or the
 * annotation `dev.bulwark.landlock` (on, auto or off), which derives a ruleset from the mounts:
 * the root and every mount read-only or read-write as it is mounted, nothing outside them.
 * Landlock also refuses a confined process every mount, umount, remount and pivot_root.
 */
public final class Landlock {
    private Landlock() {}

    public static final String ANNOTATION = "dev.bulwark.landlock";

    // LANDLOCK_ACCESS_FS_* (the kernel's uapi linux/landlock.h)
    public static final long EXECUTE = 1L << 0;
    public static final long WRITE_FILE = 1L << 1;
    public static final long READ_FILE = 1L << 2;
    public static final long READ_DIR = 1L << 3;
    public static final long REFER = 1L << 13;
    public static final long TRUNCATE = 1L << 14;
    public static final long IOCTL_DEV = 1L << 15;

    /** The rights a rule may grant on something that is not a directory. */
    public static final long FILE_RIGHTS = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE | IOCTL_DEV;

    /** Read-only: what a rule on a read-only mount grants. */
    public static final long READ_ONLY = EXECUTE | READ_FILE | READ_DIR;

    /**
     * The ABI the mount-derived ruleset needs: 3 is the first where every way to change a file's
     * content is handled (write, truncate), and 2 the first that lets files be renamed or linked
     * across directories at all (REFER).
     */
    public static final int MOUNTS_ABI = 3;

    private record Right(long bit, int abi) {}

    /** Each right by the proposal's name (the kernel's, lower case, without the prefix) and the ABI that added it. */
    private static final Map<String, Right> RIGHTS = new LinkedHashMap<>();

    static {
        String[] abi1 = {"execute", "write_file", "read_file", "read_dir", "remove_dir", "remove_file", "make_char",
                "make_dir", "make_reg", "make_sock", "make_fifo", "make_block", "make_sym"};
        for (int i = 0; i < abi1.length; i++) {
            RIGHTS.put(abi1[i], new Right(1L << i, 1));
        }
        RIGHTS.put("refer", new Right(REFER, 2));
        RIGHTS.put("truncate", new Right(TRUNCATE, 3));
        RIGHTS.put("ioctl_dev", new Right(IOCTL_DEV, 5));
    }

    /** Every filesystem right an ABI version handles (ioctl_dev left out: restricting ioctls is not the aim). */
    static long filesystemRights(int abi) {
        long all = 0;
        for (Right r : RIGHTS.values()) {
            if (r.abi() <= abi && r.bit() != IOCTL_DEV) {
                all |= r.bit();
            }
        }
        return all;
    }

    /** A decided ruleset: the handled rights and the rules, in plan order. */
    public record Ruleset(long handled, List<Op.LandlockRule> rules) {
        /** The ops that create it, add its rules and enforce it (after no_new_privs, or while caps are held). */
        public List<Op> ops() {
            List<Op> out = new ArrayList<>();
            out.add(new Op.LandlockRuleset(handled));
            out.addAll(rules);
            // the exec FIFO is written after this, just before execve; stdio may be reopened
            // (/dev/stdout) in the modes the container holds it in
            out.add(new Op.LandlockRestrict(handled & WRITE_FILE, handled & READ_FILE, handled & (WRITE_FILE | TRUNCATE)));
            return out;
        }
    }

    /** The ruleset for a container's processes, or empty when it runs without Landlock. */
    public static Optional<Ruleset> of(Spec spec, HostInfo host) {
        String mode = spec.annotations().get(ANNOTATION);
        String field = "annotations." + ANNOTATION;
        if (mode != null && !List.of("on", "auto", "off").contains(mode)) {
            throw new SpecException(field, "expected on, auto or off, found \"" + mode + "\"");
        }
        Optional<Spec.Landlock> explicit = spec.process().flatMap(Spec.Process::landlock);
        if (explicit.isPresent()) {
            if ("off".equals(mode)) {
                throw new SpecException(field, "is off, but process.landlock asks for a ruleset");
            }
            return Optional.of(explicit(explicit.get(), host.landlockAbi()));
        }
        if (mode == null || mode.equals("off")) {
            return Optional.empty();
        }
        Abi abi = host.landlockAbi();
        if (abi.version() < MOUNTS_ABI) {
            if (mode.equals("auto")) {
                return Optional.empty();
            }
            throw new SpecException(field, "on needs Landlock ABI " + MOUNTS_ABI + " or later (writes, truncation and"
                    + " renames across directories all handled); " + abi.describe());
        }
        return Optional.of(fromMounts(spec, abi.version()));
    }

    /** The root and each mount, read-only or read-write as mounted. */
    static Ruleset fromMounts(Spec spec, int abi) {
        long handled = filesystemRights(abi);
        List<Op.LandlockRule> rules = new ArrayList<>();
        rules.add(rule("/", spec.root().readonly() ? READ_ONLY : handled));
        for (int i = 0; i < spec.mounts().size(); i++) {
            Spec.Mount m = spec.mounts().get(i);
            MountOptions o = MountOptions.parse(m.options(), "mounts[" + i + "].options");
            boolean ro = (o.flags() & MountOptions.MS_RDONLY) != 0 || (o.attrSet() & MountOptions.MOUNT_ATTR_RDONLY) != 0;
            rules.add(rule(Planner.normalize(m.destination()), ro ? READ_ONLY : handled));
        }
        return new Ruleset(handled, List.copyOf(rules));
    }

    private static Op.LandlockRule rule(String path, long access) {
        return new Op.LandlockRule(path, access, access & FILE_RIGHTS);
    }

    /** process.landlock, checked against this kernel's ABI. */
    static Ruleset explicit(Spec.Landlock l, Abi abi) {
        String base = "process.landlock";
        if (abi.version() < 1) {
            throw new SpecException(base, "asks for a Landlock ruleset; " + abi.describe());
        }
        String hp = base + ".ruleset.handledAccessFS";
        if (l.handledAccessFS().isEmpty()) {
            throw new SpecException(hp, "is empty: a ruleset must handle at least one access right");
        }
        long handled = 0;
        long dropped = 0;
        for (int i = 0; i < l.handledAccessFS().size(); i++) {
            Right r = right(l.handledAccessFS().get(i), hp + "[" + i + "]");
            if (r.abi() > abi.version()) {
                if (l.disableBestEffort()) {
                    throw new SpecException(hp + "[" + i + "]", "\"" + l.handledAccessFS().get(i) + "\" needs Landlock ABI "
                            + r.abi() + " and process.landlock.disableBestEffort is true; " + abi.describe());
                }
                dropped |= r.bit();
            } else {
                handled |= r.bit();
            }
        }
        List<Op.LandlockRule> rules = new ArrayList<>();
        for (int i = 0; i < l.pathBeneath().size(); i++) {
            Spec.PathBeneath pb = l.pathBeneath().get(i);
            String rp = base + ".rules.pathBeneath[" + i + "]";
            if (pb.allowedAccess().isEmpty()) {
                throw new SpecException(rp + ".allowedAccess", "is empty: a rule must allow at least one access right");
            }
            if (pb.paths().isEmpty()) {
                throw new SpecException(rp + ".paths", "is empty: a rule must name at least one path");
            }
            long access = 0;
            for (int j = 0; j < pb.allowedAccess().size(); j++) {
                String ap = rp + ".allowedAccess[" + j + "]";
                Right r = right(pb.allowedAccess().get(j), ap);
                if ((dropped & r.bit()) != 0) {
                    continue; // not handled on this kernel, so not restricted: nothing to allow
                }
                if ((handled & r.bit()) == 0) {
                    throw new SpecException(ap, "\"" + pb.allowedAccess().get(j) + "\" is not in " + hp
+ " (a rule can only allow what the ruleset handles)");
                }
                access |= r.bit();
            }
            for (int k = 0; k < pb.paths().size(); k++) {
                String p = pb.paths().get(k);
                if (!p.startsWith("/")) {
                    throw new SpecException(rp + ".paths[" + k + "]", "\"" + p + "\" is not an absolute path");
                }
                if (access != 0) {
                    rules.add(rule(Planner.normalize(p), access));
                }
            }
        }
        return new Ruleset(handled, List.copyOf(rules));
    }

    private static Right right(String name, String field) {
        Right r = RIGHTS.get(name);
        if (r == null) {
            throw new SpecException(field, "unknown Landlock access right \"" + name + "\" (known: "
                    + String.join(", ", RIGHTS.keySet()) + ")");
        }
        return r;
    }

    /** The kernel's Landlock ABI version, 0 with the reason when there is none. */
    public record Abi(int version, String reason) {
        String describe() {
            return version > 0 ? "this kernel has ABI " + version : "this kernel has no Landlock (" + reason + ")";
        }
    }

    private static volatile Abi probed;

    /**
     * landlock_create_ruleset(NULL, 0, LANDLOCK_CREATE_RULESET_VERSION), asked of the stage once
     * per JVM (the planner keeps it; the ABI cannot change without a reboot).
     */
    static Abi probe() {
        Abi a = probed;
        if (a == null) {
            a = runProbe();
            probed = a;
        }
        return a;
    }

    private static Abi runProbe() {
        try {
            java.lang.Process p = new ProcessBuilder(Stage.binary().toString(), "landlock-abi")
                    .redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
            p.waitFor();
            String[] f = out.split(" ", 2);
            int v = Integer.parseInt(f[0]);
            return new Abi(v, v > 0 ? "" : "landlock_create_ruleset: " + (f.length > 1 ? f[1] : "unavailable"));
        } catch (IOException | NumberFormatException | IllegalStateException e) {
            return new Abi(0, "the ABI probe failed: " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return new Abi(0, "the ABI probe was interrupted");
        }
    }
}
