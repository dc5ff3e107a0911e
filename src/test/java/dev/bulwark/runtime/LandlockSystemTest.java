package dev.bulwark.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.bulwark.testing.ContainerTestBase;
import dev.bulwark.testing.Sandbox;
import dev.bulwark.testing.TestSystem;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Landlock in system containers: what it costs them (every new mount) when asked for. */
class LandlockSystemTest extends ContainerTestBase {
    private static final long POOL = 3_300_000_000L;
    private TestSystem sys;

    @BeforeEach
    void poolAndAgent() throws Exception {
        sys = TestSystem.start(box.dir(), POOL, 4);
    }

    @AfterEach
    void stopAgent() throws Exception {
        sys.close();
    }

    private Sandbox.Result system(String script) throws Exception {
        box.process().put("args", new ArrayList<>(List.of("sh", "-c", script)));
        box.writeConfig();
        return Sandbox.finish(new ProcessBuilder(sys.cli(box.stateRoot(), "--system", "run", "--bundle",
                box.bundle().toString(), "s" + Long.toHexString(System.nanoTime())))
                .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile())).start());
    }

    /**
     * Why system containers run without Landlock unless asked: a confined process may not mount,
     * unmount or remount at all (the kernel refuses it before the agent's decision matters), and
     * new mounts are what a system container is for.
     */
    @Test
    void landlockAskedForRefusesTheSystemContainersOwnMounts() throws Exception {
        String script = "{ mount -t tmpfs none /tmp && echo mounted; echo x > /tmp/f && echo written; } 2>&1; true";
        Sandbox.Result without = system(script);
        assertEquals(0, without.exit(), without::all);
        assertEquals("mounted\nwritten\n", without.out(), "the default: the container's own mounts work");

        box.config.put("annotations", new HashMap<>(Map.of(Landlock.ANNOTATION, "on")));
        Sandbox.Result with = system(script);
        int abi = Landlock.probe().version();
        if (abi < Landlock.MOUNTS_ABI) {
            assertEquals(1, with.exit(), with::all);
            assertTrue(with.err().contains("on needs Landlock ABI 3"), with::all);
            return;
        }
        assertEquals(0, with.exit(), with::all);
        assertEquals("mount: permission denied (are you root?)\nsh: can't create /tmp/f: Read-only file system\n", with.out());
    }
}
