package dev.bulwark.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.bulwark.testing.ContainerTestBase;
import dev.bulwark.testing.Sandbox;
import dev.bulwark.testing.Sandbox.Result;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * process.apparmorProfile, process.selinuxLabel and linux.mountLabel on Bulwark and on runc with
 * the same config. Each test asks the host whether it has the LSM and checks the side it is on:
 * with it, the container runs on both and sees the same /proc/self/attr/current; without it,
 * both fail as runc 1.1.5 does (the attribute write or the labelled mount refused by the kernel,
 * the SELinux label refused before anything is made), leaving nothing behind.
 */
class LsmTest extends ContainerTestBase {
    private static final String SCRIPT = "cat /proc/self/attr/current; echo; echo ran";

    @BeforeEach
    void needRunc() {
        assumeTrue(Files.isExecutable(Path.of("/usr/sbin/runc")) || Files.isExecutable(Path.of("/usr/bin/runc")),
                "runc is not installed (Debian package runc)");
    }

    static boolean appArmorEnabled() throws Exception {
        Path p = Path.of("/sys/module/apparmor/parameters/enabled");
        return Files.exists(p) && Files.readString(p).startsWith("Y");
    }

    static boolean selinuxEnabled() {
        return Files.exists(Path.of("/sys/fs/selinux/enforce"));
    }

    private Result[] both() throws Exception {
        Result ours = box.sh(SCRIPT);
        Result runc = Sandbox.finish(new ProcessBuilder("runc", "--root", box.dir().resolve("runc-state").toString(), "run",
                "--bundle", box.bundle().toString(), "r" + Long.toHexString(System.nanoTime()))
                .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile())).start());
        return new Result[] {ours, runc};
    }

    @Test
    void appArmorProfile() throws Exception {
        box.process().put("apparmorProfile", "unconfined");
        Result[] r = both();
        if (appArmorEnabled()) {
            assertEquals(0, r[1].exit(), r[1]::all);
            assertEquals(0, r[0].exit(), r[0]::all);
            assertEquals(r[1].out(), r[0].out());
            assertTrue(r[0].out().startsWith("unconfined"), r[0].out());
        } else {
            System.out.println("LsmTest: AppArmor is not enabled here (/sys/module/apparmor/parameters/enabled), so the"
                    + " profile write must fail on both runtimes");
            assertEquals(1, r[1].exit(), r[1]::all);
            assertTrue(r[1].err().contains("apparmor failed to apply profile: write /proc/self/attr/"), r[1].err());
            assertNotEquals(0, r[0].exit(), r[0]::all);
            assertEquals("", r[0].out());
            assertTrue(r[0].err().contains("write \"exec unconfined\" to /proc/self/attr/"), r[0].err());
            assertTrue(r[0].err().contains("Invalid argument"), r[0].err());
        }
    }

    @Test
    void selinuxLabel() throws Exception {
        String label = selinuxEnabled() ? Files.readString(Path.of("/proc/self/attr/current")).trim().replace("\0", "")
                : "system_u:system_r:container_t:s0:c1,c2";
        box.process().put("selinuxLabel", label);
        Result[] r = both();
        if (selinuxEnabled()) {
            assertEquals(0, r[1].exit(), r[1]::all);
            assertEquals(0, r[0].exit(), r[0]::all);
            assertEquals(r[1].out(), r[0].out());
        } else {
            System.out.println("LsmTest: SELinux is not enabled here (no /sys/fs/selinux), so the label is refused by both");
            assertEquals(1, r[1].exit(), r[1]::all);
            assertTrue(r[1].err().contains("selinux label is specified in config, but selinux is disabled or not supported"));
            assertEquals(1, r[0].exit(), r[0]::all);
            assertTrue(r[0].err().contains("process.selinuxLabel: selinux label is specified in config, but selinux is disabled"),
                    r[0].err());
        }
    }

    @Test
    void mountLabel() throws Exception {
        box.linux().put("mountLabel", "system_u:object_r:container_file_t:s0:c1,c2");
        Result[] r = both();
        if (selinuxEnabled()) {
            assertEquals(0, r[1].exit(), r[1]::all);
            assertEquals(0, r[0].exit(), r[0]::all);
            assertEquals(r[1].out(), r[0].out());
        } else {
            System.out.println("LsmTest: SELinux is not enabled here, so the kernel refuses the context= mount option on both");
            assertEquals(1, r[1].exit(), r[1]::all);
            assertTrue(r[1].err().contains("container_file_t:s0:c1,c2") && r[1].err().contains("invalid argument"), r[1].err());
            assertNotEquals(0, r[0].exit(), r[0]::all);
            assertTrue(r[0].err().contains("mount tmpfs (tmpfs) on /dev, data \"mode=755,size=65536k,context=\"system_u:object_r:container_file_t:s0:c1,c2\"\": Invalid argument"), r[0].err());
        }
    }

    /** A /proc that is not procfs (a bind of a plain directory) does not take the profile: refused, not skipped. */
    @Test
    void attributeOutsideProcfsIsRefused() throws Exception {
        Path fake = box.dir().resolve("fakeproc");
        Files.createDirectories(fake.resolve("self/attr/apparmor"));
        Files.writeString(fake.resolve("self/attr/exec"), "");
        Files.writeString(fake.resolve("self/attr/apparmor/exec"), "");
        box.mounts().removeIf(m -> ((java.util.Map<?, ?>) m).get("destination").equals("/proc"));
        box.mounts().add(map("destination", "/proc", "type", "bind", "source", fake.toString(),
                "options", new ArrayList<>(List.of("rbind"))));
        box.linux().put("maskedPaths", new ArrayList<>());
        box.linux().put("readonlyPaths", new ArrayList<>());
        box.process().put("apparmorProfile", "unconfined");
        Result ours = box.sh(SCRIPT);
        assertNotEquals(0, ours.exit(), ours::all);
        assertEquals("", ours.out());
        assertTrue(ours.err().contains("is not on procfs: refusing to set the process's security label there"), ours.err());
        assertEquals("", Files.readString(fake.resolve("self/attr/exec")));
    }
}
