package dev.bulwark.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.bulwark.json.Json;
import dev.bulwark.spec.Node;
import dev.bulwark.testing.ContainerTestBase;
import dev.bulwark.testing.Sandbox;
import dev.bulwark.testing.Sandbox.Result;
import dev.bulwark.testing.TestEnv;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Landlock on real containers: a mount made writable behind the container's back (a remount
 * from the host, a writable mount the ruleset declares read-only) still refuses writes, the
 * container's own remount is refused, and what the config allows still works. On a kernel
 * without the ABI the ruleset needs, the same configs are clear errors that leave nothing.
 */
class LandlockContainerTest extends ContainerTestBase {
    private static final List<String> ALL = List.of("execute", "write_file", "read_file", "read_dir", "remove_dir",
            "remove_file", "make_char", "make_dir", "make_reg", "make_sock", "make_fifo", "make_block", "make_sym", "refer",
            "truncate");
    private static final List<String> READ = List.of("execute", "read_file", "read_dir");

    private int abi;

    @BeforeEach
    void probe() throws Exception {
        Process p = new ProcessBuilder(TestEnv.nativeDir().resolve("bulwark-stage").toString(), "landlock-abi").start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        assertEquals(0, p.waitFor());
        abi = Integer.parseInt(out.split(" ")[0]);
        System.out.println("Landlock on this kernel: " + out);
        // the root stays read-only (DefaultSpec); /tmp is writable, /data is a read-only tmpfs
        box.mounts().add(map("destination", "/tmp", "type", "tmpfs", "source", "tmpfs", "options",
                new ArrayList<>(List.of("nosuid", "nodev"))));
        box.mounts().add(map("destination", "/data", "type", "tmpfs", "source", "tmpfs", "options",
                new ArrayList<>(List.of("nosuid", "nodev", "ro"))));
    }

    @SuppressWarnings("unchecked")
    private void annotate(String mode) {
        ((Map<String, Object>) box.config.computeIfAbsent("annotations", k -> new java.util.HashMap<>()))
                .put(Landlock.ANNOTATION, mode);
    }

    @SuppressWarnings("unchecked")
    private void addCapability(String cap) {
        Map<String, Object> caps = (Map<String, Object>) box.process().get("capabilities");
        for (String set : List.of("bounding", "effective", "permitted")) {
            ((List<Object>) caps.get(set)).add(cap);
        }
    }

    /** The container holds CAP_SYS_ADMIN: without Landlock it can remount /data writable and write there. */
    private static final String REMOUNT = "{ mount -o remount,rw /data; echo remount=$?; echo x > /data/f; echo write=$?;"
            + " echo ok > /tmp/f && cat /tmp/f; head -1 /etc/passwd; echo > /dev/null && echo null-ok; } 2>&1";

    @Test
    void containersOwnRemountIsRefusedAndTheMountStaysReadOnly() throws Exception {
        addCapability("CAP_SYS_ADMIN");
        box.linux().remove("seccomp"); // Docker's profile, evaluated without CAP_SYS_ADMIN, would refuse mount itself
        annotate("off");
        Result without = box.sh(REMOUNT);
        assertEquals(0, without.exit(), without::all);
        assertEquals("remount=0\nwrite=0\nok\nroot:x:0:0:root:/root:/bin/sh\nnull-ok\n", without.out(),
                "without Landlock the remount works: the test can fail");

        annotate("on");
        Result with = box.sh(REMOUNT);
        if (abi < Landlock.MOUNTS_ABI) {
            assertNotEquals(0, with.exit(), with::all);
            assertTrue(with.err().contains("annotations.dev.bulwark.landlock: on needs Landlock ABI 3"), with::all);
            return;
        }
        assertEquals(0, with.exit(), with::all);
        assertEquals("mount: permission denied (are you root?)\nremount=1\n"
                + "sh: can't create /data/f: Read-only file system\nwrite=1\nok\nroot:x:0:0:root:/root:/bin/sh\nnull-ok\n",
                with.out());
    }

