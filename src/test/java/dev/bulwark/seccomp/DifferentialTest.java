package dev.bulwark.seccomp;

import static dev.bulwark.seccomp.SeccompTesting.expected;
import static dev.bulwark.seccomp.SeccompTesting.interestingValues;
import static dev.bulwark.seccomp.SeccompTesting.libseccomp;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.bulwark.spec.Spec.Seccomp;
import dev.bulwark.spec.Spec.SeccompArg;
import dev.bulwark.spec.Spec.SeccompSyscall;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/**
 * Bulwark's programs against libseccomp's (built as runc builds them) and against the semantics
 * stated directly: for every syscall number of each architecture, plus numbers around and between
 * them, and for arguments sampled around every boundary the profile draws, all must return the
 * same action.
 */
class DifferentialTest {
    private static final int SEEDS = Integer.getInteger("seccomp.seeds", 120);
    private static final int JUNK_ARCH = 0x12345678;

    /** Syscalls libseccomp rewrites onto socketcall(2)/ipc(2) on x86 (see SeccompCompiler). */
    private static final Set<String> MULTIPLEXED = Set.of("socket", "bind", "connect", "listen", "accept",
            "getsockname", "getpeername", "socketpair", "send", "recv", "sendto", "recvfrom", "shutdown", "setsockopt",
            "getsockopt", "sendmsg", "recvmsg", "accept4", "recvmmsg", "sendmmsg", "semop", "semget", "semctl",
            "semtimedop", "msgsnd", "msgrcv", "msgget", "msgctl", "shmat", "shmdt", "shmget", "shmctl");

    private static final String[] ACTIONS = {"SCMP_ACT_KILL", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_KILL_PROCESS",
        "SCMP_ACT_TRAP", "SCMP_ACT_ERRNO", "SCMP_ACT_TRACE", "SCMP_ACT_ALLOW", "SCMP_ACT_LOG", "SCMP_ACT_NOTIFY"};
    private static final String[] OPS = {"SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ", "SCMP_CMP_GE",
        "SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ"};

    @Test
    void randomProfilesMatchLibseccompAndTheSemantics() throws Exception {
        long checked = 0;
        for (int seed = 0; seed < SEEDS; seed++) {
            Random r = new Random(seed);
            Seccomp s = randomProfile(r, true);
            // runc asks libseccomp for its binary tree above 32 names (it misbehaves with none).
            int names = s.syscalls().stream().mapToInt(sc -> sc.names().size()).sum();
            byte[] lib = libseccomp(s, names > 32 ? 2 : 1);
            checked += compare("seed " + seed, s, lib, r, true);
        }
        System.out.printf("random profiles: %d profiles, %d (arch, nr, args) inputs compared with libseccomp and the "
                + "semantics; %d where libseccomp's program contradicts its rules (%s)%n", SEEDS, checked, libseccompBugs,
                LIBSECCOMP_BUG);
        assertTrue(libseccompBugs * 1000 < checked, "too many disagreements to blame on libseccomp: " + libseccompBugs);
    }

    /**
     * Profiles with what libseccomp cannot express the same way (several conditions on one
     * argument, overlapping rules with different actions, x86 socket calls) against the semantics.
     */
    @Test
    void randomProfilesOutsideRuncsSubsetMatchTheSemantics() {
        long checked = 0;
        for (int seed = 0; seed < SEEDS; seed++) {
            Random r = new Random(1_000_000 + seed);
            Seccomp s = randomProfile(r, false);
            checked += compare("seed " + (1_000_000 + seed), s, null, r);
        }
        System.out.printf("random extended profiles: %d profiles, %d inputs agreed with the semantics%n", SEEDS, checked);
    }

    @Test
    void dockerDefaultMatchesLibseccompForEachCapabilitySet() throws Exception {
        for (Set<String> caps : List.of(DockerProfileTest.DOCKER_CAPS, Set.<String>of(), DockerProfileTest.ALL_CAPS)) {
            Seccomp s = DefaultProfile.oci(caps, Arch.X86_64, new DockerProfile.KernelVersion(6, 1));
            byte[] lib = libseccomp(s, 2);
            long n = compare("docker default with " + caps.size() + " caps", s, lib, new Random(7));
            assertTrue(n > 5000, "too few inputs compared: " + n);
        }
    }

