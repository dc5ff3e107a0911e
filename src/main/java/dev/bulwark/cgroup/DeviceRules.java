package dev.bulwark.cgroup;

import dev.bulwark.spec.Spec.DeviceCgroup;
import java.io.ByteArrayOutputStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * linux.resources.devices, checked and translated for both cgroup versions.
 *
 * <p>Meaning, the same on v1 and v2, is that of the v1 devices controller: access starts denied
 * for every device; a rule of type "a" with no device numbers and access "rwm" resets everything
 * to allowed or denied; any other rule that differs from the current default adds an exception
 * (merged with an exception for exactly the same type and numbers), and one that agrees with the
 * default takes its access bits out of the exception with exactly the same type and numbers. An
 * access to an allowed-by-exception device must be covered by one exception; an access to a
 * denied-by-exception device is refused if any of its bits is named.
 *
 * <p>The v1 kernel cannot deny part of an earlier wider allow (or allow part of an earlier wider
 * deny): such a rule would silently do nothing there. It is refused instead, on both versions, so
 * a config means the same everywhere. On v2 the final state becomes a BPF device program.
 */
public final class DeviceRules {
    /** Device types and access bits as struct bpf_cgroup_dev_ctx carries them (include/uapi/linux/bpf.h). */
    static final int DEV_BLOCK = 1, DEV_CHAR = 2;
    static final int ACC_MKNOD = 1, ACC_READ = 2, ACC_WRITE = 4, ACC_ALL = 7;

    /** One checked rule; major and minor are -1 for a wildcard, type is 'a', 'b' or 'c', access a mask of ACC_*. */
    record Rule(boolean allow, char type, long major, long minor, int access) {
        String v1Line(char t) {
            return t + " " + (major < 0 ? "*" : Long.toString(major)) + ":" + (minor < 0 ? "*" : Long.toString(minor))
                    + " " + accessString(access);
        }
    }

    private final List<Rule> rules;

    private DeviceRules(List<Rule> rules) {
        this.rules = rules;
    }

    /** Checks every rule; an error names linux.resources.devices[i] and the field. */
    public static DeviceRules of(List<DeviceCgroup> specRules) {
        List<Rule> out = new ArrayList<>();
        for (int i = 0; i < specRules.size(); i++) {
            DeviceCgroup d = specRules.get(i);
            String at = "linux.resources.devices[" + i + "]";
            String type = d.type().isEmpty() ? "a" : d.type();
            if (!type.equals("a") && !type.equals("b") && !type.equals("c")) {
                throw new CgroupException(at + ".type: expected \"a\", \"b\" or \"c\", found \"" + d.type() + "\"");
            }
            out.add(new Rule(d.allow(), type.charAt(0), number(at + ".major", d.major().orElse(-1L)),
                    number(at + ".minor", d.minor().orElse(-1L)), access(at + ".access", d.access())));
        }
        return new DeviceRules(List.copyOf(out));
    }

    private static long number(String at, long v) {
        // -1 is how Go-based engines write a wildcard; majors are 12 bits and minors 20 bits in
        // the kernel, so anything from 2^31 is a mistake (and would not fit a BPF immediate).
        if (v < -1 || v > Integer.MAX_VALUE) {
            throw new CgroupException(at + ": expected a device number from 0 to " + Integer.MAX_VALUE
                    + " (or absent for any), found " + v);
        }
        return v;
    }

    private static int access(String at, String s) {
        if (s.isEmpty()) {
            return ACC_ALL;
        }
        int mask = 0;
        for (char c : s.toCharArray()) {
            int bit = switch (c) {
                case 'r' -> ACC_READ;
                case 'w' -> ACC_WRITE;
                case 'm' -> ACC_MKNOD;
                default -> throw new CgroupException(at + ": expected letters from \"rwm\", found \"" + s + "\"");
            };
            mask |= bit;
        }
        return mask;
    }

    static String accessString(int mask) {
        return ((mask & ACC_READ) != 0 ? "r" : "") + ((mask & ACC_WRITE) != 0 ? "w" : "") + ((mask & ACC_MKNOD) != 0 ? "m" : "");
    }

    public boolean isEmpty() {
        return rules.isEmpty();
    }

    /** A v1 write: a line for devices.allow or devices.deny. */
    public record V1Write(String file, String line, String setting) {}

