package dev.bulwark.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.bulwark.testing.ContainerTestBase;
import dev.bulwark.testing.Sandbox;
import dev.bulwark.testing.Sandbox.Result;
import dev.bulwark.testing.TestEnv;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A config with no mount namespace: the root is set up in the host's mount namespace and
 * chrooted into, as runc does, with runc's checks (maskedPaths or readonlyPaths refused, a
 * hostname without a UTS namespace refused). Compared with runc on the same config; runc runs
 * in a mount namespace of the test's own (unshare -m), because it leaves its mounts behind and
 * makes "/" rslave, and neither may reach this host. Bulwark runs in the test's own, the host's:
 * what it mounted there is gone when the container is deleted, and "/" keeps its propagation.
 */
class NoMountNamespaceTest extends ContainerTestBase {
    private static final String SCRIPT = "test -e /work && echo host root || echo container root; hostname; id;"
            + " grep ^Cap /proc/self/status; ls /dev | sort | tr '\\n' ' '; echo; readlink /proc/self/ns/mnt";

    @BeforeEach
    void setUp() {
        assumeTrue(Files.isExecutable(Path.of("/usr/sbin/runc")) || Files.isExecutable(Path.of("/usr/bin/runc")),
                "runc is not installed (Debian package runc)");
        box.namespaces().removeIf(n -> ((Map<?, ?>) n).get("type").equals("mount"));
        box.linux().put("maskedPaths", new ArrayList<>());
        box.linux().put("readonlyPaths", new ArrayList<>());
    }

