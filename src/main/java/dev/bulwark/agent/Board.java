package dev.bulwark.agent;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * The memory the agent shares with one resident helper's workers (a memfd the helper maps): a
 * slot per worker, through which the agent sends a call straight to the worker of its caller's
 * context and reads the answer, with no process in between and no pipe. Each side fills the text
 * and its length, then bumps a sequence word; the other spins on that word for a while (on an
 * idle core the answer is there within a microsecond, where a wake-up costs 5-12 here) and then
 * sleeps on it as a futex, which the writer wakes only when the reader said it sleeps.
 * bulwark-mountctl's struct slot is the other half; the offsets below are its fields.
 */
final class Board implements AutoCloseable {
    static final int SLOTS = 16;
    private static final long SLOT = 96 * 1024;
    private static final long HDR = 64;
    private static final long TEXT = (SLOT - HDR) / 2;
    private static final long DOORBELL = 0;
    private static final long REQ_LEN = 4;
    private static final long REP_SEQ = 8;
    private static final long REP_LEN = 12;
    private static final long WORKER_SLEEPING = 16;
    private static final long AGENT_SLEEPING = 20;
    private static final long KIND = 24;
    private static final long CHECK_PID = 28;
    private static final long GEN = 32;
    private static final long REQ_SEQ = 40;
    private static final long CHECK_SEQ = 44;
    /** In slot 0, for the whole board: the container's filter traps setns and unshare; how many went on. */
    private static final long NS_TRAPPED = 48;
    private static final long NS_EPOCH = 52;
    private static final int KIND_AGENT = 1;
    /** How long the agent spins for a worker's answer before it sleeps. */
    private static final long SPIN_NS = 300_000;
    /** How often a sleeping agent looks whether the worker is still there. */
    private static final long WAIT_NS = 20_000_000;

    private static final VarHandle INT = ValueLayout.JAVA_INT.varHandle();
    private static final VarHandle LONG = ValueLayout.JAVA_LONG.varHandle();

    private final int memfd;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment mem;
    // used by the supervising thread alone
    private final Arena scratch = Arena.ofShared();
    private final MemorySegment ccs = scratch.allocate(Native.callState());
    private final MemorySegment timeout = scratch.allocate(16, 8);

    Board() throws IOException {
        memfd = Native.memfd("bulwark-board");
        try (FileChannel ch = FileChannel.open(Path.of("/proc/self/fd/" + memfd), StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            // map() extends the file to the size asked
            mem = ch.map(FileChannel.MapMode.READ_WRITE, 0, SLOTS * SLOT, arena);
        } catch (IOException | RuntimeException e) {
            Native.close(memfd);
            throw e;
        }
        timeout.set(ValueLayout.JAVA_LONG, 0, 0);
        timeout.set(ValueLayout.JAVA_LONG, 8, WAIT_NS);
    }

    /** Tells the workers that every setns and unshare of the container's comes to the agent first. */
    void nsTrapped() {
        INT.setVolatile(mem, NS_TRAPPED, 1);
    }

    /** A setns or unshare is about to go on: a task's namespaces found before may change now. */
    void nsChanging() {
        INT.getAndAdd(mem, NS_EPOCH, 1);
    }

    /** Where the helper opens the board: this process's descriptor of it. */
    String path() {
        return "/proc/" + ProcessHandle.current().pid() + "/fd/" + memfd;
    }

    /** The number of the worker serving slot s now, 0 when none. */
    long gen(int s) {
        return (long) LONG.getVolatile(mem, s * SLOT + GEN);
    }

    /** The slot's answer count, read before a request so that its answer can be told apart. */
    int answers(int s) {
        return (int) INT.getVolatile(mem, s * SLOT + REP_SEQ);
    }

    /**
     * A request (or a verdict) to the worker of slot s. Only once the worker has answered the
     * last one: it reads the text after it wakes, so nothing may overwrite it before.
     */
    void post(int s, String text) {
        byte[] b = text.getBytes(StandardCharsets.UTF_8);
        if (b.length > TEXT) {
            throw new AgentException("board request of " + b.length + " bytes");
        }
        long base = s * SLOT;
        MemorySegment.copy(b, 0, mem, ValueLayout.JAVA_BYTE, base + HDR, b.length);
        INT.setVolatile(mem, base + REQ_LEN, b.length);
        INT.setVolatile(mem, base + KIND, KIND_AGENT);
        INT.getAndAdd(mem, base + REQ_SEQ, 1);
        ring(base);
    }

    /** Asks the worker of slot s to check that pid is in its context (0: the check is withdrawn). */
    void check(int s, int pid) {
        long base = s * SLOT;
        INT.setVolatile(mem, base + CHECK_PID, pid);
        INT.getAndAdd(mem, base + CHECK_SEQ, 1);
        ring(base);
    }

    private void ring(long base) {
        INT.getAndAdd(mem, base + DOORBELL, 1);
        if ((int) INT.getVolatile(mem, base + WORKER_SLEEPING) != 0) {
            Native.sys(ccs, Native.SYS_FUTEX, mem.address() + base + DOORBELL, 1 /* FUTEX_WAKE */, 1, 0, 0, 0);
        }
    }

    /**
     * The worker's next answer on slot s, after the one counted seen: spinning a while, then
     * sleeping on the futex and looking every 20 ms whether the worker (workerPidfd) has exited.
     */
    String await(int s, int seen, int workerPidfd) {
        long base = s * SLOT;
        long until = System.nanoTime() + SPIN_NS;
        int v;
        while ((v = (int) INT.getVolatile(mem, base + REP_SEQ)) == seen) {
            if (System.nanoTime() > until) {
                v = sleep(base, seen, workerPidfd);
                break;
            }
            // a yield, not a pause: the worker may be waiting for this very CPU
            Thread.yield();
        }
        int len = (int) INT.getVolatile(mem, base + REP_LEN);
        if (len < 0 || len > TEXT) {
            throw new AgentException("worker of slot " + s + " answered " + len + " bytes");
        }
        byte[] b = new byte[len];
        MemorySegment.copy(mem, ValueLayout.JAVA_BYTE, base + HDR + TEXT, b, 0, len);
        return new String(b, StandardCharsets.UTF_8);
    }

    private int sleep(long base, int seen, int workerPidfd) {
        while (true) {
            INT.setVolatile(mem, base + AGENT_SLEEPING, 1);
            int v = (int) INT.getVolatile(mem, base + REP_SEQ);
            if (v == seen) {
                long r = Native.sys(ccs, Native.SYS_FUTEX, mem.address() + base + REP_SEQ, 0 /* FUTEX_WAIT */, seen, timeout.address(), 0, 0);
                v = (int) INT.getVolatile(mem, base + REP_SEQ);
                if (v == seen && r == -Native.ETIMEDOUT && !Native.readable(new int[] {workerPidfd}).isEmpty()) {
                    INT.setVolatile(mem, base + AGENT_SLEEPING, 0);
                    throw new AgentException("the worker of slot " + (base / SLOT) + " exited in the middle of a call");
                }
            }
            INT.setVolatile(mem, base + AGENT_SLEEPING, 0);
            if (v != seen) {
                return v;
            }
        }
    }

    @Override
    public void close() {
        arena.close();
        scratch.close();
        Native.close(memfd);
    }
}
