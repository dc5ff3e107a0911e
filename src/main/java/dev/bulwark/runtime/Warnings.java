package dev.bulwark.runtime;

import java.util.function.Consumer;

/**
 * Where the runtime's warnings go: the command's --log (in runc's format) and stderr, as the
 * CLI sets it for the call being served on this thread (a planner serves each call on a thread
 * of its own). Without a sink a warning goes to stderr.
 */
public final class Warnings {
    private static final InheritableThreadLocal<Consumer<String>> SINK = new InheritableThreadLocal<>();

    private Warnings() {}

    /** Sets this thread's sink (null: back to stderr). */
    public static void sink(Consumer<String> sink) {
        if (sink == null) {
            SINK.remove();
        } else {
            SINK.set(sink);
        }
    }

    public static void warn(String msg) {
        Consumer<String> s = SINK.get();
        if (s != null) {
            s.accept(msg);
        } else {
            System.err.println("bulwark: warning: " + msg);
        }
    }
}
