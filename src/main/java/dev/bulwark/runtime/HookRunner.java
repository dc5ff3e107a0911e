package dev.bulwark.runtime;

import dev.bulwark.spec.Spec;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The hooks that run in the runtime's own process: poststart (from `start`) and poststop (from
 * `delete` and the end of `run`). The runtime-spec makes their failures warnings, not errors, so
 * each failure is returned for the caller to report and the remaining hooks still run.
 */
final class HookRunner {
    private HookRunner() {}

    static List<String> run(String kind, List<Spec.Hook> hooks, String state) {
        List<String> failures = new ArrayList<>();
        for (int i = 0; i < hooks.size(); i++) {
            Spec.Hook h = hooks.get(i);
            String name = "hooks." + kind + "[" + i + "] " + h.path();
            // args[0] is the hook's argv[0]; ProcessBuilder takes the path there instead.
            List<String> cmd = new ArrayList<>();
            cmd.add(h.path());
            if (h.args().size() > 1) {
                cmd.addAll(h.args().subList(1, h.args().size()));
            }
            // In the caller's working directory, and its stderr to the caller's: in the planner
            // neither is this JVM's.
            ProcessBuilder pb = new ProcessBuilder(cmd).redirectOutput(ProcessBuilder.Redirect.DISCARD)
                    .directory(Invocation.current().cwd().toFile());
            if (!Invocation.served()) {
                pb.redirectError(ProcessBuilder.Redirect.INHERIT);
            }
            pb.environment().clear();
            for (String e : h.env()) {
                int eq = e.indexOf('=');
                pb.environment().put(eq < 0 ? e : e.substring(0, eq), eq < 0 ? "" : e.substring(eq + 1));
            }
            try {
                Process p = pb.start();
                Thread err = Invocation.served() ? Thread.ofPlatform().daemon().start(() -> copy(p.getErrorStream())) : null;
                try (OutputStream in = p.getOutputStream()) {
                    in.write(state.getBytes(StandardCharsets.UTF_8));
                } catch (IOException e) {
                    // a hook that does not read its stdin is not a failure
                }
                int timeout = h.timeout().orElse(0);
                if (timeout > 0 && !p.waitFor(timeout, TimeUnit.SECONDS)) {
                    p.destroyForcibly();
                    p.waitFor();
                    failures.add(name + " timed out after " + timeout + " s");
                } else if (p.waitFor() != 0) {
                    failures.add(name + " failed with status " + p.exitValue());
                }
                if (err != null) {
                    err.join(1000);
                }
            } catch (IOException e) {
                failures.add(name + ": " + e.getMessage());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                failures.add(name + ": interrupted");
            }
        }
        return failures;
    }

    private static void copy(java.io.InputStream in) {
        try (in) {
            in.transferTo(System.err);
            System.err.flush();
        } catch (IOException e) {
            // the hook's stderr is gone with it
        }
    }

    static String state(Spec spec, String id, java.nio.file.Path bundle, String status, long pid) {
        List<String> parts = Planner.hookState(spec, id, bundle);
        return parts.get(0) + status + parts.get(1) + pid + parts.get(2);
    }

    static void warn(List<String> failures) {
        for (String f : failures) {
            System.err.println("bulwark: warning: " + f);
        }
    }
}
