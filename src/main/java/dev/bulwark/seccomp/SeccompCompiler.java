package dev.bulwark.seccomp;

import static dev.bulwark.seccomp.BpfEmitter.ALU_AND_K;
import static dev.bulwark.seccomp.BpfEmitter.JEQ_K;
import static dev.bulwark.seccomp.BpfEmitter.JGE_K;
import static dev.bulwark.seccomp.BpfEmitter.JGT_K;
import static dev.bulwark.seccomp.BpfEmitter.LD_W_ABS;
import static dev.bulwark.seccomp.BpfEmitter.label;
import static dev.bulwark.seccomp.BpfEmitter.ret;

import dev.bulwark.seccomp.SeccompAction.Notify;
import dev.bulwark.spec.Spec.Seccomp;
import dev.bulwark.spec.Spec.SeccompArg;
import dev.bulwark.spec.Spec.SeccompSyscall;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * Compiles an OCI {@code linux.seccomp} object to a classic BPF program.
 *
 * <p>Semantics are runc's (libseccomp's) wherever the OCI spec leaves them open, so a profile
 * behaves the same under Bulwark as under runc:
 * <ul>
 *   <li>the host architecture is always in the filter, the listed ones are added; a process of any
 *       other architecture is killed (SECCOMP_RET_KILL_PROCESS; libseccomp kills only the thread,
 *       which can leave a half-dead process behind);
 *   <li>a name unknown to one architecture but known to another is ignored there; a name known to
 *       none is an error;
 *   <li>a rule whose action equals the default action is dropped (runc does this too);
 *   <li>an unconditional rule for a syscall wins over its conditional rules, and the first
 *       unconditional rule wins over later ones (libseccomp's rule database works this way);
 *   <li>two conditional rules with identical conditions but different actions are an error
 *       (libseccomp refuses them with EEXIST);
 *   <li>on 32-bit ABIs (x86, x32, arm) only the low 32 bits of an argument are compared, with the
 *       rule's value truncated, as libseccomp does;
 *   <li>SCMP_CMP_MASKED_EQ tests (arg &amp; value) == (valueTwo &amp; value), as libseccomp does.
 * </ul>
 * Deliberate differences from runc: several conditions on the same argument of one rule are ANDed,
 * as written (runc turns them into separate, ORed rules, which widens an allow rule); and on x86
 * the socket and IPC calls are matched by their direct syscall numbers only: libseccomp also
 * rewrites such rules onto socketcall(2)/ipc(2) by replacing the first argument, keeping the other
 * conditions on arguments that hold something else there. Name socketcall or ipc to allow them.
 * Where conditional rules with different actions overlap, the first matching rule in profile order
 * decides (libseccomp's order depends on its internal sorting).
 *
 * <p>Dispatch: the syscall numbers of each architecture are cut into ranges that share an outcome
 * (a run of allowed syscalls is one range), and a weight-balanced binary search over the range
 * boundaries finds the outcome, with the most frequent syscalls near the root. Cost grows with the
 * logarithm of the number of ranges, not with the number of rules.
 */
public final class SeccompCompiler {
    static final String BASE = "linux.seccomp";
    /** What a process of an architecture not in the filter gets. */
    static final int BAD_ARCH = SeccompAction.SECCOMP_RET_KILL_PROCESS;

    // struct seccomp_data { int nr; __u32 arch; __u64 instruction_pointer; __u64 args[6]; }
    static final int OFF_NR = 0;
    static final int OFF_ARCH = 4;
    static final int OFF_ARGS = 16;

    static final int OP_NE = 1;
    static final int OP_LT = 2;
    static final int OP_LE = 3;
    static final int OP_EQ = 4;
    static final int OP_GE = 5;
    static final int OP_GT = 6;
    static final int OP_MASKED_EQ = 7;

    /**
     * Syscalls a typical workload makes most often (the I/O loop, futexes, memory, time). They get
     * extra weight so the search reaches them in fewer steps; the others still cost O(log n).
     */
    private static final String[] HOT = {
        "read", "write", "futex", "epoll_wait", "epoll_pwait", "epoll_pwait2", "epoll_ctl", "recvfrom", "sendto",
        "recvmsg", "sendmsg", "poll", "ppoll", "select", "pselect6", "openat", "close", "fstat", "newfstatat",
        "statx", "lseek", "mmap", "munmap", "mprotect", "madvise", "brk", "pread64", "pwrite64", "readv", "writev",
        "clock_gettime", "clock_nanosleep", "nanosleep", "gettid", "getpid", "rt_sigprocmask", "rt_sigaction",
        "rt_sigreturn", "sched_yield", "fcntl", "ioctl", "getdents64", "getrandom", "io_uring_enter", "accept4",
        "access", "faccessat2", "readlinkat", "dup3", "pipe2", "wait4", "exit_group", "execve",
    };
    private static final int HOT_WEIGHT = 64;

    private SeccompCompiler() {}

    /** One condition: args[index] op (value, valueTwo), op being a libseccomp SCMP_CMP_* number. */
    record Cond(int index, int op, long value, long valueTwo) implements Comparable<Cond> {
        @Override
        public int compareTo(Cond o) {
            int c = Integer.compare(index, o.index);
            c = c != 0 ? c : Integer.compare(op, o.op);
            c = c != 0 ? c : Long.compareUnsigned(value, o.value);
            return c != 0 ? c : Long.compareUnsigned(valueTwo, o.valueTwo);
        }
    }

    /** One rule for one syscall: all conditions must hold (none: always). */
    record Rule(int action, Cond[] conds, Cond[] sorted, int index) {}

    /** Compiles for the architecture this JVM runs on. */
    public static SeccompProgram compile(Seccomp seccomp) {
        return compile(seccomp, Arch.host());
    }

    /** Compiles for a given host (native) architecture. */
    public static SeccompProgram compile(Seccomp seccomp, Arch host) {
        SeccompAction defaultAction = SeccompAction.parse(seccomp.defaultAction(), seccomp.defaultErrnoRet(), -1);
        if (defaultAction instanceof Notify) {
            // The loader itself makes syscalls after the filter is in place (to pass the listener
            // fd on); with NOTIFY as default they would wait for a listener that never gets the fd.
            throw new SeccompException(BASE + ".defaultAction", "SCMP_ACT_NOTIFY cannot be the default action");
        }
        int def = defaultAction.ret();

        // The host first: its dispatch then sits right after the architecture check.
        List<Arch> arches = new ArrayList<>(4);
        arches.add(host);
        for (int i = 0; i < seccomp.architectures().size(); i++) {
            String name = seccomp.architectures().get(i);
            Optional<Arch> found = Arch.byOciName(name);
            if (found.isEmpty()) {
                throw new SeccompException(BASE + ".architectures[" + i + "]", "unsupported architecture \"" + name
                        + "\", expected one of SCMP_ARCH_X86_64, SCMP_ARCH_X86, SCMP_ARCH_X32, SCMP_ARCH_AARCH64, SCMP_ARCH_ARM");
            }
            Arch a = found.get();
            if (!arches.contains(a)) {
                arches.add(a);
            }
        }

        Map<Arch, TreeMap<Integer, List<Rule>>> byArch = new EnumMap<>(Arch.class);
        for (Arch a : arches) {
            byArch.put(a, new TreeMap<>());
        }
        boolean notify = false;
        List<SeccompSyscall> syscalls = seccomp.syscalls();
        for (int i = 0; i < syscalls.size(); i++) {
            SeccompSyscall sc = syscalls.get(i);
            // Paths are built only for errors: this runs on every container start.
            SeccompAction action = SeccompAction.parse(sc.action(), sc.errnoRet(), i);
            if (sc.names().isEmpty()) {
                throw new SeccompException(path(i, ".names"), "expected at least one syscall name");
            }
            Cond[] conds = conditions(sc.args(), i);
            for (int j = 0; j < sc.names().size(); j++) {
                String name = sc.names().get(j);
                if (!SyscallTable.known(name)) {
                    throw new SeccompException(path(i, ".names[" + j + "]"), "unknown syscall \"" + name + "\"");
                }
                if (action instanceof Notify && name.equals("write")) {
                    // As in runc: the loader writes the listener fd to its parent after loading.
                    throw new SeccompException(path(i, ".names[" + j + "]"),
                            "SCMP_ACT_NOTIFY cannot be used for the write syscall");
                }
            }
            if (action.ret() == def) {
                // Redundant with the default; runc drops it too (libseccomp would refuse it).
                continue;
            }
            notify |= action instanceof Notify;
            Cond[] sorted = conds.clone();
            Arrays.sort(sorted);
            Rule rule = new Rule(action.ret(), conds, sorted, i);
            for (String name : sc.names()) {
                for (Arch a : arches) {
                    int nr = SyscallTable.number(name, a);
                    if (nr != SyscallTable.ABSENT) {
                        TreeMap<Integer, List<Rule>> m = byArch.get(a);
                        List<Rule> list = m.get(nr);
                        if (list == null) {
                            m.put(nr, list = new ArrayList<>(2));
                        }
                        list.add(rule);
                    }
                }
            }
        }

        int flags = flags(seccomp.flags(), notify);
        byte[] filter = emit(arches, byArch, def);
        return new SeccompProgram(filter, flags, notify, filter.length / 8);
    }

    private static String path(int rule, String field) {
        return BASE + ".syscalls[" + rule + "]" + field;
    }

    private static Cond[] conditions(List<SeccompArg> args, int rule) {
        Cond[] conds = new Cond[args.size()];
        for (int k = 0; k < conds.length; k++) {
            SeccompArg a = args.get(k);
            if (a.index() < 0 || a.index() > 5) {
                throw new SeccompException(path(rule, ".args[" + k + "].index"), "expected an argument index from 0 to 5, found " + a.index());
            }
            int op = switch (a.op()) {
                case "SCMP_CMP_NE" -> OP_NE;
                case "SCMP_CMP_LT" -> OP_LT;
                case "SCMP_CMP_LE" -> OP_LE;
                case "SCMP_CMP_EQ" -> OP_EQ;
                case "SCMP_CMP_GE" -> OP_GE;
                case "SCMP_CMP_GT" -> OP_GT;
                case "SCMP_CMP_MASKED_EQ" -> OP_MASKED_EQ;
                default -> throw new SeccompException(path(rule, ".args[" + k + "].op"), "unknown operator \"" + a.op() + "\", expected one of "
                        + "SCMP_CMP_NE, SCMP_CMP_LT, SCMP_CMP_LE, SCMP_CMP_EQ, SCMP_CMP_GE, SCMP_CMP_GT, SCMP_CMP_MASKED_EQ");
            };
            conds[k] = new Cond(a.index(), op, a.value(), a.valueTwo());
        }
        return conds;
    }

    private static int flags(List<String> names, boolean notify) {
        int flags = 0;
        for (int i = 0; i < names.size(); i++) {
            flags |= switch (names.get(i)) {
                case "SECCOMP_FILTER_FLAG_TSYNC" -> SeccompProgram.SECCOMP_FILTER_FLAG_TSYNC;
                case "SECCOMP_FILTER_FLAG_LOG" -> SeccompProgram.SECCOMP_FILTER_FLAG_LOG;
                case "SECCOMP_FILTER_FLAG_SPEC_ALLOW" -> SeccompProgram.SECCOMP_FILTER_FLAG_SPEC_ALLOW;
                // Only meaningful for a listener; the kernel refuses it without NEW_LISTENER
                // (EINVAL), and without NOTIFY rules there is nothing to wait for, so it is dropped.
                case "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV" ->
                        notify ? SeccompProgram.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV : 0;
                default -> throw new SeccompException(BASE + ".flags[" + i + "]", "unknown flag \"" + names.get(i)
                        + "\", expected one of SECCOMP_FILTER_FLAG_TSYNC, SECCOMP_FILTER_FLAG_LOG, "
                        + "SECCOMP_FILTER_FLAG_SPEC_ALLOW, SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV");
            };
        }
        if (notify) {
            flags |= SeccompProgram.SECCOMP_FILTER_FLAG_NEW_LISTENER;
            if ((flags & SeccompProgram.SECCOMP_FILTER_FLAG_TSYNC) != 0) {
                // TSYNC and NEW_LISTENER both want the syscall's return value; the kernel accepts
                // the pair only with TSYNC_ESRCH, which reports a sync failure as ESRCH instead.
                flags |= SeccompProgram.SECCOMP_FILTER_FLAG_TSYNC_ESRCH;
            }
        }
        return flags;
    }

    // ---- code generation -------------------------------------------------------------------

    /** What one range of syscall numbers leads to: a return, or a chain of conditional rules. */
    private record Leaf(int ret, List<Rule> rules, boolean args32) {
        static Leaf of(int ret) {
            return new Leaf(ret, List.of(), false);
        }

        boolean isRet() {
            return rules.isEmpty();
        }
    }

    private static byte[] emit(List<Arch> arches, Map<Arch, TreeMap<Integer, List<Rule>>> byArch, int def) {
        // Architectures sharing an AUDIT_ARCH value (x86_64 and x32) share one dispatch.
        List<List<Arch>> groups = new ArrayList<>(4);
        for (Arch a : arches) {
            List<Arch> g = null;
            for (List<Arch> candidate : groups) {
                if (candidate.get(0).auditArch() == a.auditArch()) {
                    g = candidate;
                }
            }
            if (g == null) {
                groups.add(g = new ArrayList<>(2));
            }
            g.add(a);
        }

        BpfEmitter e = new BpfEmitter();
        // Built backwards: the other architectures' dispatch code goes last...
        int[] entries = new int[groups.size()];
        for (int g = groups.size() - 1; g >= 1; g--) {
            entries[g] = group(e, groups.get(g), byArch, def);
        }
        // ...reached through a chain of architecture checks that ends in killing the process: a
        // filter that does not know the caller's ABI cannot know what its numbers mean.
        long other = ret(BAD_ARCH);
        for (int g = groups.size() - 1; g >= 1; g--) {
            other = label(e.jump(JEQ_K, groups.get(g).get(0).auditArch(), label(entries[g]), other));
        }
        // The host's dispatch directly follows its architecture check, so the common case falls
        // through without a jump over other code (and without a trampoline if that code is long).
        int hostEntry = group(e, groups.get(0), byArch, def);
        e.jump(JEQ_K, groups.get(0).get(0).auditArch(), label(hostEntry), other);
        // The architecture comes first: a syscall number means nothing until the ABI is known.
        e.stmt(LD_W_ABS, OFF_ARCH);
        if (e.size() > BpfEmitter.MAX_INSNS) {
            throw new SeccompException(BASE, "the compiled filter has " + e.size() + " instructions, more than the "
                    + "kernel's limit of " + BpfEmitter.MAX_INSNS);
        }
        return e.toBytes();
    }

    /** Emits "load the syscall number, then search its ranges" for one AUDIT_ARCH; returns the entry. */
    private static int group(BpfEmitter e, List<Arch> group, Map<Arch, TreeMap<Integer, List<Rule>>> byArch, int def) {
        List<Integer> starts = new ArrayList<>();
        List<Leaf> leaves = new ArrayList<>();
        List<Long> weights = new ArrayList<>();
        Arch first = group.get(0);
        if (first.auditArch() == Arch.X86_64.auditArch()) {
            // One AUDIT_ARCH, two ABIs: numbers below __X32_SYSCALL_BIT are x86_64's, the others
            // x32's. An ABI that is not in the filter gets the bad-architecture action there.
            region(group.contains(Arch.X86_64) ? Arch.X86_64 : null, 0, Arch.X32_SYSCALL_BIT, byArch, def,
                    starts, leaves, weights);
            if (group.contains(Arch.X86_64)) {
                // Number -1 is what a tracer sets to skip a syscall; libseccomp treats it as an
                // x86_64 number (the kernel then fails the call with ENOSYS), so it gets the default.
                region(group.contains(Arch.X32) ? Arch.X32 : null, Arch.X32_SYSCALL_BIT, 0xffffffffL, byArch, def,
                        starts, leaves, weights);
                add(starts, leaves, weights, 0xffffffffL, Leaf.of(def), 1);
            } else {
                region(Arch.X32, Arch.X32_SYSCALL_BIT, 1L << 32, byArch, def, starts, leaves, weights);
            }
        } else {
            region(first, 0, 1L << 32, byArch, def, starts, leaves, weights);
        }
        long[] prefix = new long[weights.size() + 1];
        for (int i = 0; i < weights.size(); i++) {
            prefix[i + 1] = prefix[i] + weights.get(i);
        }
        long root = tree(e, starts, leaves, prefix, 0, starts.size(), def);
        // The search compares the syscall number, so load it right before the root.
        e.emitAt(root);
        return e.stmt(LD_W_ABS, OFF_NR);
    }

    /** Cuts [from, to) into ranges of equal outcome for one ABI (or bad-arch if arch is null). */
    private static void region(Arch arch, long from, long to, Map<Arch, TreeMap<Integer, List<Rule>>> byArch, int def,
            List<Integer> starts, List<Leaf> leaves, List<Long> weights) {
        if (arch == null) {
            add(starts, leaves, weights, from, Leaf.of(BAD_ARCH), 1);
            return;
        }
        TreeMap<Integer, Long> hot = new TreeMap<>();
        for (String name : HOT) {
            int nr = SyscallTable.number(name, arch);
            if (nr != SyscallTable.ABSENT) {
                hot.put(nr, (long) HOT_WEIGHT);
            }
        }
        long cur = from;
        for (Map.Entry<Integer, List<Rule>> en : byArch.get(arch).entrySet()) {
            long nr = en.getKey() & 0xffffffffL;
            if (nr < from || nr >= to) {
                continue;
            }
            if (nr > cur) {
                add(starts, leaves, weights, cur, Leaf.of(def), weight(hot, cur, nr));
            }
            add(starts, leaves, weights, nr, leaf(en.getValue(), arch), weight(hot, nr, nr + 1));
            cur = nr + 1;
        }
        if (cur < to) {
            add(starts, leaves, weights, cur, Leaf.of(def), weight(hot, cur, to));
        }
    }

    private static long weight(TreeMap<Integer, Long> hot, long from, long to) {
        long w = 1;
        for (long v : hot.subMap((int) Math.min(from, Integer.MAX_VALUE), (int) Math.min(to, Integer.MAX_VALUE)).values()) {
            w += v;
        }
        return w;
    }

    private static void add(List<Integer> starts, List<Leaf> leaves, List<Long> weights, long start, Leaf leaf, long w) {
        int last = leaves.size() - 1;
        if (last >= 0 && leaf.isRet() && leaves.get(last).isRet() && leaves.get(last).ret() == leaf.ret()) {
            // Same outcome as the range before: extend that range instead of adding a boundary.
            weights.set(last, weights.get(last) + w);
            return;
        }
        starts.add((int) start);
        leaves.add(leaf);
        weights.add(w);
    }

    /** The outcome of one syscall number on one ABI, from its rules in profile order. */
    private static Leaf leaf(List<Rule> rules, Arch arch) {
        for (Rule r : rules) {
            if (alwaysHolds(r, arch)) {
                // An unconditional rule covers every argument; libseccomp keeps the first one and
                // drops the conditional rules of that syscall.
                return Leaf.of(r.action());
            }
        }
        for (int i = 1; i < rules.size(); i++) {
            for (int j = 0; j < i; j++) {
                Rule a = rules.get(j);
                Rule b = rules.get(i);
                if (a.action() != b.action() && Arrays.compare(a.sorted(), b.sorted()) == 0) {
                    throw new SeccompException(path(b.index(), ""), "has the same conditions as " + path(a.index(), "")
                            + " but a different action; which one applies would be undefined");
                }
            }
        }
        return new Leaf(0, rules, arch.args32());
    }

    /**
     * Whether a rule has no condition that can fail on this ABI: none at all, or only masked
     * comparisons whose mask is 0 there (as on a 32-bit ABI with a mask in the high word).
     * libseccomp drops such conditions, which makes the rule unconditional, so it does too.
     */
    private static boolean alwaysHolds(Rule r, Arch arch) {
        for (Cond c : r.conds()) {
            long mask = arch.args32() ? c.value() & 0xffffffffL : c.value();
            if (c.op() != OP_MASKED_EQ || mask != 0) {
                return false;
            }
        }
        return true;
    }

    /**
     * Emits the binary search over ranges [lo, hi) and returns its entry. A node tests
     * "nr >= first number of the right half"; the split balances the halves' weights, so hot
     * syscalls end up few comparisons from the root.
     */
    private static long tree(BpfEmitter e, List<Integer> starts, List<Leaf> leaves, long[] prefix, int lo, int hi, int def) {
        if (hi - lo == 1) {
            Leaf leaf = leaves.get(lo);
            return leaf.isRet() ? ret(leaf.ret()) : rules(e, leaf, def);
        }
        int best = lo + 1;
        long bestDiff = Long.MAX_VALUE;
        for (int m = lo + 1; m < hi; m++) {
            long diff = Math.abs((prefix[m] - prefix[lo]) - (prefix[hi] - prefix[m]));
            if (diff < bestDiff) {
                bestDiff = diff;
                best = m;
            }
        }
        // Right half first: code is emitted backwards, so the left half ends up directly after
        // this node and is reached by falling through.
        long right = tree(e, starts, leaves, prefix, best, hi, def);
        long left = tree(e, starts, leaves, prefix, lo, best, def);
        return jmp(e, JGE_K, starts.get(best), right, left);
    }

    /** Emits the rules of one syscall: each rule's conditions in turn, the first that holds decides. */
    private static long rules(BpfEmitter e, Leaf leaf, int def) {
        long next = ret(def);
        List<Rule> rules = leaf.rules();
        for (int i = rules.size() - 1; i >= 0; i--) {
            Rule r = rules.get(i);
            long match = ret(r.action());
            // A failed condition moves on to the next rule (or the default after the last).
            for (int c = r.conds().length - 1; c >= 0; c--) {
                match = cond(e, r.conds()[c], leaf.args32(), match, next);
            }
            next = match;
        }
        return next;
    }

    private static long jmp(BpfEmitter e, int op, int k, long jt, long jf) {
        return jt == jf ? jt : label(e.jump(op, k, jt, jf));
    }

    /** A statement whose successor is next. */
    private static long seq(BpfEmitter e, int op, int k, long next) {
        e.emitAt(next);
        return label(e.stmt(op, k));
    }

    /**
     * Emits one condition with targets t (holds) and f (does not). Arguments are 64-bit in
     * seccomp_data while BPF compares 32 bits, so each is checked as two halves, high word first
     * (little-endian: the high word is at +4). On 32-bit ABIs only the low word is compared.
     */
    private static long cond(BpfEmitter e, Cond c, boolean args32, long t, long f) {
        int lo = OFF_ARGS + 8 * c.index();
        int hi = lo + 4;
        int vlo = (int) c.value();
        int vhi = args32 ? 0 : (int) (c.value() >>> 32);
        return switch (c.op()) {
            case OP_EQ -> {
                long low = seq(e, LD_W_ABS, lo, jmp(e, JEQ_K, vlo, t, f));
                yield args32 ? low : seq(e, LD_W_ABS, hi, jmp(e, JEQ_K, vhi, low, f));
            }
            case OP_NE -> {
                long low = seq(e, LD_W_ABS, lo, jmp(e, JEQ_K, vlo, f, t));
                yield args32 ? low : seq(e, LD_W_ABS, hi, jmp(e, JEQ_K, vhi, low, t));
            }
            case OP_GT -> greater(e, JGT_K, lo, hi, vlo, vhi, args32, t, f);
            case OP_GE -> greater(e, JGE_K, lo, hi, vlo, vhi, args32, t, f);
            // a < v is !(a >= v), a <= v is !(a > v): the same code with the targets swapped.
            case OP_LT -> greater(e, JGE_K, lo, hi, vlo, vhi, args32, f, t);
            case OP_LE -> greater(e, JGT_K, lo, hi, vlo, vhi, args32, f, t);
            case OP_MASKED_EQ -> {
                long mask = c.value();
                long datum = c.valueTwo();
                // libseccomp compares against (datum & mask): datum bits outside the mask are
                // ignored rather than making the rule unmatchable. runc's profiles rely on that.
                int mlo = (int) mask;
                int dlo = (int) datum & mlo;
                int mhi = args32 ? 0 : (int) (mask >>> 32);
                int dhi = args32 ? 0 : (int) (datum >>> 32) & mhi;
                long low = masked(e, lo, mlo, dlo, t, f);
                yield args32 ? low : masked(e, hi, mhi, dhi, low, f);
            }
            default -> throw new IllegalStateException("operator " + c.op());
        };
    }

    /** (word & mask) == datum; a zero mask always holds, an all-ones mask needs no AND. */
    private static long masked(BpfEmitter e, int off, int mask, int datum, long t, long f) {
        if (mask == 0) {
            return t;
        }
        long test = jmp(e, JEQ_K, datum, t, f);
        return seq(e, LD_W_ABS, off, mask == -1 ? test : seq(e, ALU_AND_K, mask, test));
    }

    /**
     * Unsigned a > v (op JGT) or a >= v (op JGE) over 64 bits: a higher high word decides, an
     * equal one defers to the low word. When v's high word is 0, "not greater" already means
     * "equal", so the equality test is left out.
     */
    private static long greater(BpfEmitter e, int op, int lo, int hi, int vlo, int vhi, boolean args32, long t, long f) {
        long low = seq(e, LD_W_ABS, lo, jmp(e, op, vlo, t, f));
        if (args32) {
            return low;
        }
        long equal = vhi == 0 ? low : jmp(e, JEQ_K, vhi, low, f);
        return seq(e, LD_W_ABS, hi, jmp(e, JGT_K, vhi, t, equal));
    }
}