    /** The figures the issue asks for: program sizes and instructions run per allowed syscall. */
    @Test
    void dockerDefaultCostsLessThanLibseccomp() throws Exception {
        Seccomp s = DefaultProfile.oci(DockerProfileTest.DOCKER_CAPS, Arch.X86_64, new DockerProfile.KernelVersion(6, 1));
        BpfInterpreter bulwark = new BpfInterpreter(SeccompCompiler.compile(s, Arch.X86_64).filter());
        BpfInterpreter tree = new BpfInterpreter(libseccomp(s, 2));
        BpfInterpreter linear = new BpfInterpreter(libseccomp(s, 1));
        System.out.printf("Docker default profile (x86_64 + x86 + x32, Docker's 14 capabilities):%n");
        System.out.printf("  program size: Bulwark %d instructions, libseccomp binary tree (runc) %d, libseccomp linear %d%n",
                bulwark.length(), tree.length(), linear.length());
        String[] common = {"read", "write", "futex", "epoll_pwait", "epoll_wait", "recvfrom", "sendto", "openat", "close",
            "fstat", "newfstatat", "mmap", "munmap", "brk", "rt_sigprocmask", "getpid", "gettid", "clock_gettime",
            "nanosleep", "sched_yield", "ioctl", "fcntl", "getdents64", "lseek", "pread64", "writev", "poll", "select"};
        long sumB = 0;
        long sumT = 0;
        long sumL = 0;
        System.out.printf("  %-16s %8s %8s %8s%n", "syscall", "Bulwark", "lib-tree", "lib-lin");
        for (String name : common) {
            int nr = SyscallTable.number(name, Arch.X86_64);
            long[] args = new long[6];
            int b = bulwark.run(nr, Arch.X86_64.auditArch(), 0, args);
            int eb = bulwark.executed();
            int t = tree.run(nr, Arch.X86_64.auditArch(), 0, args);
            int et = tree.executed();
            int l = linear.run(nr, Arch.X86_64.auditArch(), 0, args);
            int el = linear.executed();
            assertEquals(t, b, name);
            assertEquals(l, b, name);
            assertEquals(SeccompTesting.ALLOW, b, name + " is allowed by Docker's profile");
            System.out.printf("  %-16s %8d %8d %8d%n", name, eb, et, el);
            sumB += eb;
            sumT += et;
            sumL += el;
        }
        // Over every allowed x86_64 syscall, each equally likely.
        long allB = 0;
        long allT = 0;
        int allowed = 0;
        for (String name : SyscallTable.names()) {
            int nr = SyscallTable.number(name, Arch.X86_64);
            if (nr == SyscallTable.ABSENT) {
                continue;
            }
            long[] args = new long[6];
            if (bulwark.run(nr, Arch.X86_64.auditArch(), 0, args) == SeccompTesting.ALLOW) {
                allB += bulwark.executed();
                tree.run(nr, Arch.X86_64.auditArch(), 0, args);
                allT += tree.executed();
                allowed++;
            }
        }
        System.out.printf("  common syscalls, mean instructions run: Bulwark %.2f, libseccomp tree %.2f, linear %.2f%n",
                (double) sumB / common.length, (double) sumT / common.length, (double) sumL / common.length);
        System.out.printf("  all %d allowed x86_64 syscalls, mean: Bulwark %.2f, libseccomp tree %.2f%n", allowed,
                (double) allB / allowed, (double) allT / allowed);
        assertTrue(sumB < sumT, "Bulwark runs " + sumB + " instructions for the common syscalls, libseccomp " + sumT);
        assertTrue(allB < allT, "Bulwark runs " + allB + " instructions over all allowed syscalls, libseccomp " + allT);
    }

    // ---- comparison ------------------------------------------------------------------------