    private Result runc() throws Exception {
        box.writeConfig();
        return Sandbox.finish(new ProcessBuilder("unshare", "-m", "--propagation", "slave", "runc", "--root",
                box.dir().resolve("runc-state").toString(), "run", "--bundle", box.bundle().toString(),
                "r" + Long.toHexString(System.nanoTime()))
                .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile())).start());
    }

    private static String propagationOfRoot() throws Exception {
        for (String line : Files.readAllLines(Path.of("/proc/self/mountinfo"))) {
            String[] f = line.split(" ");
            if (f[4].equals("/")) {
                return line.substring(line.indexOf(f[5]), line.indexOf(" - "));
            }
        }
        return "";
    }

    @Test
    void runsAsRuncDoesAndLeavesNothingMounted() throws Exception {
        String before = propagationOfRoot();
        Result ours = box.sh(SCRIPT);
        assertEquals(0, ours.exit(), ours::all);
        Result runc = runc();
        assertEquals(0, runc.exit(), runc::all);
        assertEquals(runc.out().replaceAll("mnt:\\[\\d+\\]", "mnt"), ours.out().replaceAll("mnt:\\[\\d+\\]", "mnt"));
        assertTrue(ours.out().startsWith("container root\n"), ours.out());
        // the container is in the host's mount namespace (runc's, in its unshare, in that one's)
        assertTrue(ours.out().endsWith(Files.readSymbolicLink(Path.of("/proc/self/ns/mnt")) + "\n"), ours.out());
        assertEquals(List.of(), TestEnv.mountsUnder(rootfs), "mounts left under the root on the host");
        assertEquals(before, propagationOfRoot(), "the host's / propagation");
    }

    /** The CLI with its output in files: a created container keeps the caller's stdio open. */
    private Result cli(String... args) throws Exception {
        Path out = box.dir().resolve("cli.out");
        Path err = box.dir().resolve("cli.err");
        Process p = new ProcessBuilder(Sandbox.cli(args)).redirectInput(Path.of("/dev/null").toFile())
                .redirectOutput(out.toFile()).redirectError(err.toFile()).start();
        assertTrue(p.waitFor(60, java.util.concurrent.TimeUnit.SECONDS), "bulwark " + String.join(" ", args) + " hung");
        return new Result(p.exitValue(), Files.readString(out), Files.readString(err));
    }

    @Test
    void createdContainerMountsOnTheHostUntilDeleted() throws Exception {
        box.process().put("args", new ArrayList<>(List.of("sleep", "60")));
        box.writeConfig();
        String id = "n" + Long.toHexString(System.nanoTime());
        String root = box.stateRoot().toString();
        Result created = cli("--root", root, "create", "--bundle", box.bundle().toString(), id);
        assertEquals(0, created.exit(), created::all);
        try {
            List<String> mounted = TestEnv.mountsUnder(rootfs);
            assertTrue(mounted.contains(rootfs.resolve("proc").toString()), mounted.toString());
            assertTrue(mounted.contains(rootfs.resolve("dev").toString()), mounted.toString());
            Result started = cli("--root", root, "start", id);
            assertEquals(0, started.exit(), started::all);
            Result exec = Sandbox.finish(new ProcessBuilder(Sandbox.cli("--root", root, "exec", id, "sh", "-c",
                    "test -e /work && echo host root || echo container root; test -e /bin/busybox && echo busybox"))
                    .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile())).start());
            assertEquals(0, exec.exit(), exec::all);
            assertEquals("container root\nbusybox\n", exec.out());
        } finally {
            Result deleted = cli("--root", root, "delete", "--force", id);
            assertEquals(0, deleted.exit(), deleted::all);
        }
        assertEquals(List.of(), TestEnv.mountsUnder(rootfs), "mounts left under the root on the host after delete");
    }

    @Test
    void aCreateThatFailsAfterMountingLeavesNothing() throws Exception {
        // the root and /proc are mounted, then /dev's tmpfs is refused (SELinux context= on a kernel
        // without it), or, where SELinux is enabled, an unknown tmpfs option
        box.linux().put("mountLabel", Files.exists(Path.of("/sys/fs/selinux/enforce")) ? "" : "system_u:object_r:x:s0");
        for (Object m : box.mounts()) {
            @SuppressWarnings("unchecked")
            Map<String, Object> mm = (Map<String, Object>) m;
            if (mm.get("destination").equals("/dev") && Files.exists(Path.of("/sys/fs/selinux/enforce"))) {
                mm.put("options", new ArrayList<>(List.of("nosuid", "no-such-option=1")));
            }
        }
        Result ours = box.sh("true");
        assertNotEquals(0, ours.exit(), ours::all);
        assertTrue(ours.err().contains("on /dev"), ours.err());
        assertEquals(List.of(), TestEnv.mountsUnder(rootfs), "mounts left under the root on the host");
    }

    @Test
    void runcsChecksWithoutAMountNamespace() throws Exception {
        box.linux().put("maskedPaths", new ArrayList<>(List.of("/proc/kcore")));
        Result ours = box.sh("true");
        Result runc = runc();
        assertEquals(1, ours.exit(), ours::all);
        assertEquals(1, runc.exit(), runc::all);
        assertTrue(runc.err().contains("unable to restrict sys entries without a private MNT namespace"), runc.err());
        assertTrue(ours.err().contains("linux.maskedPaths: unable to restrict sys entries without a private mount namespace"),
                ours.err());

        box.linux().put("maskedPaths", new ArrayList<>());
        box.linux().put("readonlyPaths", new ArrayList<>(List.of("/proc/sys")));
        ours = box.sh("true");
        runc = runc();
        assertEquals(1, ours.exit(), ours::all);
        assertEquals(1, runc.exit(), runc::all);
        assertTrue(ours.err().contains("linux.readonlyPaths: unable to restrict sys entries"), ours.err());

        box.linux().put("readonlyPaths", new ArrayList<>());
        box.namespaces().removeIf(n -> ((Map<?, ?>) n).get("type").equals("uts"));
        ours = box.sh("true");
        runc = runc();
        assertEquals(1, ours.exit(), ours::all);
        assertEquals(1, runc.exit(), runc::all);
        assertTrue(runc.err().contains("unable to set hostname without a private UTS namespace"), runc.err());
        assertTrue(ours.err().contains("hostname: setting it needs a private UTS namespace"), ours.err());
        assertFalse(ours.err().contains("Exception"), ours.err());
    }
}
