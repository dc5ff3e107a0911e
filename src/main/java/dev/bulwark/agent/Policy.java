package dev.bulwark.agent;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Immutable mountpoints: which trapped calls are allowed, for one container. Pure: the agent
 * gives it the mounts it was registered with, what the helper resolved and the caller's current
 * mountinfo; it answers. The rules are the issue's:
 * <ul>
 *   <li>an immutable read-only mount, and any mount of the same filesystem whose root lies in one
 *       (a bind of it, or its copy in a nested mount namespace), is never made writable: not by a
 *       remount, not by mount_setattr, not by reconfiguring the superblock through fspick;
 *   <li>unmounting (or moving away) an immutable mount is allowed unless allow-immutable-unmounts
 *       is false; /proc, /sys and immutable mounts below them can never be unmounted or moved;
 *   <li>a new proc or sysfs mount gets the masks and read-only paths the container's own has
 *       (the helper places them on the detached mount before attaching it), and those become
 *       guards: never unmounted, moved or made writable on their own, never left out of a bind;
 *       the new mount may be taken away whole;
 *   <li>a non-recursive open_tree clone (it would leave out what is mounted below, as a plain
 *       bind does, and cannot be emulated) and an fsopen of proc or sysfs (its mount would have
 *       no masks) are not supported (ENOSYS): callers fall back to mount(2), which is checked;
 *   <li>anything else, in particular every other new mount, is unrestricted.
 * </ul>
 */
final class Policy {
    static final long MS_RDONLY = 1;
    static final long MS_REMOUNT = 32;
    static final long MS_BIND = 4096;
    static final long MS_MOVE = 8192;
    static final long MS_REC = 16384;
    static final long MS_PROPAGATION = (1L << 17) | (1L << 18) | (1L << 19) | (1L << 20); // UNBINDABLE PRIVATE SLAVE SHARED
    static final long AT_RECURSIVE = 0x8000;
    static final long OPEN_TREE_CLONE = 1;
    static final long MOUNT_ATTR_RDONLY = 1;

    /** First answer, from the registers alone (which the caller cannot change under us). */
    enum Pre { CONTINUE, EMULATE, NOT_SUPPORTED }

    /** What the helper resolved for one path argument: its mount, and where it is as the caller sees it. */
    record Resolved(int mountId, boolean mountRoot, String dev, String path) {
        Resolved(int mountId, boolean mountRoot, String dev) {
            this(mountId, mountRoot, dev, "");
        }
    }

    private final Map<Integer, Mount> immutable = new HashMap<>();
    private final List<Mount> atCreation;
    private final boolean allowUnmounts;
    private final boolean landlocked;
    private final Set<String> readOnlyDevs;
    /** "DEV ROOT" of the masks and read-only binds placed on new proc and sysfs mounts. */
    private final Set<String> guards;
    /** The devices of those new mounts (whose root mount may be taken away whole). */
    private final Set<String> fresh;
    /** Bumped after each change to the guards: a verdict given before stands no longer (standing verdicts, Supervisor). */
    private final AtomicLong epoch;

    Policy(List<Mount> atCreation, boolean allowUnmounts) {
        this(atCreation, allowUnmounts, false);
    }

    /**
     * landlocked: the container's processes are confined by Landlock, which refuses them mount,
     * umount and move_mount. Performed by the agent's helper, such a call would escape it, so
     * each is refused here too (EPERM, Landlock's answer).
     */
    Policy(List<Mount> atCreation, boolean allowUnmounts, boolean landlocked) {
        this(atCreation, allowUnmounts, landlocked, ConcurrentHashMap.newKeySet(), ConcurrentHashMap.newKeySet(), ConcurrentHashMap.newKeySet(),
                new AtomicLong());
        for (Mount m : atCreation) {
            if (m.readOnly()) {
                readOnlyDevs.add(m.dev());
            }
        }
    }

