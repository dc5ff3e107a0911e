package dev.bulwark.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.bulwark.spec.Spec;
import dev.bulwark.testing.ContainerTestBase;
import dev.bulwark.testing.Sandbox;
import dev.bulwark.testing.TestAgent;
import dev.bulwark.testing.TestSystem;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * exec into containers with their own ID range, on real containers under a real agent on the
 * test's socket: the exec'd process is in the init's user namespace with the same map; in a
 * system container it has full capabilities and its mount calls are supervised under the mounts
 * made at the container's creation (not those of the moment of the exec); without an agent that
 * knows the container nothing runs unsupervised.
 */
class SystemExecTest extends ContainerTestBase {
    private static final long POOL = 3_200_000_000L;
    private TestSystem sys;
    private final List<String> created = new ArrayList<>();

    @BeforeAll
    static void mountTargets() throws Exception {
        // the stage cannot create mount targets in a root it does not own from a user namespace
        Files.createDirectories(rootfs.resolve("ro"));
        Files.createDirectories(rootfs.resolve("t"));
    }

    @BeforeEach
    void allocatorAndAgent() throws Exception {
        Path d = box.dir();
        sys = TestSystem.start(d, POOL, 4);
        Path ro = Files.createDirectories(d.resolve("ro"));
        Files.writeString(ro.resolve("file"), "ro\n");
        box.mounts().add(map("destination", "/ro", "type", "bind", "source", ro.toString(), "options", List.of("rbind", "ro")));
        box.process().put("args", new ArrayList<>(List.of("sleep", "300")));
    }

    @AfterEach
    void cleanUp() throws Exception {
        try {
            for (String id : created) {
                Sandbox.finish(new ProcessBuilder(cli("delete", "--force", id)).start());
            }
        } finally {
            sys.close();
        }
    }

    private List<String> cli(String... args) {
        return sys.cli(box.stateRoot(), args);
    }

    /** create (with globals before the command) and start; returns the init's PID. */
    private long createAndStart(String id, String... globals) throws Exception {
        box.writeConfig();
        List<String> args = new ArrayList<>(List.of(globals));
        args.addAll(List.of("create", "--bundle", box.bundle().toString(), id));
        // the container keeps stdout and stderr: files, not pipes this test waits on
        Path err = box.dir().resolve(id + ".err");
        Process p = new ProcessBuilder(cli(args.toArray(String[]::new))).redirectOutput(ProcessBuilder.Redirect.DISCARD)
                .redirectError(err.toFile()).start();
        created.add(id);
        assertEquals(0, p.waitFor(), () -> read(err) + "\nagent: " + TestAgent.log(sys.socket));
        Sandbox.Result r = Sandbox.finish(new ProcessBuilder(cli("start", id)).start());
        assertEquals(0, r.exit(), r.all());
        return Lifecycle.load(box.stateRoot(), id).pid();
    }

