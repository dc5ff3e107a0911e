package dev.bulwark.runtime;

/**
 * Phase timings on stderr when BULWARK_TIMING is set in the caller's environment, from the
 * call's first mark (main): how the per-container path's milliseconds are spent (for the
 * benchmark notes, not for users). Each call keeps its own clock, so the planner's concurrent
 * calls do not mix. A hook, set only by the planner's fault-injection tests, sees every mark.
 */
public final class Timing {
    private static final InheritableThreadLocal<long[]> FIRST = new InheritableThreadLocal<>();
    private static volatile java.util.function.Consumer<String> hook;

    private Timing() {}

    public static void mark(String phase) {
        java.util.function.Consumer<String> h = hook;
        if (h != null) {
            h.accept(phase);
        }
        if (Invocation.current().env().containsKey("BULWARK_TIMING")) {
            long now = System.nanoTime();
            long[] first = FIRST.get();
            if (first == null || phase.equals("main")) {
                first = new long[] {now};
                FIRST.set(first);
            }
            // no printf: Formatter's first use costs milliseconds and would land in the next phase
            System.err.println("timing: " + (now - first[0]) / 100_000 / 10.0 + " ms " + phase);
        }
    }

    /** Called with each mark's name (the planner's tests stop the planner at a chosen step). */
    public static void onMark(java.util.function.Consumer<String> h) {
        hook = h;
    }
}