    @Test
    void aRemountFromOutsideStillCannotWriteForTheContainerOrItsExec() throws Exception {
        if (abi < Landlock.MOUNTS_ABI) {
            annotate("on");
            Result r = box.sh("true");
            assertNotEquals(0, r.exit(), r::all);
            assertTrue(r.err().contains("on needs Landlock ABI 3 or later"), r::all);
            return;
        }
        annotate("on");
        Path out = outDir();
        box.process().put("args", new ArrayList<>(List.of("sh", "-c", "{ while [ ! -e /tmp/go ]; do sleep 0.05; done;"
                + " echo x > /data/f; echo write=$?; cat /data/host; echo mine > /tmp/mine && cat /tmp/mine; } > /out/log 2>&1")));
        String id = "ll" + Long.toHexString(System.nanoTime());
        create(id);
        try {
            assertEquals(0, cli("start", id).exit());
            long pid = Node.root(Json.parse(cli("state", id).out())).req("pid").int64();
            // from the host, behind the mount layer's back: /data becomes writable, and is (the host's write works)
            Result remount = nsenter(pid, "/bin/mount", "-o", "remount,rw", "/data");
            assertEquals(0, remount.exit(), remount::all);
            Result host = nsenter(pid, "/bin/sh", "-c", "echo from-host > /data/host");
            assertEquals(0, host.exit(), host::all);

            Result exec = cli("exec", id, "sh", "-c", "{ echo x > /data/e; echo write=$?; cat /data/host; echo e > /tmp/e"
                    + " && cat /tmp/e; } 2>&1");
            assertEquals(0, exec.exit(), exec::all);
            assertEquals("sh: can't create /data/e: Permission denied\nwrite=1\nfrom-host\ne\n", exec.out(),
                    "an exec'd process has the container's ruleset");
            assertEquals(0, nsenter(pid, "/bin/touch", "/tmp/go").exit());
            waitStopped(id);
        } finally {
            Result del = cli("delete", "--force", id);
            assertEquals(0, del.exit(), del::all);
        }
        assertEquals("sh: can't create /data/f: Permission denied\nwrite=1\nfrom-host\nmine\n", Files.readString(out.resolve("log")));
    }

    @Test
    void aCreatedContainerWritesItsExecFifoAndIsConfinedAfterStart() throws Exception {
        if (abi < Landlock.MOUNTS_ABI) {
            return; // the annotation's error is asserted above
        }
        annotate("on");
        Path out = outDir();
        box.process().put("args", new ArrayList<>(List.of("sh", "-c",
                "{ echo x > /data/f; echo write=$?; echo ok > /out/ok && cat /out/ok; } > /out/log 2>&1")));
        String id = "lc" + Long.toHexString(System.nanoTime());
        create(id);
        try {
            Result start = cli("start", id);
            assertEquals(0, start.exit(), start::all);
            waitStopped(id);
        } finally {
            Result del = cli("delete", "--force", id);
            assertEquals(0, del.exit(), del::all);
        }
        assertEquals("sh: can't create /data/f: Read-only file system\nwrite=1\nok\n", Files.readString(out.resolve("log")));
    }

