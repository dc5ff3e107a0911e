package dev.bulwark.engines;

import dev.bulwark.testing.Sandbox.Result;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** Runs an engine's client (docker, ctr) or a tool and collects its output through files, never pipes. */
final class Cmd {
    private Cmd() {}

    static Result run(List<String> cmd, Map<String, String> env, int timeoutSeconds) throws IOException, InterruptedException {
        Path out = Files.createTempFile("bulwark-engines", ".out");
        Path err = Files.createTempFile("bulwark-engines", ".err");
        try {
            ProcessBuilder pb = new ProcessBuilder(cmd).redirectInput(new File("/dev/null"))
                    .redirectOutput(out.toFile()).redirectError(err.toFile());
            pb.environment().putAll(env);
            Process p = pb.start();
            if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                p.waitFor(10, TimeUnit.SECONDS);
                throw new AssertionError(String.join(" ", cmd) + " did not finish within " + timeoutSeconds + " s; stderr: "
                        + Files.readString(err, StandardCharsets.UTF_8));
            }
            return new Result(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8),
                    Files.readString(err, StandardCharsets.UTF_8));
        } finally {
            Files.deleteIfExists(out);
            Files.deleteIfExists(err);
        }
    }

    static Result check(List<String> cmd) throws IOException, InterruptedException {
        Result r = run(cmd, Map.of(), 120);
        if (r.exit() != 0) {
            throw new AssertionError(String.join(" ", cmd) + " exited with " + r.exit() + ": " + r.err());
        }
        return r;
    }
}