    private Policy(List<Mount> atCreation, boolean allowUnmounts, boolean landlocked, Set<String> readOnlyDevs, Set<String> guards,
            Set<String> fresh, AtomicLong epoch) {
        this.epoch = epoch;
        this.landlocked = landlocked;
        this.atCreation = List.copyOf(atCreation);
        for (Mount m : atCreation) {
            immutable.put(m.id(), m);
        }
        this.allowUnmounts = allowUnmounts;
        this.readOnlyDevs = readOnlyDevs;
        this.guards = guards;
        this.fresh = fresh;
    }

    /** The same container's policy with unmounts of immutable mounts refused; the guards are shared. */
    Policy withoutUnmounts() {
        return new Policy(atCreation, false, landlocked, readOnlyDevs, guards, fresh, epoch);
    }

    boolean landlocked() {
        return landlocked;
    }

    /**
     * What a new mount of type gets, for the helper: "ro" or "rw" (as the container's own /proc
     * or /sys is), then "m PATH" for each mask and "r PATH" for each read-only path below it, in
     * the order they were made, PATH relative to its root, and "v PATH" for each file of the
     * agent's view bound there (FUSE): the helper binds the caller's own onto the new mount, so a
     * new proc shows the container's meminfo, cpuinfo, stat and uptime as its /proc does. Empty
     * when type is not proc or sysfs.
     */
    Optional<String> masksFor(String type) {
        String base = switch (type) {
            case "proc" -> "/proc";
            case "sysfs" -> "/sys";
            default -> null;
        };
        if (base == null) {
            return Optional.empty();
        }
        Mount top = null;
        for (Mount m : atCreation) {
            if (m.mountPoint().equals(base) && m.root().equals("/")) {
                top = m;
            }
        }
        StringBuilder b = new StringBuilder(top != null && top.readOnly() ? "ro" : "rw");
        for (Mount m : atCreation) {
            if (top == null || !Mount.under(m.mountPoint(), base) || m.mountPoint().equals(base)) {
                continue;
            }
            String rel = m.mountPoint().substring(base.length() + 1);
            if (m.type().startsWith("fuse")) {
                b.append("\nv ").append(rel); // the agent's view of the file: the new mount gets it too
            } else if (m.dev().equals(top.dev())) {
                if (m.readOnly()) {
                    b.append("\nr ").append(rel);
                }
            } else {
                b.append("\nm ").append(rel);
            }
        }
        return Optional.of(b.toString());
    }

    /** What the helper placed on a new proc or sysfs mount: its masks (DEV, ROOT) and the mount's device. */
    void guard(List<String[]> placed, String freshDev, boolean readOnly) {
        for (String[] g : placed) {
            guards.add(g[0] + " " + g[1]);
        }
        fresh.add(freshDev);
        if (readOnly) {
            readOnlyDevs.add(freshDev);
        }
        epoch.incrementAndGet();
    }

    /**
     * The number of changes to the guards so far. A remount's verdict depends on its target's
     * mount (ID, device, root) and on the guards alone: read before the verdict, it says for how
     * long that verdict holds for the same mount.
     */
    long epoch() {
        return epoch.get();
    }

    private boolean isGuard(Mount m) {
        return guards.contains(m.dev() + " " + m.root());
    }

    /** The root of a new proc or sysfs mount (or a copy of it), which is not one the container was created with. */
    private boolean isFreshRoot(Mount m) {
        return m.root().equals("/") && fresh.contains(m.dev()) && immutableMatches(m, false).isEmpty();
    }

    /** A guard in m's subtree, other than m, not right below a new mount's root (which goes with it). */
    private boolean holdsGuard(Mount m, Map<Integer, Mount> byId, List<Mount> current) {
        for (Mount s : subtree(m, current)) {
            if (s != m && isGuard(s)) {
                Mount p = byId.get(s.parent());
                if (p == null || !isFreshRoot(p)) {
                    return true;
                }
            }
        }
        return false;
    }

    boolean allowUnmounts() {
        return allowUnmounts;
    }

