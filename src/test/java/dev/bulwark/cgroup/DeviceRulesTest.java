package dev.bulwark.cgroup;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.bulwark.spec.Spec.DeviceCgroup;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import org.junit.jupiter.api.Test;

class DeviceRulesTest {
    static final int R = DeviceRules.ACC_READ, W = DeviceRules.ACC_WRITE, M = DeviceRules.ACC_MKNOD;

    static DeviceCgroup rule(boolean allow, String type, long major, long minor, String access) {
        return new DeviceCgroup(allow, type, major < 0 ? Optional.empty() : Optional.of(major),
                minor < 0 ? Optional.empty() : Optional.of(minor), access);
    }

    /** The rules Docker passes for a default container. */
    static final List<DeviceCgroup> DOCKER = List.of(
            rule(false, "a", -1, -1, "rwm"),
            rule(true, "c", -1, -1, "m"),
            rule(true, "b", -1, -1, "m"),
            rule(true, "c", 1, 3, "rwm"),
            rule(true, "c", 1, 5, "rwm"),
            rule(true, "c", 1, 7, "rwm"),
            rule(true, "c", 5, 0, "rwm"),
            rule(true, "c", 5, 1, "rwm"),
            rule(true, "c", 1, 8, "rwm"),
            rule(true, "c", 1, 9, "rwm"),
            rule(true, "c", 5, 2, "rwm"),
            rule(true, "c", 136, -1, "rwm"),
            rule(true, "c", 10, 200, "rwm"));

    static int type(char t) {
        return t == 'b' ? DeviceRules.DEV_BLOCK : DeviceRules.DEV_CHAR;
    }

    @Test
    void dockerDefaultsAsV1Lines() {
        List<DeviceRules.V1Write> w = DeviceRules.of(DOCKER).v1Writes();
        assertEquals(new DeviceRules.V1Write("devices.deny", "a", "linux.resources.devices"), w.get(0));
        assertEquals(new DeviceRules.V1Write("devices.deny", "a", "linux.resources.devices[0]"), w.get(1));
        assertEquals(new DeviceRules.V1Write("devices.allow", "c *:* m", "linux.resources.devices[1]"), w.get(2));
        assertEquals(new DeviceRules.V1Write("devices.allow", "c 136:* rwm", "linux.resources.devices[11]"), w.get(12));
        assertEquals(new DeviceRules.V1Write("devices.allow", "c 10:200 rwm", "linux.resources.devices[12]"), w.get(13));
        assertEquals(14, w.size());
    }

    @Test
    void dockerDefaultsAsBpfProgram() {
        DeviceProgram p = DeviceRules.of(DOCKER).v2Program(Path.of("/sys/fs/cgroup/x"));
        assertEquals(Path.of("/sys/fs/cgroup/x"), p.cgroupDir());
        BpfInterpreter vm = new BpfInterpreter(p.instructions());
        assertEquals(1, vm.run(type('c'), R | W, 1, 3), "/dev/null read-write");
        assertEquals(1, vm.run(type('c'), R | W, 136, 42), "a pty");
        assertEquals(1, vm.run(type('c'), M, 4, 1), "mknod of any char device");
        assertEquals(1, vm.run(type('b'), M, 8, 0), "mknod of any block device");
        assertEquals(0, vm.run(type('b'), R, 8, 0), "reading /dev/sda");
        assertEquals(0, vm.run(type('c'), R | W, 4, 1), "a tty that is not allowed");
        assertEquals(0, vm.run(type('c'), R | W, 10, 229), "/dev/fuse");
        assertEquals(0, vm.run(type('c'), R, 1, 4), "/dev/port");
        assertEquals(1, vm.run(type('c'), W, 10, 200), "/dev/net/tun write");
    }

    @Test
    void programEncodingIsLittleEndianBpfInsns() {
        byte[] b = DeviceRules.of(List.of(rule(true, "c", 1, 3, "rwm"))).v2Program(Path.of("/x")).instructions();
        assertEquals(0, b.length % 8);
        // ldxw r2, [r1+0]: opcode 0x61, dst r2 in the low nibble, src r1 in the high nibble.
        assertEquals(0x61, b[0] & 0xFF);
        assertEquals(0x12, b[1] & 0xFF);
        // the program ends "mov r0, 0; exit" (deny by default)
        int n = b.length;
        assertEquals(0xb7, b[n - 16] & 0xFF);
        assertEquals(0, b[n - 12]);
        assertEquals(0x95, b[n - 8] & 0xFF);
    }

    @Test
    void privilegedAllowsEverything() {
        DeviceRules r = DeviceRules.of(List.of(rule(false, "a", -1, -1, "rwm"), rule(true, "a", -1, -1, "rwm")));
        BpfInterpreter vm = new BpfInterpreter(r.v2Program(Path.of("/x")).instructions());
        assertEquals(1, vm.run(type('b'), R | W | M, 8, 0));
        assertEquals(List.of("a", "a", "a"), r.v1Writes().stream().map(DeviceRules.V1Write::line).toList());
    }

    @Test
    void noRulesDeniesEverything() {
        BpfInterpreter vm = new BpfInterpreter(DeviceRules.of(List.of()).v2Program(Path.of("/x")).instructions());
        assertEquals(0, vm.run(type('c'), R, 1, 3));
    }

