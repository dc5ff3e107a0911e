package dev.bulwark.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.bulwark.json.Json;
import dev.bulwark.json.JsonTree;
import dev.bulwark.testing.ContainerTestBase;
import dev.bulwark.testing.Sandbox;
import dev.bulwark.testing.Sandbox.Result;
import java.io.InputStream;
import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The configs real tools write (src/test/resources/runc-compat/, made by capture.sh there: runc
 * spec, ctr run, docker run, podman run) run on Bulwark and on runc with the same exit status and
 * the same view from inside: credentials, capabilities, no_new_privs, seccomp mode, hostname,
 * limits, mounts with their options, /dev. Made local: the test rootfs, the engines' bind
 * sources as files of the test's own, no terminal, and RLIMIT_NOFILE no higher than this
 * host lets root set (Podman asks 1048576).
 */
class RuncCompatFixtureTest extends ContainerTestBase {
    private static final String PROBE = "grep -E '^(Cap|NoNewPrivs|Seccomp:)' /proc/self/status; id; hostname; ulimit -n;"
            + " awk '{for (i = 7; i <= NF; i++) if ($i == \"-\") print $5, $6, $(i + 1)}' /proc/self/mountinfo;"
            + " ls -l /dev | awk '{print $1, $5, $6, $NF}'";

    @SuppressWarnings("unchecked")
    @ParameterizedTest
    @ValueSource(strings = {"runc-spec", "ctr", "docker", "podman"})
    void sameResultAsRunc(String fixture) throws Exception {
        assumeTrue(Files.isExecutable(Path.of("/usr/sbin/runc")) || Files.isExecutable(Path.of("/usr/bin/runc")),
                "runc is not installed (Debian package runc)");
        String text;
        try (InputStream in = getClass().getResourceAsStream("/runc-compat/" + fixture + ".json")) {
            text = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
        Path files = Files.createDirectories(box.dir().resolve("files"));
        for (String f : List.of("hosts", "hostname", "resolv.conf", ".containerenv")) {
            Files.writeString(files.resolve(f), f.equals("hostname") ? "fixture\n" : "");
        }
        Files.createDirectories(files.resolve("shm"));
        Map<String, Object> config = (Map<String, Object>) JsonTree.mutable(Json.parse(text.replace("@FILES@", files.toString())));
        ((Map<String, Object>) config.get("root")).put("path", rootfs.toString());
        Map<String, Object> process = (Map<String, Object>) config.get("process");
        process.put("terminal", false);
        process.put("args", new ArrayList<>(List.of("sh", "-c", PROBE)));
        long hard = nofileHardLimit();
        for (Object o : (List<Object>) process.getOrDefault("rlimits", List.of())) {
            Map<String, Object> r = (Map<String, Object>) o;
            if (r.get("type").equals("RLIMIT_NOFILE") && ((BigDecimal) r.get("hard")).longValue() > hard) {
                r.put("hard", hard);
                r.put("soft", Math.min(hard, ((BigDecimal) r.get("soft")).longValue()));
            }
        }
        box.config.clear();
        box.config.putAll(config);
        box.writeConfig();

        Result ours = box.run("c" + Long.toHexString(System.nanoTime()));
        Result runc = Sandbox.finish(new ProcessBuilder("runc", "--root", box.dir().resolve("runc-state").toString(), "run",
                "--bundle", box.bundle().toString(), "r" + Long.toHexString(System.nanoTime()))
                .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile())).start());
        assertEquals(0, runc.exit(), runc::all);
        assertEquals(0, ours.exit(), ours::all);
        assertEquals(runc.out(), knownDifferences(ours.out()), "runc's view of " + fixture + "'s config");
    }

    /**
     * Bulwark's output with its three known differences from runc 1.1.5 taken back, each on the
     * side of less privilege (docs/runc-compat.md): the tmpfs under the cgroup mounts is
     * read-only, the unified hierarchy of a hybrid host is mounted too (read-only), and the tmpfs
     * masking a directory of maskedPaths is also nosuid, nodev and noexec.
     */
    static String knownDifferences(String out) {
        StringBuilder b = new StringBuilder();
        for (String line : out.split("\n", -1)) {
            if (line.equals("/sys/fs/cgroup/unified ro,nosuid,nodev,noexec,relatime cgroup2")) {
                continue;
            }
            if (line.equals("/sys/fs/cgroup ro,nosuid,nodev,noexec,relatime tmpfs")) {
                line = "/sys/fs/cgroup rw,nosuid,nodev,noexec,relatime tmpfs";
            } else if (line.matches("/(proc|sys)/\\S+ ro,nosuid,nodev,noexec,relatime tmpfs")) {
                line = line.replace(" ro,nosuid,nodev,noexec,relatime tmpfs", " ro,relatime tmpfs");
            }
            b.append(line).append('\n');
        }
        return b.substring(0, b.length() - 1);
    }

    /** The hard RLIMIT_NOFILE of this JVM: what root here may set without CAP_SYS_RESOURCE raising it past. */
    private static long nofileHardLimit() throws Exception {
        for (String line : Files.readAllLines(Path.of("/proc/self/limits"))) {
            if (line.startsWith("Max open files")) {
                String[] f = line.trim().split("\\s+");
                return f[4].equals("unlimited") ? Long.MAX_VALUE : Long.parseLong(f[4]);
            }
        }
        throw new IllegalStateException("no \"Max open files\" in /proc/self/limits");
    }
}