    /** Compares on every sampled input; lib may be null (semantics only). Returns the input count. */
    /**
     * libseccomp 2.5.4 sometimes emits a comparison on a stale accumulator when two conditional
     * rules of one syscall test the same argument: e.g. for getpgrp with rules {a1 &amp; 3 == 3,
     * a0 &lt; 6} and {a0 &lt; 0x83865007fe8f43f7}, after "a0.lo >= 6" it jumps to "a0.hi &gt;
     * 0x83865007" without reloading a0.hi, so it compares a0.lo and allows a0 = 0xffffffff, which
     * the second rule kills (its own PFC export shows the intended tree). Only disagreements in
     * exactly that situation, where Bulwark matches the stated semantics, are tolerated, counted
     * and printed; any other disagreement fails.
     */
    static final String LIBSECCOMP_BUG = "libseccomp 2.5.4 stale-accumulator bug";

    private static long libseccompBugs;

    /** Whether two conditional rules that apply to nr test the same argument. */
    static boolean sharedArgument(Seccomp s, int nr) {
        Set<Integer> seen = new HashSet<>();
        for (SeccompSyscall sc : s.syscalls()) {
            boolean applies = false;
            for (String name : sc.names()) {
                for (Arch a : Arch.values()) {
                    applies |= SyscallTable.number(name, a) == nr && nr != SyscallTable.ABSENT;
                }
            }
            if (!applies) {
                continue;
            }
            Set<Integer> mine = new HashSet<>();
            for (SeccompArg a : sc.args()) {
                mine.add(a.index());
            }
            for (int i : mine) {
                if (!seen.add(i)) {
                    return true;
                }
            }
        }
        return false;
    }

    static long compare(String what, Seccomp s, byte[] lib, Random r) {
        return compare(what, s, lib, r, false);
    }

    static long compare(String what, Seccomp s, byte[] lib, Random r, boolean tolerant) {
        byte[] ours = SeccompCompiler.compile(s, Arch.X86_64).filter();
        BpfInterpreter b = new BpfInterpreter(ours);
        BpfInterpreter l = lib == null ? null : new BpfInterpreter(lib);
        List<Long> pool = interestingValues(s);
        Map<Integer, List<long[]>> targeted = targetedArgs(s, r, pool);
        long count = 0;
        for (int audit : new int[] {Arch.X86_64.auditArch(), Arch.X86.auditArch(), Arch.AARCH64.auditArch(),
            Arch.ARM.auditArch(), JUNK_ARCH}) {
            for (int nr : numbers(audit)) {
                List<long[]> vectors = new ArrayList<>(targeted.getOrDefault(nr, List.of()));
                vectors.add(new long[6]);
                vectors.add(randomArgs(r, pool));
                for (long[] args : vectors) {
                    int want = expected(s, Arch.X86_64, audit, nr, args);
                    int got = b.run(nr, audit, 0x7fff0000L, args);
                    if (got != want) {
                        fail(String.format("%s: arch 0x%08x nr %d args %s: Bulwark returned 0x%08x, expected 0x%08x%n%s",
                                what, audit, nr, hex(args), got, want, SeccompTesting.rulesFor(s, nr)));
                    }
                    if (l != null) {
                        int theirs = l.run(nr, audit, 0x7fff0000L, args);
                        if (theirs != got && tolerant && sharedArgument(s, nr)) {
                            // libseccomp 2.5.4 bug (see LIBSECCOMP_BUG): Bulwark agrees with the
                            // semantics here, libseccomp's program does not.
                            libseccompBugs++;
                            if (libseccompBugs == 1) {
                                System.out.printf("libseccomp disagrees with its own rules at %s arch 0x%08x nr %d args %s:"
                                        + " it returned 0x%08x, the rules say 0x%08x%n", what, audit, nr, hex(args), theirs, got);
                            }
                        } else if (theirs != got) {
                            fail(String.format("%s: arch 0x%08x nr %d args %s: Bulwark returned 0x%08x, libseccomp 0x%08x%n%s",
                                    what, audit, nr, hex(args), got, theirs, SeccompTesting.rulesFor(s, nr)));
                        }
                    }
                    count++;
                }
            }
        }
        return count;
    }