    int immutableCount() {
        return immutable.size();
    }

    static long mountFlags(long flags) {
        // mount(2): a magic number in the top 16 bits is ignored (as the kernel does)
        return (flags & 0xffff0000L) == 0xC0ED0000L ? flags & 0xffffL : flags;
    }

    static Pre pre(Call call, long[] args) {
        return switch (call) {
            case MOUNT -> {
                long f = mountFlags(args[3]);
                if ((f & MS_REMOUNT) != 0) {
                    // To read-only is allowed wherever it points. A superblock remount with options
                    // is emulated all the same: the options may name IDs as mountinfo shows them
                    // (the host's), which the kernel takes in the caller's namespace (RemountIds).
                    boolean options = (f & MS_BIND) == 0 && args[4] != 0;
                    yield (f & MS_RDONLY) != 0 && !options ? Pre.CONTINUE : Pre.EMULATE;
                }
                if ((f & MS_BIND) != 0) {
                    // a recursive bind copies what is mounted below; a plain one could show what a mask hides
                    yield (f & MS_REC) != 0 ? Pre.CONTINUE : Pre.EMULATE;
                }
                if ((f & MS_PROPAGATION) != 0) {
                    yield Pre.CONTINUE;
                }
                // a move, or a new mount: its type is in the caller's memory (a new proc or sysfs gets the masks)
                yield Pre.EMULATE;
            }
            // A recursive clone is a new (detached) mount with everything below: allowed. What could
            // follow, making it writable, is mount_setattr's to decide. A non-recursive one would
            // leave out the masks, and it cannot be emulated (open_tree returns an O_PATH file,
            // which SECCOMP_IOCTL_NOTIF_ADDFD refuses with EBADF), nor checked without a gap (its
            // path is in the caller's memory): ENOSYS, and the caller falls back to a bind.
            case OPEN_TREE -> (args[2] & OPEN_TREE_CLONE) != 0 && (args[2] & AT_RECURSIVE) == 0 ? Pre.NOT_SUPPORTED : Pre.CONTINUE;
            default -> Pre.EMULATE;
        };
    }

    /**
     * The verdict once the helper has resolved the paths: 0 to let it perform the call, or an
     * errno. current is the caller's mountinfo now; inCreationNs says whether the caller is in the
     * container's mount namespace (mount IDs there are the ones recorded at creation).
     */
    int decide(Call call, long[] args, long[] attr, Map<String, Resolved> paths, List<Mount> current, boolean inCreationNs) {
        Map<Integer, Mount> byId = new HashMap<>();
        for (Mount m : current) {
            byId.put(m.id(), m);
        }
        Optional<Resolved> target = Optional.ofNullable(paths.get("target"));
        if (landlocked && (call == Call.MOUNT || call == Call.UMOUNT2 || call == Call.MOVE_MOUNT)) {
            return Native.EPERM;
        }
        switch (call) {
            case MOUNT -> {
                long f = mountFlags(args[3]);
                if ((f & MS_REMOUNT) != 0) {
                    Mount m = target.map(r -> byId.get(r.mountId())).orElse(null);
                    return m != null && (f & MS_RDONLY) == 0 && readOnlyLocked(m) ? Native.EPERM : 0;
                }
                if ((f & MS_BIND) != 0) {
                    return revealsProtected(paths.get("source"), byId, current) ? Native.EPERM : 0;
                }
                if ((f & MS_MOVE) != 0) {
                    return move(paths.get("source"), byId, current, inCreationNs);
                }
                return 0;
            }
            case FSOPEN -> {
                return 0; // proc and sysfs never get here (Supervisor answers ENOSYS)
            }
            case UMOUNT2 -> {
                // a path that is not a mount root gets the kernel's EINVAL
                return target.isPresent() && target.get().mountRoot() ? unmount(target.get(), byId, current, inCreationNs) : 0;
            }
            case MOVE_MOUNT -> {
                Resolved from = paths.get("from");
                return from != null && byId.containsKey(from.mountId()) ? move(from, byId, current, inCreationNs) : 0;
            }
            case MOUNT_SETATTR -> {
                if ((attr[1] & MOUNT_ATTR_RDONLY) == 0 || target.isEmpty()) {
                    return 0;
                }
                return writableLocked(target.get(), (args[2] & AT_RECURSIVE) != 0, byId, current) ? Native.EPERM : 0;
            }
            case FSPICK -> {
                // fsconfig is not trapped: a superblock that holds an immutable read-only mount is never handed out
                Mount m = target.map(r -> byId.get(r.mountId())).orElse(null);
                String dev = m != null ? m.dev() : target.map(Resolved::dev).orElse("");
                return readOnlyDevs.contains(dev) ? Native.EPERM : 0;
            }
            case OPEN_TREE -> {
                return 0;
            }
        }
        return Native.EPERM;
    }