    @Test
    void stdioToAHostFileCanBeReopenedAsDevStdout() throws Exception {
        if (abi < Landlock.MOUNTS_ABI) {
            return; // the annotation's error is asserted above
        }
        annotate("on");
        // a host file outside every rule: the container holds it open for writing, and may reopen it so (images
        // that link their logs to /dev/stdout), but not for reading
        box.process().put("args", new ArrayList<>(List.of("sh", "-c",
                "echo direct; echo reopened >> /dev/stdout; cat /dev/stdout 2>/dev/null || echo not-readable")));
        box.writeConfig();
        Path out = box.dir().resolve("stdout.txt");
        Process p = new ProcessBuilder(Sandbox.cli("--root", box.stateRoot().toString(), "run", "--bundle",
                box.bundle().toString(), "lo" + Long.toHexString(System.nanoTime())))
                .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile()))
                .redirectOutput(ProcessBuilder.Redirect.appendTo(out.toFile())).start();
        Result r = Sandbox.finish(p);
        assertEquals(0, r.exit(), r::all);
        assertEquals("direct\nreopened\nnot-readable\n", Files.readString(out));
    }

    /** A writable host directory at /out: what the container writes there outlives it. */
    private Path outDir() throws Exception {
        Path out = Files.createDirectories(box.dir().resolve("out"));
        box.mounts().add(map("destination", "/out", "type", "bind", "source", out.toString(), "options",
                new ArrayList<>(List.of("rbind", "rw"))));
        return out;
    }

    /** create, with the container's stdio in files (a pipe would be held open by the waiting container). */
    private void create(String id) throws Exception {
        box.writeConfig();
        Process p = new ProcessBuilder(Sandbox.cli("--root", box.stateRoot().toString(), "create", "--bundle",
                box.bundle().toString(), id)).redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile()))
                .redirectOutput(box.dir().resolve("create.out").toFile()).redirectError(box.dir().resolve("create.err").toFile())
                .start();
        assertTrue(p.waitFor(60, java.util.concurrent.TimeUnit.SECONDS), "create did not finish");
        assertEquals(0, p.exitValue(), () -> readQuietly(box.dir().resolve("create.err")));
    }

    private static String readQuietly(Path p) {
        try {
            return Files.readString(p);
        } catch (java.io.IOException e) {
            return e.toString();
        }
    }

    private Result cli(String... args) throws Exception {
        List<String> a = new ArrayList<>(List.of("--root", box.stateRoot().toString()));
        a.addAll(List.of(args));
        return Sandbox.finish(new ProcessBuilder(Sandbox.cli(a.toArray(String[]::new)))
                .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile())).start());
    }

    private void waitStopped(String id) throws Exception {
        String status = "";
        for (int i = 0; i < 200 && !status.equals("stopped"); i++) {
            Thread.sleep(50);
            Result st = cli("state", id);
            status = st.exit() == 0 ? Node.root(Json.parse(st.out())).req("status").string() : "";
        }
        assertEquals("stopped", status);
    }

    private static Result nsenter(long pid, String... cmd) throws Exception {
        List<String> c = new ArrayList<>(List.of("nsenter", "-t", Long.toString(pid), "-m", "-p"));
        c.addAll(List.of(cmd));
        return Sandbox.finish(new ProcessBuilder(c).start());
    }

    @SuppressWarnings("unchecked")
    private void ruleset(List<String> handled, Object... rules) {
        List<Object> pb = new ArrayList<>();
        for (int i = 0; i < rules.length; i += 2) {
            pb.add(map("allowedAccess", new ArrayList<>((List<String>) rules[i + 1]), "paths",
                    new ArrayList<>(List.of((String) rules[i]))));
        }
        box.process().put("landlock", map("ruleset", map("handledAccessFS", new ArrayList<>(handled)),
                "rules", map("pathBeneath", pb)));
    }

    @Test
    void theConfigsRulesetDeclaresAWritableMountReadOnly() throws Exception {
        // /data writable at the mount layer; the ruleset gives it read only, /tmp read-write, nothing for /srv
        box.mounts().remove(box.mounts().size() - 1);
        box.mounts().add(map("destination", "/data", "type", "tmpfs", "source", "tmpfs", "options",
                new ArrayList<>(List.of("nosuid", "nodev"))));
        box.mounts().add(map("destination", "/srv", "type", "tmpfs", "source", "tmpfs", "options",
                new ArrayList<>(List.of("nosuid", "nodev"))));
        ruleset(ALL, "/", READ, "/tmp", ALL, "/data", READ, "/dev", List.of("read_file", "write_file"), "/proc", READ);
        // (reads of /srv are allowed: a rule covers the path beneath it, across mounts, and "/" allows reading)
        Result r = box.sh("{ ls /data && echo listed; echo x > /data/f; echo write=$?; mkdir /data/d; echo mkdir=$?;"
                + " echo x > /srv/f; echo srv=$?; echo ok > /tmp/f && cat /tmp/f && mv /tmp/f /tmp/g && cat /tmp/g;"
                + " echo > /dev/null && echo null-ok; } 2>&1");
        if (abi < 3) {
            // best effort (disableBestEffort false) still needs Landlock itself; refer and truncate are dropped below ABI 2/3
            if (abi == 0) {
                assertNotEquals(0, r.exit(), r::all);
                assertTrue(r.err().contains("process.landlock: asks for a Landlock ruleset; this kernel has no Landlock"), r::all);
                return;
            }
        }
        assertEquals(0, r.exit(), r::all);
        assertEquals("listed\nsh: can't create /data/f: Permission denied\nwrite=1\n"
                + "mkdir: can't create directory '/data/d': Permission denied\nmkdir=1\n"
                + "sh: can't create /srv/f: Permission denied\nsrv=1\nok\nok\nnull-ok\n", r.out());
    }

    @Test
    void badFieldsAreClearErrorsAndLeaveNothing() throws Exception {
        Object[][] cases = {
            {List.of("write_file", "fly"), new Object[] {"/tmp", List.of("write_file")},
                "process.landlock.ruleset.handledAccessFS[1]: unknown Landlock access right \"fly\""},
            {List.of("read_file"), new Object[] {"/tmp", List.of("write_file")},
                "process.landlock.rules.pathBeneath[0].allowedAccess[0]: \"write_file\" is not in process.landlock.ruleset.handledAccessFS"},
            {List.of("read_file"), new Object[] {"tmp", List.of("read_file")},
                "process.landlock.rules.pathBeneath[0].paths[0]: \"tmp\" is not an absolute path"},
            {List.of(), new Object[] {"/tmp", List.of("read_file")},
                "process.landlock.ruleset.handledAccessFS: is empty"},
        };
        for (Object[] c : cases) {
            @SuppressWarnings("unchecked")
            List<String> handled = (List<String>) c[0];
            ruleset(handled, (Object[]) c[1]);
            Result r = box.sh("true");
            assertEquals(1, r.exit(), r::all);
            assertTrue(r.err().contains((String) c[2]), () -> "expected " + c[2] + " in " + r.all());
            box.assertNothingLeft();
        }
        box.process().put("landlock", map("ruleset", map("handledAccessFS", new ArrayList<>(List.of("read_file"))),
                "rules", map("netPort", new ArrayList<>())));
        Result net = box.sh("true");
        assertEquals(1, net.exit(), net::all);
        assertTrue(net.err().contains("process.landlock.rules.netPort: Landlock network and scope rules are not supported"),
                net::all);
        box.process().put("landlock", map("ruleset", map("handledAccessFS", new ArrayList<>(List.of("read_file"))),
                "rulez", map()));
        Result unknown = box.sh("true");
        assertEquals(1, unknown.exit(), unknown::all);
        assertTrue(unknown.err().contains("process.landlock.rulez: unknown member"), unknown::all);

        box.process().remove("landlock");
        annotate("yes");
        Result bad = box.sh("true");
        assertEquals(1, bad.exit(), bad::all);
        assertTrue(bad.err().contains("annotations.dev.bulwark.landlock: expected on, auto or off, found \"yes\""), bad::all);
        box.assertNothingLeft();

        annotate("off");
        ruleset(List.of("read_file"), "/", List.of("read_file"));
        Result conflict = box.sh("true");
        assertEquals(1, conflict.exit(), conflict::all);
        assertTrue(conflict.err().contains("annotations.dev.bulwark.landlock: is off, but process.landlock asks for a ruleset"),
                conflict::all);
        box.assertNothingLeft();
    }

    @Test
    void aRulePathMissingInTheContainerFailsTheCreateAndLeavesNothing() throws Exception {
        if (abi < 1) {
            return; // covered by the ABI error above
        }
        ruleset(List.of("read_file", "read_dir", "execute"), "/", READ, "/no/such/dir", READ);
        Result r = box.sh("true");
        assertNotEquals(0, r.exit(), r::all);
        assertTrue(r.err().contains("LANDLOCK_RULE: open /no/such/dir in the container root: No such file or directory"), r::all);
        box.assertNothingLeft();
    }
}
