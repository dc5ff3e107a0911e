package dev.bulwark.engines;

import dev.bulwark.testing.TestEnv;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

/**
 * What containerd and dockerd share in a test: a daemon process this test started, stopped by
 * its PID, a directory that holds all its state, and the mounts a daemon leaves in it removed by
 * exact path before the directory goes.
 */
abstract class Daemon implements AutoCloseable {
    protected final Path dir;
    private Process process;

    protected Daemon(Path dir) {
        this.dir = dir;
    }

    Path dir() {
        return dir;
    }

    protected void launch(List<String> cmd, String name, BooleanSupplier ready) throws IOException, InterruptedException {
        process = new ProcessBuilder(cmd)
                .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
                .redirectErrorStream(true)
                .redirectOutput(dir.resolve(name + ".log").toFile())
                .start();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!ready.getAsBoolean()) {
            if (!process.isAlive()) {
                throw new AssertionError(name + " exited with " + process.exitValue() + ": " + log(name));
            }
            if (System.nanoTime() > deadline) {
                throw new AssertionError(name + " did not become ready within 30 s: " + log(name));
            }
            Thread.sleep(100);
        }
    }

    String log(String name) {
        try {
            String s = Files.readString(dir.resolve(name + ".log"));
            return s.length() > 4000 ? s.substring(s.length() - 4000) : s;
        } catch (IOException e) {
            return "<no log: " + e.getMessage() + ">";
        }
    }

    /** SIGTERM to the daemon's PID, SIGKILL after 20 s. */
    protected void stop() throws InterruptedException {
        if (process == null || !process.isAlive()) {
            return;
        }
        process.destroy();
        if (!process.waitFor(20, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            process.waitFor(10, TimeUnit.SECONDS);
        }
    }

    /** Processes whose command line names this daemon's directory (its shims), by PID. */
    protected List<ProcessHandle> helpers() {
        String mark = dir.toString();
        return ProcessHandle.allProcesses()
                .filter(p -> p.pid() != ProcessHandle.current().pid())
                .filter(p -> p.info().arguments().map(a -> String.join(" ", a).contains(mark)).orElse(false))
                .toList();
    }

    /** Unmounts everything under the directory, deepest first, by exact path. */
    protected List<String> unmountAll() throws IOException, InterruptedException {
        List<String> mounts = new ArrayList<>(TestEnv.mountsUnder(dir));
        mounts.sort(Comparator.comparingInt(String::length).reversed());
        List<String> failed = new ArrayList<>();
        for (String m : mounts) {
            if (Cmd.run(List.of("umount", m), java.util.Map.of(), 30).exit() != 0) {
                failed.add(m);
            }
        }
        return failed;
    }

    protected void removeDir() throws IOException {
        TestEnv.deleteTree(dir);
    }
}
