package dev.bulwark.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.bulwark.json.Json;
import dev.bulwark.spec.SpecException;
import dev.bulwark.spec.SpecReader;
import dev.bulwark.stage.Op;
import dev.bulwark.json.JsonTree;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The planner's decisions, checked on the plan it writes (no root, no container). */
class PlannerTest {
    /** A host with the capabilities of a full root and one cgroup v2 mount. */
    private static final HostInfo HOST = new HostInfo(40, (1L << 41) - 1,
            () -> List.of(new HostInfo.CgroupMount("/sys/fs/cgroup", "cgroup2", "rw")), () -> List.of("0::/user.slice"));

    @TempDir
    Path bundle;
    Map<String, Object> config;

    @BeforeEach
    @SuppressWarnings("unchecked")
    void config() throws Exception {
        Files.createDirectories(bundle.resolve("rootfs"));
        config = (Map<String, Object>) JsonTree.mutable(DefaultSpec.build(List.of("sh"), "rootfs"));
    }

    @SuppressWarnings("unchecked")
    private Map<String, Object> sub(String key) {
        return (Map<String, Object>) config.get(key);
    }

    private List<Op> plan() {
        var spec = SpecReader.parse(Json.write(JsonTree.value(config)));
        return Planner.plan(new Planner.Request(spec, bundle, bundle.resolve("state"), Planner.Mode.RUN, 0, false,
                Planner.CgroupSetup.NONE), HOST);
    }

    private static int index(List<Op> ops, Class<? extends Op> type) {
        for (int i = 0; i < ops.size(); i++) {
            if (type.isInstance(ops.get(i))) {
                return i;
            }
        }
        return -1;
    }

    private static Map<String, Object> map(Object... kv) {
        Map<String, Object> m = new HashMap<>();
        for (int i = 0; i < kv.length; i += 2) {
            m.put((String) kv[i], kv[i + 1]);
        }
        return m;
    }

    @Test
    void kernelOrderOfTheHardenedDefault() {
        List<Op> ops = plan();
        // phases never go back (the encoder would refuse otherwise)
        for (int i = 1; i < ops.size(); i++) {
            assertTrue(ops.get(i - 1).phase() <= ops.get(i).phase(), ops.get(i - 1) + " before " + ops.get(i));
        }
        int pivot = index(ops, Op.PivotRoot.class);
        assertTrue(index(ops, Op.Rootfs.class) < index(ops, Op.Mount.class));
        assertTrue(index(ops, Op.Mount.class) < pivot);
        assertTrue(pivot < index(ops, Op.Readonly.class), "read-only paths are resolved in the new root");
        assertTrue(index(ops, Op.Readonly.class) < index(ops, Op.Mask.class));
        assertTrue(index(ops, Op.Mask.class) < index(ops, Op.Setattr.class), "the root goes read-only last");
        assertTrue(index(ops, Op.CapsBounding.class) < index(ops, Op.SetUser.class), "the bounding set needs CAP_SETPCAP");
        assertTrue(index(ops, Op.SetUser.class) < index(ops, Op.Caps.class));
        assertTrue(index(ops, Op.NoNewPrivs.class) < index(ops, Op.Seccomp.class), "with no_new_privs the filter is last");
        assertEquals(ops.size() - 2, index(ops, Op.Seccomp.class));
        assertTrue(ops.getLast() instanceof Op.Exec);
        Op.Clone clone = (Op.Clone) ops.get(index(ops, Op.Clone.class));
        assertEquals(Namespaces.CLONE_NEWPID | Namespaces.CLONE_NEWNET | Namespaces.CLONE_NEWIPC | Namespaces.CLONE_NEWUTS
                | Namespaces.CLONE_NEWNS | Namespaces.CLONE_NEWCGROUP, clone.flags());
        assertEquals(-1, index(ops, Op.UidMap.class));
        assertTrue(ops.stream().anyMatch(o -> o instanceof Op.Mknod m && m.path().equals("/dev/null") && m.mode() == 020666));
    }

    @Test
    void withoutNoNewPrivsTheFilterLoadsWhileCapSysAdminIsHeld() {
        sub("process").put("noNewPrivileges", false);
        List<Op> ops = plan();
        assertTrue(index(ops, Op.Seccomp.class) < index(ops, Op.CapsBounding.class));
        assertEquals(-1, index(ops, Op.NoNewPrivs.class));
    }

