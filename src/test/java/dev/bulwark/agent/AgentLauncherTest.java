package dev.bulwark.agent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.bulwark.testing.TestEnv;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** AgentLauncher.ensureRunning starts one detached agent, finds it again, and fails clearly. */
class AgentLauncherTest {
    @Test
    void startsOneDetachedAgentAndFindsItAgain() throws Exception {
        Path dir = Files.createTempDirectory("bulwark-agent");
        Path socket = dir.resolve("agent.sock");
        long pid = -1;
        try {
            assertFalse(AgentLauncher.ping(socket).isPresent());
            AgentLauncher.ensureRunning(socket);
            String reply = AgentLauncher.ping(socket).orElseThrow();
            pid = Long.parseLong(reply.split(" ")[1]);
            ProcessHandle h = ProcessHandle.of(pid).orElseThrow();
            // detached: not our child, in a session of its own
            assertFalse(ProcessHandle.current().children().anyMatch(c -> c.pid() == h.pid()), "the agent is the caller's child");
            String stat = TestEnv.readProc(Path.of("/proc", Long.toString(pid), "stat"));
            String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
            assertEquals(Long.toString(pid), f[3], "the agent leads its own session");
            assertTrue(Files.readString(dir.resolve("agent.log")).contains("listening on " + socket));
            AgentLauncher.ensureRunning(socket);
            assertEquals(pid, Long.parseLong(AgentLauncher.ping(socket).orElseThrow().split(" ")[1]), "a second agent was started");
        } finally {
            if (pid > 0) {
                ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
                ProcessHandle.of(pid).ifPresent(h -> h.onExit().join());
            }
            AgentContainerTest.stopKeeper(socket);
            dev.bulwark.testing.TestAgent.detachProcView(socket);
            TestEnv.deleteTree(dir);
        }
    }

    @Test
    void anUnusableSocketPathIsAClearError() throws Exception {
        Path file = Files.createTempFile("bulwark-agent", "");
        try {
            AgentException e = assertThrows(AgentException.class, () -> AgentLauncher.ensureRunning(file.resolve("agent.sock")));
            assertTrue(e.getMessage().contains(file.resolve("agent.sock").toString()), e.getMessage());
        } finally {
            Files.delete(file);
        }
    }

    @Test
    void installsASystemdUnit() throws Exception {
        Path dir = Files.createTempDirectory("bulwark-unit");
        try {
            Path unit = dir.resolve("bulwark-agent.service");
            assertEquals(0, AgentCommand.run(List.of("--install-unit", unit.toString(), "--socket", "/run/x/agent.sock")));
            String text = Files.readString(unit);
            assertTrue(text.contains("Type=simple") && text.contains("Restart=always"), text);
            assertTrue(text.lines().anyMatch(l -> l.startsWith("ExecStart=") && l.endsWith("agent --socket /run/x/agent.sock")), text);
        } finally {
            TestEnv.deleteTree(dir);
        }
    }
}
