package dev.bulwark.cgroup;

import dev.bulwark.spec.Spec.DeviceCgroup;
import java.io.ByteArrayOutputStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * linux.resources.devices, checked and translated for both cgroup versions.
 *
 * <p>Meaning (the same on v1 and v2): access starts denied for every device; the rules apply in
 * order and, for any access, the last rule that matches it decides. An allow rule matches an
 * access when all requested permissions are in its access string; a deny rule matches when any
 * requested permission is in it. A rule of type "a" with no major and minor and access "rwm"
 * matches everything, so it resets the list.
 */
public final class DeviceRules {
    /** Device types and access bits as struct bpf_cgroup_dev_ctx carries them (include/uapi/linux/bpf.h). */
    static final int DEV_BLOCK = 1, DEV_CHAR = 2;
    static final int ACC_MKNOD = 1, ACC_READ = 2, ACC_WRITE = 4, ACC_ALL = 7;

    /** One checked rule; major and minor are -1 for a wildcard, type is 'a', 'b' or 'c', access a mask of ACC_*. */
    record Rule(boolean allow, char type, long major, long minor, int access) {
        boolean matchesAll() {
            return type == 'a' && major < 0 && minor < 0 && access == ACC_ALL;
        }

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

    /**
     * The writes that give a v1 devices cgroup this meaning: first "a" to devices.deny (deny
     * everything), then each rule, a rule of type "a" with a device number becoming one line for
     * "b" and one for "c" (the kernel reads any line starting with "a" as all devices).
     *
     * <p>The v1 kernel keeps a default (allow or deny) and a list of exceptions, and a rule that
     * agrees with the default only removes an exception with exactly the same type and numbers.
     * So it cannot deny part of an earlier wider allow (or allow part of an earlier wider deny):
     * such a rule would be silently ineffective there, and is refused instead.
     */
    public List<V1Write> v1Writes() {
        List<V1Write> out = new ArrayList<>();
        out.add(new V1Write("devices.deny", "a", "linux.resources.devices"));
        boolean defaultAllow = false;
        List<Rule> exceptions = new ArrayList<>();
        for (int i = 0; i < rules.size(); i++) {
            Rule r = rules.get(i);
            String at = "linux.resources.devices[" + i + "]";
            String file = r.allow() ? "devices.allow" : "devices.deny";
            if (r.type() == 'a' && r.major() < 0 && r.minor() < 0) {
                if (r.access() != ACC_ALL) {
                    throw new CgroupException(at + ": cgroup v1 cannot " + (r.allow() ? "allow" : "deny")
                            + " \"" + accessString(r.access()) + "\" on all devices, only all of \"rwm\"");
                }
                out.add(new V1Write(file, "a", at));
                defaultAllow = r.allow();
                exceptions.clear();
                continue;
            }
            List<Character> types = r.type() == 'a' ? List.of('b', 'c') : List.of(r.type());
            for (char t : types) {
                Rule typed = new Rule(r.allow(), t, r.major(), r.minor(), r.access());
                if (r.allow() == defaultAllow) {
                    for (int j = 0; j < exceptions.size(); j++) {
                        Rule e = exceptions.get(j);
                        boolean same = e.type() == t && e.major() == r.major() && e.minor() == r.minor();
                        if (same) {
                            // The kernel takes the named bits out of the exception.
                            exceptions.set(j, new Rule(e.allow(), e.type(), e.major(), e.minor(), e.access() & ~r.access()));
                        } else if (overlaps(e, typed)) {
                            throw new CgroupException(at + ": cgroup v1 cannot " + (r.allow() ? "allow" : "deny")
                                    + " \"" + typed.v1Line(t) + "\" across the earlier rule \"" + e.v1Line(e.type())
                                    + "\" (v1 only removes an exception with exactly the same device numbers)");
                        }
                    }
                    exceptions.removeIf(e -> e.access() == 0);
                } else {
                    exceptions.add(typed);
                }
                out.add(new V1Write(file, typed.v1Line(t), at));
            }
        }
        return out;
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
     * The v2 program for these rules, to attach to {@code cgroupDir}. The rules are tested from
     * the last to the first and the first match returns its verdict (1 allows, 0 denies); no
     * match denies. Rules after a match-everything rule are the only ones that can matter, so
     * the program stops there.
     */
    public DeviceProgram v2Program(Path cgroupDir) {
        List<long[]> insns = new ArrayList<>();
        // struct bpf_cgroup_dev_ctx { u32 access_type; u32 major; u32 minor; }:
        // access_type is (access << 16) | type.
        insns.add(insn(LDX_MEM_W, TYPE, R1, 0, 0));
        insns.add(insn(ALU64_MOV_X, ACCESS, TYPE, 0, 0));
        insns.add(insn(ALU64_AND_K, TYPE, 0, 0, 0xFFFF));
        insns.add(insn(ALU64_RSH_K, ACCESS, 0, 0, 16));
        insns.add(insn(LDX_MEM_W, MAJOR, R1, 4, 0));
        insns.add(insn(LDX_MEM_W, MINOR, R1, 8, 0));
        boolean complete = false;
        for (int i = rules.size() - 1; i >= 0 && !complete; i--) {
            Rule r = rules.get(i);
            List<long[]> block = new ArrayList<>();
            List<Integer> skips = new ArrayList<>();
            if (r.type() != 'a') {
                skips.add(block.size());
                block.add(insn(JMP_JNE_K, TYPE, 0, 0, r.type() == 'b' ? DEV_BLOCK : DEV_CHAR));
            }
            if (r.access() != ACC_ALL) {
                block.add(insn(ALU64_MOV_X, R0, ACCESS, 0, 0));
                if (r.allow()) {
                    // Allow only if every requested bit is granted: (access & ~granted) == 0.
                    block.add(insn(ALU64_AND_K, R0, 0, 0, ~r.access() & ACC_ALL));
                    skips.add(block.size());
                    block.add(insn(JMP_JNE_K, R0, 0, 0, 0));
                } else {
                    // Deny if any requested bit is named: (access & denied) != 0.
                    block.add(insn(ALU64_AND_K, R0, 0, 0, r.access()));
                    skips.add(block.size());
                    block.add(insn(JMP_JEQ_K, R0, 0, 0, 0));
                }
            }
            if (r.major() >= 0) {
                skips.add(block.size());
                block.add(insn(JMP_JNE_K, MAJOR, 0, 0, (int) r.major()));
            }
            if (r.minor() >= 0) {
                skips.add(block.size());
                block.add(insn(JMP_JNE_K, MINOR, 0, 0, (int) r.minor()));
            }
            block.add(insn(ALU64_MOV_K, R0, 0, 0, r.allow() ? 1 : 0));
            block.add(insn(JMP_EXIT, 0, 0, 0, 0));
            for (int at : skips) {
                block.get(at)[3] = block.size() - at - 1; // jump to the first instruction after the block
            }
            insns.addAll(block);
            complete = skips.isEmpty();
        }
        if (!complete) {
            insns.add(insn(ALU64_MOV_K, R0, 0, 0, 0));
            insns.add(insn(JMP_EXIT, 0, 0, 0, 0));
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream(insns.size() * 8);
        for (long[] in : insns) {
            int off = (int) in[3];
            if (off > Short.MAX_VALUE) {
                throw new CgroupException("linux.resources.devices: too many rules for one BPF program");
            }
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
