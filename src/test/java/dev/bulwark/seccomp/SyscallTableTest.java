package dev.bulwark.seccomp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** The generated table agrees with the kernel's own syscall headers for the x86 ABIs. */
class SyscallTableTest {
    private static final Pattern DEFINE =
            Pattern.compile("#define __NR_(\\w+) (?:(\\d+)|\\(__X32_SYSCALL_BIT \\+ (\\d+)\\))");

    @Test
    void x86_64MatchesUnistd64() throws Exception {
        assertEquals(0, mismatches("unistd_64.h", Arch.X86_64));
    }

    @Test
    void x86MatchesUnistd32() throws Exception {
        assertEquals(0, mismatches("unistd_32.h", Arch.X86));
    }

    @Test
    void x32MatchesUnistdX32() throws Exception {
        assertEquals(0, mismatches("unistd_x32.h", Arch.X32));
    }

    @Test
    void otherArchitecturesHaveTheirOwnNumbers() {
        // Facts from the arm64 and arm syscall tables, independent of the generator.
        assertEquals(63, SyscallTable.number("read", Arch.AARCH64));
        assertEquals(220, SyscallTable.number("clone", Arch.AARCH64));
        assertEquals(SyscallTable.ABSENT, SyscallTable.number("open", Arch.AARCH64));
        assertEquals(3, SyscallTable.number("read", Arch.ARM));
        assertEquals(0x0f0005, SyscallTable.number("set_tls", Arch.ARM));
        assertTrue(SyscallTable.known("s390_runtime_instr"), "known to libseccomp, though on none of our ABIs");
    }

    private static int mismatches(String header, Arch arch) throws Exception {
        Path p = Path.of("/usr/include/x86_64-linux-gnu/asm", header);
        int checked = 0;
        int bad = 0;
        for (String line : Files.readAllLines(p)) {
            Matcher m = DEFINE.matcher(line.trim());
            if (!m.matches()) {
                continue;
            }
            int nr = m.group(2) != null ? Integer.parseInt(m.group(2)) : Arch.X32_SYSCALL_BIT | Integer.parseInt(m.group(3));
            int ours = SyscallTable.number(m.group(1), arch);
            if (ours != nr) {
                System.out.printf("%s: %s is %d in %s, %d in the table%n", arch, m.group(1), nr, header, ours);
                bad++;
            }
            checked++;
        }
        assertTrue(checked > 300, "only " + checked + " syscalls read from " + p);
        return bad;
    }
}