    /** Every syscall number of the ABIs behind one AUDIT_ARCH, the gaps between, and the edges. */
    static Set<Integer> numbers(int audit) {
        Set<Integer> out = new TreeSet<>();
        for (int i = 0; i < 600; i++) {
            out.add(i);
        }
        for (int edge : new int[] {-1, -2, Integer.MAX_VALUE, Integer.MIN_VALUE, 0x3fffffff, 0x000f0000, 0x000f0005}) {
            out.add(edge);
        }
        for (Arch a : Arch.values()) {
            if (a.auditArch() != audit) {
                continue;
            }
            for (String name : SyscallTable.names()) {
                int nr = SyscallTable.number(name, a);
                if (nr != SyscallTable.ABSENT) {
                    out.add(nr);
                    out.add(nr + 1);
                }
            }
        }
        if (audit == Arch.X86_64.auditArch()) {
            for (int i = 0; i < 600; i++) {
                out.add(Arch.X32_SYSCALL_BIT + i);
            }
        }
        return out;
    }

    /** For each number a conditional rule applies to, arguments aimed at that rule's conditions. */
    private static Map<Integer, List<long[]>> targetedArgs(Seccomp s, Random r, List<Long> pool) {
        Map<Integer, List<long[]>> out = new HashMap<>();
        for (SeccompSyscall sc : s.syscalls()) {
            if (sc.args().isEmpty()) {
                continue;
            }
            Set<Integer> nrs = new HashSet<>();
            for (String name : sc.names()) {
                for (Arch a : Arch.values()) {
                    int nr = SyscallTable.number(name, a);
                    if (nr != SyscallTable.ABSENT) {
                        nrs.add(nr);
                    }
                }
            }
            for (int i = 0; i < 12; i++) {
                long[] args = randomArgs(r, pool);
                for (SeccompArg a : sc.args()) {
                    List<Long> near = interestingValues(new Seccomp("SCMP_ACT_ALLOW", Optional.empty(), List.of(), List.of(),
                            "", "", List.of(new SeccompSyscall(List.of("read"), "SCMP_ACT_ALLOW", Optional.empty(), List.of(a)))));
                    args[a.index()] = near.get(r.nextInt(near.size()));
                }
                for (int nr : nrs) {
                    out.computeIfAbsent(nr, k -> new ArrayList<>()).add(args);
                }
            }
        }
        return out;
    }

    private static long[] randomArgs(Random r, List<Long> pool) {
        long[] args = new long[6];
        for (int i = 0; i < 6; i++) {
            args[i] = r.nextInt(4) == 0 ? r.nextLong() : pool.get(r.nextInt(pool.size()));
        }
        return args;
    }

    private static String hex(long[] args) {
        StringBuilder sb = new StringBuilder("[");
        for (long a : args) {
            sb.append(sb.length() > 1 ? ", " : "").append("0x").append(Long.toHexString(a));
        }
        return sb.append(']').toString();
    }

    // ---- random profiles -------------------------------------------------------------------

