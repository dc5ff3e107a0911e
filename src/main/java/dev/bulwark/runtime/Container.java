package dev.bulwark.runtime;

import dev.bulwark.cgroup.CgroupException;
import dev.bulwark.cgroup.CgroupManager;
import dev.bulwark.cgroup.Cgroups;
import dev.bulwark.cgroup.DeviceProgram;
import dev.bulwark.spec.Spec;
import dev.bulwark.spec.SpecException;
import dev.bulwark.spec.SpecReader;
import dev.bulwark.stage.Op;
import dev.bulwark.stage.PlanEncoder;
import dev.bulwark.stage.Stage;
import java.io.FileOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/** The container lifecycle operations. */
public final class Container {
    private Container() {}

    /** Reads and parses BUNDLE/config.json; errors name the file. */
    public static Spec readConfig(Path bundle) {
        Path config = bundle.resolve("config.json");
        String text;
        try {
            text = Files.readString(config, StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            throw new SpecException("", "no config.json in bundle " + bundle);
        } catch (IOException e) {
            throw new SpecException("", "read " + config + ": " + e.getMessage());
        }
        return SpecReader.parse(text);
    }

    /**
     * run: create, start and wait in the foreground. Everything is validated and planned before
     * the state directory exists; whatever happens after, the directory is removed at the end.
     */
    public static int run(Path root, String id, Path bundle, int preserveFds, boolean noPivot) {
        return run(root, id, bundle, preserveFds, noPivot, ProcessBuilder.Redirect.INHERIT);
    }

    /** run, with the container's stdout sent where the caller says (the demo reads it). */
    public static int run(Path root, String id, Path bundle, int preserveFds, boolean noPivot, ProcessBuilder.Redirect stdout) {
        Timing.mark("main");
        StateDir.checkId(id);
        Spec spec = readConfig(bundle);
        Timing.mark("config read");
        HostInfo host = HostInfo.read();
        Planner.Checked checked = Planner.check(spec, bundle, host, Optional.of(root));
        Timing.mark("config checked, seccomp compiled");
        Path stage = Stage.binary();

        StateDir state = StateDir.create(root, id);
        CgroupManager cgroup = null;
        try {
            Spec.Resources resources = DeviceAccess.resources(spec);
            cgroup = CgroupManager.of(Cgroups.detect(), spec.linux().map(Spec.Linux::cgroupsPath).orElse(""), id);
            Optional<DeviceProgram> devices;
            try {
                devices = cgroup.create(resources);
            } catch (CgroupException e) {
                cgroup = null; // create removes what it made when it fails
                throw new SpecException("", e.getMessage());
            }
            Timing.mark("cgroup created");
            Planner.CgroupSetup cg = new Planner.CgroupSetup(
                    cgroup.procsFiles(), List.copyOf(cgroup.dirs().values()), devices);
            List<Op> ops = Planner.plan(new Planner.Request(
                    spec, bundle, state.dir(), Planner.Mode.RUN, preserveFds, noPivot, cg), checked, host);
            state.writeAtomically("plan", PlanEncoder.encode(ops));
            state.writeState(spec.ociVersion(), "creating", 0, bundle, spec.annotations());
            Timing.mark("planned, state written");
            // Handlers first: a signal that arrives once the container runs must be forwarded,
            // not end this JVM and orphan the container.
            SignalForwarder.install(state.dir().resolve("control"));
            Process p;
            try {
                p = new ProcessBuilder(stage.toString(), state.dir().resolve("plan").toString()).inheritIO().redirectOutput(stdout).start();
                Timing.mark("stage started");
            } catch (IOException e) {
                SignalForwarder.uninstall();
                throw new RuntimeFailure("start the stage " + stage + ": " + e.getMessage(), e);
            }
            int code;
            while (true) {
                try {
                    code = p.waitFor();
                    break;
                } catch (InterruptedException e) {
                    // keep waiting: the container decides when this ends
                }
            }
            Timing.mark("stage exited");
            SignalForwarder.uninstall();
            String stageError = readStageError(state.dir());
            if (stageError != null) {
                throw new RuntimeFailure(stageError);
            }
            return code;
        } finally {
            try {
                if (cgroup != null) {
                    // Without a PID namespace, processes the container left behind are still in
                    // its cgroup; a finished `run` takes them down with it, as runc does.
                    for (long pid : cgroup.pids()) {
                        ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
                    }
                    cgroup.destroy();
                }
            } finally {
                state.remove();
                Timing.mark("cleaned up");
            }
        }
    }

    private static String readStageError(Path dir) {
        try {
            String s = Files.readString(dir.resolve("stage-error"), StandardCharsets.UTF_8).strip();
            return s.isEmpty() ? null : s;
        } catch (NoSuchFileException e) {
            return null;
        } catch (IOException e) {
            return "the stage failed and its error could not be read: " + e.getMessage();
        }
    }

    /**
     * Forwards SIGINT, SIGTERM and SIGHUP sent to this JVM to the container, by writing the
     * signal number into the stage's control FIFO (the JDK cannot send arbitrary signals).
     */
    static final class SignalForwarder {
        private static final String[] SIGNALS = {"INT", "TERM", "HUP"};
        private static volatile Path fifo;

        static void install(Path control) {
            fifo = control;
            for (String name : SIGNALS) {
                sun.misc.Signal.handle(new sun.misc.Signal(name), s -> forward(s.getNumber()));
            }
        }

        static void uninstall() {
            fifo = null;
        }

        private static void forward(int signo) {
            Path f = fifo;
            if (f == null) {
                return;
            }
            // The stage creates the FIFO early; a signal that arrives before it exists waits a little.
            for (int i = 0; i < 200 && !Files.exists(f); i++) {
                try {
                    Thread.sleep(5);
                } catch (InterruptedException e) {
                    return;
                }
            }
            try (FileOutputStream out = new FileOutputStream(f.toFile())) {
                out.write(signo);
            } catch (IOException e) {
                System.err.println("bulwark: cannot forward signal " + signo + ": " + e.getMessage());
            }
        }
    }
}
