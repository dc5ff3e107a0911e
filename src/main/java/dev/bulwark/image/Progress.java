package dev.bulwark.image;

import java.io.PrintStream;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Per-blob progress of a pull or push on stderr. On a terminal one status line is redrawn in
 * place (every blob in flight, bytes so far of its size) and a line is left for each finished
 * blob; otherwise, when asked for, a plain line per blob every second. {@link #off()} shows
 * nothing; the caller prints its own summary line either way.
 */
public final class Progress {
    private static final long TTY_INTERVAL = 100_000_000L;
    private static final long PLAIN_INTERVAL = 1_000_000_000L;

    private final PrintStream out;
    private final boolean enabled;
    private final boolean tty;
    private final Map<Task, Boolean> active = new LinkedHashMap<>();
    private long lastDraw;

    private Progress(PrintStream out, boolean enabled, boolean tty) {
        this.out = out;
        this.enabled = enabled;
        this.tty = tty;
    }

    public static Progress off() {
        return new Progress(System.err, false, false);
    }

    /** Shown when stderr is a terminal, or always when {@code force} (--progress). */
    public static Progress onStderr(boolean force) {
        // The caller's stderr: in the planner, the client's, not this JVM's.
        boolean tty = dev.bulwark.runtime.Invocation.current().terminal();
        return new Progress(System.err, tty || force, tty);
    }

    /** One blob being transferred. */
    public final class Task {
        private final String label;
        private final long total;
        private long done;
        private long lastPlain;

        private Task(String label, long total) {
            this.label = label;
            this.total = total;
        }

        public void add(long n) {
            if (!enabled) {
                return;
            }
            synchronized (Progress.this) {
                done += n;
                long now = System.nanoTime();
                if (tty && now - lastDraw >= TTY_INTERVAL) {
                    lastDraw = now;
                    draw();
                } else if (!tty && now - lastPlain >= PLAIN_INTERVAL) {
                    lastPlain = now;
                    out.println(label + ": " + Sizes.human(done) + " / " + Sizes.human(total));
                }
            }
        }

        /** Ends the task with a word: "done", "exists", "resumed"... */
        public void finish(String status) {
            if (!enabled) {
                return;
            }
            synchronized (Progress.this) {
                active.remove(this);
                if (tty) {
                    out.print("\r\033[K");
                }
                out.println(label + ": " + status + " (" + Sizes.human(total) + ")");
                if (tty) {
                    draw();
                }
            }
        }

        private String brief() {
            int pct = total <= 0 ? 100 : (int) (done * 100 / total);
            return label.substring(0, Math.min(label.length(), 19)) + " " + pct + "% of " + Sizes.human(total);
        }
    }

    public synchronized Task start(String label, long total) {
        Task t = new Task(label, total);
        if (enabled) {
            active.put(t, Boolean.TRUE);
            if (tty) {
                draw();
            }
        }
        return t;
    }

    private void draw() {
        StringBuilder sb = new StringBuilder("\r\033[K");
        for (Task t : active.keySet()) {
            sb.append(t.brief()).append("  ");
        }
        out.print(sb);
        out.flush();
    }
}