    /**
     * A random profile. With runcSubset, it stays within what runc/libseccomp and Bulwark define
     * alike: conditional rules of one syscall share one action, no argument is tested twice in a
     * rule, no x86 socket/IPC names, no syscalls newer than libseccomp 2.5.4.
     */
    static Seccomp randomProfile(Random r, boolean runcSubset) {
        List<String> arches = new ArrayList<>();
        for (Arch a : new Arch[] {Arch.X86_64, Arch.X86, Arch.X32, Arch.AARCH64, Arch.ARM}) {
            if (r.nextInt(3) == 0) {
                arches.add(a.ociName());
            }
        }
        boolean x86 = arches.contains(Arch.X86.ociName());
        List<String> names = new ArrayList<>();
        for (String n : new TreeSet<>(SyscallTable.names())) {
            int x = SyscallTable.number(n, Arch.X86_64);
            boolean newer = x >= 451 && x < 1000;
            if (runcSubset && (newer || (x86 && MULTIPLEXED.contains(n)))) {
                continue;
            }
            names.add(n);
        }
        // A few names get most rules, so rules pile up on the same syscalls.
        List<String> favourites = new ArrayList<>();
        for (int i = 0; i < 6; i++) {
            favourites.add(names.get(r.nextInt(names.size())));
        }
        String defaultAction = ACTIONS[r.nextInt(ACTIONS.length - 1)]; // not NOTIFY
        Optional<Integer> defaultErrno = r.nextBoolean() ? Optional.of(r.nextInt(200)) : Optional.empty();
        Map<String, Integer> fixedAction = new LinkedHashMap<>();
        List<SeccompSyscall> rules = new ArrayList<>();
        int count = 1 + r.nextInt(r.nextInt(10) == 0 ? (runcSubset ? 300 : 100) : 40);
        for (int i = 0; i < count; i++) {
            String action = ACTIONS[r.nextInt(ACTIONS.length)];
            Optional<Integer> errno = (action.equals("SCMP_ACT_ERRNO") || action.equals("SCMP_ACT_TRACE")) && r.nextBoolean()
                    ? Optional.of(r.nextInt(4)) : Optional.empty();
            int ret = SeccompAction.parse(action, errno, "", "").ret();
            List<SeccompArg> args = new ArrayList<>();
            if (r.nextInt(5) < 3) {
                Set<Integer> used = new HashSet<>();
                int n = 1 + r.nextInt(3);
                for (int c = 0; c < n; c++) {
                    int index = r.nextInt(runcSubset ? 6 : 3);
                    if (runcSubset && !used.add(index)) {
                        continue;
                    }
                    String op = OPS[r.nextInt(OPS.length)];
                    long v = value(r);
                    long v2 = op.equals("SCMP_CMP_MASKED_EQ") ? (r.nextBoolean() ? v & value(r) : value(r)) : 0;
                    args.add(new SeccompArg(index, v, v2, op));
                }
            }
            List<String> chosen = new ArrayList<>();
            int n = 1 + r.nextInt(r.nextInt(4) == 0 ? 40 : 3);
            for (int j = 0; j < n; j++) {
                String name = r.nextBoolean() ? favourites.get(r.nextInt(favourites.size())) : names.get(r.nextInt(names.size()));
                if (action.equals("SCMP_ACT_NOTIFY") && name.equals("write")) {
                    continue;
                }
                if (runcSubset && !args.isEmpty()) {
                    Integer fixed = fixedAction.putIfAbsent(name, ret);
                    if (fixed != null && fixed != ret) {
                        continue;
                    }
                }
                if (!chosen.contains(name)) {
                    chosen.add(name);
                }
            }
            if (chosen.isEmpty()) {
                continue;
            }
            rules.add(new SeccompSyscall(chosen, action, errno, args));
        }
        if (!runcSubset) {
            // Conflicting identical conditions are an error by design; keep this generator valid.
            rules = withoutIdenticalConflicts(rules, defaultAction, defaultErrno);
        }
        return new Seccomp(defaultAction, defaultErrno, arches, List.of(), "", "", rules);
    }

    private static List<SeccompSyscall> withoutIdenticalConflicts(List<SeccompSyscall> rules, String def, Optional<Integer> defErrno) {
        int defRet = SeccompAction.parse(def, defErrno, "", "").ret();
        Map<String, Integer> seen = new HashMap<>();
        List<SeccompSyscall> out = new ArrayList<>();
        for (SeccompSyscall sc : rules) {
            int ret = SeccompAction.parse(sc.action(), sc.errnoRet(), "", "").ret();
            if (sc.args().isEmpty() || ret == defRet) {
                out.add(sc);
                continue;
            }
            List<String> keep = new ArrayList<>();
            List<SeccompArg> sorted = new ArrayList<>(sc.args());
            sorted.sort((a, b) -> a.toString().compareTo(b.toString()));
            for (String name : sc.names()) {
                Integer prev = seen.putIfAbsent(name + sorted, ret);
                if (prev == null || prev == ret) {
                    keep.add(name);
                }
            }
            if (!keep.isEmpty()) {
                out.add(new SeccompSyscall(keep, sc.action(), sc.errnoRet(), sc.args()));
            }
        }
        return out;
    }

    private static long value(Random r) {
        return switch (r.nextInt(7)) {
            case 0 -> r.nextInt(16);
            case 1 -> r.nextLong();
            case 2 -> 0xffffffffL;
            case 3 -> (long) r.nextInt(4) << 32 | r.nextInt(8);
            case 4 -> -1L - r.nextInt(4);
            case 5 -> 1L << r.nextInt(64);
            default -> r.nextInt() & 0xffffffffL;
        };
    }
}
