package dev.bulwark.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.bulwark.json.Json;
import dev.bulwark.json.JsonTree;
import dev.bulwark.runtime.DefaultSpec;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * One test's world: a temporary state root and bundle over a shared busybox rootfs, a mutable
 * config starting from `bulwark spec`'s, and a runner for the real CLI in its own JVM. close()
 * fails the test if anything is left behind: a state directory, a mount, a process.
 */
public final class Sandbox implements AutoCloseable {
    public record Result(int exit, String out, String err) {
        public String all() {
            return out + err;
        }
    }

    private final Path dir;
    private final Path stateRoot;
    private final Path bundle;
    private final Path rootfs;
    public final Map<String, Object> config;

    @SuppressWarnings("unchecked")
    public Sandbox(Path rootfs) throws IOException {
        this.dir = Files.createTempDirectory("bulwark-test");
        this.stateRoot = dir.resolve("state");
        this.bundle = Files.createDirectories(dir.resolve("bundle"));
        this.rootfs = rootfs;
        this.config = (Map<String, Object>) JsonTree.mutable(DefaultSpec.build(List.of("true"), rootfs.toString()));
        env().add("HOME=/root");
    }

    public Path dir() {
        return dir;
    }

    public Path bundle() {
        return bundle;
    }

    public Path stateRoot() {
        return stateRoot;
    }

    @SuppressWarnings("unchecked")
    public Map<String, Object> process() {
        return (Map<String, Object>) config.get("process");
    }

    @SuppressWarnings("unchecked")
    public Map<String, Object> linux() {
        return (Map<String, Object>) config.get("linux");
    }

    @SuppressWarnings("unchecked")
    public List<Object> env() {
        return (List<Object>) process().get("env");
    }

    @SuppressWarnings("unchecked")
    public List<Object> mounts() {
        return (List<Object>) config.get("mounts");
    }

    @SuppressWarnings("unchecked")
    public List<Object> namespaces() {
        return (List<Object>) linux().get("namespaces");
    }

    public void writeConfig() throws IOException {
        Files.writeString(bundle.resolve("config.json"), Json.writePretty(JsonTree.value(config)));
    }

    /** Runs `sh -c script` in the container and waits for it. */
    public Result sh(String script) throws Exception {
        process().put("args", new ArrayList<>(List.of("sh", "-c", script)));
        return run("c" + Long.toHexString(System.nanoTime()));
    }

    public Result run(String id) throws Exception {
        writeConfig();
        Process p = start(id);
        return finish(p);
    }

    public Process start(String id) throws IOException {
        return new ProcessBuilder(cli("--root", stateRoot.toString(), "run", "--bundle", bundle.toString(), id))
                .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile()))
                .start();
    }

    /**
     * The runtime's command line for args: on the direct path (a JVM of its own), or, when the
     * suite runs with -Dbulwark.test.planner=true, the static client on the suite's planner
     * ({@link SharedPlanner}).
     */
    public static List<String> cli(String... args) {
        return SharedPlanner.enabled() ? SharedPlanner.cli(args) : directCli(args);
    }

    /** The runtime's command line on the direct path, whatever the suite's mode. */
    public static List<String> directCli(String... args) {
        List<String> cmd = new ArrayList<>(List.of(TestEnv.java().toString(), "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
                TestEnv.UNSAFE_ALLOW, "-Dbulwark.stage=" + TestEnv.nativeDir().resolve("bulwark-stage"),
                "-cp", TestEnv.classPath(), "dev.bulwark.cli.Main"));
        cmd.addAll(List.of(args));
        return cmd;
    }

    public static Result finish(Process p) throws Exception {
        var out = p.getInputStream();
        var err = p.getErrorStream();
        var outText = java.util.concurrent.CompletableFuture.supplyAsync(() -> read(out));
        var errText = java.util.concurrent.CompletableFuture.supplyAsync(() -> read(err));
        if (!p.waitFor(60, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("the runtime did not finish within 60 s");
        }
        // A container that outlived its runtime would hold the pipes open: fail instead of hanging.
        return new Result(p.exitValue(), outText.get(30, TimeUnit.SECONDS), errText.get(30, TimeUnit.SECONDS));
    }

    private static String read(java.io.InputStream in) {
        try {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            return "<" + e + ">";
        }
    }

    /** True when nothing of this sandbox's containers remains (state dirs, mounts, processes). */
    public void assertNothingLeft() throws IOException {
        if (Files.exists(stateRoot)) {
            try (var s = Files.list(stateRoot)) {
                // dot-entries are the runtime's caches, not container state
                assertEquals(List.of(), s.filter(p -> !p.getFileName().toString().startsWith(".")).toList(),
                        "state directories left behind");
            }
        }
        assertEquals(List.of(), TestEnv.mountsUnder(dir), "mounts left behind");
        assertEquals(List.of(), TestEnv.mountsUnder(rootfs), "mounts left behind in the rootfs");
        assertEquals(List.of(), TestEnv.processesUnder(rootfs), "container processes left behind");
    }

    @Override
    public void close() throws IOException {
        try {
            assertNothingLeft();
        } finally {
            forceDeleteLeftovers();
            TestEnv.deleteTree(dir);
        }
        assertTrue(!Files.exists(dir));
    }

    /**
     * A test that failed may leave a container behind (a created one waits for `start` forever):
     * delete it by ID with the runtime, so the failure does not leak processes and cgroups.
     */
    private void forceDeleteLeftovers() throws IOException {
        if (!Files.isDirectory(stateRoot)) {
            return;
        }
        List<String> ids;
        try (var s = Files.list(stateRoot)) {
            ids = s.map(p -> p.getFileName().toString()).filter(n -> !n.startsWith(".")).toList();
        }
        for (String id : ids) {
            try {
                finish(new ProcessBuilder(cli("--root", stateRoot.toString(), "delete", "--force", id)).start());
            } catch (Exception e) {
                System.err.println("could not delete leftover container " + id + ": " + e);
            }
        }
    }
}
