package dev.bulwark.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.bulwark.json.Json;
import dev.bulwark.spec.Node;
import dev.bulwark.testing.ContainerTestBase;
import dev.bulwark.testing.Sandbox;
import dev.bulwark.testing.Sandbox.Result;
import dev.bulwark.testing.TestEnv;
import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The runc lifecycle on real containers: create, start, state, kill, pause, delete. */
class LifecycleTest extends ContainerTestBase {





    /** The CLI with this sandbox's --root; the container's stdio goes to files, never to pipes we wait on. */
    private Result cli(String... args) throws Exception {
        List<String> a = new ArrayList<>(List.of("--root", box.stateRoot().toString()));
        a.addAll(List.of(args));
        Path out = box.dir().resolve("cli.out");
        Process p = new ProcessBuilder(Sandbox.cli(a.toArray(String[]::new)))
                .redirectInput(new File("/dev/null"))
                .redirectOutput(out.toFile())
                .redirectError(box.dir().resolve("cli.err").toFile())
                .start();
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "bulwark " + String.join(" ", args) + " hung");
        return new Result(p.exitValue(), Files.readString(out), Files.readString(box.dir().resolve("cli.err")));
    }

    private Result ok(String... args) throws Exception {
        Result r = cli(args);
        assertEquals(0, r.exit(), "bulwark " + String.join(" ", args) + ": " + r.err());
        return r;
    }

    private String status(String id) throws Exception {
        return Node.root(Json.parse(ok("state", id).out())).req("status").string();
    }

    private void script(String s) throws Exception {
        box.process().put("args", new ArrayList<>(List.of("sh", "-c", s)));
        box.writeConfig();
    }

    private void await(String id, String want) throws Exception {
        for (int i = 0; i < 200 && !status(id).equals(want); i++) {
            Thread.sleep(25);
        }
        assertEquals(want, status(id));
    }

    /** Container IDs unique to this test: the default cgroup path /bulwark/ID is machine-wide. */
    private String id(String name) {
        return name + "-" + box.dir().getFileName().toString().replace("bulwark-test", "");
    }

    private boolean cgroupExists(String id) {
        return Files.exists(Path.of("/sys/fs/cgroup/pids/bulwark", id));
    }

    @Test
    void everyTransition() throws Exception {
        Path marker = Files.createDirectories(box.dir().resolve("shared"));
        box.mounts().add(java.util.Map.of("destination", "/shared", "type", "bind", "source", marker.toString(),
                "options", List.of("rbind", "rw")));
        script("echo started > /shared/log; exec sleep 1000");
        Path pidFile = box.dir().resolve("pid");
        ok("create", "--bundle", box.bundle().toString(), "--pid-file", pidFile.toString(), id("t1"));
        long pid = Long.parseLong(Files.readString(pidFile).strip());
        String state = ok("state", id("t1")).out();
        assertEquals("created", Node.root(Json.parse(state)).req("status").string());
        assertEquals(pid, Node.root(Json.parse(state)).req("pid").int64());
        assertEquals(box.bundle().toString(), Node.root(Json.parse(state)).req("bundle").string());
        assertFalse(Files.exists(marker.resolve("log")), "the process ran before start");
        assertTrue(cgroupExists(id("t1")));

        ok("start", id("t1"));
        for (int i = 0; i < 200 && !Files.exists(marker.resolve("log")); i++) {
            Thread.sleep(10);
        }
        assertEquals("started\n", Files.readString(marker.resolve("log")));
        assertEquals("running", status(id("t1")));
        assertTrue(ok("list").out().contains(id("t1")));
        Result again = cli("start", id("t1"));
        assertEquals(1, again.exit());
        assertTrue(again.err().contains("it is running, not created"), again.err());

        ok("pause", id("t1"));
        assertEquals("paused", status(id("t1")));
        ok("resume", id("t1"));
        assertEquals("running", status(id("t1")));

        Result busy = cli("delete", id("t1"));
        assertEquals(1, busy.exit());
        assertTrue(busy.err().contains("use --force"), busy.err());

        ok("kill", id("t1"), "KILL");
        await(id("t1"), "stopped");
        ok("delete", id("t1"));
        assertEquals(1, cli("state", id("t1")).exit());
        assertFalse(cgroupExists(id("t1")));
    }

    @Test
    void killAllReachesEveryProcess() throws Exception {
        script("sleep 1000 & sleep 1000 & echo $! > /tmp/x; exec sleep 1000");
        box.config.put("root", java.util.Map.of("path", rootfs.toString(), "readonly", false));
        ok("run", "--detach", "--bundle", box.bundle().toString(), id("k1"));
        assertEquals("running", status(id("k1")));
        Path procs = Path.of("/sys/fs/cgroup/pids/bulwark", id("k1"), "cgroup.procs");
        for (int i = 0; i < 200 && Files.readAllLines(procs).size() < 3; i++) {
            Thread.sleep(10);
        }
        assertEquals(3, Files.readAllLines(procs).size(), Files.readString(procs));
        ok("kill", "--all", id("k1"), "9");
        await(id("k1"), "stopped");
        for (int i = 0; i < 200 && !Files.readAllLines(procs).isEmpty(); i++) {
            Thread.sleep(10);
        }
        assertEquals(List.of(), Files.readAllLines(procs));
        ok("delete", id("k1"));
    }

    @Test
    void deleteForceAtEachStage() throws Exception {
        script("exec sleep 1000");
        String bundle = box.bundle().toString();
        ok("create", "--bundle", bundle, id("f-created"));
        ok("create", "--bundle", bundle, id("f-running"));
        ok("start", id("f-running"));
        ok("create", "--bundle", bundle, id("f-paused"));
        ok("start", id("f-paused"));
        ok("pause", id("f-paused"));
        ok("create", "--bundle", bundle, id("f-stopped"));
        ok("start", id("f-stopped"));
        ok("kill", id("f-stopped"), "KILL");
        await(id("f-stopped"), "stopped");
        for (String id : List.of(id("f-created"), id("f-running"), id("f-paused"), id("f-stopped"))) {
            long pid = Node.root(Json.parse(ok("state", id).out())).req("pid").int64();
            ok("delete", "--force", id);
            assertFalse(cgroupExists(id), id);
            assertFalse(Files.exists(box.stateRoot().resolve(id)), id);
            if (pid > 0) {
                assertFalse(Lifecycle.isAlive(pid, 0), id + ": init " + pid + " still runs");
            }
        }
    }

    @Test
    void aCreateKilledHalfWayIsCleanedByDeleteForce() throws Exception {
        script("exec sleep 1000");
        for (int delayMs : new int[] {30, 120, 250, 500}) {
            String id = id("half-" + delayMs);
            List<String> a = new ArrayList<>(List.of("--root", box.stateRoot().toString(), "create", "--bundle",
                    box.bundle().toString(), id));
            Process p = new ProcessBuilder(Sandbox.cli(a.toArray(String[]::new)))
                    .redirectInput(new File("/dev/null")).redirectOutput(ProcessBuilder.Redirect.DISCARD)
                    .redirectError(ProcessBuilder.Redirect.DISCARD).start();
            Thread.sleep(delayMs);
            p.destroyForcibly();
            assertTrue(p.waitFor(10, TimeUnit.SECONDS));
            // The stage may still be finishing: give it a moment, then clean up whatever exists.
            Thread.sleep(200);
            if (Files.exists(box.stateRoot().resolve(id))) {
                ok("delete", "--force", id);
            }
            assertFalse(Files.exists(box.stateRoot().resolve(id)), id);
            // cgroupfs can show a removed cgroup's directory for a moment; a leak stays.
            for (int i = 0; i < 200 && cgroupExists(id); i++) {
                Thread.sleep(10);
            }
            assertFalse(cgroupExists(id), id + ": cgroup left behind");
        }
    }

    @Test
    void execJoinsTheContainer() throws Exception {
        box.namespaces().add(java.util.Map.of("type", "user"));
        box.linux().put("uidMappings", List.of(java.util.Map.of("containerID", 0, "hostID", 500000, "size", 65536)));
        box.linux().put("gidMappings", List.of(java.util.Map.of("containerID", 0, "hostID", 500000, "size", 65536)));
        script("exec sleep 1000");
        ok("run", "--detach", "--bundle", box.bundle().toString(), id("x1"));
        long init = Node.root(Json.parse(ok("state", id("x1")).out())).req("pid").int64();
        StringBuilder expected = new StringBuilder();
        for (String ns : List.of("cgroup", "ipc", "mnt", "net", "pid", "uts", "user")) {
            expected.append(ns).append('=').append(Files.readSymbolicLink(Path.of("/proc/" + init + "/ns/" + ns))).append('\n');
        }
        Result r = cli("exec", id("x1"), "sh", "-c",
                "for n in cgroup ipc mnt net pid uts user; do echo $n=$(readlink /proc/self/ns/$n); done; "
                        + "grep -E '^(NoNewPrivs|Seccomp):' /proc/self/status; exit 7");
        assertEquals(7, r.exit(), r.err());
        assertTrue(r.out().startsWith(expected.toString()), "expected\n" + expected + "got\n" + r.out());
        assertTrue(r.out().contains("NoNewPrivs:\t1\nSeccomp:\t2"), r.out());
        String cg = Files.readString(Path.of("/sys/fs/cgroup/pids/bulwark", id("x1"), "cgroup.procs"));

        Path pidFile = box.dir().resolve("exec.pid");
        ok("exec", "--detach", "--pid-file", pidFile.toString(), id("x1"), "sleep", "1000");
        String execPid = Files.readString(pidFile).strip();
        assertTrue(Files.readString(Path.of("/sys/fs/cgroup/pids/bulwark", id("x1"), "cgroup.procs")).contains(execPid + "\n"),
                "the exec'd process is not in the container's cgroup: " + cg);
        assertEquals("1000 1000 yes /tmp", cli("exec", "--user", "1000:1000", "--env", "Y=yes", "--cwd", "/tmp", id("x1"),
                "sh", "-c", "echo $(id -u) $(id -g) $Y $(pwd)").out().strip());

        ok("kill", id("x1"), "KILL");
        await(id("x1"), "stopped");
        Result late = cli("exec", id("x1"), "true");
        assertEquals(1, late.exit());
        assertTrue(late.err().contains("cannot exec in container \"" + id("x1") + "\": it is stopped"), late.err());
        ok("delete", id("x1"));
    }

    @Test
    void theTerminalGoesToTheConsoleSocket() throws Exception {
        Path recv = box.dir().resolve("console_recv");
        Process cc = new ProcessBuilder("gcc", "-O2", "-Wall", "-Werror", "-o", recv.toString(),
                TestEnv.sourceDir().resolve("src/test/c/stage/console_recv.c").toString()).redirectErrorStream(true).start();
        assertEquals(0, cc.waitFor(), new String(cc.getInputStream().readAllBytes()));
        Path sock = box.dir().resolve("console.sock");
        Process server = new ProcessBuilder(recv.toString(), sock.toString(), "typed-in\n").start();
        try {
            var out = new java.io.BufferedReader(new java.io.InputStreamReader(server.getInputStream()));
            assertEquals("listening", out.readLine());
            box.process().put("terminal", true);
            script("read line; echo \"got $line on $(tty)\"; ls -l /dev/console | cut -c1; [ -t 0 ] && echo stdin-is-a-tty");
            ok("create", "--bundle", box.bundle().toString(), "--console-socket", sock.toString(), id("tty1"));
            assertEquals("received /dev/ptmx", out.readLine());
            ok("start", id("tty1"));
            String text = new String(server.getInputStream().readAllBytes());
            assertTrue(server.waitFor(30, TimeUnit.SECONDS));
            assertTrue(text.contains("got typed-in on /dev/pts/0"), text);
            assertTrue(text.contains("c\r\nstdin-is-a-tty"), "/dev/console is the terminal, stdin a tty: " + text);
            await(id("tty1"), "stopped");
            ok("delete", id("tty1"));
        } finally {
            server.destroyForcibly();
            server.waitFor(10, TimeUnit.SECONDS);
        }
        Result refused = cli("create", "--bundle", box.bundle().toString(), id("tty2"));
        assertEquals(1, refused.exit());
        assertTrue(refused.err().contains("process.terminal: true needs --console-socket"), refused.err());
    }

    @Test
    void updateAndStatsOfALiveContainer() throws Exception {
        script("exec sleep 1000");
        ok("run", "--detach", "--bundle", box.bundle().toString(), id("u1"));
        Path pids = Path.of("/sys/fs/cgroup/pids/bulwark", id("u1"), "pids.max");
        Path mem = Path.of("/sys/fs/cgroup/memory/bulwark", id("u1"), "memory.limit_in_bytes");
        assertEquals("2048", Files.readString(pids).strip(), "bulwark spec's default");
        ok("update", "--pids-limit", "77", "--memory", "67108864", id("u1"));
        assertEquals("77", Files.readString(pids).strip());
        assertEquals("67108864", Files.readString(mem).strip());
        Path res = box.dir().resolve("res.json");
        Files.writeString(res, "{\"pids\": {\"limit\": 99}}");
        ok("update", "--resources", res.toString(), id("u1"));
        assertEquals("99", Files.readString(pids).strip());
        Files.writeString(res, "{\"pids\": {\"limit\": \"many\"}}");
        Result bad = cli("update", "--resources", res.toString(), id("u1"));
        assertEquals(1, bad.exit());
        assertTrue(bad.err().contains("linux.resources.pids.limit: expected a 64-bit integer, found a string"), bad.err());

        String event = ok("events", "--stats", id("u1")).out();
        var data = Node.root(Json.parse(event));
        assertEquals("stats", data.req("type").string());
        assertEquals(1, data.req("data").req("pids").req("current").int64(), event);
        assertEquals(99, data.req("data").req("pids").req("limit").int64(), event);
        ok("delete", "--force", id("u1"));
    }

    private static Map<String, Object> hook(String script, Object... timeout) {
        Map<String, Object> h = new java.util.HashMap<>(map("path", "/bin/sh", "args", List.of("sh", "-c", script)));
        if (timeout.length > 0) {
            h.put("timeout", timeout[0]);
        }
        return h;
    }

    @Test
    void hooksRunInOrderWithTheirState() throws Exception {
        Path out = Files.createDirectories(box.dir().resolve("hooks"));
        box.mounts().add(map("destination", "/shared", "type", "bind", "source", out.toString(), "options", List.of("rbind")));
        String o = out.toString();
        box.config.put("hooks", map(
                "prestart", List.of(hook("cat > " + o + "/1-prestart")),
                "createRuntime", List.of(hook("cat > " + o + "/2-createRuntime")),
                "createContainer", List.of(hook("cat > " + o + "/3-createContainer; readlink /proc/self/ns/mnt > " + o + "/mnt")),
                "startContainer", List.of(hook("cat > /shared/4-startContainer")),
                "poststart", List.of(hook("cat > " + o + "/5-poststart")),
                "poststop", List.of(hook("cat > " + o + "/6-poststop"))));
        script("exec sleep 1000");
        String id = id("h1");
        ok("create", "--bundle", box.bundle().toString(), id);
        long pid = Node.root(Json.parse(ok("state", id).out())).req("pid").int64();
        for (String f : List.of("1-prestart", "2-createRuntime", "3-createContainer")) {
            Node st = Node.root(Json.parse(Files.readString(out.resolve(f))));
            assertEquals("creating", st.req("status").string(), f);
            assertEquals(pid, st.req("pid").int64(), f);
            assertEquals(id, st.req("id").string(), f);
            assertEquals(box.bundle().toString(), st.req("bundle").string(), f);
        }
        assertEquals(Files.readSymbolicLink(Path.of("/proc/" + pid + "/ns/mnt")).toString(), Files.readString(out.resolve("mnt")).strip(),
                "createContainer runs in the container's mount namespace");
        assertFalse(Files.exists(out.resolve("4-startContainer")), "startContainer ran before start");
        ok("start", id);
        assertEquals("created", Node.root(Json.parse(Files.readString(out.resolve("4-startContainer")))).req("status").string());
        assertEquals("running", Node.root(Json.parse(Files.readString(out.resolve("5-poststart")))).req("status").string());
        ok("delete", "--force", id);
        assertEquals("stopped", Node.root(Json.parse(Files.readString(out.resolve("6-poststop")))).req("status").string());
    }

    @Test
    void aFailingOrHangingHookFailsTheCreateAndLeavesNothing() throws Exception {
        script("exec sleep 1000");
        box.config.put("hooks", map("createRuntime", List.of(hook("exit 3"))));
        box.writeConfig();
        Result r = cli("create", "--bundle", box.bundle().toString(), id("bad1"));
        assertEquals(1, r.exit());
        assertTrue(r.err().contains("hook /bin/sh failed with status 3"), r.err());
        assertFalse(cgroupExists(id("bad1")));
        box.config.put("hooks", map("prestart", List.of(hook("sleep 30", 1))));
        box.writeConfig();
        r = cli("create", "--bundle", box.bundle().toString(), id("bad2"));
        assertEquals(1, r.exit());
        assertTrue(r.err().contains("hook /bin/sh timed out after 1 s"), r.err());
        assertFalse(cgroupExists(id("bad2")));
    }

    @Test
    void errorsGoToTheLogInRuncsJsonFormat() throws Exception {
        Path log = box.dir().resolve("log.json");
        Result r = cli("--log", log.toString(), "--log-format", "json", "start", "nope");
        assertEquals(1, r.exit());
        String last = Files.readAllLines(log).getLast();
        Node line = Node.root(Json.parse(last));
        assertEquals("error", line.req("level").string(), last);
        assertEquals("container \"nope\" does not exist", line.req("msg").string(), last);
        assertTrue(line.req("time").string().matches("\\d{4}-\\d\\d-\\d\\dT.*Z"), last);
    }

    @Test
    void clearErrors() throws Exception {
        Result r = cli("state", "nope");
        assertEquals(1, r.exit());
        assertEquals("bulwark: container \"nope\" does not exist\n", r.err());
        assertTrue(cli("kill", "nope", "FOO").err().contains("unknown signal \"FOO\""));
        assertTrue(cli("start", "nope").err().contains("does not exist"));
        Result f = ok("features");
        assertTrue(Node.root(Json.parse(f.out())).req("linux").req("namespaces").list(Node::string).contains("time"));
        Result v = ok("--version");
        assertTrue(v.out().startsWith("bulwark version "), v.out());
        assertTrue(v.out().lines().toList().get(1).startsWith("spec: 1."), v.out());
    }
}
