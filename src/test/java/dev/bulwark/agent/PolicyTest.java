package dev.bulwark.agent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The policy alone, on mount tables written by hand (no root, no container). */
class PolicyTest {
    // a container as the stage leaves it: ro rootfs, an ro volume and an rw volume of the same
    // host filesystem, /proc with a masked path, /sys, an rw tmpfs
    private static final String CREATION = """
            100 50 254:0 /var/lib/c/rootfs / ro,relatime - ext4 /dev/vda1 rw
            101 100 0:40 / /proc rw,nosuid - proc proc rw
            102 101 0:6 /null /proc/keys rw,nosuid - devtmpfs udev rw
            103 100 0:44 / /sys ro,nosuid - sysfs sysfs ro
            104 100 254:0 /srv/data /data rw,relatime - ext4 /dev/vda1 rw
            105 100 254:0 /srv/conf /conf ro,relatime - ext4 /dev/vda1 rw
            106 100 0:50 / /tmp rw,nosuid - tmpfs tmpfs rw
            107 100 254:0 /srv/my\\040dir /my\\040dir ro - ext4 /dev/vda1 rw
            """;
    private static final List<Mount> MOUNTS = Mount.parse(CREATION);

    private static Policy policy(boolean allow) {
        return new Policy(MOUNTS, allow);
    }

    private static List<Mount> now(String... extra) {
        return Mount.parse(CREATION + String.join("\n", extra));
    }

    private static Map<String, Policy.Resolved> at(String name, int id, String dev) {
        return Map.of(name, new Policy.Resolved(id, true, dev));
    }

    private static long[] args(long... a) {
        long[] out = new long[6];
        System.arraycopy(a, 0, out, 0, a.length);
        return out;
    }

    private static final long REMOUNT_BIND = Policy.MS_REMOUNT | Policy.MS_BIND;

    @Test
    void mountinfoIsParsedWithEscapes() {
        Mount m = MOUNTS.getLast();
        assertEquals(new Mount(107, 100, "254:0", "/srv/my dir", "/my dir", true, "ext4"), m);
        assertTrue(MOUNTS.get(3).readOnly(), "/sys is read-only");
        assertFalse(MOUNTS.get(4).readOnly());
        assertThrows(AgentException.class, () -> Mount.parse("1 2 3\n"));
    }

    @Test
    void registersAloneDecideWhatReadsNoMemory() {
        assertEquals(Policy.Pre.CONTINUE, Policy.pre(Call.MOUNT, args(0, 0, 0, REMOUNT_BIND | Policy.MS_RDONLY)));
        // a superblock remount read-only with options: emulated, so its uid=/gid= can be given in the caller's IDs
        assertEquals(Policy.Pre.EMULATE, Policy.pre(Call.MOUNT, args(0, 0, 0, Policy.MS_REMOUNT | Policy.MS_RDONLY, 0x7000)));
        assertEquals(Policy.Pre.CONTINUE, Policy.pre(Call.MOUNT, args(0, 0, 0, Policy.MS_REMOUNT | Policy.MS_RDONLY, 0)));
        assertEquals(Policy.Pre.CONTINUE, Policy.pre(Call.MOUNT, args(0, 0, 0, REMOUNT_BIND | Policy.MS_RDONLY, 0x7000)));
        assertEquals(Policy.Pre.EMULATE, Policy.pre(Call.MOUNT, args(0, 0, 0, REMOUNT_BIND)));
        assertEquals(Policy.Pre.EMULATE, Policy.pre(Call.MOUNT, args(0, 0, 0, Policy.MS_REMOUNT)));
        assertEquals(Policy.Pre.EMULATE, Policy.pre(Call.MOUNT, args(0, 0, 0, Policy.MS_BIND)));
        assertEquals(Policy.Pre.CONTINUE, Policy.pre(Call.MOUNT, args(0, 0, 0, Policy.MS_BIND | Policy.MS_REC)));
        assertEquals(Policy.Pre.CONTINUE, Policy.pre(Call.MOUNT, args(0, 0, 0, 1L << 18))); // MS_PRIVATE
        // a new mount: its type is in memory (a new proc or sysfs gets the masks)
        assertEquals(Policy.Pre.EMULATE, Policy.pre(Call.MOUNT, args(0, 0, 0, 0xC0ED0000L)));
        assertEquals(Policy.Pre.EMULATE, Policy.pre(Call.MOUNT, args(0, 0, 0, 0)));
        // MS_SILENT (1 << 15) is not a propagation flag: busybox's --move sets it
        assertEquals(Policy.Pre.EMULATE, Policy.pre(Call.MOUNT, args(0, 0, 0, Policy.MS_MOVE | (1L << 15))));
        assertEquals(Policy.Pre.EMULATE, Policy.pre(Call.MOUNT, args(0, 0, 0, 0xC0ED0000L | Policy.MS_MOVE)));
        // open_tree: a recursive clone, or no clone, goes on; a plain clone is not supported
        assertEquals(Policy.Pre.NOT_SUPPORTED, Policy.pre(Call.OPEN_TREE, args(-100, 0, 1)));
        assertEquals(Policy.Pre.NOT_SUPPORTED, Policy.pre(Call.OPEN_TREE, args(3, 0, 1 | 0x1000 | 02000000)));
        assertEquals(Policy.Pre.CONTINUE, Policy.pre(Call.OPEN_TREE, args(-100, 0, 1 | Policy.AT_RECURSIVE)));
        assertEquals(Policy.Pre.CONTINUE, Policy.pre(Call.OPEN_TREE, args(-100, 0, 0)));
        for (Call c : List.of(Call.UMOUNT2, Call.MOVE_MOUNT, Call.MOUNT_SETATTR, Call.FSPICK, Call.FSOPEN)) {
            assertEquals(Policy.Pre.EMULATE, Policy.pre(c, args()), c.name());
        }
    }

