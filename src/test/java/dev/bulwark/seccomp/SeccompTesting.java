package dev.bulwark.seccomp;

import dev.bulwark.spec.Spec.Seccomp;
import dev.bulwark.spec.Spec.SeccompArg;
import dev.bulwark.spec.Spec.SeccompSyscall;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * Shared test support: the libseccomp reference (a C helper compiled with gcc at test time), an
 * independent statement of the compiler's semantics to check programs against, and builders.
 */
final class SeccompTesting {
    static final int ALLOW = SeccompAction.SECCOMP_RET_ALLOW;
    static final int KILL_PROCESS = SeccompAction.SECCOMP_RET_KILL_PROCESS;
    private static Path helper;

    private SeccompTesting() {}

    static Path sourceDir() {
        return Path.of(System.getProperty("bulwark.source.dir", System.getProperty("user.dir")));
    }

    /** Builds src/test/c/seccomp/scmp_export.c once per JVM (needs gcc and libseccomp-dev). */
    static synchronized Path helper() throws IOException, InterruptedException {
        if (helper == null) {
            Path src = sourceDir().resolve("src/test/c/seccomp/scmp_export.c");
            Path out = sourceDir().resolve("target/test-c/scmp_export");
            Files.createDirectories(out.getParent());
            Process p = new ProcessBuilder("gcc", "-O2", "-Wall", "-Wextra", "-Werror", "-o", out.toString(), src.toString(),
                    "-lseccomp").redirectErrorStream(true).start();
            String log = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (p.waitFor() != 0) {
                throw new IllegalStateException("building the libseccomp helper failed (are gcc and libseccomp-dev "
                        + "installed?):\n" + log);
            }
            helper = out;
        }
        return helper;
    }

    /** libseccomp's program for the profile, built the way runc builds it. */
    static byte[] libseccomp(Seccomp s, int optimize) throws IOException, InterruptedException {
        StringBuilder in = new StringBuilder();
        in.append("default ").append(s.defaultAction()).append(' ').append(errno(s.defaultErrnoRet())).append('\n');
        in.append("badarch SCMP_ACT_KILL_PROCESS\n");
        in.append("optimize ").append(optimize).append('\n');
        for (String a : s.architectures()) {
            in.append("arch ").append(a).append('\n');
        }
        for (SeccompSyscall sc : s.syscalls()) {
            for (String name : sc.names()) {
                in.append("rule ").append(sc.action()).append(' ').append(errno(sc.errnoRet())).append(' ').append(name)
                        .append(' ').append(sc.args().size());
                for (SeccompArg a : sc.args()) {
                    in.append(' ').append(a.index()).append(' ').append(a.op()).append(' ')
                            .append(Long.toUnsignedString(a.value())).append(' ').append(Long.toUnsignedString(a.valueTwo()));
                }
                in.append('\n');
            }
        }
        Process p = new ProcessBuilder(helper().toString()).start();
        try (OutputStream os = p.getOutputStream()) {
            os.write(in.toString().getBytes(StandardCharsets.US_ASCII));
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (InputStream is = p.getInputStream()) {
            is.transferTo(out);
        }
        String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(30, TimeUnit.SECONDS) || p.exitValue() != 0) {
            throw new IllegalStateException("libseccomp refused the profile: " + err + "\ninput:\n" + in);
        }
        return out.toByteArray();
    }

    private static String errno(Optional<Integer> e) {
        return e.map(String::valueOf).orElse("-");
    }

    // ---- builders --------------------------------------------------------------------------

    static Seccomp profile(String defaultAction, List<String> arches, SeccompSyscall... rules) {
        return new Seccomp(defaultAction, Optional.empty(), arches, List.of(), "", "", List.of(rules));
    }

    static SeccompSyscall rule(String action, List<String> names, SeccompArg... args) {
        return new SeccompSyscall(names, action, Optional.empty(), List.of(args));
    }

    static SeccompSyscall rule(String action, String name, SeccompArg... args) {
        return rule(action, List.of(name), args);
    }

    static SeccompArg arg(int index, String op, long value) {
        return new SeccompArg(index, value, 0, op);
    }

    static SeccompArg masked(int index, long mask, long datum) {
        return new SeccompArg(index, mask, datum, "SCMP_CMP_MASKED_EQ");
    }

    static int errno(int e) {
        return SeccompAction.SECCOMP_RET_ERRNO | e;
    }

    // ---- the semantics, stated directly ----------------------------------------------------

