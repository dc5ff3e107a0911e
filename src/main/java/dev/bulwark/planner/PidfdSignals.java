package dev.bulwark.planner;

import dev.bulwark.runtime.Procfs;
import dev.bulwark.runtime.RuntimeFailure;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.util.List;

/**
 * Signals sent by the planner itself, with the same rule as the stage's `signal` mode: a pidfd
 * is taken first, then the start time is checked, then pidfd_send_signal, so a PID reused after
 * the check is never signalled. FFM is fine here: the planner is long-running, so the first
 * downcall's cost is paid once, not per call. Targets already gone are skipped.
 */
final class PidfdSignals {
    private PidfdSignals() {}

    // The same numbers on every architecture (the syscall table unified at 424).
    private static final long SYS_PIDFD_SEND_SIGNAL = 424;
    private static final long SYS_PIDFD_OPEN = 434;
    private static final int ESRCH = 3;

    private static final Linker LINKER = Linker.nativeLinker();
    private static final StructLayout CCS = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = CCS.varHandle(MemoryLayout.PathElement.groupElement("errno"));
    private static final ValueLayout.OfLong L = ValueLayout.JAVA_LONG;
    private static final MethodHandle SYSCALL = LINKER.downcallHandle(
            LINKER.defaultLookup().find("syscall").orElseThrow(),
            FunctionDescriptor.of(L, L, L, L, L, L), Linker.Option.captureCallState("errno"), Linker.Option.firstVariadicArg(1));
    private static final MethodHandle CLOSE = LINKER.downcallHandle(LINKER.defaultLookup().find("close").orElseThrow(),
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));

    /** close(2) of an inherited descriptor the JDK does not know of. */
    static void close(int fd) {
        try {
            int ignored = (int) CLOSE.invokeExact(fd);
        } catch (Throwable t) {
            throw new IllegalStateException("close " + fd + ": " + t, t);
        }
    }

    static void send(int signal, List<String> targets) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment ccs = a.allocate(CCS);
            for (String t : targets) {
                int at = t.indexOf('@');
                long pid;
                long want;
                try {
                    pid = Long.parseLong(at < 0 ? t : t.substring(0, at));
                    want = at < 0 ? 0 : Long.parseLong(t.substring(at + 1));
                } catch (NumberFormatException e) {
                    throw new RuntimeFailure("send signal " + signal + ": bad process " + t);
                }
                long pfd = (long) SYSCALL.invokeExact(ccs, SYS_PIDFD_OPEN, pid, 0L, 0L, 0L);
                if (pfd < 0) {
                    continue; // gone
                }
                try {
                    if (want != 0 && Procfs.startTime(pid).orElse(-1L) != want) {
                        continue; // another process has the PID now
                    }
                    long r = (long) SYSCALL.invokeExact(ccs, SYS_PIDFD_SEND_SIGNAL, pfd, (long) signal, 0L, 0L);
                    int errno = (int) ERRNO.get(ccs, 0L);
                    if (r < 0 && errno != ESRCH) {
                        throw new RuntimeFailure("send signal " + signal + " to " + pid + ": errno " + errno);
                    }
                } finally {
                    int ignored = (int) CLOSE.invokeExact((int) pfd);
                }
            }
        } catch (RuntimeFailure e) {
            throw e;
        } catch (Throwable t) {
            throw new RuntimeFailure("send signal " + signal + ": " + t, t);
        }
    }
}
