package dev.bulwark.planner;

import dev.bulwark.runtime.Invocation;
import dev.bulwark.runtime.RuntimeFailure;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * One client's call on the planner: its output goes back as frames (stdout buffered, stderr as
 * it comes), and its stage is run by the client ({@link #run}), which this thread waits for. If
 * the client goes away, the wait fails, and the command's own error path undoes what it made.
 */
final class Call implements Invocation.StageRunner {
    private static final int STDOUT_CHUNK = 16 * 1024;

    private final DataInputStream in;
    private final DataOutputStream out;
    private final List<String> globals;
    private final ByteArrayOutputStream stdout = new ByteArrayOutputStream();
    private final java.util.concurrent.locks.ReentrantLock lock = new java.util.concurrent.locks.ReentrantLock();
    private boolean broken;
    private volatile boolean inStage;

    /** globals: the call's global flags (argv before the command), which a resume call needs again. */
    Call(DataInputStream in, DataOutputStream out, List<String> globals) {
        this.in = in;
        this.out = out;
        this.globals = List.copyOf(globals);
    }

    void stdout(byte[] b, int off, int len) {
        lock.lock();
        try {
            stdout.write(b, off, len);
            if (stdout.size() >= STDOUT_CHUNK) {
                flushStdout();
            }
        } finally {
            lock.unlock();
        }
    }

    void stderr(byte[] b, int off, int len) {
        lock.lock();
        try {
            flushStdout();
            byte[] copy = new byte[len];
            System.arraycopy(b, off, copy, 0, len);
            frame(Frames.STDERR, copy);
        } finally {
            lock.unlock();
        }
    }

    void flushStdout() {
        lock.lock();
        try {
            if (stdout.size() > 0) {
                byte[] b = stdout.toByteArray();
                stdout.reset();
                frame(Frames.STDOUT, b);
            }
        } finally {
            lock.unlock();
        }
    }

    void exit(int code) throws IOException {
        lock.lock();
        try {
            flushStdout();
            if (broken) {
                throw new IOException("the client is gone");
            }
            Frames.write(out, Frames.EXIT, new Frames.Payload().u32(code).bytes());
        } finally {
            lock.unlock();
        }
    }

    /**
     * Sends a heartbeat unless the client is running the stage (it reads nothing then) or a
     * write is under way (a client that does not read must not stall anyone else). A client that
     * hears nothing for 10 s takes the planner for hung, kills it and runs the call itself.
     */
    void heartbeat() {
        if (!inStage && lock.tryLock()) {
            try {
                frame(Frames.HEARTBEAT, new byte[0]);
            } finally {
                lock.unlock();
            }
        }
    }

    /** Output to a client that has gone is dropped: the command goes on to its end (or its error path). Called under the lock. */
    private void frame(byte type, byte[] payload) {
        if (broken) {
            return;
        }
        try {
            Frames.write(out, type, payload);
        } catch (IOException e) {
            broken = true;
        }
    }

    @Override
    public int run(Invocation.StageCall call) {
        if (call.stdout() != ProcessBuilder.Redirect.INHERIT) {
            throw new RuntimeFailure("the planner cannot redirect the stage's stdout (a direct-path command asked it to)");
        }
        List<String> resume = new ArrayList<>(globals);
        resume.add("__resume");
        resume.addAll(call.resume());
        byte[] msg = new Frames.Payload().strings(call.args()).u8(call.stdinNull() ? 1 : 0)
                .string(call.control().map(Object::toString).orElse("")).strings(resume).bytes();
        lock.lock();
        try {
            flushStdout();
            if (broken) {
                throw new RuntimeFailure("the client went away before its stage could start");
            }
            try {
                inStage = true;
                Frames.write(out, Frames.STAGE, msg);
            } catch (IOException e) {
                broken = true;
                throw new RuntimeFailure("the client went away before its stage could start: " + e.getMessage(), e);
            }
        } finally {
            lock.unlock();
        }
        // Not under the lock: output of this call's other threads (a hook's stderr) may still come.
        try {
            Frames.Frame f = Frames.read(in);
            if (f.type() != Frames.STAGE_STATUS) {
                throw new IOException("expected the stage's status, got a frame of type '" + (char) f.type() + "'");
            }
            Frames.Reader r = new Frames.Reader(f.payload());
            int status = (int) r.u32();
            r.end();
            return status;
        } catch (IOException e) {
            lock.lock();
            try {
                broken = true;
            } finally {
                lock.unlock();
            }
            throw new RuntimeFailure("the client went away while its stage ran: " + e.getMessage(), e);
        } finally {
            inStage = false;
        }
    }
}