    private boolean writableLocked(Resolved r, boolean recursive, Map<Integer, Mount> byId, List<Mount> current) {
        Mount m = byId.get(r.mountId());
        if (m == null) {
            // Detached (an open_tree clone): its root and its submounts cannot be seen, so a
            // filesystem that holds an immutable read-only mount stays read-only, and a whole
            // detached tree is never made writable at once (fail closed).
            return recursive || readOnlyDevs.contains(r.dev());
        }
        for (Mount s : recursive ? subtree(m, current) : List.of(m)) {
            if (readOnlyLocked(s)) {
                return true;
            }
        }
        return false;
    }

    /** The immutable record that governs m's writability: m itself, else the one of its filesystem whose root holds m's root. */
    private Optional<Mount> lockRecord(Mount m) {
        Mount same = immutable.get(m.id());
        if (same != null && same.dev().equals(m.dev()) && same.root().equals(m.root())) {
            return Optional.of(same);
        }
        Mount best = null;
        for (Mount i : immutable.values()) {
            if (i.dev().equals(m.dev()) && Mount.under(m.root(), i.root())
                    && (best == null || i.root().length() > best.root().length() || (i.root().length() == best.root().length() && i.readOnly()))) {
                best = i;
            }
        }
        return Optional.ofNullable(best);
    }

    boolean readOnlyLocked(Mount m) {
        return isGuard(m) || (readOnlyDevs.contains(m.dev()) && fresh.contains(m.dev()) && m.root().equals("/"))
                || lockRecord(m).map(Mount::readOnly).orElse(false);
    }

    /**
     * Moving r's mount: what is mounted below it moves along, still attached, so only the mount
     * itself leaves its place and shows what it covered. A guard, a copy of a mask or read-only
     * path in /proc or /sys, and (with allow-immutable-unmounts off) an immutable mount cannot be
     * moved (in a nested namespace: a copy of it at its own place); a mount holding them can
     * (systemd moves an rbind of "/" onto "/" for every unit with a private namespace).
     */
    private int move(Resolved r, Map<Integer, Mount> byId, List<Mount> current, boolean inCreationNs) {
        Mount m = r == null ? null : byId.get(r.mountId());
        if (m == null) {
            return 0; // not attached in the caller's namespace: the kernel refuses it
        }
        // In a nested namespace an immutable mount's copy is known by filesystem and root; one
        // somewhere else than the original (an rbind the container made) leaves nothing of the
        // original's place uncovered when it moves.
        if (isGuard(m) || immutableMatches(m, false).stream().anyMatch(Policy::isProtected)
                || (!allowUnmounts && immutableMatches(m, inCreationNs).stream()
                        .anyMatch(i -> inCreationNs || i.mountPoint().equals(m.mountPoint())))) {
            return Native.EPERM;
        }
        return 0;
    }