    /** The result of applying all rules: the default and the exceptions to it. */
    record State(boolean defaultAllow, List<Rule> exceptions) {}

    /**
     * The writes that give a v1 devices cgroup this meaning: first "a" to devices.deny (deny
     * everything), then each rule; a rule of type "a" with device numbers becomes one line for
     * "b" and one for "c" (the kernel reads any line starting with "a" as all devices).
     */
    public List<V1Write> v1Writes() {
        List<V1Write> out = new ArrayList<>();
        out.add(new V1Write("devices.deny", "a", "linux.resources.devices"));
        emulate(out);
        return out;
    }

    State state() {
        return emulate(new ArrayList<>());
    }

    private State emulate(List<V1Write> out) {
        boolean defaultAllow = false;
        List<Rule> exceptions = new ArrayList<>();
        for (int i = 0; i < rules.size(); i++) {
            Rule r = rules.get(i);
            String at = "linux.resources.devices[" + i + "]";
            String file = r.allow() ? "devices.allow" : "devices.deny";
            if (r.type() == 'a' && r.major() < 0 && r.minor() < 0) {
                if (r.access() != ACC_ALL) {
                    throw new CgroupException(at + ": cannot " + (r.allow() ? "allow" : "deny")
                            + " only \"" + accessString(r.access()) + "\" on all devices (cgroup v1 resets all of \"rwm\")");
                }
                out.add(new V1Write(file, "a", at));
                defaultAllow = r.allow();
                exceptions.clear();
                continue;
            }
            List<Character> types = r.type() == 'a' ? List.of('b', 'c') : List.of(r.type());
            for (char t : types) {
                Rule typed = new Rule(r.allow(), t, r.major(), r.minor(), r.access());
                int same = -1;
                for (int j = 0; j < exceptions.size(); j++) {
                    Rule e = exceptions.get(j);
                    if (e.type() == t && e.major() == r.major() && e.minor() == r.minor()) {
                        same = j;
                    } else if (r.allow() == defaultAllow && overlaps(e, typed)) {
                        throw new CgroupException(at + ": cannot " + (r.allow() ? "allow" : "deny")
                                + " \"" + typed.v1Line(t) + "\" across the earlier rule \"" + e.v1Line(e.type())
                                + "\" (cgroup v1 only removes an exception with exactly the same device numbers;"
                                + " list the narrower rule first or name the same devices)");
                    }
                }
                if (r.allow() == defaultAllow) {
                    if (same >= 0) {
                        Rule e = exceptions.get(same);
                        exceptions.set(same, new Rule(e.allow(), t, e.major(), e.minor(), e.access() & ~r.access()));
                        exceptions.removeIf(x -> x.access() == 0);
                    }
                } else if (same >= 0) {
                    Rule e = exceptions.get(same);
                    exceptions.set(same, new Rule(e.allow(), t, e.major(), e.minor(), e.access() | r.access()));
                } else {
                    exceptions.add(typed);
                }
                out.add(new V1Write(file, typed.v1Line(t), at));
            }
        }
        return new State(defaultAllow, List.copyOf(exceptions));
    }

    private static boolean overlaps(Rule a, Rule b) {
        return a.type() == b.type()
                && (a.major() < 0 || b.major() < 0 || a.major() == b.major())
                && (a.minor() < 0 || b.minor() < 0 || a.minor() == b.minor())
                && (a.access() & b.access()) != 0;
    }

    // --- cgroup v2: a BPF_PROG_TYPE_CGROUP_DEVICE program -------------------------------------

    // eBPF opcodes (include/uapi/linux/bpf.h, bpf_common.h).
    private static final int LDX_MEM_W = 0x61;   // BPF_LDX | BPF_MEM | BPF_W
    private static final int ALU64_MOV_K = 0xb7; // BPF_ALU64 | BPF_MOV | BPF_K
    private static final int ALU64_MOV_X = 0xbf; // BPF_ALU64 | BPF_MOV | BPF_X
    private static final int ALU64_AND_K = 0x57; // BPF_ALU64 | BPF_AND | BPF_K
    private static final int ALU64_RSH_K = 0x77; // BPF_ALU64 | BPF_RSH | BPF_K
    private static final int JMP_JEQ_K = 0x15;   // BPF_JMP | BPF_JEQ | BPF_K
    private static final int JMP_JNE_K = 0x55;   // BPF_JMP | BPF_JNE | BPF_K
    private static final int JMP_EXIT = 0x95;    // BPF_JMP | BPF_EXIT

