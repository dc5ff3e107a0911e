package dev.bulwark.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.bulwark.testing.Sandbox;
import dev.bulwark.testing.TestEnv;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The main job, `bulwark demo`, through the real CLI: its table, and nothing left behind. */
class DemoTest {
    @TempDir
    Path tmp;

    /** Row label to {host, container}, from the table the demo prints. */
    private static Map<String, String[]> table(String out) {
        Map<String, String[]> rows = new HashMap<>();
        for (String line : out.split("\n")) {
            String[] f = line.split("\\s{2,}");
            if (f.length == 3) {
                rows.put(f[0], new String[] {f[1], f[2]});
            }
        }
        return rows;
    }

    @Test
    void theMainJob() throws Exception {
        assumeTrue(TestEnv.isRoot(), "the demo runs a container: root only");
        Path root = tmp.resolve("state");
        Sandbox.Result r = Sandbox.finish(new ProcessBuilder(Sandbox.cli("--root", root.toString(), "demo"))
                .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile())).start());
        assertEquals(0, r.exit(), r.all());
        Map<String, String[]> t = table(r.out());
        for (String ns : List.of("cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts")) {
            String[] row = t.get(ns + " namespace");
            assertTrue(row != null, "no " + ns + " namespace row in:\n" + r.all());
            assertNotEquals(row[0], row[1], ns + " namespace is the host's");
        }
        String[] map = t.get("uid_map")[1].split("\\s+");
        assertEquals("0", map[0]);
        assertTrue(Long.parseLong(map[1]) >= 65536, "container root is not a low host ID: " + t.get("uid_map")[1]);
        assertEquals("65536", map[2]);
        assertEquals("1", t.get("NoNewPrivs")[1]);
        assertEquals("2", t.get("Seccomp")[1]);
        assertEquals("Read-only file system", t.get("write /")[1]);
        assertEquals("2048", t.get("pids.max")[1]);
        assertEquals("Operation not permitted", t.get("unshare(user)")[1]);
        try (Stream<Path> s = Files.list(root)) {
            assertEquals(List.of(), s.filter(p -> !p.getFileName().toString().startsWith(".")).toList(), "state left behind");
        }
        assertEquals(List.of(), TestEnv.mountsUnder(tmp));
    }
}
