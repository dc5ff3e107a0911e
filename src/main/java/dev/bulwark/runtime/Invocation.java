package dev.bulwark.runtime;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Who asked for the command being run, and how its stage is run. In a `bulwark` JVM started for
 * one call (the direct path) that is this process: its working directory, its environment, its
 * PID, and a stage started as its child. In the warm planner each request carries the calling
 * client's, and the client, not the planner, runs the stage, so the container stays the caller's
 * descendant. Relative paths on a command line are resolved against {@link #cwd()}, never the
 * JVM's own working directory.
 *
 * @param cwd        the caller's working directory (absolute)
 * @param env        the caller's environment
 * @param pid        the caller's PID, as the caller's PID namespace sees it
 * @param startTime  the caller's start time (field 22 of /proc/PID/stat): PID and start time name
 *                   the caller for good, so a half-made create can be told to be its own
 * @param terminal   whether the caller's stdout is a terminal
 * @param stages     how this call runs the stage
 */
public record Invocation(Path cwd, Map<String, String> env, long pid, long startTime, boolean terminal, StageRunner stages) {
    private static final InheritableThreadLocal<Invocation> CURRENT = new InheritableThreadLocal<>();
    private static volatile Invocation direct;

    /** Runs the stage for one call and returns its exit status (128+N when killed by signal N). */
    @FunctionalInterface
    public interface StageRunner {
        int run(StageCall call);
    }

    /**
     * One run of the stage.
     *
     * @param args      the stage's arguments (a plan file)
     * @param stdinNull the stage's stdin is /dev/null instead of the caller's
     * @param stdout    where the stage's stdout goes (INHERIT but for the demo and the AOT training)
     * @param control   the control FIFO the caller's SIGINT, SIGTERM and SIGHUP are written to while it waits
     * @param resume    the `bulwark` arguments that finish the call once the stage has exited, with its
     *                  exit status appended: what a client runs on the direct path when the planner
     *                  that started the call is gone
     */
    public record StageCall(List<String> args, boolean stdinNull, ProcessBuilder.Redirect stdout, Optional<Path> control,
            List<String> resume) {}

    /** The call being served on this thread: the request's in the planner, else this process's own. */
    public static Invocation current() {
        Invocation i = CURRENT.get();
        return i != null ? i : direct();
    }

    /** This JVM as the caller: the direct path. */
    public static Invocation direct() {
        Invocation d = direct;
        if (d == null) {
            long pid = ProcessHandle.current().pid();
            d = new Invocation(Path.of(System.getProperty("user.dir")).toAbsolutePath(), System.getenv(), pid,
                    Procfs.startTime(pid).orElse(0L), System.console() != null && System.console().isTerminal(),
                    Lifecycle::runStageHere);
            direct = d;
        }
        return d;
    }

    /** Serves one request of the planner on this thread (and threads it starts) as inv. */
    public static void serve(Invocation inv, Runnable r) {
        CURRENT.set(inv);
        try {
            r.run();
        } finally {
            CURRENT.remove();
        }
    }

    /** A path from the command line, made absolute against the caller's working directory. */
    public Path resolve(String path) {
        return cwd.resolve(path).normalize();
    }

    public Optional<String> getenv(String name) {
        return Optional.ofNullable(env.get(name));
    }

    /** Whether this thread serves a planner request (rather than being the direct path's own call). */
    public static boolean served() {
        return CURRENT.get() != null;
    }
}
