package dev.bulwark.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;

/**
 * Tests on real containers (root only): one busybox rootfs per test class, one {@link Sandbox}
 * per test, and after each test the check that nothing was left behind.
 */
public abstract class ContainerTestBase {
    protected static Path rootfs;
    protected Sandbox box;

    @BeforeAll
    static void busyboxRootfs() throws Exception {
        assumeTrue(TestEnv.isRoot(), "container tests need root");
        rootfs = Files.createTempDirectory("bulwark-rootfs");
        Busybox.rootfs(rootfs);
    }

    @AfterAll
    static void removeRootfs() throws Exception {
        if (rootfs != null) {
            assertEquals(List.of(), TestEnv.mountsUnder(rootfs));
            TestEnv.deleteTree(rootfs);
            rootfs = null;
        }
    }

    @BeforeEach
    void sandbox() throws Exception {
        box = new Sandbox(rootfs);
    }

    @AfterEach
    void noLeaks() throws Exception {
        box.close();
    }

    /** A JSON object for a config edit: map("type", "user"). */
    protected static Map<String, Object> map(Object... kv) {
        Map<String, Object> m = new HashMap<>();
        for (int i = 0; i < kv.length; i += 2) {
            m.put((String) kv[i], kv[i + 1]);
        }
        return m;
    }
}
