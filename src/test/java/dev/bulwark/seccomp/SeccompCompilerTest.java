package dev.bulwark.seccomp;

import static dev.bulwark.seccomp.SeccompTesting.ALLOW;
import static dev.bulwark.seccomp.SeccompTesting.KILL_PROCESS;
import static dev.bulwark.seccomp.SeccompTesting.arg;
import static dev.bulwark.seccomp.SeccompTesting.errno;
import static dev.bulwark.seccomp.SeccompTesting.masked;
import static dev.bulwark.seccomp.SeccompTesting.profile;
import static dev.bulwark.seccomp.SeccompTesting.rule;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.bulwark.spec.Spec.Seccomp;
import dev.bulwark.spec.Spec.SeccompSyscall;
import dev.bulwark.spec.SpecReader;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class SeccompCompilerTest {
    private static final int X86_64 = Arch.X86_64.auditArch();

    private static int run(Seccomp s, Arch arch, String name, long... args) {
        long[] a = new long[6];
        System.arraycopy(args, 0, a, 0, args.length);
        return new BpfInterpreter(SeccompCompiler.compile(s, Arch.X86_64).filter())
                .run(SyscallTable.number(name, arch), arch.auditArch(), 0, a);
    }

    private static int run(Seccomp s, String name, long... args) {
        return run(s, Arch.X86_64, name, args);
    }

    @Test
    void everyActionHasItsKernelValue() {
        String[][] cases = {{"SCMP_ACT_KILL", "0"}, {"SCMP_ACT_KILL_THREAD", "0"}, {"SCMP_ACT_KILL_PROCESS", "80000000"},
            {"SCMP_ACT_TRAP", "30000"}, {"SCMP_ACT_ERRNO", "50001"}, {"SCMP_ACT_TRACE", "7ff00001"},
            {"SCMP_ACT_LOG", "7ffc0000"}, {"SCMP_ACT_NOTIFY", "7fc00000"}};
        for (String[] c : cases) {
            Seccomp s = profile("SCMP_ACT_ALLOW", List.of(), rule(c[0], "getpid"));
            assertEquals(Integer.parseUnsignedInt(c[1], 16), run(s, "getpid"), c[0]);
            assertEquals(ALLOW, run(s, "getppid"), c[0]);
        }
        Seccomp s = new Seccomp("SCMP_ACT_ERRNO", Optional.of(38), List.of(), List.of(), "", "", List.of(
                new SeccompSyscall(List.of("mkdir"), "SCMP_ACT_ERRNO", Optional.of(13), List.of()),
                new SeccompSyscall(List.of("rmdir"), "SCMP_ACT_TRACE", Optional.of(77), List.of()),
                rule("SCMP_ACT_ALLOW", "read")));
        assertEquals(errno(13), run(s, "mkdir"));
        assertEquals(0x7ff00000 | 77, run(s, "rmdir"));
        assertEquals(errno(38), run(s, "write"), "defaultErrnoRet");
        assertEquals(ALLOW, run(s, "read"));
    }

    @Test
    void operatorsCompareAll64BitsAsTwoHalves() {
        long v = 0x0000000500000007L;
        long[] probes = {0, 6, 7, 8, 0x0000000400000009L, 0x0000000500000006L, v, 0x0000000500000008L, 0x0000000600000000L,
            -1L, 0xffffffffL, 0x7L};
        for (String op : List.of("SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT")) {
            Seccomp s = profile("SCMP_ACT_ALLOW", List.of(), rule("SCMP_ACT_ERRNO", "ioctl", arg(1, op, v)));
            for (long p : probes) {
                boolean holds = SeccompTesting.holds(arg(1, op, v), p, false);
                assertEquals(holds ? errno(1) : ALLOW, run(s, "ioctl", 0, p), op + " " + Long.toHexString(p));
            }
        }
        // (arg & 0xff000000ff) == 0x1000000002: both halves masked.
        Seccomp m = profile("SCMP_ACT_ALLOW", List.of(), rule("SCMP_ACT_ERRNO", "ioctl", masked(2, 0xff000000ffL, 0x1000000002L)));
        assertEquals(errno(1), run(m, "ioctl", 0, 0, 0x10ffffff02L));
        assertEquals(ALLOW, run(m, "ioctl", 0, 0, 0x1100000002L));
        assertEquals(ALLOW, run(m, "ioctl", 0, 0, 0x1000000003L));
    }

    @Test
    void conditionsOfOneRuleAreAndedRulesAreOred() {
        Seccomp s = profile("SCMP_ACT_ERRNO", List.of(),
                rule("SCMP_ACT_ALLOW", "socket", arg(0, "SCMP_CMP_EQ", 1), arg(1, "SCMP_CMP_EQ", 2)),
                rule("SCMP_ACT_ALLOW", "socket", arg(0, "SCMP_CMP_EQ", 10)),
                // Two conditions on one argument: a range, not "either" (runc would OR them).
                rule("SCMP_ACT_ALLOW", "personality", arg(0, "SCMP_CMP_GE", 8), arg(0, "SCMP_CMP_LE", 16)));
        assertEquals(ALLOW, run(s, "socket", 1, 2));
        assertEquals(errno(1), run(s, "socket", 1, 3));
        assertEquals(errno(1), run(s, "socket", 2, 2));
        assertEquals(ALLOW, run(s, "socket", 10, 99));
        assertEquals(ALLOW, run(s, "personality", 12));
        assertEquals(errno(1), run(s, "personality", 7));
        assertEquals(errno(1), run(s, "personality", 17));
    }

    @Test
    void unconditionalRuleWinsAndFirstUnconditionalWins() {
        Seccomp s = profile("SCMP_ACT_ERRNO", List.of(),
                rule("SCMP_ACT_KILL_PROCESS", "read", arg(0, "SCMP_CMP_EQ", 5)),
                rule("SCMP_ACT_ALLOW", "read"),
                rule("SCMP_ACT_TRAP", "read"));
        assertEquals(ALLOW, run(s, "read", 5));
    }

    @Test
    void architecturesAndX32() {
        Seccomp host = profile("SCMP_ACT_ERRNO", List.of(), rule("SCMP_ACT_ALLOW", List.of("read", "chown32")));
        assertEquals(ALLOW, run(host, "read"));
        // x86 and x32 are not in the filter: their processes are killed, not given x86_64 rules.
        assertEquals(KILL_PROCESS, run(host, Arch.X86, "read"));
        assertEquals(KILL_PROCESS, run(host, Arch.X32, "read"));
        assertEquals(KILL_PROCESS, run(host, Arch.AARCH64, "read"));
        Seccomp all = profile("SCMP_ACT_ERRNO", List.of("SCMP_ARCH_X86", "SCMP_ARCH_X32", "SCMP_ARCH_AARCH64"),
                rule("SCMP_ACT_ALLOW", List.of("read", "chown32")));
        assertEquals(ALLOW, run(all, Arch.X86, "read"));
        assertEquals(ALLOW, run(all, Arch.X86, "chown32"), "a name only x86 has");
        assertEquals(ALLOW, run(all, Arch.X32, "read"));
        assertEquals(ALLOW, run(all, Arch.AARCH64, "read"));
        assertEquals(errno(1), run(all, Arch.X32, "write"));
        // x32's read is x86_64's read with the x32 bit: the bit must not be ignored.
        assertEquals(0x40000000, SyscallTable.number("read", Arch.X32));
        Seccomp only64 = profile("SCMP_ACT_ALLOW", List.of("SCMP_ARCH_X32"), rule("SCMP_ACT_ERRNO", "read"));
        assertEquals(errno(1), run(only64, Arch.X32, "read"));
        assertEquals(errno(1), run(only64, Arch.X86_64, "read"));
    }

    @Test
    void errorsNameThePath() {
        assertError("linux.seccomp.syscalls[1].names[1]: unknown syscall \"foo\"", profile("SCMP_ACT_ERRNO", List.of(),
                rule("SCMP_ACT_ALLOW", "read"), rule("SCMP_ACT_ALLOW", List.of("write", "foo"))));
        assertError("linux.seccomp.architectures[1]: unsupported architecture \"SCMP_ARCH_S390X\"",
                profile("SCMP_ACT_ERRNO", List.of("SCMP_ARCH_X86", "SCMP_ARCH_S390X")));
        assertError("linux.seccomp.defaultAction: unknown action \"SCMP_ACT_NOPE\"", profile("SCMP_ACT_NOPE", List.of()));
        assertError("linux.seccomp.syscalls[0].action: unknown action \"ALLOW\"",
                profile("SCMP_ACT_ERRNO", List.of(), rule("ALLOW", "read")));
        assertError("linux.seccomp.syscalls[0].args[0].op: unknown operator \"SCMP_CMP_XX\"",
                profile("SCMP_ACT_ERRNO", List.of(), rule("SCMP_ACT_ALLOW", "read", arg(0, "SCMP_CMP_XX", 1))));
        assertError("linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be the default action",
                profile("SCMP_ACT_NOTIFY", List.of()));
        assertError("linux.seccomp.syscalls[0].names[0]: SCMP_ACT_NOTIFY cannot be used for the write syscall",
                profile("SCMP_ACT_ERRNO", List.of(), rule("SCMP_ACT_NOTIFY", "write")));
        assertError("linux.seccomp.syscalls[1]: has the same conditions as linux.seccomp.syscalls[0]",
                profile("SCMP_ACT_ERRNO", List.of(), rule("SCMP_ACT_ALLOW", "read", arg(0, "SCMP_CMP_EQ", 1)),
                        rule("SCMP_ACT_TRAP", "read", arg(0, "SCMP_CMP_EQ", 1))));
        assertError("linux.seccomp.syscalls[0].errnoRet: expected a value from 0 to 4095, found 70000",
                new Seccomp("SCMP_ACT_ALLOW", Optional.empty(), List.of(), List.of(), "", "",
                        List.of(new SeccompSyscall(List.of("read"), "SCMP_ACT_ERRNO", Optional.of(70000), List.of()))));
        assertError("linux.seccomp.flags[0]: unknown flag \"SECCOMP_FILTER_FLAG_NOPE\"",
                new Seccomp("SCMP_ACT_ALLOW", Optional.empty(), List.of(), List.of("SECCOMP_FILTER_FLAG_NOPE"), "", "", List.of()));
        // A name that exists elsewhere but not on the filter's ABIs is ignored, as runc does.
        Seccomp s = profile("SCMP_ACT_ERRNO", List.of(), rule("SCMP_ACT_ALLOW", List.of("s390_runtime_instr", "read")));
        assertEquals(ALLOW, run(s, "read"));
    }

    private static void assertError(String prefix, Seccomp s) {
        SeccompException e = assertThrows(SeccompException.class, () -> SeccompCompiler.compile(s, Arch.X86_64));
        assertTrue(e.getMessage().startsWith(prefix), e.getMessage());
    }

    @Test
    void flagsAndListener() {
        Seccomp plain = new Seccomp("SCMP_ACT_ALLOW", Optional.empty(), List.of(),
                List.of("SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"),
                "", "", List.of(rule("SCMP_ACT_ERRNO", "mkdir")));
        SeccompProgram p = SeccompCompiler.compile(plain, Arch.X86_64);
        assertEquals(2 | 4, p.flags(), "WAIT_KILLABLE_RECV needs a listener; the kernel refuses it without");
        assertFalse(p.needsListener());
        Seccomp notify = new Seccomp("SCMP_ACT_ALLOW", Optional.empty(), List.of(),
                List.of("SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"), "/run/agent.sock", "",
                List.of(rule("SCMP_ACT_NOTIFY", "mount")));
        p = SeccompCompiler.compile(notify, Arch.X86_64);
        assertTrue(p.needsListener());
        assertEquals(1 | 8 | 16 | 32, p.flags(), "TSYNC with NEW_LISTENER needs TSYNC_ESRCH");
        assertEquals(p.filter().length / 8, p.instructionCount());
    }

    /** Many rules: the program grows, but the path to a syscall grows only logarithmically. */
    @Test
    void dispatchIsNotLinear() {
        List<String> names = new ArrayList<>();
        for (String n : SyscallTable.names()) {
            if (SyscallTable.number(n, Arch.X86_64) != SyscallTable.ABSENT) {
                names.add(n);
            }
        }
        names.sort(String::compareTo);
        // Every other syscall allowed, so no two allowed ones merge into one range.
        List<String> half = new ArrayList<>();
        for (String n : names) {
            if (SyscallTable.number(n, Arch.X86_64) % 2 == 0) {
                half.add(n);
            }
        }
        Seccomp s = profile("SCMP_ACT_ERRNO", List.of(), rule("SCMP_ACT_ALLOW", half));
        BpfInterpreter b = new BpfInterpreter(SeccompCompiler.compile(s, Arch.X86_64).filter());
        int worst = 0;
        for (int nr = 0; nr < 470; nr++) {
            b.run(nr, X86_64, 0, new long[6]);
            worst = Math.max(worst, b.executed());
        }
        // ~380 ranges: a balanced search needs ~9 steps; weights for hot syscalls add a few.
        assertTrue(worst <= 4 + 14, "worst path " + worst + " instructions for " + half.size() + " rules");
        assertTrue(b.length() > half.size() / 2, "program " + b.length());
    }

    /** Conditional code far from its dispatch needs trampolines; everything must still agree. */
    @Test
    void longProgramsStayCorrect() {
        List<SeccompSyscall> rules = new ArrayList<>();
        int i = 0;
        for (String n : new java.util.TreeSet<>(SyscallTable.names())) {
            if (SyscallTable.number(n, Arch.X86_64) == SyscallTable.ABSENT || i++ > 200) {
                continue;
            }
            rules.add(rule("SCMP_ACT_ALLOW", n, arg(0, "SCMP_CMP_GT", 0x100000000L + i), arg(1, "SCMP_CMP_NE", i)));
        }
        Seccomp s = new Seccomp("SCMP_ACT_ERRNO", Optional.empty(), List.of("SCMP_ARCH_X86"), List.of(), "", "", rules);
        SeccompProgram p = SeccompCompiler.compile(s, Arch.X86_64);
        assertTrue(p.instructionCount() > 1000, "long enough to need far jumps: " + p.instructionCount());
        long n = DifferentialTest.compare("long program", s, null, new java.util.Random(3));
        assertTrue(n > 10000);
    }

    @Test
    void compilesWhatSpecReaderParses() {
        Seccomp s = SpecReader.parse("""
                {"ociVersion":"1.2.0","root":{"path":"rootfs"},"linux":{"seccomp":{
                  "defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86_64"],
                  "syscalls":[{"names":["clone"],"action":"SCMP_ACT_ALLOW",
                    "args":[{"index":0,"value":2114060288,"valueTwo":0,"op":"SCMP_CMP_MASKED_EQ"}]}]}}}
                """).linux().orElseThrow().seccomp().orElseThrow();
        assertEquals(ALLOW, run(s, "clone", 17));
        assertEquals(errno(1), run(s, "clone", 0x10000000 | 17));
    }
}
