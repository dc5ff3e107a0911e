package dev.bulwark.engines;

import dev.bulwark.testing.Sandbox.Result;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * A containerd of the test's own: root, state, sockets and config in one temporary directory
 * (the CRI plugin off, so it needs no CNI), driven through ctr.
 */
final class Containerd extends Daemon {
    static final String CTR = "/usr/bin/ctr";

    /** ctr and the shims keep FIFOs and shim sockets here whatever containerd's own directories are. */
    private static final Path RUN = Path.of("/run/containerd");

    private final boolean runExisted;

    private Containerd(Path dir) {
        super(dir);
        this.runExisted = Files.exists(RUN);
    }

    Path socket() {
        return dir.resolve("containerd.sock");
    }

    static Containerd start(Path dir) throws IOException, InterruptedException {
        Containerd c = new Containerd(dir);
        Path config = dir.resolve("config.toml");
        Files.writeString(config, """
                version = 2
                root = "%1$s/root"
                state = "%1$s/state"
                disabled_plugins = ["io.containerd.grpc.v1.cri"]
                [grpc]
                  address = "%1$s/containerd.sock"
                [ttrpc]
                  address = "%1$s/containerd.sock.ttrpc"
                [debug]
                  address = "%1$s/debug.sock"
                  level = "info"
                [metrics]
                  address = ""
                """.formatted(dir));
        try {
            c.launch(List.of("/usr/bin/containerd", "--config", config.toString()), "containerd", () -> {
                try {
                    return Files.exists(c.socket()) && c.ctr("version").exit() == 0;
                } catch (IOException | InterruptedException e) {
                    return false;
                }
            });
        } catch (AssertionError | IOException | InterruptedException e) {
            c.close();
            throw e;
        }
        return c;
    }

    Result ctr(String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of(CTR, "--address", socket().toString()));
        cmd.addAll(List.of(args));
        return Cmd.run(cmd, Map.of(), 120);
    }

    String log() {
        return log("containerd");
    }

    /**
     * Stops containerd, then any shim still serving one of its tasks (a shim outlives its
     * containerd by design), both by PID; then the mounts and the directory.
     */
    @Override
    public void close() throws IOException, InterruptedException {
        stop();
        for (ProcessHandle shim : helpers()) {
            shim.destroy();
            try {
                shim.onExit().get(10, java.util.concurrent.TimeUnit.SECONDS);
            } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
                shim.destroyForcibly();
            }
        }
        List<String> stuck = unmountAll();
        removeDir();
        if (!runExisted) {
            // Only empty directories go: anything in them belongs to a containerd this test did not start.
            for (Path p : List.of(RUN.resolve("fifo"), RUN.resolve("s"), RUN.resolve("runc"), RUN)) {
                try {
                    Files.deleteIfExists(p);
                } catch (java.nio.file.DirectoryNotEmptyException e) {
                    // not ours to remove
                }
            }
        }
        if (!stuck.isEmpty()) {
            throw new AssertionError("could not unmount " + stuck);
        }
    }
}
