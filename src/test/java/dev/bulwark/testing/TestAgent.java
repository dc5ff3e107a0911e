package dev.bulwark.testing;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.bulwark.agent.AgentLauncher;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * A `bulwark agent` on a test's own socket, and its fd keeper, stopped by their PIDs: the agent's
 * from its own answer on the socket (or the process the test started), the keeper's from the PID
 * and start time the agent recorded beside the socket.
 */
public final class TestAgent {
    private TestAgent() {}

    /** Starts an agent on socket as a child of the test and waits until it answers. */
    public static Process start(Path socket) throws Exception {
        // the agent is a JVM of its own on either path: the planner never runs it
        List<String> cmd = Sandbox.directCli("agent", "--socket", socket.toString());
        cmd.add(1, "--enable-native-access=ALL-UNNAMED");
        ProcessBuilder pb = new ProcessBuilder(cmd);
        pb.environment().put("BULWARK_AGENT_DEBUG", "1");
        Process p = pb.redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(socket.resolveSibling("agent.log").toFile())).start();
        for (int i = 0; i < 300 && AgentLauncher.ping(socket).isEmpty(); i++) {
            assertTrue(p.isAlive(), () -> "the agent exited: " + log(socket));
            Thread.sleep(20);
        }
        assertTrue(AgentLauncher.ping(socket).isPresent(), "the agent did not answer on " + socket);
        return p;
    }

    /** SIGKILL to this PID: the agent holds nothing that needs a clean exit. */
    public static void stop(Process p) throws InterruptedException {
        if (p != null && p.isAlive()) {
            p.destroyForcibly();
            assertTrue(p.waitFor(10, TimeUnit.SECONDS));
        }
    }

    /**
     * Stops whatever agent answers on socket (one the runtime started itself, detached, is no
     * child of the test) and the keeper beside it.
     */
    public static void stopAt(Path socket) throws Exception {
        Optional<String> pong = AgentLauncher.ping(socket);
        if (pong.isPresent()) {
            // "bulwark-agent PID CONTAINERS"
            long pid = Long.parseLong(pong.get().split(" ")[1]);
            Optional<ProcessHandle> h = ProcessHandle.of(pid);
            if (h.isPresent()) {
                h.get().destroyForcibly();
                h.get().onExit().get(10, TimeUnit.SECONDS);
            }
        }
        stopKeeper(socket);
        detachProcView(socket);
    }

    /** The agent's FUSE view of /proc beside socket, detached by its exact path (its server is gone). */
    public static void detachProcView(Path socket) throws Exception {
        Path dir = dev.bulwark.agent.Agent.procViewDir(socket);
        if (dev.bulwark.agent.Agent.isProcViewMount(dir)) {
            Process p = new ProcessBuilder("umount", "-l", dir.toString()).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes());
            assertTrue(p.waitFor(10, TimeUnit.SECONDS) && p.exitValue() == 0, "umount -l " + dir + ": " + out);
        }
        Files.deleteIfExists(dir);
    }

    /** The fd keeper the agent started (detached): killed by the PID and start time it recorded. */
    public static void stopKeeper(Path socket) throws Exception {
        Path pidFile = socket.resolveSibling(socket.getFileName() + ".keeper.pid");
        if (!Files.exists(pidFile)) {
            return;
        }
        String[] f = Files.readString(pidFile).trim().split(" ");
        long pid = Long.parseLong(f[0]);
        if (dev.bulwark.runtime.Procfs.startTime(pid).map(t -> t == Long.parseLong(f[1])).orElse(false)) {
            ProcessHandle h = ProcessHandle.of(pid).orElseThrow();
            h.destroyForcibly();
            h.onExit().get(10, TimeUnit.SECONDS);
        }
    }

    public static String log(Path socket) {
        try {
            return Files.readString(socket.resolveSibling("agent.log"));
        } catch (IOException e) {
            return "<no log>";
        }
    }
}