    // Registers: r1 is the context on entry; r2..r5 hold its fields; r0 is scratch, then the verdict.
    private static final int R0 = 0, R1 = 1, TYPE = 2, ACCESS = 3, MAJOR = 4, MINOR = 5;

    /**
     * The v2 program for these rules, to attach to {@code cgroupDir}: it returns 1 (allow) or 0
     * (deny) the way a v1 devices cgroup in the same {@link #state()} would decide.
     */
    public DeviceProgram v2Program(Path cgroupDir) {
        State st = state();
        List<long[]> insns = new ArrayList<>();
        // struct bpf_cgroup_dev_ctx { u32 access_type; u32 major; u32 minor; }:
        // access_type is (access << 16) | type.
        insns.add(insn(LDX_MEM_W, TYPE, R1, 0, 0));
        insns.add(insn(ALU64_MOV_X, ACCESS, TYPE, 0, 0));
        insns.add(insn(ALU64_AND_K, TYPE, 0, 0, 0xFFFF));
        insns.add(insn(ALU64_RSH_K, ACCESS, 0, 0, 16));
        insns.add(insn(LDX_MEM_W, MAJOR, R1, 4, 0));
        insns.add(insn(LDX_MEM_W, MINOR, R1, 8, 0));
        int verdict = st.defaultAllow() ? 0 : 1; // what a matching exception decides
        for (Rule e : st.exceptions()) {
            List<long[]> block = new ArrayList<>();
            List<Integer> skips = new ArrayList<>();
            skips.add(block.size());
            block.add(insn(JMP_JNE_K, TYPE, 0, 0, e.type() == 'b' ? DEV_BLOCK : DEV_CHAR));
            if (e.access() != ACC_ALL) {
                block.add(insn(ALU64_MOV_X, R0, ACCESS, 0, 0));
                if (!st.defaultAllow()) {
                    // An allowing exception must grant every requested bit: (access & ~granted) == 0.
                    block.add(insn(ALU64_AND_K, R0, 0, 0, ~e.access() & ACC_ALL));
                    skips.add(block.size());
                    block.add(insn(JMP_JNE_K, R0, 0, 0, 0));
                } else {
                    // A denying exception refuses if any requested bit is named: (access & denied) != 0.
                    block.add(insn(ALU64_AND_K, R0, 0, 0, e.access()));
                    skips.add(block.size());
                    block.add(insn(JMP_JEQ_K, R0, 0, 0, 0));
                }
            }
            if (e.major() >= 0) {
                skips.add(block.size());
                block.add(insn(JMP_JNE_K, MAJOR, 0, 0, (int) e.major()));
            }
            if (e.minor() >= 0) {
                skips.add(block.size());
                block.add(insn(JMP_JNE_K, MINOR, 0, 0, (int) e.minor()));
            }
            block.add(insn(ALU64_MOV_K, R0, 0, 0, verdict));
            block.add(insn(JMP_EXIT, 0, 0, 0, 0));
            for (int at : skips) {
                block.get(at)[3] = block.size() - at - 1; // to the first instruction after the block
            }
            insns.addAll(block);
        }
        insns.add(insn(ALU64_MOV_K, R0, 0, 0, st.defaultAllow() ? 1 : 0));
        insns.add(insn(JMP_EXIT, 0, 0, 0, 0));
        ByteArrayOutputStream out = new ByteArrayOutputStream(insns.size() * 8);
        for (long[] in : insns) {
            int off = (int) in[3]; // at most the length of one block: always fits the s16 field
            int imm = (int) in[4];
            out.write((int) in[0]);
            out.write((int) (in[1] & 0xF) | (int) ((in[2] & 0xF) << 4)); // dst_reg:4 (low), src_reg:4 (high)
            out.write(off & 0xFF);
            out.write((off >> 8) & 0xFF);
            out.write(imm & 0xFF);
            out.write((imm >> 8) & 0xFF);
            out.write((imm >> 16) & 0xFF);
            out.write((imm >> 24) & 0xFF);
        }
        return new DeviceProgram(cgroupDir, out.toByteArray());
    }

    private static long[] insn(int code, int dst, int src, int off, int imm) {
        return new long[] {code, dst, src, off, imm};
    }
}
