package dev.bulwark.seccomp;

/**
 * Runs a classic BPF seccomp program over one struct seccomp_data, as the kernel would: the
 * instruction subset seccomp accepts (loads from the 64-byte data, scratch memory, ALU, jumps,
 * returns). It checks what the kernel's verifier checks on the way (aligned in-bounds loads,
 * jumps inside the program) and counts the instructions executed.
 */
final class BpfInterpreter {
    private final int[] code;
    private final int[] jt;
    private final int[] jf;
    private final int[] k;
    private int executed;

    BpfInterpreter(byte[] filter) {
        if (filter.length % 8 != 0 || filter.length == 0) {
            throw new IllegalArgumentException("filter length " + filter.length + " is not a positive multiple of 8");
        }
        int n = filter.length / 8;
        if (n > 4096) {
            throw new IllegalArgumentException("filter has " + n + " instructions, more than BPF_MAXINSNS");
        }
        code = new int[n];
        jt = new int[n];
        jf = new int[n];
        k = new int[n];
        for (int i = 0; i < n; i++) {
            int o = i * 8;
            code[i] = (filter[o] & 0xff) | (filter[o + 1] & 0xff) << 8;
            jt[i] = filter[o + 2] & 0xff;
            jf[i] = filter[o + 3] & 0xff;
            k[i] = (filter[o + 4] & 0xff) | (filter[o + 5] & 0xff) << 8 | (filter[o + 6] & 0xff) << 16
                    | (filter[o + 7] & 0xff) << 24;
        }
    }

    int length() {
        return code.length;
    }

    /** Instructions executed by the last run, the return included. */
    int executed() {
        return executed;
    }

    int run(int nr, int arch, long ip, long[] args) {
        int[] data = new int[16];
        data[0] = nr;
        data[1] = arch;
        data[2] = (int) ip;
        data[3] = (int) (ip >>> 32);
        for (int i = 0; i < 6; i++) {
            long v = i < args.length ? args[i] : 0;
            data[4 + 2 * i] = (int) v;
            data[5 + 2 * i] = (int) (v >>> 32);
        }
        int a = 0;
        int x = 0;
        int[] mem = new int[16];
        executed = 0;
        int pc = 0;
        while (true) {
            if (pc >= code.length) {
                throw new IllegalStateException("fell off the end of the program at " + pc);
            }
            executed++;
            int op = code[pc];
            int kk = k[pc];
            int next = pc + 1;
            switch (op & 0x07) {
                case 0x00 -> { // BPF_LD
                    switch (op) {
                        case 0x20 -> a = load(data, kk, pc); // LD W ABS
                        case 0x80 -> a = 64; // LD W LEN
                        case 0x00 -> a = kk; // LD IMM
                        case 0x60 -> a = mem[scratch(kk, pc)]; // LD MEM
                        default -> throw bad(pc, op);
                    }
                }
                case 0x01 -> { // BPF_LDX
                    switch (op) {
                        case 0x81 -> x = 64;
                        case 0x01 -> x = kk;
                        case 0x61 -> x = mem[scratch(kk, pc)];
                        default -> throw bad(pc, op);
                    }
                }
                case 0x02 -> mem[scratch(kk, pc)] = a; // ST
                case 0x03 -> mem[scratch(kk, pc)] = x; // STX
                case 0x04 -> { // BPF_ALU
                    int src = (op & 0x08) != 0 ? x : kk;
                    a = switch (op & 0xf0) {
                        case 0x00 -> a + src;
                        case 0x10 -> a - src;
                        case 0x20 -> a * src;
                        case 0x30 -> {
                            if (src == 0) {
                                throw new IllegalStateException("division by zero at " + pc);
                            }
                            yield Integer.divideUnsigned(a, src);
                        }
                        case 0x40 -> a | src;
                        case 0x50 -> a & src;
                        case 0x60 -> src >= 32 ? 0 : a << src;
                        case 0x70 -> src >= 32 ? 0 : a >>> src;
                        case 0x80 -> -a;
                        case 0x90 -> Integer.remainderUnsigned(a, src);
                        case 0xa0 -> a ^ src;
                        default -> throw bad(pc, op);
                    };
                }
                case 0x05 -> { // BPF_JMP
                    if (op == 0x05) {
                        next = pc + 1 + kk;
                    } else {
                        int src = (op & 0x08) != 0 ? x : kk;
                        boolean cond = switch (op & 0xf0) {
                            case 0x10 -> a == src;
                            case 0x20 -> Integer.compareUnsigned(a, src) > 0;
                            case 0x30 -> Integer.compareUnsigned(a, src) >= 0;
                            case 0x40 -> (a & src) != 0;
                            default -> throw bad(pc, op);
                        };
                        next = pc + 1 + (cond ? jt[pc] : jf[pc]);
                    }
                    if (next <= pc || next >= code.length) {
                        throw new IllegalStateException("jump from " + pc + " to " + next + " leaves the program");
                    }
                }
                case 0x06 -> { // BPF_RET
                    return switch (op & 0x18) {
                        case 0x00 -> kk;
                        case 0x10 -> a;
                        default -> throw bad(pc, op);
                    };
                }
                case 0x07 -> { // BPF_MISC
                    switch (op) {
                        case 0x07 -> x = a; // TAX
                        case 0x87 -> a = x; // TXA
                        default -> throw bad(pc, op);
                    }
                }
                default -> throw bad(pc, op);
            }
            pc = next;
        }
    }

    private static int load(int[] data, int off, int pc) {
        // The kernel's seccomp_check_filter: 32-bit, aligned loads inside struct seccomp_data only.
        if (off < 0 || off >= 64 || (off & 3) != 0) {
            throw new IllegalStateException("load of offset " + off + " at " + pc + " is outside seccomp_data");
        }
        return data[off / 4];
    }

    private static int scratch(int i, int pc) {
        if (i < 0 || i >= 16) {
            throw new IllegalStateException("scratch slot " + i + " at " + pc);
        }
        return i;
    }

    private static IllegalStateException bad(int pc, int op) {
        return new IllegalStateException(String.format("instruction 0x%04x at %d is not allowed in seccomp", op, pc));
    }

    /** A listing for failure messages. */
    String disassemble() {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < code.length; i++) {
            sb.append(String.format("%4d: op=0x%02x jt=%d jf=%d k=0x%08x%n", i, code[i], jt[i], jf[i], k[i]));
        }
        return sb.toString();
    }
}