    /**
     * What the compiled filter must return, computed straight from the profile without BPF: the
     * rules documented on {@link SeccompCompiler}.
     */
    static int expected(Seccomp s, Arch host, int auditArch, int nr, long[] args) {
        List<Arch> arches = new ArrayList<>();
        arches.add(host);
        for (String a : s.architectures()) {
            Arch arch = Arch.byOciName(a).orElseThrow();
            if (!arches.contains(arch)) {
                arches.add(arch);
            }
        }
        Arch abi = null;
        for (Arch a : arches) {
            if (a.auditArch() != auditArch) {
                continue;
            }
            // libseccomp splits x86_64 from x32 by an unsigned nr >= __X32_SYSCALL_BIT, not by the bit alone.
            boolean x32Number = Integer.compareUnsigned(nr, Arch.X32_SYSCALL_BIT) >= 0;
            if (a == Arch.X86_64 && (!x32Number || nr == -1)) {
                abi = a;
            } else if (a == Arch.X32 && x32Number && !(nr == -1 && arches.contains(Arch.X86_64))) {
                abi = a;
            } else if (a != Arch.X86_64 && a != Arch.X32) {
                abi = a;
            }
        }
        if (abi == null) {
            return KILL_PROCESS;
        }
        int def = SeccompAction.parse(s.defaultAction(), s.defaultErrnoRet(), "", "").ret();
        List<SeccompSyscall> matching = new ArrayList<>();
        for (SeccompSyscall sc : s.syscalls()) {
            int action = SeccompAction.parse(sc.action(), sc.errnoRet(), "", "").ret();
            if (action == def) {
                continue;
            }
            for (String name : sc.names()) {
                if (SyscallTable.number(name, abi) != SyscallTable.ABSENT && SyscallTable.number(name, abi) == nr) {
                    matching.add(sc);
                    break;
                }
            }
        }
        for (SeccompSyscall sc : matching) {
            boolean unconditional = true;
            for (SeccompArg a : sc.args()) {
                long mask = abi.args32() ? a.value() & 0xffffffffL : a.value();
                unconditional &= a.op().equals("SCMP_CMP_MASKED_EQ") && mask == 0;
            }
            if (unconditional) {
                return SeccompAction.parse(sc.action(), sc.errnoRet(), "", "").ret();
            }
        }
        for (SeccompSyscall sc : matching) {
            boolean all = true;
            for (SeccompArg a : sc.args()) {
                all &= holds(a, args[a.index()], abi.args32());
            }
            if (all) {
                return SeccompAction.parse(sc.action(), sc.errnoRet(), "", "").ret();
            }
        }
        return def;
    }

    /** The profile's rules that name nr on some ABI, for failure messages. */
    static String rulesFor(Seccomp s, int nr) {
        StringBuilder sb = new StringBuilder("default " + s.defaultAction() + " " + s.defaultErrnoRet() + ", arches "
                + s.architectures() + ", rules for the number:");
        for (SeccompSyscall sc : s.syscalls()) {
            for (String name : sc.names()) {
                for (Arch a : Arch.values()) {
                    if (SyscallTable.number(name, a) == nr && nr != SyscallTable.ABSENT) {
                        sb.append("\n  ").append(a).append(' ').append(name).append(": ").append(sc);
                    }
                }
            }
        }
        return sb.toString();
    }

    static boolean holds(SeccompArg a, long arg, boolean args32) {
        long v = a.value();
        long v2 = a.valueTwo();
        if (args32) {
            arg &= 0xffffffffL;
            v &= 0xffffffffL;
            v2 &= 0xffffffffL;
        }
        int c = Long.compareUnsigned(arg, v);
        return switch (a.op()) {
            case "SCMP_CMP_NE" -> c != 0;
            case "SCMP_CMP_LT" -> c < 0;
            case "SCMP_CMP_LE" -> c <= 0;
            case "SCMP_CMP_EQ" -> c == 0;
            case "SCMP_CMP_GE" -> c >= 0;
            case "SCMP_CMP_GT" -> c > 0;
            case "SCMP_CMP_MASKED_EQ" -> (arg & v) == (v2 & v);
            default -> throw new IllegalArgumentException(a.op());
        };
    }

    /** Argument values near every boundary the profile's conditions draw. */
    static List<Long> interestingValues(Seccomp s) {
        List<Long> out = new ArrayList<>(List.of(0L, 1L, -1L, 0xffffffffL, 0x100000000L, 0x7fffffffL, 0x80000000L));
        for (SeccompSyscall sc : s.syscalls()) {
            for (SeccompArg a : sc.args()) {
                long v = a.value();
                long v2 = a.valueTwo();
                for (long x : new long[] {v, v - 1, v + 1, v ^ (1L << 32), v & 0xffffffffL, v | 0xffffffff00000000L,
                        v + (1L << 32), v - (1L << 32), v2, v2 | ~v, v2 ^ 1, v2 ^ (1L << 33), v2 | (v & 0xf0f0)}) {
                    out.add(x);
                }
            }
        }
        return out;
    }
}
