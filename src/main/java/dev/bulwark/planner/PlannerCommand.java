package dev.bulwark.planner;

import dev.bulwark.runtime.FileLocks;
import dev.bulwark.runtime.Lifecycle;
import dev.bulwark.runtime.Procfs;
import dev.bulwark.runtime.Timing;
import dev.bulwark.stage.Stage;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channel;
import java.nio.channels.ServerSocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Optional;

/**
 * `bulwark __planner [--socket PATH] [--idle-timeout SECONDS] [--inherited] [--start-lock-fd N]`: the warm planner.
 * The client starts it (detached, in a session of its own) when none answers; a systemd socket
 * unit can start it instead (`--install-unit DIR`, then `--inherited`: the listening socket is
 * stdin). One planner per socket: a second one finds the lock held and exits. It leaves every
 * cgroup of its starter for the root of each hierarchy, so stopping whatever started it (an
 * engine's shim, a test) does not take it along, and it exits after being idle for the idle
 * time (default 600 s; 0 keeps it running).
 *
 * <p>`--pause-at PHASE` is for the fault-injection tests only: a call that reaches that step
 * (a Timing mark, such as "cgroup created") writes "paused PID PHASE" to PATH.paused and
 * blocks, so the test can SIGKILL the planner at exactly that point.
 */
public final class PlannerCommand {
    private PlannerCommand() {}

    public static final Path DEFAULT_DIR = Path.of("/run/bulwark-planner");

    /** This build's ID (the client is compiled with the same one), from the native build's build-id file. */
    static String buildId() throws IOException {
        return Files.readString(Stage.nativeFile("build-id"), StandardCharsets.UTF_8).strip();
    }

