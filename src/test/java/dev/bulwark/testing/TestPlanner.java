package dev.bulwark.testing;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * A warm planner of the build under test on a socket of its own (never the machine's
 * /run/bulwark-planner ones), started by the test and stopped by its PID, and the static client
 * pointed at it. The client is given the test JVM and class path (BULWARK_JAVA,
 * BULWARK_JAVA_OPTS, BULWARK_CLASSPATH) for its direct path, never starts a planner itself, and
 * says on stderr which path each call took (BULWARK_CLIENT_DEBUG).
 */
public final class TestPlanner implements AutoCloseable {
    /** The client's JVM options for its direct path: the ones Sandbox.cli uses. */
    public static final String JAVA_OPTS = "-XX:+UseSerialGC -XX:TieredStopAtLevel=1 " + TestEnv.UNSAFE_ALLOW;

    private final Path dir;
    private final Path socket;
    private final Process process;

    private TestPlanner(Path dir, Path socket, Process process) {
        this.dir = dir;
        this.socket = socket;
        this.process = process;
    }

    /** Starts a planner (with extra __planner arguments, e.g. --pause-at PHASE) and waits until it listens. */
    public static TestPlanner start(String... extra) throws Exception {
        Path dir = Files.createTempDirectory("bulwark-planner-test", PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        Path socket = dir.resolve("p.sock");
        List<String> cmd = new ArrayList<>(List.of(TestEnv.java().toString(), "-XX:+UseSerialGC", TestEnv.UNSAFE_ALLOW,
                "--enable-native-access=ALL-UNNAMED", "-Dbulwark.stage=" + TestEnv.nativeDir().resolve("bulwark-stage"),
                "-cp", TestEnv.classPath(), "dev.bulwark.cli.Main", "__planner", "--socket", socket.toString(), "--idle-timeout", "0"));
        cmd.addAll(List.of(extra));
        Process p = new ProcessBuilder(cmd).redirectInput(new File("/dev/null"))
                .redirectOutput(dir.resolve("planner.log").toFile()).redirectErrorStream(true).start();
        TestPlanner planner = new TestPlanner(dir, socket, p);
        Path pidFile = Path.of(socket + ".pid");
        for (int i = 0; i < 600 && !Files.exists(pidFile); i++) {
            if (!p.isAlive()) {
                String log = planner.log();
                planner.close();
                throw new AssertionError("the planner exited with " + p.exitValue() + ": " + log);
            }
            Thread.sleep(50);
        }
        if (!Files.exists(pidFile)) {
            String log = planner.log();
            planner.close();
            throw new AssertionError("the planner did not listen within 30 s: " + log);
        }
        return planner;
    }

    public Path socket() {
        return socket;
    }

    public long pid() {
        return process.pid();
    }

    public boolean alive() {
        return process.isAlive();
    }

    public String log() throws IOException {
        Path log = dir.resolve("planner.log");
        return Files.exists(log) ? Files.readString(log) : "";
    }

    /** The planner's open file descriptors and threads: what a leak in it would grow. */
    public long openFds() throws IOException {
        try (var s = Files.list(Path.of("/proc", Long.toString(pid()), "fd"))) {
            return s.count();
        }
    }

    /** What the planner's descriptors point at, for a message. */
    public List<String> fdTargets() throws IOException {
        List<String> out = new ArrayList<>();
        try (var s = Files.list(Path.of("/proc", Long.toString(pid()), "fd"))) {
            for (Path fd : (Iterable<Path>) s.sorted()::iterator) {
                try {
                    out.add(fd.getFileName() + "->" + Files.readSymbolicLink(fd));
                } catch (IOException e) {
                    // closed meanwhile
                }
            }
        }
        return out;
    }

    public long threads() throws IOException {
        try (var s = Files.list(Path.of("/proc", Long.toString(pid()), "task"))) {
            return s.count();
        }
    }

    /** The client for args, on this planner's socket. */
    public ProcessBuilder client(String... args) {
        return client(socket, args);
    }

    /** The client for args on any socket (one where no planner listens gives the direct path). */
    public static ProcessBuilder client(Path socket, String... args) {
        List<String> cmd = new ArrayList<>(List.of(TestEnv.nativeDir().resolve("bulwark").toString()));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectInput(new File("/dev/null"));
        Map<String, String> env = pb.environment();
        env.put("BULWARK_JAVA", TestEnv.java().toString());
        env.put("BULWARK_JAVA_OPTS", JAVA_OPTS);
        env.put("BULWARK_CLASSPATH", TestEnv.classPath());
        env.put("BULWARK_PLANNER_SOCKET", socket.toString());
        env.put("BULWARK_PLANNER", "no-start");
        env.put("BULWARK_CLIENT_DEBUG", "1");
        env.put("LC_ALL", "C.UTF-8");
        return pb;
    }

    /** The PID and phase a --pause-at planner reports once a call reaches the phase, within the timeout. */
    public Optional<String> awaitPause(long timeoutMs) throws Exception {
        Path paused = Path.of(socket + ".paused");
        long end = System.nanoTime() + timeoutMs * 1_000_000;
        while (System.nanoTime() < end) {
            if (Files.exists(paused)) {
                String s = Files.readString(paused).strip();
                if (!s.isEmpty()) {
                    return Optional.of(s);
                }
            }
            Thread.sleep(10);
        }
        return Optional.empty();
    }

    /** SIGTERM, and the planner's log once it has stopped (it ends with the count of calls served). */
    public String stop() throws Exception {
        process.destroy();
        if (!process.waitFor(30, TimeUnit.SECONDS)) {
            throw new AssertionError("planner " + pid() + " did not stop on SIGTERM within 30 s");
        }
        return log();
    }

    /** The number of calls a stopped planner's log says it served. */
    public static long served(String log) {
        var m = java.util.regex.Pattern.compile("stopping after (\\d+) calls").matcher(log);
        if (!m.find()) {
            throw new AssertionError("the planner's log has no call count: " + log);
        }
        return Long.parseLong(m.group(1));
    }

    /**
     * A runtime for an engine (its --runtime binary): a script that runs the client on this
     * planner's socket, with the direct path on the classes under test.
     */
    public Path launcher(Path dir) throws IOException {
        Path script = dir.resolve("bulwark-client");
        Files.writeString(script, """
                #!/bin/sh
                export BULWARK_JAVA='%s' BULWARK_JAVA_OPTS='%s' BULWARK_CLASSPATH='%s' BULWARK_PLANNER_SOCKET='%s' BULWARK_PLANNER=no-start
                exec '%s' "$@"
                """.formatted(TestEnv.java(), JAVA_OPTS, TestEnv.classPath(), socket, TestEnv.nativeDir().resolve("bulwark")));
        Files.setPosixFilePermissions(script, PosixFilePermissions.fromString("rwxr-xr-x"));
        return script;
    }

    /** SIGKILL, as an OOM kill or a crash would end it, and wait for it to be gone. */
    public void kill() throws Exception {
        process.destroyForcibly();
        if (!process.waitFor(30, TimeUnit.SECONDS)) {
            throw new AssertionError("planner " + pid() + " survived SIGKILL");
        }
    }

    @Override
    public void close() throws IOException {
        process.destroyForcibly();
        try {
            process.waitFor(30, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        TestEnv.deleteTree(dir);
    }
}