    @Test
    @SuppressWarnings("unchecked")
    void userNamespaceMapsIdsAndBindsDevices() {
        ((List<Object>) sub("linux").get("namespaces")).add(map("type", "user"));
        sub("linux").put("uidMappings", List.of(map("containerID", 0, "hostID", 100000, "size", 65536)));
        sub("linux").put("gidMappings", List.of(map("containerID", 0, "hostID", 200000, "size", 1000),
                map("containerID", 1000, "hostID", 300000, "size", 10)));
        List<Op> ops = plan();
        assertEquals(new Op.UidMap("0 100000 65536\n"), ops.get(index(ops, Op.UidMap.class)));
        assertEquals(new Op.GidMap("0 200000 1000\n1000 300000 10\n"), ops.get(index(ops, Op.GidMap.class)));
        assertTrue(index(ops, Op.BecomeRoot.class) >= 0);
        assertEquals(-1, index(ops, Op.Mknod.class), "mknod is not allowed in a user namespace");
        assertTrue(ops.contains(new Op.Bind("/dev/null", "/dev/null", false, 0, 0)));
        // the devpts gid=5 option needs gid 5 mapped; runc's default config has it, ours keeps it
        assertTrue(ops.stream().anyMatch(o -> o instanceof Op.Mount m && m.fstype().equals("devpts")));
    }

    @Test
    @SuppressWarnings("unchecked")
    void joinedNamespacesUserLast() throws Exception {
        Path ns = Files.createFile(bundle.resolve("fake-ns"));
        List<Object> nss = (List<Object>) sub("linux").get("namespaces");
        nss.clear();
        nss.add(map("type", "user", "path", ns.toString()));
        nss.add(map("type", "network", "path", ns.toString()));
        nss.add(map("type", "mount"));
        nss.add(map("type", "uts"));
        List<Op> ops = plan();
        List<Op> joins = ops.stream().filter(o -> o instanceof Op.Setns).toList();
        assertEquals(List.of(new Op.Setns(ns.toString(), Namespaces.CLONE_NEWNET), new Op.Setns(ns.toString(), Namespaces.CLONE_NEWUSER)), joins);
        assertTrue(index(ops, Op.BecomeRoot.class) >= 0);
    }

    @Test
    void mountOptionsBecomeFlagsAttributesAndData() {
        MountOptions o = MountOptions.parse(List.of("rbind", "ro", "nosuid", "noatime", "rshared", "size=1m"), "m");
        assertTrue(o.bind() && o.recursive());
        assertEquals(MountOptions.MOUNT_ATTR_RDONLY | MountOptions.MOUNT_ATTR_NOSUID | MountOptions.MOUNT_ATTR_NOATIME, o.attrSet());
        assertEquals(MountOptions.MOUNT_ATTR__ATIME, o.attrClr());
        assertEquals(MountOptions.MS_SHARED, o.propagation());
        assertTrue(o.propagationRecursive());
        assertEquals("size=1m", o.data());
        SpecException e = assertThrows(SpecException.class, () -> MountOptions.parse(List.of("ro", "remount"), "mounts[2].options"));
        assertEquals("mounts[2].options[1]: \"remount\" is not valid in a container mount", e.getMessage());
    }

    @Test
    @SuppressWarnings("unchecked")
    void sysfsInAUserNamespaceWithTheHostNetworkIsABind() {
        List<Object> nss = (List<Object>) sub("linux").get("namespaces");
        nss.removeIf(n -> ((Map<?, ?>) n).get("type").equals("network"));
        nss.add(map("type", "user"));
        sub("linux").put("uidMappings", List.of(map("containerID", 0, "hostID", 100000, "size", 65536)));
        sub("linux").put("gidMappings", List.of(map("containerID", 0, "hostID", 100000, "size", 65536)));
        List<Op> ops = plan();
        assertTrue(ops.stream().anyMatch(op -> op instanceof Op.Bind b && b.source().equals("/sys") && b.path().equals("/sys")
                && (b.attrSet() & MountOptions.MOUNT_ATTR_RDONLY) != 0), ops.toString());
        assertFalse(ops.stream().anyMatch(op -> op instanceof Op.Mount m && m.fstype().equals("sysfs")));
    }

    @Test
    void capabilitiesAboveTheKernelsLastAreDroppedNotGranted() {
        HostInfo old = new HostInfo(37, (1L << 38) - 1, HOST.cgroupMounts(), HOST.ownCgroups());
        sub("process").put("capabilities", map("bounding", List.of("CAP_CHOWN", "CAP_BPF"), "permitted", List.of("CAP_CHOWN")));
        var spec = SpecReader.parse(Json.write(JsonTree.value(config)));
        List<Op> ops = Planner.plan(new Planner.Request(spec, bundle, bundle.resolve("s"), Planner.Mode.RUN, 0, false,
                Planner.CgroupSetup.NONE), old);
        assertEquals(new Op.CapsBounding(1, 37), ops.get(index(ops, Op.CapsBounding.class)));
    }

    @Test
    void makedevMatchesTheKernelEncoding() {
        assertEquals(0x103L, Planner.makedev(1, 3));
        assertEquals(0x8805L, Planner.makedev(136, 5));
        assertEquals((0x1234L & 0xfff) << 8 | ((0x1234L & 0xfffff000L) << 32) | 0x56L, Planner.makedev(0x1234, 0x56));
        assertEquals(((0x123456L & 0xffffff00L) << 12) | 0x56L, Planner.makedev(0, 0x123456));
    }
}
