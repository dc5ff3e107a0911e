package dev.bulwark.engines;

import dev.bulwark.testing.Sandbox.Result;
import dev.bulwark.testing.TestEnv;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Debian's podman (no daemon: every call is a process) with everything of its own in one
 * temporary directory: image store (vfs), run root, libpod tmpdir, events file, network config,
 * containers.conf and storage.conf, and its containers' cgroups under a parent of the test's own.
 *
 * <p>Two things podman keeps outside whatever it is told: netavark's run directory
 * {@code /run/containers/networks} (removed again if this test created it and it is empty), and
 * the runtime's own default {@code --root}: podman passes no {@code --root} to the runtime, and a
 * {@code --runtime-flag root=...} is not passed on by the exit command ({@code podman container
 * cleanup}), whose {@code delete --force} would then look in the default root. So Bulwark's state
 * for podman's containers is under {@code /run/bulwark}, one directory per container ID.
 */
final class Podman implements AutoCloseable {
    static final String PODMAN = "/usr/bin/podman";
    private static final Path NETAVARK_RUN = Path.of("/run/containers/networks");

    private final Path dir;
    private final Path runtime;
    private final String cgroupParent;
    private final boolean netavarkRunExisted;
    private final boolean containersRunExisted;

    private Podman(Path dir, Path runtime, String cgroupParent) {
        this.dir = dir;
        this.runtime = runtime;
        this.cgroupParent = cgroupParent;
        this.netavarkRunExisted = Files.exists(NETAVARK_RUN);
        this.containersRunExisted = Files.exists(NETAVARK_RUN.getParent());
    }

    static Podman create(Path dir, Path runtime, String cgroupParent) throws IOException {
        Podman p = new Podman(dir, runtime, cgroupParent);
        // Explicit (near-empty) config files: the host's /etc/containers settings play no part.
        Files.writeString(dir.resolve("containers.conf"), "[engine]\nevents_logger = \"file\"\n");
        Files.writeString(dir.resolve("storage.conf"), """
                [storage]
                driver = "vfs"
                graphroot = "%1$s/root"
                runroot = "%1$s/runroot"
                """.formatted(dir));
        Files.createDirectories(dir.resolve("tmp"));
        Files.createDirectories(dir.resolve("net"));
        return p;
    }

    Path runtime() {
        return runtime;
    }

    String cgroupParent() {
        return cgroupParent;
    }

    /** Flags that put every piece of podman's own state under this directory. */
    private List<String> globalFlags() {
        return List.of("--root", dir.resolve("root").toString(),
                "--runroot", dir.resolve("runroot").toString(),
                "--storage-driver", "vfs",
                "--cgroup-manager", "cgroupfs",
                "--events-backend", "file",
                "--tmpdir", dir.resolve("tmp").toString(),
                "--network-config-dir", dir.resolve("net").toString(),
                "--runtime", runtime.toString());
    }

    private Map<String, String> env() {
        return Map.of("CONTAINERS_CONF", dir.resolve("containers.conf").toString(),
                "CONTAINERS_STORAGE_CONF", dir.resolve("storage.conf").toString(),
                "TMPDIR", dir.resolve("tmp").toString());
    }

    List<String> command(String... args) {
        List<String> cmd = new ArrayList<>(List.of(PODMAN));
        cmd.addAll(globalFlags());
        cmd.addAll(List.of(args));
        return cmd;
    }

    Map<String, String> environment() {
        return env();
    }

    Result podman(String... args) throws IOException, InterruptedException {
        return Cmd.run(command(args), env(), 120);
    }

    /** conmon processes (and exit commands) of this podman: their command lines name its directory. */
    List<ProcessHandle> helpers() {
        String mark = dir.toString();
        return ProcessHandle.allProcesses()
                .filter(p -> p.pid() != ProcessHandle.current().pid())
                .filter(p -> p.info().arguments().map(a -> String.join(" ", a).contains(mark)).orElse(false))
                .toList();
    }

    /**
     * Removes every container (podman rm -af), stops any conmon left by PID, unmounts what is under
     * the directory by exact path, removes the cgroup podman's conmon gets under the parent
     * ({@code <parent>/conmon}, shared by all containers and never removed by podman) and the
     * parent, then the directory.
     */
    @Override
    public void close() throws IOException, InterruptedException {
        List<String> problems = new ArrayList<>();
        try {
            Result rm = podman("rm", "-af", "-t", "0");
            if (rm.exit() != 0) {
                problems.add("podman rm -af: " + rm.err());
            }
        } finally {
            for (ProcessHandle h : helpers()) {
                h.destroy();
                try {
                    h.onExit().get(10, TimeUnit.SECONDS);
                } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
                    h.destroyForcibly();
                }
            }
            List<String> mounts = new ArrayList<>(TestEnv.mountsUnder(dir));
            mounts.sort((a, b) -> b.length() - a.length());
            for (String m : mounts) {
                if (Cmd.run(List.of("umount", m), Map.of(), 30).exit() != 0) {
                    problems.add("could not unmount " + m);
                }
            }
            for (Path h : Cgroups.hierarchies()) {
                Path parent = h.resolve(cgroupParent.substring(1));
                Path conmon = parent.resolve("conmon");
                if (Files.isDirectory(conmon)) {
                    Files.delete(conmon);
                }
                if (Files.isDirectory(parent) && Cgroups.children(parent).isEmpty()) {
                    Files.delete(parent);
                }
            }
            if (!netavarkRunExisted) {
                deleteIfEmpty(NETAVARK_RUN);
            }
            if (!containersRunExisted) {
                deleteIfEmpty(NETAVARK_RUN.getParent());
            }
            TestEnv.deleteTree(dir);
        }
        if (!problems.isEmpty()) {
            throw new AssertionError(String.join("; ", problems));
        }
    }

    private static void deleteIfEmpty(Path p) throws IOException {
        try {
            Files.deleteIfExists(p);
        } catch (java.nio.file.DirectoryNotEmptyException e) {
            // something else uses it now: not ours to remove
        }
    }
}
