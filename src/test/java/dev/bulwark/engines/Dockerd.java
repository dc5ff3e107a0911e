package dev.bulwark.engines;

import dev.bulwark.testing.Sandbox.Result;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * A dockerd of the test's own on a test containerd: data root, exec root, socket and pid file in
 * one temporary directory, Bulwark added as runtime "bulwark", no iptables, no IP forwarding and
 * no default bridge (the host's network is left as it was), and containers' cgroups under a
 * parent of the test's own.
 */
final class Dockerd extends Daemon {
    /** Debian's client (docker.io), not whatever else is first on PATH. */
    static final String DOCKER = "/usr/bin/docker";
    /** dockerd 20.10 writes its libtrust key here whatever its data root is. */
    private static final Path TRUST_KEY = Path.of("/etc/docker/key.json");

    private final boolean trustKeyExisted;

    private Dockerd(Path dir) {
        super(dir);
        this.trustKeyExisted = Files.exists(TRUST_KEY);
    }

    Path socket() {
        return dir.resolve("docker.sock");
    }

    /** Where dockerd 20.10 tells the shim to keep runc-style state for every runc-compatible runtime. */
    Path runtimeRoot() {
        return dir.resolve("exec/runtime-runc/moby");
    }

    static Dockerd start(Path dir, Containerd containerd, Path runtime, String cgroupParent)
            throws IOException, InterruptedException {
        return start(dir, containerd, runtime, cgroupParent, "{}\n");
    }

    /** start, with a daemon.json of the caller's (e.g. more runtimes, with runtimeArgs). */
    static Dockerd start(Path dir, Containerd containerd, Path runtime, String cgroupParent, String daemonJson)
            throws IOException, InterruptedException {
        Dockerd d = new Dockerd(dir);
        Path config = dir.resolve("daemon.json");
        Files.writeString(config, daemonJson);
        Files.createDirectories(dir.resolve("client"));
        try {
            d.launch(List.of("/usr/sbin/dockerd",
                    "--config-file", config.toString(),
                    "--data-root", dir.resolve("data").toString(),
                    "--exec-root", dir.resolve("exec").toString(),
                    "-H", "unix://" + d.socket(),
                    "--pidfile", dir.resolve("docker.pid").toString(),
                    "--containerd", containerd.socket().toString(),
                    "--add-runtime", "bulwark=" + runtime,
                    "--iptables=false", "--ip6tables=false", "--ip-forward=false", "--ip-masq=false",
                    "--bridge=none", "--userland-proxy=false",
                    "--exec-opt", "native.cgroupdriver=cgroupfs",
                    "--cgroup-parent", cgroupParent), "dockerd", () -> {
                        try {
                            return Files.exists(d.socket()) && d.docker("version").exit() == 0;
                        } catch (IOException | InterruptedException e) {
                            return false;
                        }
                    });
        } catch (AssertionError | IOException | InterruptedException e) {
            d.close();
            throw e;
        }
        return d;
    }

    Result docker(String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of(DOCKER, "-H", "unix://" + socket()));
        cmd.addAll(List.of(args));
        return Cmd.run(cmd, Map.of("DOCKER_CONFIG", dir.resolve("client").toString()), 120);
    }

    String log() {
        return log("dockerd");
    }

    @Override
    public void close() throws IOException, InterruptedException {
        try {
            Result ids = docker("ps", "-aq");
            if (ids.exit() == 0 && !ids.out().isBlank()) {
                List<String> rm = new ArrayList<>(List.of("rm", "-f"));
                rm.addAll(ids.out().lines().toList());
                docker(rm.toArray(String[]::new));
            }
        } finally {
            stop();
            List<String> stuck = unmountAll();
            removeDir();
            if (!trustKeyExisted) {
                Files.deleteIfExists(TRUST_KEY);
            }
            if (!stuck.isEmpty()) {
                throw new AssertionError("could not unmount " + stuck);
            }
        }
    }
}
