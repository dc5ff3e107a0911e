package dev.bulwark.seccomp;

import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;

/**
 * Builds a classic BPF program backwards, from its last instruction to its first. Every jump then
 * goes to code that already exists, so its offset is known when it is emitted, and a target beyond
 * the 8-bit reach of a conditional jump is handled on the spot: a return is simply emitted again
 * nearby (no extra instruction on the path), other code gets a BPF_JA trampoline (32-bit reach).
 *
 * <p>A label is an instruction's distance from the end of the program, which does not change as
 * more instructions are put in front. A target is a label or "return this action", encoded in a
 * long so the hot CLI path allocates nothing per jump.
 */
final class BpfEmitter {
    static final int LD_W_ABS = 0x20; // BPF_LD | BPF_W | BPF_ABS
    static final int ALU_AND_K = 0x54; // BPF_ALU | BPF_AND | BPF_K
    static final int JA = 0x05; // BPF_JMP | BPF_JA
    static final int JEQ_K = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
    static final int JGT_K = 0x25; // BPF_JMP | BPF_JGT | BPF_K
    static final int JGE_K = 0x35; // BPF_JMP | BPF_JGE | BPF_K
    static final int RET_K = 0x06; // BPF_RET | BPF_K
    /** BPF_MAXINSNS: the kernel refuses longer programs. */
    static final int MAX_INSNS = 4096;
    private static final int MAX_JUMP = 255;
    private static final long RET = 1L << 32;

    private long[] code = new long[256];
    private int n;
    private final Map<Integer, Integer> lastRet = new HashMap<>();

    static long label(int label) {
        return label;
    }

    static long ret(int action) {
        return RET | (action & 0xffffffffL);
    }

    /** The number of instructions emitted so far. */
    int size() {
        return n;
    }

    /** A statement (load or ALU); returns its label. */
    int stmt(int op, int k) {
        return put(op, 0, 0, k);
    }

    /** Emits "return action" (or reuses a nearby one) and returns its label. */
    int emitRet(int action) {
        return resolve(ret(action), 0);
    }

    /**
     * Makes target the instruction right after the next one emitted, for a statement (load, ALU)
     * that has no jump of its own: a return is duplicated, other code is reached with BPF_JA.
     */
    long emitAt(long target) {
        if ((target & RET) == 0 && (int) target == n - 1) {
            return target;
        }
        if ((target & RET) != 0) {
            int label = put(RET_K, 0, 0, (int) target);
            lastRet.put((int) target, label);
            return label;
        }
        return put(JA, 0, 0, n - (int) target - 1);
    }

    /** A conditional jump on the accumulator against k; returns its label. */
    int jump(int op, int k, long jt, long jf) {
        if (jt == jf) {
            // Both ways lead to the same place: the test is useless, no instruction needed. The
            // caller gets the target itself, so this returns its label.
            return resolve(jt, 0);
        }
        // jf is resolved first allowing for one more instruction (a trampoline for jt) between.
        int f = resolve(jf, 1);
        int t = resolve(jt, 0);
        return put(op, n - t - 1, n - f - 1, k);
    }

    /** Makes target reachable by a jump emitted after at most `slack` more instructions. */
    private int resolve(long target, int slack) {
        if ((target & RET) != 0) {
            int action = (int) target;
            Integer l = lastRet.get(action);
            if (l != null && n + slack - l - 1 <= MAX_JUMP) {
                return l;
            }
            int label = put(RET_K, 0, 0, action);
            lastRet.put(action, label);
            return label;
        }
        int l = (int) target;
        if (n + slack - l - 1 <= MAX_JUMP) {
            return l;
        }
        return put(JA, 0, 0, n - l - 1);
    }

    private int put(int op, int jt, int jf, int k) {
        if (n == code.length) {
            code = Arrays.copyOf(code, n * 2);
        }
        code[n] = (long) op | (long) jt << 16 | (long) jf << 24 | (k & 0xffffffffL) << 32;
        return n++;
    }

    /** The program in execution order as struct sock_filter[] (little-endian, 8 bytes each). */
    byte[] toBytes() {
        byte[] out = new byte[n * 8];
        for (int i = 0; i < n; i++) {
            long insn = code[n - 1 - i];
            for (int b = 0; b < 8; b++) {
                out[i * 8 + b] = (byte) (insn >>> (8 * b));
            }
        }
        return out;
    }
}
