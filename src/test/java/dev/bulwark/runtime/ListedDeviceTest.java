package dev.bulwark.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.bulwark.testing.ContainerTestBase;
import dev.bulwark.testing.Sandbox;
import dev.bulwark.testing.Sandbox.Result;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * A node linux.devices lists exists in the container under a deny-all devices cgroup, as with
 * runc, and the rules still refuse opening it: Bulwark and runc on the same config.
 */
class ListedDeviceTest extends ContainerTestBase {
    // (mknod of another node is left out: runc allows mknod of any node, "c *:* m", Bulwark only
    // of the listed ones; see docs/runc-compat.md)
    private static final String SCRIPT = "stat -c '%F %t:%T %a' /dev/test1; cat /dev/test1 2>&1 | grep -o 'Operation not permitted';"
            + " true";

    @Test
    void listedNodeExistsUnderDenyAll() throws Exception {
        assumeTrue(Files.isExecutable(Path.of("/usr/sbin/runc")) || Files.isExecutable(Path.of("/usr/bin/runc")),
                "runc is not installed (Debian package runc)");
        @SuppressWarnings("unchecked")
        Map<String, Object> resources = (Map<String, Object>) box.linux().computeIfAbsent("resources", k -> map());
        resources.put("devices", new ArrayList<>(List.of(map("allow", false, "access", "rwm"))));
        box.linux().put("devices", new ArrayList<>(List.of(map("path", "/dev/test1", "type", "c", "major", 10, "minor", 666,
                "fileMode", 0666, "uid", 0, "gid", 0))));
        Result ours = box.sh(SCRIPT);
        assertEquals(0, ours.exit(), ours::all);
        assertEquals("character special file a:29a 666\nOperation not permitted\n", ours.out());

        box.writeConfig();
        Process p = new ProcessBuilder("runc", "--root", box.dir().resolve("runc-state").toString(), "run", "--bundle",
                box.bundle().toString(), "r" + Long.toHexString(System.nanoTime()))
                .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile())).start();
        Result runc = Sandbox.finish(p);
        assertEquals(0, runc.exit(), runc::all);
        assertEquals(runc.out(), ours.out(), "runc's view of the same config");
    }
}