    @Test
    void typeAWithNumbersCoversBlockAndChar() {
        DeviceRules r = DeviceRules.of(List.of(rule(true, "a", 7, -1, "r")));
        assertEquals(List.of("a", "b 7:* r", "c 7:* r"), r.v1Writes().stream().map(DeviceRules.V1Write::line).toList());
        BpfInterpreter vm = new BpfInterpreter(r.v2Program(Path.of("/x")).instructions());
        assertEquals(1, vm.run(type('b'), R, 7, 1));
        assertEquals(1, vm.run(type('c'), R, 7, 1));
        assertEquals(0, vm.run(type('c'), R | W, 7, 1));
    }

    @Test
    void denyingPartOfAWiderAllowIsRefused() {
        CgroupException e = assertThrows(CgroupException.class, () -> DeviceRules.of(List.of(
                rule(true, "c", -1, -1, "rwm"), rule(false, "c", 1, 3, "w"))).v1Writes());
        assertTrue(e.getMessage().startsWith("linux.resources.devices[1]: cannot deny \"c 1:3 w\" across the earlier rule \"c *:* rwm\""),
                e.getMessage());
        // the mknod wildcard Docker allows cannot be narrowed afterwards on v1 either
        List<DeviceCgroup> fuse = new ArrayList<>(DOCKER);
        fuse.add(rule(false, "c", 10, 229, "rwm"));
        assertTrue(assertThrows(CgroupException.class, () -> DeviceRules.of(fuse).v2Program(Path.of("/x"))).getMessage()
                .startsWith("linux.resources.devices[13]: cannot deny \"c 10:229 rwm\" across the earlier rule \"c *:* m\""));
        // ... but a deny of bits the wildcard does not grant is no conflict
        fuse.set(13, rule(false, "c", 10, 229, "rw"));
        DeviceRules.of(fuse).v1Writes();
        // the same rule on exactly the same devices is fine: it takes bits away
        DeviceRules ok = DeviceRules.of(List.of(rule(true, "c", 1, 3, "rwm"), rule(false, "c", 1, 3, "w")));
        BpfInterpreter vm = new BpfInterpreter(ok.v2Program(Path.of("/x")).instructions());
        assertEquals(1, vm.run(type('c'), R, 1, 3));
        assertEquals(0, vm.run(type('c'), R | W, 1, 3));
    }

    @Test
    void badRulesNameTheField() {
        assertEquals("linux.resources.devices[0].type: expected \"a\", \"b\" or \"c\", found \"x\"",
                assertThrows(CgroupException.class, () -> DeviceRules.of(List.of(rule(true, "x", 1, 1, "r")))).getMessage());
        assertEquals("linux.resources.devices[0].access: expected letters from \"rwm\", found \"rwx\"",
                assertThrows(CgroupException.class, () -> DeviceRules.of(List.of(rule(true, "c", 1, 1, "rwx")))).getMessage());
        assertTrue(assertThrows(CgroupException.class, () -> DeviceRules.of(List.of(
                new DeviceCgroup(true, "c", Optional.of(-5L), Optional.empty(), "r")))).getMessage()
                .startsWith("linux.resources.devices[0].major: expected a device number"));
        assertTrue(assertThrows(CgroupException.class, () -> DeviceRules.of(List.of(
                rule(true, "a", -1, -1, "r"))).v1Writes()).getMessage().startsWith("linux.resources.devices[0]: cannot allow only \"r\""));
    }

    /**
     * For random rule lists, the v2 program decides every access exactly as the v1 kernel does
     * after the v1 writes: the two versions mean the same.
     */
    @Test
    void bpfProgramAgreesWithV1KernelModel() {
        Random rnd = new Random(20240611);
        long[] majors = {-1, 1, 5, 8};
        long[] minors = {-1, 0, 3};
        String[] types = {"a", "b", "c"};
        int accepted = 0, refused = 0, checks = 0;
        for (int n = 0; n < 3000; n++) {
            List<DeviceCgroup> rules = new ArrayList<>();
            int len = 1 + rnd.nextInt(6);
            for (int i = 0; i < len; i++) {
                String t = types[rnd.nextInt(3)];
                long ma = majors[rnd.nextInt(majors.length)];
                long mi = minors[rnd.nextInt(minors.length)];
                String acc = DeviceRules.accessString(1 + rnd.nextInt(7));
                if (t.equals("a") && ma < 0 && mi < 0) {
                    acc = "rwm";
                }
                rules.add(rule(rnd.nextBoolean(), t, ma, mi, acc));
            }
            DeviceRules dr = DeviceRules.of(rules);
            List<DeviceRules.V1Write> writes;
            try {
                writes = dr.v1Writes();
            } catch (CgroupException e) {
                refused++;
                continue;
            }
            accepted++;
            KernelDevicesV1 kernel = new KernelDevicesV1();
            writes.forEach(w -> kernel.write(w.file(), w.line()));
            BpfInterpreter vm = new BpfInterpreter(dr.v2Program(Path.of("/x")).instructions());
            for (char t : new char[] {'b', 'c'}) {
                for (long ma : new long[] {1, 5, 8, 9}) {
                    for (long mi : new long[] {0, 3, 7}) {
                        for (int acc = 1; acc <= 7; acc++) {
                            boolean want = kernel.permits(t, ma, mi, acc);
                            long got = vm.run(type(t), acc, (int) ma, (int) mi);
                            int a = acc;
                            assertEquals(want ? 1 : 0, got, () -> "rules " + rules + " access " + t + " " + ma + ":" + mi
                                    + " " + DeviceRules.accessString(a));
                            checks++;
                        }
                    }
                }
            }
        }
        assertTrue(accepted > 1000 && refused > 50, "accepted " + accepted + ", refused " + refused);
        assertTrue(checks > 100_000);
    }
}
