package dev.bulwark.seccomp;

import java.util.Optional;

/** An OCI seccomp action and the SECCOMP_RET_* value a filter returns for it. */
public sealed interface SeccompAction {
    int SECCOMP_RET_KILL_PROCESS = 0x80000000;
    int SECCOMP_RET_KILL_THREAD = 0x00000000;
    int SECCOMP_RET_TRAP = 0x00030000;
    int SECCOMP_RET_ERRNO = 0x00050000;
    int SECCOMP_RET_USER_NOTIF = 0x7fc00000;
    int SECCOMP_RET_TRACE = 0x7ff00000;
    int SECCOMP_RET_LOG = 0x7ffc0000;
    int SECCOMP_RET_ALLOW = 0x7fff0000;
    /** The kernel clamps an errno to MAX_ERRNO; a larger one would silently become 4095. */
    int MAX_ERRNO = 4095;
    /** EPERM: what runc (and the runtime-spec) use when errnoRet is absent. */
    int EPERM = 1;

    /** The filter's return value. */
    int ret();

    /** SCMP_ACT_KILL and SCMP_ACT_KILL_THREAD: the kernel kills only the calling thread. */
    record KillThread() implements SeccompAction {
        public int ret() {
            return SECCOMP_RET_KILL_THREAD;
        }
    }

    record KillProcess() implements SeccompAction {
        public int ret() {
            return SECCOMP_RET_KILL_PROCESS;
        }
    }

    record Trap() implements SeccompAction {
        public int ret() {
            return SECCOMP_RET_TRAP;
        }
    }

    record Errno(int errno) implements SeccompAction {
        public int ret() {
            return SECCOMP_RET_ERRNO | errno;
        }
    }

    /** msg is the value a ptrace tracer reads with PTRACE_GETEVENTMSG. */
    record Trace(int msg) implements SeccompAction {
        public int ret() {
            return SECCOMP_RET_TRACE | msg;
        }
    }

    record Allow() implements SeccompAction {
        public int ret() {
            return SECCOMP_RET_ALLOW;
        }
    }

    record Log() implements SeccompAction {
        public int ret() {
            return SECCOMP_RET_LOG;
        }
    }

    record Notify() implements SeccompAction {
        public int ret() {
            return SECCOMP_RET_USER_NOTIF;
        }
    }

    /**
     * Parses an OCI action name. errnoRet applies to SCMP_ACT_ERRNO and SCMP_ACT_TRACE (EPERM when
     * absent, as runc does) and is ignored by the others, as runc ignores it.
     */
    static SeccompAction parse(String name, Optional<Integer> errnoRet, String path, String errnoPath) {
        return parse(name, errnoRet, path, errnoPath, -1);
    }

    /**
     * As above for the compiler, which names rule (or the default action when rule is -1) and
     * builds the paths only for an error, as this runs on every container start.
     */
    static SeccompAction parse(String name, Optional<Integer> errnoRet, int rule) {
        return parse(name, errnoRet, null, null, rule);
    }

    private static String path(String given, int rule, String field) {
        if (given != null) {
            return given;
        }
        return rule < 0 ? SeccompCompiler.BASE + ".default" + Character.toUpperCase(field.charAt(0)) + field.substring(1)
                : SeccompCompiler.BASE + ".syscalls[" + rule + "]." + field;
    }

    private static SeccompAction parse(String name, Optional<Integer> errnoRet, String path, String errnoPath, int rule) {
        return switch (name) {
            case "SCMP_ACT_KILL", "SCMP_ACT_KILL_THREAD" -> new KillThread();
            case "SCMP_ACT_KILL_PROCESS" -> new KillProcess();
            case "SCMP_ACT_TRAP" -> new Trap();
            case "SCMP_ACT_ERRNO" -> new Errno(data(errnoRet, MAX_ERRNO, errnoPath, rule));
            case "SCMP_ACT_TRACE" -> new Trace(data(errnoRet, 0xffff, errnoPath, rule));
            case "SCMP_ACT_ALLOW" -> new Allow();
            case "SCMP_ACT_LOG" -> new Log();
            case "SCMP_ACT_NOTIFY" -> new Notify();
            default -> throw new SeccompException(path(path, rule, "action"), "unknown action \"" + name + "\", expected one of "
                    + "SCMP_ACT_KILL, SCMP_ACT_KILL_THREAD, SCMP_ACT_KILL_PROCESS, SCMP_ACT_TRAP, SCMP_ACT_ERRNO, "
                    + "SCMP_ACT_TRACE, SCMP_ACT_ALLOW, SCMP_ACT_LOG, SCMP_ACT_NOTIFY");
        };
    }

    private static int data(Optional<Integer> value, int max, String path, int rule) {
        int v = value.orElse(EPERM);
        // errnoRet is read as unsigned 32-bit; anything above the field's range would be cut by
        // SECCOMP_RET_DATA (runc truncates to int16) and return a different errno than configured.
        if (v < 0 || v > max) {
            throw new SeccompException(path(path, rule, "errnoRet"), "expected a value from 0 to " + max + ", found " + Integer.toUnsignedString(v));
        }
        return v;
    }
}