    @Test
    void readOnlyImmutableAndItsBindsStayReadOnly() {
        Policy p = policy(true);
        long[] rw = args(0, 0, 0, REMOUNT_BIND);
        assertEquals(Native.EPERM, p.decide(Call.MOUNT, rw, new long[4], at("target", 105, "254:0"), now(), true));
        assertEquals(0, p.decide(Call.MOUNT, rw, new long[4], at("target", 104, "254:0"), now(), true), "rw volume");
        // a bind the container made of /conf/sub: same filesystem, root inside the ro volume
        List<Mount> withBind = now("200 106 254:0 /srv/conf/sub /tmp/b ro - ext4 /dev/vda1 rw");
        assertEquals(Native.EPERM, p.decide(Call.MOUNT, rw, new long[4], at("target", 200, "254:0"), withBind, true));
        // a bind of the rw volume made read-only by the container: the volume governs, not the ro rootfs
        List<Mount> rwBind = now("201 106 254:0 /srv/data /tmp/c ro - ext4 /dev/vda1 rw");
        assertEquals(0, p.decide(Call.MOUNT, rw, new long[4], at("target", 201, "254:0"), rwBind, true));
        // the container's own tmpfs
        List<Mount> own = now("202 106 0:77 / /tmp/n ro - tmpfs t ro");
        assertEquals(0, p.decide(Call.MOUNT, rw, new long[4], at("target", 202, "0:77"), own, true));
    }

    @Test
    void mountSetattrAndFspickFollowTheSameRule() {
        Policy p = policy(true);
        long[] clear = {0, Policy.MOUNT_ATTR_RDONLY, 0, 0};
        long[] set = {Policy.MOUNT_ATTR_RDONLY, 0, 0, 0};
        assertEquals(Native.EPERM, p.decide(Call.MOUNT_SETATTR, args(-100, 0, 0), clear, at("target", 105, "254:0"), now(), true));
        assertEquals(0, p.decide(Call.MOUNT_SETATTR, args(-100, 0, 0), set, at("target", 105, "254:0"), now(), true));
        // recursive from the rw tmpfs root catches nothing; from / it catches the ro volumes below
        assertEquals(0, p.decide(Call.MOUNT_SETATTR, args(-100, 0, Policy.AT_RECURSIVE), clear, at("target", 106, "0:50"), now(), true));
        assertEquals(Native.EPERM, p.decide(Call.MOUNT_SETATTR, args(-100, 0, Policy.AT_RECURSIVE), clear, at("target", 104, "254:0"),
                now("203 104 254:0 /srv/conf /data/c ro - ext4 /dev/vda1 rw"), true));
        // detached (an open_tree clone): of the ro filesystem, or a whole tree at once, stays ro
        assertEquals(Native.EPERM, p.decide(Call.MOUNT_SETATTR, args(3, 0, 0x1000), clear, at("target", 300, "254:0"), now(), true));
        assertEquals(Native.EPERM, p.decide(Call.MOUNT_SETATTR, args(3, 0, 0x1000 | Policy.AT_RECURSIVE), clear, at("target", 301, "0:77"), now(), true));
        assertEquals(0, p.decide(Call.MOUNT_SETATTR, args(3, 0, 0x1000), clear, at("target", 301, "0:77"), now(), true));
        assertEquals(Native.EPERM, p.decide(Call.FSPICK, args(), new long[4], at("target", 105, "254:0"), now(), true));
        assertEquals(0, p.decide(Call.FSPICK, args(), new long[4], at("target", 106, "0:50"), now(), true));
    }

