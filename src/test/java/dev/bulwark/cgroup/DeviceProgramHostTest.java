package dev.bulwark.cgroup;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.bulwark.spec.Spec.DeviceCgroup;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The v2 device program through the real kernel verifier and device checks: a test-only C
 * helper (src/test/c/devload.c) loads and attaches it to a fresh cgroup2 directory, as the
 * native stage will, and runs a shell there that opens device nodes. Device programs work on
 * any cgroup2 directory, so this runs on a hybrid host too. Needs root, cc and a cgroup2 mount.
 */
class DeviceProgramHostTest {
    @TempDir
    Path tmp;
    Path loader;
    Path cgroup;
    final List<Process> started = new ArrayList<>();

    @BeforeEach
    void build() throws Exception {
        assumeTrue("root".equals(System.getProperty("user.name")), "needs root");
        Cgroups host = Cgroups.detect();
        assumeTrue(host.unified().isPresent(), "needs a cgroup2 mount");
        Path src = Path.of(System.getProperty("bulwark.source.dir", "."), "src/test/c/devload.c");
        loader = tmp.resolve("devload");
        Process cc;
        try {
            cc = new ProcessBuilder("cc", "-O2", "-Wall", "-o", loader.toString(), src.toString()).redirectErrorStream(true).start();
        } catch (IOException e) {
            assumeTrue(false, "needs a C compiler (cc): " + e.getMessage());
            return;
        }
        String out = new String(cc.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, cc.waitFor(), "cc: " + out);
        cgroup = host.unified().orElseThrow().mountPoint().resolve("bulwark-test-" + UUID.randomUUID().toString().substring(0, 8));
        Files.createDirectory(cgroup);
    }

    @AfterEach
    void cleanUp() throws Exception {
        for (Process p : started) {
            p.destroyForcibly();
            p.waitFor(5, TimeUnit.SECONDS);
        }
        if (cgroup != null) {
            Files.deleteIfExists(cgroup); // the attached program goes with the cgroup
        }
    }

    static DeviceCgroup allow(String type, long major, long minor, String access) {
        return DeviceRulesTest.rule(true, type, major, minor, access);
    }

    /** Runs the probe shell inside the cgroup under the program and returns its output lines. */
    List<String> probe(List<DeviceCgroup> rules) throws Exception {
        DeviceProgram p = DeviceRules.of(rules).v2Program(cgroup);
        Path prog = tmp.resolve("prog.bin");
        Files.write(prog, p.instructions());
        // stderr goes to a file: /dev/null itself is one of the devices under test
        String script = "exec 2>>" + tmp.resolve("stderr") + ";"
                + " head -c1 /dev/zero >" + tmp.resolve("out") + " && echo zero-read || echo zero-denied;"
                + " true </dev/null && echo null-read || echo null-denied;"
                + " true >/dev/null && echo null-write || echo null-denied-write;"
                + " mknod " + tmp.resolve("n") + " c 1 7 && echo mknod-ok || echo mknod-denied";
        Process sh = new ProcessBuilder(loader.toString(), prog.toString(), p.cgroupDir().toString(),
                Integer.toString(DeviceProgram.PROG_TYPE), Integer.toString(DeviceProgram.ATTACH_TYPE),
                Integer.toString(DeviceProgram.ATTACH_FLAGS), DeviceProgram.LICENSE, "sh", "-c", script)
                .redirectErrorStream(true).start();
        started.add(sh);
        String out = new String(sh.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, sh.waitFor(), out);
        return List.of(out.strip().split("\n"));
    }

    @Test
    void kernelEnforcesTheAllowList() throws Exception {
        List<String> out = probe(List.of(
                DeviceRulesTest.rule(false, "a", -1, -1, "rwm"),
                allow("c", 1, 3, "r")));
        assertEquals(List.of("zero-denied", "null-read", "null-denied-write", "mknod-denied"), out);
    }

    @Test
    void kernelAcceptsDockersDefaults() throws Exception {
        // /dev/zero (1:5) is allowed there, and mknod of any char device
        assertEquals(List.of("zero-read", "null-read", "null-write", "mknod-ok"), probe(DeviceRulesTest.DOCKER));
    }
}
