package dev.bulwark.runtime;

/**
 * Phase timings on stderr when BULWARK_TIMING is set, from the first mark (main): how the
 * per-container path's milliseconds are spent (for the benchmark notes, not for users).
 */
public final class Timing {
    private static final boolean ON = System.getenv("BULWARK_TIMING") != null;
    private static long first;

    private Timing() {}

    public static void mark(String phase) {
        if (ON) {
            long now = System.nanoTime();
            if (first == 0) {
                first = now;
            }
            // no printf: Formatter's first use costs milliseconds and would land in the next phase
            System.err.println("timing: " + (now - first) / 100_000 / 10.0 + " ms " + phase);
        }
    }
}