    @Test
    void unmountRules() {
        Policy allow = policy(true);
        Policy deny = policy(false);
        long[] a = args(0, 0);
        for (int id : List.of(101, 102, 103)) {
            assertEquals(Native.EPERM, allow.decide(Call.UMOUNT2, a, new long[4], at("target", id, MOUNTS.get(id - 100).dev()), now(), true));
        }
        assertEquals(0, allow.decide(Call.UMOUNT2, a, new long[4], at("target", 104, "254:0"), now(), true));
        assertEquals(Native.EPERM, deny.decide(Call.UMOUNT2, a, new long[4], at("target", 104, "254:0"), now(), true));
        // the container's own mounts, and a bind it made of an immutable one, are its to unmount
        List<Mount> own = now("204 106 254:0 /srv/data /tmp/d rw - ext4 /dev/vda1 rw");
        assertEquals(0, deny.decide(Call.UMOUNT2, a, new long[4], at("target", 204, "254:0"), own, true));
        // a copy of a mask (an rbind of /proc) is protected like the mask itself
        List<Mount> rbind = now("205 106 0:40 / /tmp/p rw - proc proc rw", "206 205 0:6 /null /tmp/p/keys rw - devtmpfs udev rw");
        assertEquals(Native.EPERM, allow.decide(Call.UMOUNT2, a, new long[4], at("target", 206, "0:6"), rbind, true));
        // in a nested mount namespace the copies have new IDs: the same filesystem and root counts
        List<Mount> nested = Mount.parse("""
                300 299 254:0 /var/lib/c/rootfs / ro - ext4 /dev/vda1 rw
                301 300 0:40 / /proc rw - proc proc rw
                304 300 254:0 /srv/data /data rw - ext4 /dev/vda1 rw
                """);
        assertEquals(Native.EPERM, allow.decide(Call.UMOUNT2, a, new long[4], at("target", 301, "0:40"), nested, false));
        assertEquals(0, allow.decide(Call.UMOUNT2, a, new long[4], at("target", 304, "254:0"), nested, false));
        assertEquals(Native.EPERM, deny.decide(Call.UMOUNT2, a, new long[4], at("target", 304, "254:0"), nested, false));
        // moving counts as unmounting; a detached source (not in mountinfo) is a new mount
        assertEquals(Native.EPERM, allow.decide(Call.MOVE_MOUNT, args(), new long[4], at("from", 101, "0:40"), now(), true));
        assertEquals(0, allow.decide(Call.MOVE_MOUNT, args(), new long[4], at("from", 999, "0:40"), now(), true));
        assertEquals(Native.EPERM, allow.decide(Call.MOUNT, args(0, 0, 0, Policy.MS_MOVE), new long[4], at("source", 103, "0:44"), now(), true));
        // a lazy unmount of a mount that has /proc below it takes /proc with it
        assertEquals(Native.EPERM, allow.decide(Call.UMOUNT2, args(0, 2), new long[4], at("target", 100, "254:0"), now(), true));
    }