    public static int run(List<String> argv) throws Exception {
        Path socket = null;
        long idle = 600;
        boolean inherited = false;
        Optional<String> pauseAt = Optional.empty();
        Optional<Path> unitDir = Optional.empty();
        int startLock = -1;
        Optional<String> buildOverride = Optional.empty();
        for (int i = 0; i < argv.size(); i++) {
            String a = argv.get(i);
            switch (a) {
                case "--socket" -> socket = Path.of(value(argv, ++i, a)).toAbsolutePath();
                case "--idle-timeout" -> idle = Long.parseLong(value(argv, ++i, a));
                case "--inherited" -> inherited = true;
                case "--pause-at" -> pauseAt = Optional.of(value(argv, ++i, a));
                case "--start-lock-fd" -> startLock = Integer.parseInt(value(argv, ++i, a));
                case "--build-id" -> buildOverride = Optional.of(value(argv, ++i, a));
                case "--install-unit" -> unitDir = Optional.of(Path.of(i + 1 < argv.size() ? argv.get(++i) : "/etc/systemd/system"));
                default -> throw new IllegalArgumentException("__planner: unknown argument " + a);
            }
        }
        // --build-id: the tests' planner of "another build"
        String build = buildOverride.isPresent() ? buildOverride.get() : buildId();
        if (socket == null) {
            // The name a systemd socket unit listens on; the client starts its planners on
            // BUILD-MNTNS.sock names of its own.
            socket = DEFAULT_DIR.resolve(build + ".sock");
        }
        if (unitDir.isPresent()) {
            SystemdUnit.write(unitDir.get(), socket);
            return 0;
        }
        Files.createDirectories(socket.getParent(), PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        Optional<FileLocks.Held> lock = FileLocks.tryLock(Path.of(socket + ".lock"));
        if (lock.isEmpty()) {
            System.err.println("bulwark planner: another planner holds " + socket + ".lock");
            return 0;
        }
        leaveStartersCgroups();
        Output.install();
        Lifecycle.useSignalSender(PidfdSignals::send);
        Path paused = Path.of(socket + ".paused");
        pauseAt.ifPresent(phase -> Timing.onMark(p -> {
            if (p.equals(phase)) {
                pause(paused, phase);
            }
        }));
        ServerSocketChannel server = inherited ? inherited() : bind(socket);
        Path pidFile = Path.of(socket + ".pid");
        Files.writeString(pidFile, ProcessHandle.current().pid() + "\n");
        if (startLock > 2) {
            // The starting client's lock, inherited: listening now, so other clients may start one again if this one dies.
            PidfdSignals.close(startLock);
        }
        PlannerServer planner = new PlannerServer(build, idle * 1000);
        Path sock = socket;
        Thread.ofPlatform().daemon().name("planner-idle").start(() -> {
            while (true) {
                try {
                    Thread.sleep(1000);
                } catch (InterruptedException e) {
                    return;
                }
                if (planner.idle()) {
                    // No new calls from here on; one accepted just before the close is served to its end.
                    removeQuietly(sock);
                    try {
                        server.close();
                    } catch (IOException e) {
                        // closing is all that is wanted
                    }
                    while (planner.active() > 0) {
                        try {
                            Thread.sleep(100);
                        } catch (InterruptedException e) {
                            break;
                        }
                    }
                    System.err.println("bulwark planner: idle, exiting after " + planner.served() + " calls");
                    removeQuietly(pidFile);
                    System.exit(0);
                }
            }
        });
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            System.err.println("bulwark planner: stopping after " + planner.served() + " calls");
            removeQuietly(sock);
            removeQuietly(pidFile);
        }));
        Warmup.start();
        System.err.println("bulwark planner: build " + build + ", pid " + ProcessHandle.current().pid() + ", on " + socket);
        planner.serve(server);
        return 0;
    }

    private static String value(List<String> argv, int i, String flag) {
        if (i >= argv.size()) {
            throw new IllegalArgumentException("__planner: " + flag + " needs a value");
        }
        return argv.get(i);
    }

    private static ServerSocketChannel bind(Path socket) throws IOException {
        // Only the lock holder gets here: a socket file left by a planner that died is stale.
        Files.deleteIfExists(socket);
        ServerSocketChannel s = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        s.bind(UnixDomainSocketAddress.of(socket), 256);
        Files.setPosixFilePermissions(socket, PosixFilePermissions.fromString("rw-------"));
        return s;
    }

    private static ServerSocketChannel inherited() throws IOException {
        Channel c = System.inheritedChannel();
        if (!(c instanceof ServerSocketChannel s)) {
            throw new IOException("--inherited: stdin is not a listening socket (StandardInput=socket in the unit)");
        }
        return s;
    }

    /** Moves this process to the root cgroup of every hierarchy it can see. */
    private static void leaveStartersCgroups() {
        String pid = Long.toString(ProcessHandle.current().pid());
        try {
            for (String line : Procfs.read(Path.of("/proc/self/mountinfo")).split("\n")) {
                String[] f = line.split(" ");
                int dash = List.of(f).indexOf("-");
                if (dash < 0 || dash + 1 >= f.length || !(f[dash + 1].equals("cgroup") || f[dash + 1].equals("cgroup2"))) {
                    continue;
                }
                try {
                    Files.writeString(Path.of(f[4]).resolve("cgroup.procs"), pid);
                } catch (IOException e) {
                    // a hierarchy we may not move in (a read-only mount): stay
                }
            }
        } catch (IOException e) {
            System.err.println("bulwark planner: cannot read mountinfo to leave the starter's cgroups: " + e.getMessage());
        }
    }

    private static void pause(Path paused, String phase) {
        try {
            Files.writeString(paused, "paused " + ProcessHandle.current().pid() + " " + phase + "\n");
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        while (true) {
            try {
                Thread.sleep(Long.MAX_VALUE);
            } catch (InterruptedException e) {
                // stay paused until killed
            }
        }
    }

    private static void removeQuietly(Path p) {
        try {
            Files.deleteIfExists(p);
        } catch (IOException e) {
            // nothing more to do on the way out
        }
    }
}
