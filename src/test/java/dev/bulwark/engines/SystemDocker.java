package dev.bulwark.engines;

import dev.bulwark.runtime.IdRanges;
import dev.bulwark.testing.TestAgent;
import dev.bulwark.testing.TestEnv;
import dev.bulwark.testing.TestPool;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.BiFunction;

/**
 * A private containerd and dockerd with Bulwark as "bulwark-system", for the system-container
 * engine tests: ID ranges from a pool of the test's own, the agent on a socket of the test's
 * own. The agent is not started here: the runtime starts it on the first system container, as
 * on a fresh host; {@link #close} stops it, and its fd keeper, by PID, then the daemons, and
 * removes the cgroup parent and the directory.
 */
final class SystemDocker implements AutoCloseable {
    final Path base;
    final Path agent;
    final IdRanges.Config ranges;
    final Dockerd dockerd;
    private final Containerd containerd;
    private final String cgroupParent;

    private SystemDocker(Path base, Path agent, IdRanges.Config ranges, Containerd containerd, Dockerd dockerd, String cgroupParent) {
        this.base = base;
        this.agent = agent;
        this.ranges = ranges;
        this.containerd = containerd;
        this.dockerd = dockerd;
        this.cgroupParent = cgroupParent;
    }

    /**
     * Starts both daemons under a new directory in /tmp. runtimes gives daemon.json's "runtimes"
     * members from the runtime's path and the runtime arguments every entry needs ("--system",
     * the agent's socket, the pool's config), as a JSON list's inside.
     */
    static SystemDocker start(String prefix, long pool, int count, BiFunction<Path, String, String> runtimes) throws Exception {
        Path base = Files.createTempDirectory(Path.of("/tmp"), prefix);
        Path agent = base.resolve("agent/agent.sock");
        String parent = "bulwark-" + prefix + "-" + HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextInt());
        Containerd containerd = null;
        try {
            Path runtime = TestEnv.launcher(base);
            TestPool p = TestPool.create(base, pool, count);
            containerd = Containerd.start(Files.createDirectories(base.resolve("ctd")));
            String args = "\"--system\", \"--agent-socket\", \"" + agent + "\", \"--system-config\", \"" + p.conf() + "\"";
            Dockerd dockerd = Dockerd.start(Files.createDirectories(base.resolve("dkd")), containerd, runtime, "/" + parent,
                    "{\"runtimes\": {" + runtimes.apply(runtime, args) + "}}\n");
            return new SystemDocker(base, agent, p.ranges(), containerd, dockerd, parent);
        } catch (Exception | AssertionError e) {
            new SystemDocker(base, agent, null, containerd, null, parent).close();
            throw e;
        }
    }

    @Override
    public void close() throws Exception {
        try {
            try {
                if (dockerd != null) {
                    dockerd.close();
                }
            } finally {
                TestAgent.stopAt(agent);
            }
        } finally {
            try {
                if (containerd != null) {
                    containerd.close();
                }
            } finally {
                for (Path hierarchy : Cgroups.hierarchies()) {
                    Path dir = hierarchy.resolve(cgroupParent);
                    if (Files.isDirectory(dir) && Cgroups.under("/" + cgroupParent).isEmpty()) {
                        Files.delete(dir);
                    }
                }
                TestEnv.deleteTree(base);
            }
        }
    }
}