    @Test
    void aNewProcGetsTheCreationMasksAndTheAgentsView() {
        List<Mount> creation = Mount.parse(CREATION + """
                108 101 0:40 /sys /proc/sys ro,nosuid - proc proc rw
                109 101 0:60 /meminfo /proc/meminfo ro,nosuid - fuse bulwark-procview rw
                110 101 0:51 / /proc/acpi ro - tmpfs tmpfs ro
                111 103 0:52 / /sys/firmware ro - tmpfs tmpfs ro
                """);
        Policy p = new Policy(creation, true);
        assertEquals("rw\nm keys\nr sys\nv meminfo\nm acpi", p.masksFor("proc").orElseThrow());
        assertEquals("ro\nm firmware", p.masksFor("sysfs").orElseThrow(), "/sys is read-only at creation");
        assertTrue(p.masksFor("tmpfs").isEmpty());
        // no /proc at creation: nothing to copy
        assertEquals("rw", new Policy(Mount.parse("100 50 254:0 / / rw - ext4 /dev/vda1 rw\n"), true).masksFor("proc").orElseThrow());
        // a new proc at /tmp/p with the view's meminfo bound on it goes whole; the container's own view bind stays
        List<Mount> t = Mount.parse(CREATION + """
                108 101 0:40 /sys /proc/sys ro,nosuid - proc proc rw
                109 101 0:60 /meminfo /proc/meminfo ro,nosuid - fuse bulwark-procview rw
                110 101 0:51 / /proc/acpi ro - tmpfs tmpfs ro
                111 103 0:52 / /sys/firmware ro - tmpfs tmpfs ro
                300 106 0:70 / /tmp/p rw - proc proc rw
                301 300 0:60 /meminfo /tmp/p/meminfo ro,nosuid - fuse bulwark-procview rw
                """);
        assertEquals(0, p.decide(Call.UMOUNT2, args(0, 2), new long[4], at("target", 300, "0:70"), t, true));
        assertEquals(Native.EPERM, p.decide(Call.UMOUNT2, args(0, 2), new long[4], at("target", 109, "0:60"), t, true));
    }

    @Test
    void theMasksOfANewProcAreGuardsAndTheWholeMountMayGo() {
        Policy p = policy(true);
        Policy strict = p.withoutUnmounts();
        // what the helper placed on a new proc at /tmp/p (0:70): a mask from its tmpfs (0:71), a read-only bind of sys
        p.guard(List.of(new String[] {"0:71", "/f"}, new String[] {"0:70", "/sys"}), "0:70", false);
        List<Mount> t = now("300 106 0:70 / /tmp/p rw - proc proc rw", "301 300 0:71 /f /tmp/p/keys ro - tmpfs none ro",
                "302 300 0:70 /sys /tmp/p/sys ro - proc proc rw");
        long[] a = args(0, 0);
        for (Policy q : List.of(p, strict)) {
            assertEquals(Native.EPERM, q.decide(Call.UMOUNT2, a, new long[4], at("target", 301, "0:71"), t, true), "the mask");
            assertEquals(Native.EPERM, q.decide(Call.UMOUNT2, a, new long[4], at("target", 302, "0:70"), t, true), "the ro bind");
            assertEquals(Native.EPERM, q.decide(Call.MOVE_MOUNT, args(), new long[4], at("from", 301, "0:71"), t, true));
            assertEquals(Native.EPERM, q.decide(Call.MOUNT, args(0, 0, 0, REMOUNT_BIND), new long[4], at("target", 302, "0:70"), t, true));
            assertEquals(Native.EPERM, q.decide(Call.MOUNT_SETATTR, args(-100, 0, 0), new long[] {0, Policy.MOUNT_ATTR_RDONLY, 0, 0},
                    at("target", 301, "0:71"), t, true));
            assertEquals(Native.EPERM, q.decide(Call.MOUNT, args(0, 0, 0, Policy.MS_BIND), new long[4],
                    Map.of("source", new Policy.Resolved(300, true, "0:70", "/tmp/p")), t, true), "a plain bind leaves the masks out");
            // the new mount itself, with its masks: a lazy unmount or a move takes them along
            assertEquals(0, q.decide(Call.UMOUNT2, args(0, 2), new long[4], at("target", 300, "0:70"), t, true));
            assertEquals(0, q.decide(Call.MOVE_MOUNT, args(), new long[4], at("from", 300, "0:70"), t, true));
        }
        // but a mount that holds it, not being the new mount, does not take the guards away
        List<Mount> under = now("299 106 0:80 / /tmp/h rw - tmpfs t rw", "300 299 0:70 / /tmp/h/p rw - proc proc rw",
                "301 300 0:71 /f /tmp/h/p/keys ro - tmpfs none ro");
        assertEquals(0, p.decide(Call.UMOUNT2, args(0, 2), new long[4], at("target", 299, "0:80"), under, true));
        List<Mount> deep = now("299 106 0:80 / /tmp/h rw - tmpfs t rw", "301 299 0:71 /f /tmp/h/keys ro - tmpfs none ro");
        assertEquals(Native.EPERM, p.decide(Call.UMOUNT2, args(0, 2), new long[4], at("target", 299, "0:80"), deep, true));
    }

