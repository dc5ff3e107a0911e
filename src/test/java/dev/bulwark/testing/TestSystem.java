package dev.bulwark.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.bulwark.runtime.IdRanges;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * What a system-container test runs against: an ID pool of its own and a real agent on its own
 * socket. close() stops the agent (the test's, or one the runtime started on that socket) and its
 * fd keeper by PID, and fails the test if a range is left taken.
 */
public final class TestSystem implements AutoCloseable {
    public final IdRanges.Config ranges;
    public final Path conf;
    public final Path socket;
    private Process agent;

    private TestSystem(TestPool pool, Path socket) {
        this.ranges = pool.ranges();
        this.conf = pool.conf();
        this.socket = socket;
    }

    public static TestSystem start(Path dir, long poolStart, int count) throws Exception {
        TestSystem s = new TestSystem(TestPool.create(dir, poolStart, count), dir.resolve("agent.sock"));
        s.startAgent();
        return s;
    }

    public void startAgent() throws Exception {
        agent = TestAgent.start(socket);
    }

    /** Kills the test's agent; its keeper, and so the containers' notify fds, stay. */
    public void stopAgent() throws InterruptedException {
        TestAgent.stop(agent);
    }

    /** The real CLI with this state root, agent socket and pool. */
    public List<String> cli(Path stateRoot, String... args) {
        List<String> a = new ArrayList<>(List.of("--root", stateRoot.toString(), "--agent-socket", socket.toString(),
                "--system-config", conf.toString()));
        a.addAll(List.of(args));
        return Sandbox.cli(a.toArray(String[]::new));
    }

    @Override
    public void close() throws Exception {
        try {
            TestAgent.stop(agent);
        } finally {
            TestAgent.stopAt(socket);
        }
        assertEquals(List.of(), IdRanges.used(ranges), "ID ranges left taken");
    }
}