    private Sandbox.Result exec(String id, String script) throws Exception {
        return Sandbox.finish(new ProcessBuilder(cli("exec", id, "sh", "-c", script))
                .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile())).start());
    }

    private static String read(Path p) {
        try {
            return Files.readString(p);
        } catch (Exception e) {
            return "<" + e + ">";
        }
    }

    private static String spaces(String s) {
        return s.strip().replaceAll("\\s+", " ");
    }

    private static String status(long pid, String field) throws Exception {
        return Procfs.read(Path.of("/proc/" + pid + "/status")).lines().filter(l -> l.startsWith(field + ":")).findFirst()
                .orElseThrow();
    }

    /** What the init and the exec'd process must agree on: uid_map, gid_map, user namespace, CapEff. */
    private static final String IDENTITY = "cat /proc/self/uid_map /proc/self/gid_map; readlink /proc/self/ns/user;"
            + " grep CapEff /proc/self/status";

    private static List<String> initIdentity(long pid) throws Exception {
        return List.of(spaces(Procfs.read(Path.of("/proc/" + pid + "/uid_map"))), spaces(Procfs.read(Path.of("/proc/" + pid + "/gid_map"))),
                Files.readSymbolicLink(Path.of("/proc/" + pid + "/ns/user")).toString(), spaces(status(pid, "CapEff")));
    }

    @Test
    void execIntoASystemContainerJoinsItsUserNamespaceWithFullCapabilities() throws Exception {
        long init = createAndStart("sys", "--system");
        // no --system: what create applied is recorded in the container's state
        Sandbox.Result r = exec("sys", IDENTITY + "; id -u");
        assertEquals(0, r.exit(), r.all() + "\nagent: " + TestAgent.log(sys.socket));
        List<String> out = r.out().lines().map(SystemExecTest::spaces).toList();
        assertEquals(initIdentity(init), out.subList(0, 4), "the exec'd process is where the init is");
        long start = Long.parseLong(out.get(0).split(" ")[1]);
        assertTrue(start >= POOL && start < POOL + 4 * 65536, "the container's range: " + out.get(0));
        long last = Long.parseLong(Procfs.read(Path.of("/proc/sys/kernel/cap_last_cap")).strip());
        assertEquals("CapEff: " + String.format("%016x", ((1L << (last + 1)) - 1) & ~(1L << 17)), out.get(3), "every capability but CAP_SYS_RAWIO (17)");
        assertEquals("0", out.get(4));
        assertTrue(Files.exists(box.stateRoot().resolve("sys").resolve(SystemMode.MODE_FILE)));
    }

    @Test
    void anExecdProcessIsSupervisedUnderTheCreationMounts() throws Exception {
        createAndStart("imm", "--system");
        // a mount the container makes after its creation, read-only. (Both remounts below are
        // per-mount (bind) ones: busybox passes a tmpfs superblock remount the uid= and gid= that
        // /proc/mounts shows in host terms, which the kernel refuses in the container's namespace.)
        Sandbox.Result made = exec("imm", "mount -t tmpfs -o ro tmpfs /t && echo made");
        assertEquals(0, made.exit(), made.all() + "\nagent: " + TestAgent.log(sys.socket));
        assertEquals("made", made.out().strip());
        Sandbox.Result r = exec("imm", "grep -c Seccomp:.2 /proc/self/status; mount -o remount,rw,bind /ro 2>&1 || echo ro=refused;"
                + " mount -o remount,rw,bind /t && echo t=rw; grep ' /t ' /proc/self/mountinfo | cut -d' ' -f6");
        assertEquals(0, r.exit(), r.all());
        List<String> out = r.out().lines().toList();
        assertEquals("1", out.get(0), "the exec'd process has the filter: " + r.out());
        // busybox says "permission denied (are you root?)" for EPERM
        assertTrue(out.get(1).contains("permission denied"), "an immutable read-only mount stays so: " + r.out());
        assertEquals("ro=refused", out.get(2));
        assertEquals("t=rw", out.get(3), "the container's own later mount is not immutable: " + r.all()
                + "\nagent: " + TestAgent.log(sys.socket));
        assertTrue(out.get(4).startsWith("rw"), r.out());
        assertTrue(TestAgent.log(sys.socket).contains("imm (exec pid "), TestAgent.log(sys.socket));
    }

    @Test
    void execIntoAPrivateUserNamespaceKeepsTheEnginesCapabilities() throws Exception {
        box.config.put("annotations", new HashMap<>(Map.of(SystemMode.USERNS, "private")));
        long init = createAndStart("priv");
        Sandbox.Result r = exec("priv", IDENTITY + "; grep -c 'Seccomp:.2' /proc/self/status");
        assertEquals(0, r.exit(), r.all());
        List<String> out = r.out().lines().map(SystemExecTest::spaces).toList();
        assertEquals(initIdentity(init), out.subList(0, 4), "same map, user namespace and (the engine's) capabilities");
        assertTrue(!out.get(0).startsWith("0 0 "), out.get(0));
        assertEquals("private", Files.readString(box.stateRoot().resolve("priv").resolve(SystemMode.MODE_FILE)).strip());
    }

    @Test
    void withoutAnAgentNothingRuns() throws Exception {
        long init = createAndStart("noagent", "--system");
        Spec.Process p = Lifecycle.readConfig(box.bundle()).process().orElseThrow();
        SystemMode.Options broken = new SystemMode.Options(false, Optional.empty(), sys.socket, sys.ranges, s -> {
            throw new RuntimeFailure("cannot start the agent for " + s + " (test)");
        });
        RuntimeFailure e = assertThrows(RuntimeFailure.class, () -> Lifecycle.exec(box.stateRoot(), "noagent", p, true,
                Optional.empty(), Optional.empty(), broken));
        assertTrue(e.getMessage().contains("cannot start the agent for " + sys.socket), e.getMessage());
        assertEquals(List.of(init), Lifecycle.processes(box.stateRoot(), "noagent"), "nothing was exec'd");
        try (var s = Files.list(box.stateRoot().resolve("noagent"))) {
            assertEquals(List.of(), s.filter(f -> f.getFileName().toString().startsWith("exec-")).toList());
        }
    }

    /**
     * A listener on the agent's socket that takes the fd but never says it supervises the
     * container (an agent older than the runtime, or not Bulwark's): create fails closed, and
     * leaves no state, no process and no ID range (TestSystem.close checks the pool).
     */
    @Test
    void aCreateTheAgentDoesNotConfirmFailsAndLeavesNothing() throws Exception {
        box.writeConfig();
        Path mute = box.dir().resolve("mute.sock");
        try (var srv = java.nio.channels.ServerSocketChannel.open(java.net.StandardProtocolFamily.UNIX)) {
            srv.bind(java.net.UnixDomainSocketAddress.of(mute));
            Thread.ofPlatform().daemon().start(() -> {
                while (true) {
                    try (var c = srv.accept()) {
                        c.read(java.nio.ByteBuffer.allocate(1 << 16)); // the fd, if any, is dropped unread
                    } catch (java.io.IOException e) {
                        return;
                    }
                }
            });
            SystemMode.Options o = new SystemMode.Options(true, Optional.empty(), mute, sys.ranges, SystemMode.AgentStarter.PRESENT);
            RuntimeFailure e = assertThrows(RuntimeFailure.class, () -> Lifecycle.create(box.stateRoot(), "mute", box.bundle(),
                    Optional.empty(), 0, false, Optional.empty(), true, o));
            assertTrue(e.getMessage().contains("does not supervise container \"mute\""), e.getMessage());
        }
        assertTrue(!Files.exists(box.stateRoot().resolve("mute")), "state directory left");
    }

    /** An agent that takes the question and never answers fails the create once the wait is over, leaving nothing. */
    @Test
    void aCreateTheAgentNeverAnswersFailsAndLeavesNothing() throws Exception {
        box.writeConfig();
        Path hung = box.dir().resolve("hung.sock");
        long before = SystemMode.supervisedAnswerNs;
        SystemMode.supervisedAnswerNs = 2_000_000_000L;
        java.util.List<java.nio.channels.SocketChannel> held = new java.util.concurrent.CopyOnWriteArrayList<>();
        try (var srv = java.nio.channels.ServerSocketChannel.open(java.net.StandardProtocolFamily.UNIX)) {
            srv.bind(java.net.UnixDomainSocketAddress.of(hung));
            Thread.ofPlatform().daemon().start(() -> {
                while (true) {
                    try {
                        held.add(srv.accept());   // kept open, never answered
                    } catch (java.io.IOException e) {
                        return;
                    }
                }
            });
            SystemMode.Options o = new SystemMode.Options(true, Optional.empty(), hung, sys.ranges, SystemMode.AgentStarter.PRESENT);
            long t0 = System.nanoTime();
            RuntimeFailure e = assertThrows(RuntimeFailure.class, () -> Lifecycle.create(box.stateRoot(), "hung", box.bundle(),
                    Optional.empty(), 0, false, Optional.empty(), true, o));
            long ms = (System.nanoTime() - t0) / 1_000_000;
            assertTrue(e.getMessage().contains("does not supervise container \"hung\"") && e.getMessage().contains("none within 2000 ms"),
                    e.getMessage());
            assertTrue(ms >= 2000, "gave up after " + ms + " ms");
        } finally {
            SystemMode.supervisedAnswerNs = before;
            for (var c : held) {
                c.close();
            }
        }
        assertTrue(!Files.exists(box.stateRoot().resolve("hung")), "state directory left");
    }

    @Test
    void aRestartedAgentKnowsTheContainerFromItsRecords() throws Exception {
        createAndStart("again", "--system");
        sys.stopAgent();
        // the runtime starts an agent itself (detached); it takes the container back from the fd keeper
        Sandbox.Result r = exec("again", "mount -o remount,rw,bind /ro 2>&1 || echo ro=refused");
        assertEquals(0, r.exit(), r.all() + "\nagent: " + read(sys.socket.resolveSibling("agent.log")));
        assertTrue(r.out().contains("permission denied") && r.out().contains("ro=refused"),
                "EPERM, the agent's: " + r.out() + "\nagent: " + read(sys.socket.resolveSibling("agent.log")));
    }

    @Test
    void anAgentThatDoesNotKnowTheContainerClosesTheFd() throws Exception {
        createAndStart("unknown", "--system");
        // agent and keeper gone: the container's record is gone with them; a fresh agent never saw it
        sys.stopAgent();
        TestAgent.stopKeeper(sys.socket);
        sys.startAgent();
        Sandbox.Result r = exec("unknown", "mount -t tmpfs tmpfs /t 2>&1 || echo t=refused");
        assertEquals(0, r.exit(), r.all());
        assertTrue(r.out().contains("Function not implemented") && r.out().contains("t=refused"),
                "fail closed: ENOSYS, never an unsupervised mount: " + r.out());
        assertTrue(TestAgent.log(sys.socket).contains("which this agent does not supervise"), TestAgent.log(sys.socket));
    }
}