    @Test
    void aRemountVerdictChangesOnlyWithTheEpoch() {
        // What a worker's standing verdict relies on: a remount is decided on its target's mount
        // and the guards alone, and every change to the guards moves the epoch on.
        Policy p = policy(true);
        Policy strict = p.withoutUnmounts();
        List<Mount> t = now("300 106 0:70 /sys /tmp/s rw - proc proc rw");
        Mount target = t.getLast();
        long[] rw = args(0, 0, 0, REMOUNT_BIND);
        long before = p.epoch();
        assertEquals(0, p.decide(Call.MOUNT, rw, new long[4], at("target", 300, "0:70"), List.of(target), true));
        assertEquals(0, p.decide(Call.MOUNT, rw, new long[4], at("target", 300, "0:70"), List.of(target), true), "the same, asked again");
        assertEquals(before, p.epoch());
        // a new proc's read-only bind of the same filesystem and root becomes a guard: so is /tmp/s now
        p.guard(List.<String[]>of(new String[] {"0:70", "/sys"}), "0:70", false);
        assertTrue(p.epoch() > before, "a guard was added and the epoch stayed");
        assertEquals(strict.epoch(), p.epoch(), "a container's policies share their guards, and so the epoch");
        assertEquals(Native.EPERM, p.decide(Call.MOUNT, rw, new long[4], at("target", 300, "0:70"), List.of(target), true));
    }

    /**
     * Nested mount namespaces as runc and systemd leave them inside a system container. runc:
     * pivot_root(".", ".") stacks the old root (a copy of the container's, with /proc and its
     * mask) on the new root, then lazily unmounts it. systemd: an rbind of "/" at
     * /run/systemd/unit-root, moved onto "/".
     */
    @Test
    void runcsOldRootAndSystemdsMoveOfAnRbindInANestedNamespace() {
        Policy p = policy(true);
        Policy strict = p.withoutUnmounts();
        List<Mount> pivoted = Mount.parse("""
                500 499 0:90 / / rw - overlay overlay rw
                501 500 254:0 /var/lib/c/rootfs / ro - ext4 /dev/vda1 rw
                502 501 0:40 / /proc rw - proc proc rw
                503 502 0:6 /null /proc/keys rw - devtmpfs udev rw
                """);
        long[] detach = args(0, 2);
        for (Policy q : List.of(p, strict)) {
            assertEquals(0, q.decide(Call.UMOUNT2, detach, new long[4], at("target", 501, "254:0"), pivoted, false), "the old root");
            assertEquals(Native.EPERM, q.decide(Call.UMOUNT2, detach, new long[4], at("target", 502, "0:40"), pivoted, false),
                    "its /proc alone");
        }
        // the same root in the container's own namespace, or a copy not stacked on the root, keeps its masks
        assertEquals(Native.EPERM, p.decide(Call.UMOUNT2, detach, new long[4], at("target", 100, "254:0"), now(), true));
        List<Mount> aside = Mount.parse("""
                500 499 0:90 / / rw - overlay overlay rw
                501 500 254:0 /var/lib/c/rootfs /old ro - ext4 /dev/vda1 rw
                502 501 0:40 / /old/proc rw - proc proc rw
                503 502 0:6 /null /old/proc/keys rw - devtmpfs udev rw
                """);
        assertEquals(Native.EPERM, p.decide(Call.UMOUNT2, detach, new long[4], at("target", 501, "254:0"), aside, false));

        List<Mount> unit = Mount.parse("""
                600 599 254:0 /var/lib/c/rootfs / ro - ext4 /dev/vda1 rw
                601 600 0:40 / /proc rw - proc proc rw
                602 601 0:6 /null /proc/keys rw - devtmpfs udev rw
                605 600 254:0 /srv/conf /conf ro - ext4 /dev/vda1 rw
                610 600 254:0 /var/lib/c/rootfs /run/systemd/unit-root ro - ext4 /dev/vda1 rw
                611 610 0:40 / /run/systemd/unit-root/proc rw - proc proc rw
                612 611 0:6 /null /run/systemd/unit-root/proc/keys rw - devtmpfs udev rw
                """);
        long[] move = args(0, 0, 0, Policy.MS_MOVE);
        for (Policy q : List.of(p, strict)) {
            assertEquals(0, q.decide(Call.MOUNT, move, new long[4], Map.of("source", new Policy.Resolved(610, true, "254:0")), unit, false),
                    "the rbind of / and everything on it moves along");
            assertEquals(Native.EPERM, q.decide(Call.MOUNT, move, new long[4], Map.of("source", new Policy.Resolved(612, true, "0:6")),
                    unit, false), "the mask");
            assertEquals(Native.EPERM, q.decide(Call.MOVE_MOUNT, args(), new long[4], at("from", 611, "0:40"), unit, false), "/proc");
        }
        // an immutable mount's copy at its own place: movable unless allow-immutable-unmounts is off
        assertEquals(0, p.decide(Call.MOVE_MOUNT, args(), new long[4], at("from", 605, "254:0"), unit, false));
        assertEquals(Native.EPERM, strict.decide(Call.MOVE_MOUNT, args(), new long[4], at("from", 605, "254:0"), unit, false));
        assertEquals(Native.EPERM, strict.decide(Call.MOVE_MOUNT, args(), new long[4], at("from", 105, "254:0"), now(), true));
        assertTrue(Policy.stackedOnRoot(pivoted.get(1), Map.of(500, pivoted.get(0), 501, pivoted.get(1))));
        assertFalse(Policy.stackedOnRoot(pivoted.get(0), Map.of(500, pivoted.get(0), 501, pivoted.get(1))));
    }

