package dev.bulwark.seccomp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.bulwark.runtime.Capabilities;
import dev.bulwark.seccomp.DockerProfile.KernelVersion;
import dev.bulwark.spec.Spec.Seccomp;
import dev.bulwark.spec.Spec.SeccompSyscall;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/**
 * Since 5.11 the kernel keeps, per filter and per native/compat architecture, a bitmap of syscall
 * numbers the filter allows whatever their arguments, and answers those without running the
 * program. It fills the bitmap by emulating the program once per number, and gives up on a number
 * as soon as the path loads anything but nr or arch or meets an instruction outside a small set
 * (seccomp_is_const_allow in kernel/seccomp.c, restated below). So a program is only as fast as
 * the common case if its dispatch path stays inside that set: this checks that Bulwark's program
 * for Docker's profile lets the kernel cache every syscall the profile allows unconditionally.
 * seccomp-bench.sh measures the result (getppid) beside a call the program must evaluate.
 */
class ActionCacheTest {
    private static final KernelVersion K61 = new KernelVersion(6, 1);

    /** The kernel's emulator: true when the path for (arch, nr) ends in RET_ALLOW from nr and arch alone. */
    static boolean constAllow(byte[] filter, int auditArch, int nr) {
        ByteBuffer b = ByteBuffer.wrap(filter).order(ByteOrder.LITTLE_ENDIAN);
        int len = filter.length / 8;
        int a = 0;
        for (int pc = 0; pc < len; pc++) {
            int code = b.getShort(pc * 8) & 0xffff;
            int jt = b.get(pc * 8 + 2) & 0xff;
            int jf = b.get(pc * 8 + 3) & 0xff;
            int k = b.getInt(pc * 8 + 4);
            switch (code) {
                case 0x20 -> { // BPF_LD | BPF_W | BPF_ABS
                    if (k == SeccompCompiler.OFF_NR) {
                        a = nr;
                    } else if (k == SeccompCompiler.OFF_ARCH) {
                        a = auditArch;
                    } else {
                        return false;
                    }
                }
                case 0x06 -> { // BPF_RET | BPF_K
                    return k == SeccompAction.SECCOMP_RET_ALLOW;
                }
                case 0x05 -> pc += k; // BPF_JMP | BPF_JA
                case 0x15, 0x35, 0x25, 0x45 -> { // JEQ, JGE, JGT, JSET with K
                    boolean taken = switch (code) {
                        case 0x15 -> a == k;
                        case 0x35 -> Integer.compareUnsigned(a, k) >= 0;
                        case 0x25 -> Integer.compareUnsigned(a, k) > 0;
                        default -> (a & k) != 0;
                    };
                    pc += taken ? jt : jf;
                }
                case 0x54 -> a &= k; // BPF_ALU | BPF_AND | BPF_K
                default -> {
                    return false;
                }
            }
        }
        return false;
    }

    private static Set<String> namesWhere(Seccomp s, boolean unconditionalAllow) {
        Set<String> out = new TreeSet<>();
        for (SeccompSyscall r : s.syscalls()) {
            if (r.action().equals("SCMP_ACT_ALLOW") && r.args().isEmpty() == unconditionalAllow) {
                out.addAll(r.names());
            }
        }
        return out;
    }

    @Test
    void everyUnconditionallyAllowedSyscallIsCachedOnNativeAndCompat() {
        Seccomp s = DefaultProfile.oci(new HashSet<>(Capabilities.DOCKER_DEFAULT), Arch.X86_64, K61);
        byte[] filter = SeccompCompiler.compile(s, Arch.X86_64).filter();
        Set<String> always = namesWhere(s, true);
        Set<String> sometimes = namesWhere(s, false);
        sometimes.removeAll(always);
        int checked = 0;
        for (Arch arch : List.of(Arch.X86_64, Arch.X86)) {
            List<String> missed = new ArrayList<>();
            for (String name : always) {
                int nr = SyscallTable.number(name, arch);
                if (nr != SyscallTable.ABSENT) {
                    checked++;
                    if (!constAllow(filter, arch.auditArch(), nr)) {
                        missed.add(name);
                    }
                }
            }
            assertEquals(List.of(), missed, arch + ": allowed for all arguments but not cacheable");
            // The emulator can say no: conditional rules read args, so the kernel runs the program.
            for (String name : sometimes) {
                int nr = SyscallTable.number(name, arch);
                if (nr != SyscallTable.ABSENT) {
                    assertFalse(constAllow(filter, arch.auditArch(), nr), arch + " " + name);
                }
            }
        }
        assertTrue(checked > 600, "only " + checked + " syscalls checked");
        assertTrue(constAllow(filter, Arch.X86_64.auditArch(), SyscallTable.number("getppid", Arch.X86_64)));
        assertFalse(constAllow(filter, Arch.X86_64.auditArch(), SyscallTable.number("mount", Arch.X86_64)), "refused");
    }
}
