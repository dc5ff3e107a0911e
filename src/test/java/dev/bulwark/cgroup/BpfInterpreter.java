package dev.bulwark.cgroup;

/**
 * A small eBPF interpreter for device programs in tests. It also checks what the kernel
 * verifier would refuse in such a program: unknown opcodes, backward or out-of-range jumps,
 * reading a register before it is written, context loads outside struct bpf_cgroup_dev_ctx.
 */
final class BpfInterpreter {
    private final byte[] prog;
    private final int count;

    BpfInterpreter(byte[] prog) {
        this.prog = prog.clone();
        this.count = prog.length / 8;
    }

    /** Runs the program on one access; returns r0. */
    long run(int type, int access, int major, int minor) {
        int[] ctx = {(access << 16) | type, major, minor};
        long[] reg = new long[11];
        boolean[] init = new boolean[11];
        init[1] = true; // r1 = ctx pointer
        init[10] = true; // frame pointer
        int pc = 0;
        for (int steps = 0; steps < 100_000; steps++) {
            if (pc < 0 || pc >= count) {
                throw new AssertionError("pc " + pc + " outside the program of " + count);
            }
            int b = pc * 8;
            int op = prog[b] & 0xFF;
            int dst = prog[b + 1] & 0x0F;
            int src = (prog[b + 1] >> 4) & 0x0F;
            int off = (short) ((prog[b + 2] & 0xFF) | (prog[b + 3] << 8));
            int imm = (prog[b + 4] & 0xFF) | (prog[b + 5] & 0xFF) << 8 | (prog[b + 6] & 0xFF) << 16 | (prog[b + 7] << 24);
            int cls = op & 0x07;
            pc++;
            switch (cls) {
                case 0x01 -> { // LDX
                    if (op != 0x61) {
                        throw new AssertionError("unsupported load opcode 0x" + Integer.toHexString(op));
                    }
                    if (src != 1 || off < 0 || off > 8 || off % 4 != 0) {
                        throw new AssertionError("load from r" + src + "+" + off + " is not a ctx field");
                    }
                    reg[dst] = ctx[off / 4] & 0xFFFF_FFFFL; // ldxw zero-extends
                    init[dst] = true;
                }
                case 0x07 -> { // ALU64
                    boolean x = (op & 0x08) != 0;
                    if (x && !init[src]) {
                        throw new AssertionError("r" + src + " read before written at " + (pc - 1));
                    }
                    long v = x ? reg[src] : imm; // K operands are sign-extended
                    int aluop = op & 0xF0;
                    if (aluop != 0xb0 && !init[dst]) {
                        throw new AssertionError("r" + dst + " read before written at " + (pc - 1));
                    }
                    reg[dst] = switch (aluop) {
                        case 0x00 -> reg[dst] + v;
                        case 0x10 -> reg[dst] - v;
                        case 0x40 -> reg[dst] | v;
                        case 0x50 -> reg[dst] & v;
                        case 0x60 -> reg[dst] << (v & 63);
                        case 0x70 -> reg[dst] >>> (v & 63);
                        case 0xb0 -> v;
                        default -> throw new AssertionError("unsupported ALU64 opcode 0x" + Integer.toHexString(op));
                    };
                    init[dst] = true;
                }
                case 0x05 -> { // JMP
                    if (op == 0x95) {
                        if (!init[0]) {
                            throw new AssertionError("exit with r0 unset");
                        }
                        return reg[0];
                    }
                    if (off < 0) {
                        throw new AssertionError("backward jump at " + (pc - 1));
                    }
                    if (pc + off >= count) {
                        throw new AssertionError("jump past the end at " + (pc - 1));
                    }
                    if (op == 0x05) {
                        pc += off;
                        continue;
                    }
                    if (!init[dst]) {
                        throw new AssertionError("r" + dst + " read before written at " + (pc - 1));
                    }
                    long a = reg[dst];
                    long c = (op & 0x08) != 0 ? reg[src] : imm;
                    boolean taken = switch (op & 0xF0) {
                        case 0x10 -> a == c;
                        case 0x50 -> a != c;
                        case 0x20 -> Long.compareUnsigned(a, c) > 0;
                        case 0x30 -> Long.compareUnsigned(a, c) >= 0;
                        case 0x40 -> (a & c) != 0;
                        default -> throw new AssertionError("unsupported jump opcode 0x" + Integer.toHexString(op));
                    };
                    if (taken) {
                        pc += off;
                    }
                }
                default -> throw new AssertionError("unsupported instruction class " + cls);
            }
        }
        throw new AssertionError("no exit after 100000 steps");
    }
}