    @Test
    void aLandlockedContainersMountsAreRefusedAsLandlockWould() {
        Policy p = new Policy(MOUNTS, true, true);
        assertTrue(p.withoutUnmounts().landlocked());
        assertEquals(Native.EPERM, p.decide(Call.MOUNT, args(0, 0, 0, 0), new long[4], Map.of(), List.of(), true));
        assertEquals(Native.EPERM, p.decide(Call.UMOUNT2, args(0, 0), new long[4], at("target", 106, "0:50"), now(), true));
        assertEquals(Native.EPERM, p.decide(Call.MOVE_MOUNT, args(), new long[4], at("from", 999, "0:40"), now(), true));
        assertEquals(0, policy(true).decide(Call.MOUNT, args(0, 0, 0, 0), new long[4], Map.of(), List.of(), true));
        assertTrue(Agent.landlocked("allow-immutable-unmounts=true landlock=on"));
        assertFalse(Agent.landlocked("allow-immutable-unmounts=true"));
        assertTrue(Agent.allowUnmounts("allow-immutable-unmounts=true landlock=on"));
    }

    @Test
    void plainBindsThatWouldShowAMaskedPathAreRefused() {
        Policy p = policy(true);
        long[] bind = args(0, 0, 0, Policy.MS_BIND);
        Map<String, Policy.Resolved> proc = Map.of("source", new Policy.Resolved(101, true, "0:40", "/proc"));
        Map<String, Policy.Resolved> self = Map.of("source", new Policy.Resolved(101, false, "0:40", "/proc/self"));
        Map<String, Policy.Resolved> data = Map.of("source", new Policy.Resolved(104, true, "254:0", "/data"));
        assertEquals(Native.EPERM, p.decide(Call.MOUNT, bind, new long[4], proc, now(), true));
        assertEquals(0, p.decide(Call.MOUNT, bind, new long[4], self, now(), true));
        assertEquals(0, p.decide(Call.MOUNT, bind, new long[4], data, now(), true));
    }

    @Test
    void listenerMetadata() {
        assertTrue(Agent.allowUnmounts(""));
        assertTrue(Agent.allowUnmounts("allow-immutable-unmounts=true"));
        assertFalse(Agent.allowUnmounts("allow-immutable-unmounts=false"));
        assertThrows(AgentException.class, () -> Agent.allowUnmounts("allow-immutable-unmounts=maybe"));
    }

    @Test
    void syscallNumbers() {
        assertEquals(Call.MOUNT, Call.of(0xc000003e, 165).orElseThrow());
        assertEquals(Call.UMOUNT2, Call.of(0xc000003e, 166).orElseThrow());
        assertEquals(Call.MOUNT_SETATTR, Call.of(0xc00000b7, 442).orElseThrow());
        assertEquals(Call.MOUNT, Call.of(0xc00000b7, 40).orElseThrow());
        assertEquals(Call.FSOPEN, Call.of(0xc000003e, 430).orElseThrow());
        assertTrue(Call.of(0xc000003e, 431).isEmpty(), "fsconfig is not trapped");
    }
}
