package dev.bulwark.planner;

import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.OutputStream;
import java.io.PrintStream;

/**
 * System.out and System.err of the planner, routed per thread: a thread serving a call (and any
 * thread it starts) writes to that call's client; every other thread to the planner's own log.
 * The commands keep printing to System.out and System.err as on the direct path.
 */
final class Output {
    private Output() {}

    private static final InheritableThreadLocal<Call> CALL = new InheritableThreadLocal<>();

    static void install() {
        System.setOut(new PrintStream(new Routed(new FileOutputStream(FileDescriptor.out), false), false));
        System.setErr(new PrintStream(new Routed(new FileOutputStream(FileDescriptor.err), true), true));
    }

    /** Runs r with this thread's output going to call. */
    static void serve(Call call, Runnable r) {
        CALL.set(call);
        try {
            r.run();
        } finally {
            System.out.flush();
            System.err.flush();
            CALL.remove();
        }
    }

    private static final class Routed extends OutputStream {
        private final OutputStream own;
        private final boolean err;

        Routed(OutputStream own, boolean err) {
            this.own = own;
            this.err = err;
        }

        @Override
        public void write(int b) throws java.io.IOException {
            write(new byte[] {(byte) b}, 0, 1);
        }

        @Override
        public void write(byte[] b, int off, int len) throws java.io.IOException {
            Call c = CALL.get();
            if (c == null) {
                own.write(b, off, len);
            } else if (err) {
                c.stderr(b, off, len);
            } else {
                c.stdout(b, off, len);
            }
        }

        @Override
        public void flush() throws java.io.IOException {
            Call c = CALL.get();
            if (c == null) {
                own.flush();
            } else if (!err) {
                c.flushStdout();
            }
        }
    }
}
