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
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Capabilities decided as runc decides them, each config run on Bulwark and on runc: the same
 * exit status and the same Cap* lines of /proc/self/status; the requests the kernel cannot honour
 * with less privilege (unknown names, ambient capabilities outside permitted and inheritable) are
 * dropped with runc's warnings in --log; those capset refuses fail on both.
 */
class CapabilityTest extends ContainerTestBase {
    private static final String SCRIPT = "grep ^Cap /proc/self/status";
    private static final List<String> RUNC_SPEC = List.of("CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE");

    @BeforeEach
    void needRunc() {
        assumeTrue(Files.isExecutable(Path.of("/usr/sbin/runc")) || Files.isExecutable(Path.of("/usr/bin/runc")),
                "runc is not installed (Debian package runc)");
    }

    private void caps(List<String> bounding, List<String> effective, List<String> permitted, List<String> inheritable,
            List<String> ambient) {
        Map<String, Object> c = map("bounding", new ArrayList<>(bounding), "effective", new ArrayList<>(effective),
                "permitted", new ArrayList<>(permitted), "inheritable", new ArrayList<>(inheritable), "ambient",
                new ArrayList<>(ambient));
        box.process().put("capabilities", c);
    }

    /** Both runtimes on the config; returns Bulwark's result and its JSON log, after checking runc's agrees. */
    private String[] both(boolean succeeds) throws Exception {
        box.process().put("args", new ArrayList<>(List.of("sh", "-c", SCRIPT)));
        box.writeConfig();
        Path log = box.dir().resolve("bulwark.log");
        Result ours = Sandbox.finish(new ProcessBuilder(Sandbox.cli("--root", box.stateRoot().toString(), "--log", log.toString(),
                "--log-format", "json", "run", "--bundle", box.bundle().toString(), "c" + Long.toHexString(System.nanoTime())))
                .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile())).start());
        Result runc = Sandbox.finish(new ProcessBuilder("runc", "--root", box.dir().resolve("runc-state").toString(), "run",
                "--bundle", box.bundle().toString(), "r" + Long.toHexString(System.nanoTime()))
                .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile())).start());
        if (succeeds) {
            assertEquals(0, ours.exit(), ours::all);
            assertEquals(0, runc.exit(), runc::all);
            assertEquals(runc.out(), ours.out(), "runc's view of the same config");
        } else {
            assertNotEquals(0, ours.exit(), ours::all);
            assertNotEquals(0, runc.exit(), runc::all);
            assertEquals("", ours.out());
        }
        return new String[] {ours.out(), Files.exists(log) ? Files.readString(log) : "", ours.err()};
    }

    @Test
    void runcSpecCapabilities() throws Exception {
        // runc spec's sets: ambient without inheritable, so the kernel refuses to raise them
        caps(RUNC_SPEC, RUNC_SPEC, RUNC_SPEC, List.of(), RUNC_SPEC);
        box.process().put("noNewPrivileges", true);
        String[] r = both(true);
        assertTrue(r[0].contains("CapAmb:\t0000000000000000"), r[0]);
        assertTrue(r[0].contains("CapEff:\t0000000020000420"), r[0]);
        for (String c : RUNC_SPEC) {
            assertTrue(r[1].contains("\"level\":\"warning\",\"msg\":\"can't raise ambient capability " + c
                    + ": operation not permitted\""), r[1]);
        }
        assertTrue(r[2].isEmpty() || !r[2].contains("error"), r[2]);
    }

    @Test
    void ambientRaisedForANonRootUser() throws Exception {
        List<String> two = List.of("CAP_KILL", "CAP_NET_BIND_SERVICE");
        caps(two, two, two, two, two);
        box.process().put("user", map("uid", 1000, "gid", 1000));
        String[] r = both(true);
        assertTrue(r[0].contains("CapAmb:\t0000000000000420"), r[0]);
        assertTrue(r[0].contains("CapEff:\t0000000000000420"), r[0]);
        assertEquals("", r[1]);
    }

    @Test
    void unknownNamesAreIgnoredWithAWarning() throws Exception {
        List<String> set = List.of("CAP_KILL", "CAP_FOO");
        caps(List.of("CAP_KILL", "CAP_BAR", "CAP_FOO"), set, set, List.of(), List.of());
        String[] r = both(true);
        assertTrue(r[0].contains("CapBnd:\t0000000000000020"), r[0]);
        assertTrue(r[1].contains("ignoring unknown or unavailable capabilities: [CAP_BAR CAP_FOO]"), r[1]);
    }

    @Test
    void permittedOutsideBoundingIsLostAtExec() throws Exception {
        // capset takes it; execve keeps only what the bounding set allows, on both runtimes
        caps(List.of("CAP_KILL"), List.of("CAP_KILL", "CAP_CHOWN"), List.of("CAP_KILL", "CAP_CHOWN"), List.of(), List.of());
        String[] r = both(true);
        assertTrue(r[0].contains("CapPrm:\t0000000000000020"), r[0]);
    }

    @Test
    void effectiveOutsidePermittedFailsOnBoth() throws Exception {
        caps(RUNC_SPEC, List.of("CAP_KILL", "CAP_CHOWN"), List.of("CAP_KILL"), List.of(), List.of());
        both(false);
    }

    @Test
    void inheritableOutsideBoundingFailsOnBoth() throws Exception {
        caps(List.of("CAP_KILL"), List.of("CAP_KILL"), List.of("CAP_KILL"), List.of("CAP_CHOWN"), List.of());
        String[] r = both(false);
        assertTrue(r[1].contains("process.capabilities.inheritable[0]: capability \\\"CAP_CHOWN\\\" is not also in the bounding set"),
                r[1]);
    }
}
