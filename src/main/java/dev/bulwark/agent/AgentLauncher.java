package dev.bulwark.agent;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Finds the agent, or starts it. Plain Java I/O only (no FFM): the runtime calls this on the
 * create path.
 */
public final class AgentLauncher {
    private AgentLauncher() {}

    public static final Path DEFAULT_SOCKET = Path.of("/run/bulwark/agent.sock");
    private static final long START_TIMEOUT_MS = 20_000;

    /**
     * Returns when an agent answers on socket. When none does, starts one (detached: its own
     * session, output to a log file next to the socket, outliving the caller) and waits for it.
     */
    public static void ensureRunning(Path socket) {
        if (ping(socket).isPresent()) {
            return;
        }
        Path log = logFile(socket);
        Process p;
        try {
            Files.createDirectories(socket.toAbsolutePath().getParent());
            List<String> cmd = new ArrayList<>(List.of("setsid", "--fork")); // a grandchild: not the caller's to reap
            cmd.addAll(command(socket));
            p = new ProcessBuilder(cmd)
                    .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile()))
                    .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
                    .redirectErrorStream(true)
                    .start();
        } catch (IOException e) {
            throw new AgentException("cannot start the agent for " + socket + ": " + e.getMessage(), e);
        }
        long deadline = System.currentTimeMillis() + START_TIMEOUT_MS;
        while (System.currentTimeMillis() < deadline) {
            if (ping(socket).isPresent()) {
                return;
            }
            if (!p.isAlive() && p.exitValue() != 0 && !Files.exists(socket)) {
                break;
            }
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        throw new AgentException("the agent did not answer on " + socket + " within " + START_TIMEOUT_MS / 1000
                + " s; see " + log + (tail(log).isEmpty() ? "" : ": " + tail(log)));
    }

    /** The agent's answer on socket ("bulwark-agent PID CONTAINERS"), if one answers. */
    public static Optional<String> ping(Path socket) {
        if (!Files.exists(socket)) {
            return Optional.empty();
        }
        try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            ch.connect(UnixDomainSocketAddress.of(socket));
            ch.write(ByteBuffer.wrap(Agent.PING.getBytes(StandardCharsets.UTF_8)));
            ByteBuffer b = ByteBuffer.allocate(256);
            while (ch.read(b) >= 0 && b.position() < b.capacity()) {
                if (b.position() > 0 && b.get(b.position() - 1) == '\n') {
                    break;
                }
            }
            String reply = new String(b.array(), 0, b.position(), StandardCharsets.UTF_8).trim();
            return reply.startsWith(Agent.PONG) ? Optional.of(reply) : Optional.empty();
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    static Path logFile(Path socket) {
        String n = socket.getFileName().toString();
        return socket.resolveSibling((n.endsWith(".sock") ? n.substring(0, n.length() - 5) : n) + ".log");
    }

    /** The command that runs `bulwark agent --socket S` with this JVM and class path. */
    static List<String> command(Path socket) {
        String java = ProcessHandle.current().info().command().orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        List<String> cmd = new ArrayList<>(List.of(java, "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xss512k", "-Xmx48m",
                "--enable-native-access=ALL-UNNAMED"));
        String stage = System.getProperty("bulwark.stage");
        if (stage != null) {
            cmd.add("-Dbulwark.stage=" + Path.of(stage).toAbsolutePath().normalize());
        }
        cmd.addAll(List.of("-cp", Path.of(System.getProperty("java.class.path")).toAbsolutePath().toString(),
                "dev.bulwark.cli.Main", "agent", "--socket", socket.toAbsolutePath().toString()));
        return cmd;
    }

    private static String tail(Path log) {
        try {
            List<String> lines = Files.readAllLines(log);
            return lines.isEmpty() ? "" : lines.getLast();
        } catch (IOException e) {
            return "";
        }
    }
}