    /**
     * Unmounting r's mount, and with it everything mounted below it. In the creation
     * namespace a mount is immutable by ID; in a nested one its copies have new IDs, so a mount of
     * the same filesystem and root as an immutable one counts as immutable. A copy of a mount in
     * /proc or /sys (an rbind of /proc carries the masks along) is protected wherever it is: taking
     * it away would show what the mask hides.
     */
    private int unmount(Resolved r, Map<Integer, Mount> byId, List<Mount> current, boolean inCreationNs) {
        if (r == null) {
            return 0;
        }
        Mount m = byId.get(r.mountId());
        if (m == null) {
            return 0; // not attached in the caller's namespace: the kernel refuses it
        }
        if (isGuard(m) || holdsGuard(m, byId, current)) {
            return Native.EPERM;
        }
        if (!inCreationNs && stackedOnRoot(m, byId)) {
            return 0;
        }
        for (Mount s : subtree(m, current)) {
            if (s != m && s.type().startsWith("fuse")) {
                continue; // a copy of the agent's view (a new proc has them): it hides nothing, and goes along
            }
            for (Mount rec : immutableMatches(s, false)) {
                if (isProtected(rec)) {
                    return Native.EPERM;
                }
            }
            if (!allowUnmounts && !immutableMatches(s, inCreationNs).isEmpty()) {
                return Native.EPERM;
            }
        }
        return 0;
    }

    /**
     * m is mounted at "/" on top of the caller's root: the old root after pivot_root(".", "."),
     * which runc (and so dockerd and containerd inside) lazily unmounts in every container it
     * starts, in a mount namespace of its own. Taking it away leaves the caller only its new root
     * (as Sysbox allows unmounting such a stacked mount in a nested namespace); what was mounted
     * in the old root, immutable copies included, goes with it. The container's own namespace
     * never gets this: there a mount's ID says whether it is immutable.
     */
    static boolean stackedOnRoot(Mount m, Map<Integer, Mount> byId) {
        Mount under = byId.get(m.parent());
        return m.mountPoint().equals("/") && under != null && under.id() != m.id() && under.mountPoint().equals("/");
    }

    /**
     * A non-recursive bind of r leaves out what is mounted below it: if that includes a mount in
     * /proc or /sys (a mask, a read-only path), the new mount shows what it hides. (The kernel
     * refuses this itself only for mounts locked by a less privileged namespace, MNT_LOCKED.)
     */
    private boolean revealsProtected(Resolved r, Map<Integer, Mount> byId, List<Mount> current) {
        Mount m = r == null ? null : byId.get(r.mountId());
        if (m == null) {
            return false;
        }
        for (Mount c : subtree(m, current)) {
            if (c != m && Mount.under(c.mountPoint(), r.path())
                    && (isGuard(c) || !immutableMatches(c, false).stream().filter(Policy::isProtected).toList().isEmpty())) {
                return true;
            }
        }
        return false;
    }

    private static boolean isProtected(Mount rec) {
        return Mount.under(rec.mountPoint(), "/proc") || Mount.under(rec.mountPoint(), "/sys");
    }

    private List<Mount> immutableMatches(Mount m, boolean inCreationNs) {
        List<Mount> out = new ArrayList<>();
        if (inCreationNs) {
            Mount same = immutable.get(m.id());
            if (same != null && same.dev().equals(m.dev()) && same.root().equals(m.root())) {
                out.add(same);
            }
            return out;
        }
        for (Mount i : immutable.values()) {
            if (i.dev().equals(m.dev()) && i.root().equals(m.root())) {
                out.add(i);
            }
        }
        return out;
    }

    static List<Mount> subtree(Mount top, List<Mount> current) {
        List<Mount> out = new ArrayList<>(List.of(top));
        Set<Integer> ids = new HashSet<>(Set.of(top.id()));
        boolean grew = true;
        while (grew) {
            grew = false;
            for (Mount m : current) {
                if (!ids.contains(m.id()) && ids.contains(m.parent())) {
                    ids.add(m.id());
                    out.add(m);
                    grew = true;
                }
            }
        }
        return out;
    }
}
