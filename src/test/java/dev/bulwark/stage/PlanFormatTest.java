package dev.bulwark.stage;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.bulwark.testing.TestEnv;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Java's PlanEncoder and the stage's C reader must agree on every op: a plan with each op type
 * is encoded in Java and read back by the real plan.c (compiled into a small dump tool).
 */
class PlanFormatTest {
    @TempDir
    static Path tmp;
    private static Path dump;

    @BeforeAll
    static void buildDump() throws Exception {
        Path c = TestEnv.sourceDir().resolve("src/main/c");
        dump = tmp.resolve("plan_dump");
        Process p = new ProcessBuilder("gcc", "-std=c11", "-D_GNU_SOURCE", "-Wall", "-Werror", "-fsanitize=address,undefined",
                "-I", c.toString(), "-o", dump.toString(), c.resolve("plan.c").toString(),
                TestEnv.sourceDir().resolve("src/test/c/stage/plan_dump.c").toString())
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertEquals(0, p.waitFor(), out);
    }

    private static String run(byte[] plan) throws Exception {
        Path f = Files.createTempFile(tmp, "plan", ".bin");
        Files.write(f, plan);
        Process p = new ProcessBuilder(dump.toString(), f.toString()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        p.waitFor();
        return out;
    }

    /** One of every op, in phase order, with values that catch swapped or truncated fields. */
    static List<Op> everyOp() {
        List<Op> ops = new ArrayList<>();
        ops.add(new Op.ErrorFile("/run/x/err"));
        ops.add(new Op.PidFile("/run/x/pid"));
        ops.add(new Op.ControlFifo("/run/x/ctl"));
        ops.add(new Op.Mode(1, 1));
        ops.add(new Op.PreserveFds(3));
        ops.add(new Op.SeccompListener("/run/l.sock", List.of("{\"pid\":", ",\"x\":", "}")));
        ops.add(new Op.ExecFifo("/run/x/exec.fifo"));
        ops.add(new Op.ConsoleSocket("/run/console.sock"));
        ops.add(new Op.Hook(1, "/bin/hook", List.of("hook", "-x"), List.of("A=b"), 5));
        ops.add(new Op.HookState(List.of("{\"status\":\"", "\",\"pid\":", "}")));
        ops.add(new Op.CgroupJoin("/sys/fs/cgroup/pids/a/cgroup.procs"));
        ops.add(new Op.CgroupDevices("/sys/fs/cgroup/a", new byte[] {1, 2, 3, 4, 5, 6, 7, 8}, 15, 6, 2, "GPL"));
        ops.add(new Op.OomScoreAdj(-999));
        ops.add(new Op.Rlimit(7, 0x1234_5678_9abcL, -1L));
        ops.add(new Op.Setns("/proc/1/ns/net", 0x40000000));
        ops.add(new Op.Timens("monotonic 1 2\n"));
        ops.add(new Op.Clone(0x7e020000L));
        ops.add(new Op.UidMap("0 100000 65536\n"));
        ops.add(new Op.GidMap("0 100000 65536\n"));
        ops.add(new Op.IdmapTree("/var/lib/x/merged", true, 0x1L, 0x2L));
        ops.add(new Op.IdmapOverlay(List.of("/l/a", "/l/b"), "/u", "/w", 3000000000L, 2000000));
        ops.add(new Op.Setsid());
        ops.add(new Op.BecomeRoot());
        ops.add(new Op.Hostname("h"));
        ops.add(new Op.Domainname("d"));
        ops.add(new Op.LoopbackUp());
        ops.add(new Op.Propagation("/", 0x84000L));
        ops.add(new Op.Rootfs("/b/rootfs"));
        ops.add(new Op.RootfsTree("/b/rootfs"));
        ops.add(new Op.BindTree("/etc/resolv.conf"));
        ops.add(new Op.Mkpath("/dev/pts", 1, 0755));
        ops.add(new Op.Mount("tmpfs", "/dev", "tmpfs", 0x100000aL, "mode=755"));
        ops.add(new Op.Bind("/src", "/dst", true, 0x1L, 0x70L));
        ops.add(new Op.Setattr("/", false, 1, 0, 0x40000L));
        ops.add(new Op.Mknod("/dev/null", 020666, 0x103L, 0, 5));
        ops.add(new Op.Symlink("pts/ptmx", "/dev/ptmx"));
        ops.add(new Op.WaitFifo("/run/x/exec.fifo"));
        ops.add(new Op.Console(24, 80, true));
        ops.add(new Op.OpenRoot());
        ops.add(new Op.SessionKeyring("_ses.x"));
        ops.add(new Op.Hooks());
        ops.add(new Op.PivotRoot(false));
        ops.add(new Op.Mask("/proc/kcore"));
        ops.add(new Op.Readonly("/proc/sys"));
        ops.add(new Op.Write("/proc/sys/net/ipv4/ip_forward", "1"));
        ops.add(new Op.Chdir("/work"));
        ops.add(new Op.Umask(022));
        ops.add(new Op.Personality(8));
        ops.add(new Op.CapsBounding(0xa80425fbL, 40));
        ops.add(new Op.SetUser(1000, 1001, List.of(10L, 4294967295L)));
        ops.add(new Op.Caps(1, 2, 4, 8));
        ops.add(new Op.NoNewPrivs());
        ops.add(new Op.LandlockRuleset(0x7fffL));
        ops.add(new Op.LandlockRule("/tmp", 0x7fffL, 0x4007L));
        ops.add(new Op.LandlockRestrict(0x2L, 0x4L, 0x2L));
        ops.add(new Op.Seccomp(1, new byte[] {6, 0, 0, 0, 0, 0, (byte) 0xff, 0x7f}, true));
        ops.add(new Op.ProcAttr("apparmor/exec", "exec x"));
        ops.add(new Op.Chroot("/proc/1/root"));
        ops.add(new Op.Exec("/bin:/usr/bin", List.of("sh", "-c", "echo é"), List.of("A=1", "PATH=/bin")));
        return ops;
    }

    @Test
    void everyOpRoundTripsThroughTheStageReader() throws Exception {
        String out = run(PlanEncoder.encode(everyOp()));
        List<String> lines = out.lines().toList();
        assertEquals(everyOp().size(), lines.size(), out);
        // Names come from plan.c's schema; field values from its decoder.
        assertEquals("ERROR_FILE s=/run/x/err", lines.get(0));
        assertEquals("SECCOMP_LISTENER s=/run/l.sock v=[{\"pid\":,,\"x\":,}]", lines.get(5));
        assertEquals("EXEC_FIFO s=/run/x/exec.fifo", lines.get(6));
        assertEquals("HOOK s=/bin/hook v=[hook,-x] v=[A=b]", lines.get(8));
        assertEquals("CGROUP_DEVICES s=/sys/fs/cgroup/a s=GPL b=8:0102030405060708", lines.get(11));
        assertEquals("IDMAP_TREE s=/var/lib/x/merged", lines.get(19));
        assertEquals("IDMAP_OVERLAY s=/u s=/w v=[/l/a,/l/b]", lines.get(20));
        assertEquals("BIND_TREE s=/etc/resolv.conf", lines.get(29));
        assertEquals("MOUNT s=tmpfs s=/dev s=tmpfs s=mode=755", lines.get(31));
        assertEquals("SET_USER v=[10,4294967295]", lines.get(49));
        assertEquals("LANDLOCK_RULE s=/tmp", lines.get(53));
        assertEquals("SECCOMP b=8:06000000" + "0000ff7f", lines.get(55));
        assertEquals("PROC_ATTR s=apparmor/exec s=exec x", lines.get(56));
        assertEquals("CHROOT s=/proc/1/root", lines.get(57));
        assertEquals("EXEC s=/bin:/usr/bin v=[sh,-c,echo é] v=[A=1,PATH=/bin]", lines.get(58));
        for (int i = 0; i < lines.size(); i++) {
            String name = everyOp().get(i).getClass().getSimpleName().replaceAll("([a-z])([A-Z])", "$1_$2").toUpperCase();
            assertTrue(lines.get(i).startsWith(name), lines.get(i) + " is not " + name);
        }
    }

    @Test
    void everyOpTypeIsCoveredAndCodesAreUnique() {
        java.util.Set<Integer> codes = new java.util.HashSet<>();
        java.util.Set<Class<?>> types = new java.util.HashSet<>();
        for (Op op : everyOp()) {
            assertTrue(codes.add(op.code()), "opcode " + op.code() + " used twice");
            types.add(op.getClass());
        }
        assertEquals(java.util.Set.of(Op.class.getPermittedSubclasses()), types, "everyOp() must hold one of each op");
    }

    @Test
    void numbersSurviveTheTrip() throws Exception {
        // The dump prints strings; integers are checked through the bytes the encoder wrote.
        byte[] plan = PlanEncoder.encode(List.of(new Op.Rlimit(7, 0x1122334455667788L, -1L), new Op.Clone(0),
                new Op.Exec("", List.of("x"), List.of())));
        String hex = HexFormat.of().formatHex(plan);
        assertTrue(hex.startsWith("4257504c414e0001" + "01000000" + "03000000" + "0c00" + "0000" + "14000000"
                + "07000000" + "8877665544332211" + "ffffffffffffffff"), hex);
        assertEquals("RLIMIT\nCLONE\nEXEC s= v=[x] v=[]\n", run(plan));
    }

    @Test
    void theReaderRejectsMalformedPlans() throws Exception {
        byte[] good = PlanEncoder.encode(List.of(new Op.Clone(0), new Op.Exec("", List.of("x"), List.of())));
        assertTrue(run(good).startsWith("CLONE"));
        byte[] badMagic = good.clone();
        badMagic[0] = 'X';
        assertEquals("ERROR plan: bad magic\n", run(badMagic));
        byte[] badVersion = good.clone();
        badVersion[8] = 2;
        assertTrue(run(badVersion).startsWith("ERROR plan: version 2 is not supported"));
        byte[] truncated = java.util.Arrays.copyOf(good, good.length - 1);
        assertTrue(run(truncated).startsWith("ERROR plan: "), run(truncated));
        byte[] trailing = java.util.Arrays.copyOf(good, good.length + 1);
        assertTrue(run(trailing).contains("after the last op"), run(trailing));
        byte[] unknown = good.clone();
        unknown[16] = 99; // first opcode
        assertTrue(run(unknown).contains("unknown opcode 99"), run(unknown));
        byte[] reserved = good.clone();
        reserved[18] = 1;
        assertTrue(run(reserved).contains("reserved field is 1"), run(reserved));
        byte[] nul = PlanEncoder.encode(List.of(new Op.Clone(0), new Op.Exec("", List.of("xy"), List.of())));
        nul[nul.length - 5] = 0; // the 'x' of "xy"
        assertTrue(run(nul).contains("bad string"), run(nul));
        byte[] noExec = PlanEncoder.encode(List.of(new Op.Clone(0)));
        assertTrue(run(noExec).contains("exactly one CLONE and one EXEC"), run(noExec));
        byte[] order = PlanEncoder.encode(List.of(new Op.Clone(0), new Op.Exec("", List.of("x"), List.of())));
        // swap the phases by hand: EXEC (INIT) before CLONE (JOIN)
        byte[] swapped = new byte[order.length];
        System.arraycopy(order, 0, swapped, 0, 16);
        int cloneLen = 8 + 8;
        System.arraycopy(order, 16 + cloneLen, swapped, 16, order.length - 16 - cloneLen);
        System.arraycopy(order, 16, swapped, order.length - cloneLen, cloneLen);
        assertTrue(run(swapped).contains("out of phase order"), run(swapped));
    }

    @Test
    void theEncoderRefusesWhatTheReaderWould() {
        assertThrows(IllegalArgumentException.class,
                () -> PlanEncoder.encode(List.of(new Op.Exec("", List.of("a\0b"), List.of()))));
        assertThrows(IllegalArgumentException.class,
                () -> PlanEncoder.encode(List.of(new Op.Exec("", List.of("x"), List.of()), new Op.Clone(0))));
    }
}
