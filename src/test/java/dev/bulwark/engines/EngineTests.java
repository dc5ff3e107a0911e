package dev.bulwark.engines;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.bulwark.testing.TestEnv;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/** What the dockerd/containerd and Podman tests share. */
final class EngineTests {
    private EngineTests() {}

    static String uniqueName(String prefix) {
        return prefix + "-" + HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextInt());
    }

    static void waitFor(String what, Callable<Boolean> condition) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (!condition.call()) {
            assertTrue(System.nanoTime() < deadline, "timed out waiting for " + what);
            Thread.sleep(50);
        }
    }

    /** PIDs of `sleep MARK` processes: a container's children that must not outlive it. */
    static List<Long> sleepers(String mark) throws IOException {
        List<Long> out = new ArrayList<>();
        try (var procs = Files.list(Path.of("/proc"))) {
            for (Path p : (Iterable<Path>) procs::iterator) {
                if (p.getFileName().toString().chars().allMatch(Character::isDigit)) {
                    try {
                        if (TestEnv.readProc(p.resolve("cmdline")).equals("sleep\0" + mark + "\0")) {
                            out.add(Long.parseLong(p.getFileName().toString()));
                        }
                    } catch (IOException e) {
                        // exited meanwhile
                    }
                }
            }
        }
        return out;
    }
}
