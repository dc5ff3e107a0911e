package dev.bulwark.runtime;

import dev.bulwark.cgroup.CgroupException;
import dev.bulwark.cgroup.CgroupManager;
import dev.bulwark.cgroup.Cgroups;
import dev.bulwark.cgroup.DeviceProgram;
import dev.bulwark.json.Json;
import dev.bulwark.json.JsonBuilder;
import dev.bulwark.json.JsonValue;
import dev.bulwark.spec.Node;
import dev.bulwark.spec.Spec;
import dev.bulwark.spec.SpecException;
import dev.bulwark.spec.SpecReader;
import dev.bulwark.stage.Op;
import dev.bulwark.stage.PlanEncoder;
import dev.bulwark.stage.Stage;
import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The runc lifecycle: create leaves the container's init blocked on the exec FIFO, start
 * releases it, state reports the runtime-spec state, kill signals, delete removes everything.
 * Status is never trusted from the file alone: it is derived from the init process (checked by
 * PID and start time, so a reused PID is not mistaken for the container), the exec FIFO and the
 * freezer.
 */
public final class Lifecycle {
    private Lifecycle() {}

    /** A container's recorded state plus its live status. */
    public record State(
            String ociVersion, String id, String status, long pid, long start, Path bundle, Path rootfs, String created,
            Map<String, String> annotations, Map<String, Path> cgroupDirs, boolean postHooks) {

        public JsonValue toJson() {
            JsonBuilder annot = JsonBuilder.object();
            annotations.forEach(annot::put);
            JsonBuilder dirs = JsonBuilder.object();
            cgroupDirs.forEach((k, v) -> dirs.put(k, v.toString()));
            return JsonBuilder.object()
                    .put("ociVersion", ociVersion).put("id", id).put("status", status)
                    .put("pid", "stopped".equals(status) ? 0 : pid)
                    .put("bundle", bundle.toString()).put("rootfs", rootfs.toString()).put("created", created)
                    .put("owner", "").put("annotations", annot)
                    .put("bulwark", JsonBuilder.object().put("initStart", start).put("cgroupDirs", dirs)
                            .put("postHooks", postHooks))
                    .build();
        }
    }

    // ---- run, create ----

    /**
     * A container claimed and planned: what its state.json records besides the status, its state
     * directory and its cgroup. Made by prepare, or read back from a "creating" state.json when a
     * call is finished on the direct path after the planner that began it died.
     */
    private record Prepared(String ociVersion, Map<String, String> annotations, boolean postHooks, Path bundle, Path rootfs,
            String created, StateDir state, CgroupManager cgroup, Optional<Spec> spec) {

        /** The config: the spec this call planned, or the bundle's config read again. */
        Spec config() {
            return spec.orElseGet(() -> readConfig(bundle));
        }

        /**
         * A create this caller began (its state directory's owner record names it) and did not
         * finish, read back from its state.json.
         */
        static Prepared load(Path root, String id) {
            StateDir.checkId(id);
            Path dir = root.resolve(id);
            StateDir.Owner me = StateDir.Owner.of(Invocation.current());
            Optional<StateDir.Owner> owner = StateDir.Owner.read(dir);
            if (owner.isEmpty() || !owner.get().equals(me)) {
                throw new RuntimeFailure("container \"" + id + "\" was not begun by this call ("
                        + (owner.isEmpty() ? "no owner record in " + dir : "its owner is " + owner.get().pid()) + ")");
            }
            String text = readIfPresent(dir.resolve("state.json"));
            if (text == null) {
                throw new RuntimeFailure("container \"" + id + "\" has no state.json to finish from");
            }
            Node n = Node.root(Json.parse(text));
            Node priv = n.opt("bulwark").orElse(Node.root(JsonBuilder.object().build()));
            Map<String, Path> dirs = new LinkedHashMap<>();
            priv.opt("cgroupDirs").ifPresent(d -> d.members().forEach((k, v) -> dirs.put(k, Path.of(v.string()))));
            return new Prepared(n.req("ociVersion").string(), n.optStringMap("annotations"), priv.optBool("postHooks", true),
                    Path.of(n.req("bundle").string()), Path.of(n.optString("rootfs", "")), n.optString("created", ""),
                    StateDir.existing(root, id), CgroupManager.open(Cgroups.detect(), dirs), Optional.empty());
        }
    }

    /**
     * Claims the ID. A state directory this very caller made earlier and left half-made (the
     * planner serving the call died before the stage ran, and the caller now runs the call
     * itself) is removed first, as `delete --force` would, so the call can be retried whole.
     */
    private static StateDir claim(Path root, String id) {
        StateDir.Owner me = StateDir.Owner.of(Invocation.current());
        StateDir.sweepStaging(root);
        try {
            return StateDir.create(root, id, me);
        } catch (StateDir.Exists e) {
            if (e.owner().isEmpty() || !e.owner().get().equals(me) || !unfinished(root, id)) {
                throw e;
            }
            delete(root, id, true);
            return StateDir.create(root, id, me);
        }
    }

    /** Whether a container never got past creating (no state.json yet, or status creating). */
    private static boolean unfinished(Path root, String id) {
        String text = readIfPresent(root.resolve(id).resolve("state.json"));
        return text == null || Node.root(Json.parse(text)).req("status").string().equals("creating");
    }

    /**
     * Everything up to starting the stage, shared by run and create. All config errors are found
     * before the ID is claimed; whatever fails later is undone before the error is thrown.
     */
    private static Prepared prepare(Path root, String id, Path bundle, Planner.Mode mode, int preserveFds, boolean noPivot,
            Optional<Path> consoleSocket, boolean newKeyring, SystemMode.Options sys) {
        Timing.mark("main");
        StateDir.checkId(id);
        Spec engineSpec = readConfig(bundle);
        Timing.mark("config read");
        HostInfo host = HostInfo.read();
        boolean system = SystemMode.selected(engineSpec, sys);
        boolean ranged = system || SystemMode.privateUserns(engineSpec);
        // A system container's config is checked as it will run (the range's start does not
        // change what is valid), and the pool and the agent before anything exists.
        Optional<IdRanges.Config> ranges = ranged ? Optional.of(sys.ranges()) : Optional.empty();
        Spec spec = ranged ? ranged(engineSpec, IdRanges.pool(ranges.get()).start(), system, sys, host) : engineSpec;
        Planner.Checked checked = Planner.check(spec, bundle, host, Optional.of(root));
        Timing.mark("config checked, seccomp compiled");
        if (system) {
            sys.agent().ensureRunning(sys.agentSocket());
            SystemMode.requireSocket(sys.agentSocket());
            Timing.mark("agent checked");
        }
        StateDir state = claim(root, id);
        Timing.mark("state directory claimed");
        if (ranged) {
            try (IdRanges.Claim claim = IdRanges.allocate(ranges.get(), id, state.dir())) {
                try {
                    claim.record(state.dir());
                } catch (RuntimeException e) {
                    claim.free();
                    throw e;
                }
                spec = ranged(engineSpec, claim.range().start(), system, sys, host);
                if (system) {
                    spec = SystemMode.withProcView(spec, sys.agentSocket());
                }
                checked = new Planner.Checked(spec, checked.seccomp());
                // exec rebuilds this config: the runtime-wide flags that chose it need not be given again
                state.writeAtomically(SystemMode.MODE_FILE, (system ? SystemMode.Applied.system(engineSpec, sys)
                        : SystemMode.Applied.privateUserns()).encode());
            } catch (RuntimeException e) {
                IdRanges.release(id, state.dir());
                state.remove();
                throw e;
            }
            Timing.mark("ID range allocated");
        }
        CgroupManager cgroup = CgroupManager.of(Cgroups.detect(), spec.linux().map(Spec.Linux::cgroupsPath).orElse(""), id);
        boolean postHooks = spec.hooks().map(h -> !h.poststart().isEmpty() || !h.poststop().isEmpty()).orElse(false);
        Prepared p = new Prepared(spec.ociVersion(), spec.annotations(), postHooks, bundle,
                bundle.resolve(spec.root().path()).toAbsolutePath().normalize(), Instant.now().toString(), state, cgroup,
                Optional.of(spec));
        try {
            // Recorded before the cgroups exist: a process killed at any moment leaves a state
            // that `delete --force` can clean up completely.
            write(p, "creating", 0, 0);
            if (spec.linux().map(l -> l.namespaces().stream().noneMatch(n -> n.type().equals("mount"))).orElse(false)) {
                HostMounts.record(state.dir(), p.rootfs());
            }
            Timing.mark("state recorded");
            Optional<DeviceProgram> devices;
            try {
                devices = cgroup.create(DeviceAccess.resources(spec));
                if (system) {
                    // The container's root (the first ID of its range) runs its own cgroups.
                    cgroup.delegate(spec.linux().orElseThrow().uidMappings().get(0).hostID(),
                            spec.linux().orElseThrow().gidMappings().get(0).hostID());
                }
            } catch (CgroupException e) {
                throw new SpecException("", e.getMessage());
            }
            Timing.mark("cgroup created");
            Planner.CgroupSetup cg = new Planner.CgroupSetup(cgroup.procsFiles(), List.copyOf(cgroup.dirs().values()), devices);
            List<Op> ops = Planner.plan(new Planner.Request(spec, bundle, state.dir(), mode, preserveFds, noPivot, cg,
                    consoleSocket, newKeyring, ranged), checked, host);
            state.writeAtomically("plan", PlanEncoder.encode(ops));
            Timing.mark("planned, state written");
            return p;
        } catch (RuntimeException e) {
            discard(p);
            throw e;
        }
    }

    private static Spec ranged(Spec engineSpec, long hostStart, boolean system, SystemMode.Options sys, HostInfo host) {
        return system ? SystemMode.apply(engineSpec, hostStart, sys, host) : SystemMode.applyPrivateUserns(engineSpec, hostStart, host);
    }

    /** Kills whatever is in the container's cgroup, removes the cgroup, frees its ID range, then the state directory. */
    private static void discard(Prepared p) {
        try {
            killAll(p.cgroup(), 9);
            p.cgroup().destroy();
            HostMounts.release(p.state().dir());
        } finally {
            try {
                IdRanges.release(p.state().id(), p.state().dir());
            } finally {
                p.state().remove();
            }
        }
    }

    /**
     * run: create, start and wait in the foreground, forwarding SIGINT, SIGTERM and SIGHUP.
     * Whatever happens, the container's cgroup and state are gone when this returns: without a
     * PID namespace, processes the container left behind go with it, as with runc.
     */
    public static int run(Path root, String id, Path bundle, int preserveFds, boolean noPivot, ProcessBuilder.Redirect stdout) {
        return run(root, id, bundle, preserveFds, noPivot, ProcessBuilder.Redirect.INHERIT, stdout, SystemMode.Options.defaults());
    }

    public static int run(Path root, String id, Path bundle, int preserveFds, boolean noPivot, ProcessBuilder.Redirect stdout,
            SystemMode.Options sys) {
        return run(root, id, bundle, preserveFds, noPivot, ProcessBuilder.Redirect.INHERIT, stdout, sys);
    }

    /** run with the container's stdin from a file (`bulwark run IMAGE` without -i gives it /dev/null, as Docker). */
    public static int run(Path root, String id, Path bundle, int preserveFds, boolean noPivot, ProcessBuilder.Redirect stdin,
            ProcessBuilder.Redirect stdout, SystemMode.Options sys) {
        return run(root, id, bundle, preserveFds, noPivot, stdin, stdout, sys, List.of("run", id));
    }

    /**
     * run; resume is what finishes the call on the direct path if the planner serving it dies
     * while the container runs (`bulwark __resume RESUME... STATUS`).
     */
    public static int run(Path root, String id, Path bundle, int preserveFds, boolean noPivot, ProcessBuilder.Redirect stdin,
            ProcessBuilder.Redirect stdout, SystemMode.Options sys, List<String> resume) {
        Prepared p = prepare(root, id, bundle, Planner.Mode.RUN, preserveFds, noPivot, Optional.empty(), true, sys);
        int code;
        try {
            code = runStage(new Invocation.StageCall(List.of(p.state().dir().resolve("plan").toString()),
                    stdin != ProcessBuilder.Redirect.INHERIT, stdout, Optional.of(p.state().dir().resolve("control")), resume));
            Timing.mark("stage exited");
        } catch (RuntimeException e) {
            discard(p);
            throw e;
        }
        return finishRun(p, id, code);
    }

    /** After a foreground run's stage: the stage's error, poststop hooks, and everything removed whatever happens. */
    private static int finishRun(Prepared p, String id, int code) {
        try {
            failIfStageFailed(p.state().dir().resolve("stage-error"));
            if (p.postHooks()) {
                Spec spec = p.config();
                spec.hooks().ifPresent(h -> HookRunner.warn(HookRunner.run("poststop", h.poststop(),
                        HookRunner.state(spec, id, p.bundle(), "stopped", 0))));
            }
            return code;
        } finally {
            discard(p);
            Timing.mark("cleaned up");
        }
    }

    /**
     * Finishes a foreground run on the direct path: its planner died while the container ran. A
     * state directory already gone means the planner died after its cleanup (or a `delete`
     * removed the container meanwhile): the run is over, and its status is the stage's.
     */
    public static int resumeRun(Path root, String id, int code) {
        StateDir.checkId(id);
        if (!Files.exists(root.resolve(id), java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
            return code;
        }
        return finishRun(Prepared.load(root, id), id, code);
    }

    public static int run(Path root, String id, Path bundle, int preserveFds, boolean noPivot) {
        return run(root, id, bundle, preserveFds, noPivot, ProcessBuilder.Redirect.INHERIT);
    }

    public static long create(Path root, String id, Path bundle, Optional<Path> pidFile, int preserveFds, boolean noPivot,
            Optional<Path> consoleSocket) {
        return create(root, id, bundle, pidFile, preserveFds, noPivot, consoleSocket, true);
    }

    /** create; newKeyring false is runc's --no-new-keyring (the container keeps the caller's session keyring). */
    public static long create(Path root, String id, Path bundle, Optional<Path> pidFile, int preserveFds, boolean noPivot,
            Optional<Path> consoleSocket, boolean newKeyring) {
        return create(root, id, bundle, pidFile, preserveFds, noPivot, consoleSocket, newKeyring, SystemMode.Options.defaults());
    }

    /** create, with the system-container settings (--system, the agent, the ID range allocator). */
    public static long create(Path root, String id, Path bundle, Optional<Path> pidFile, int preserveFds, boolean noPivot,
            Optional<Path> consoleSocket, boolean newKeyring, SystemMode.Options sys) {
        return create(root, id, bundle, pidFile, preserveFds, noPivot, consoleSocket, newKeyring, sys, false);
    }

    /** create, then start when andStart (`run --detach`). */
    public static long create(Path root, String id, Path bundle, Optional<Path> pidFile, int preserveFds, boolean noPivot,
            Optional<Path> consoleSocket, boolean newKeyring, SystemMode.Options sys, boolean andStart) {
        Prepared p = prepare(root, id, bundle, Planner.Mode.CREATE, preserveFds, noPivot, consoleSocket, newKeyring, sys);
        List<String> resume = new ArrayList<>(List.of("create"));
        pidFile.ifPresent(f -> resume.addAll(List.of("--pid-file", f.toString())));
        if (andStart) {
            resume.add("--start");
        }
        resume.add(id);
        int code;
        try {
            code = runStage(new Invocation.StageCall(List.of(p.state().dir().resolve("plan").toString()), false,
                    ProcessBuilder.Redirect.INHERIT, Optional.empty(), resume));
        } catch (RuntimeException e) {
            discard(p);
            throw e;
        }
        long pid = finishCreate(p, code, pidFile);
        if (andStart) {
            start(root, id);
        }
        return pid;
    }

    /** After create's stage: the init is blocked on the exec FIFO; record it as created, or undo everything. */
    private static long finishCreate(Prepared p, int code, Optional<Path> pidFile) {
        try {
            failIfStageFailed(p.state().dir().resolve("stage-error"));
            if (code != 0) {
                throw new RuntimeFailure("the stage exited with status " + code + " without an error");
            }
            long pid = Long.parseLong(readIfPresent(p.state().dir().resolve("pid")));
            long start = Procfs.startTime(pid).orElseThrow(() -> new RuntimeFailure("container init " + pid + " died during create"));
            Optional<SystemMode.Applied> mode = SystemMode.Applied.read(p.state().dir());
            if (mode.isPresent() && mode.get().system()) {
                SystemMode.awaitSupervised(mode.get().agentSocket(), p.state().id(), pid);
                Timing.mark("agent supervises");
            }
            write(p, "created", pid, start);
            if (pidFile.isPresent()) {
                writePidFile(pidFile.get(), pid);
            }
            return pid;
        } catch (RuntimeException e) {
            discard(p);
            throw e;
        }
    }

    /**
     * Finishes a create on the direct path: the planner that began it died after handing the
     * stage to the caller. A create the planner had already recorded as created only gets its
     * pid file (the answer was lost, not the work).
     */
    public static long resumeCreate(Path root, String id, Optional<Path> pidFile, int code, boolean andStart) {
        Prepared p = Prepared.load(root, id);
        long pid;
        if (unfinished(root, id)) {
            pid = finishCreate(p, code, pidFile);
        } else {
            pid = load(root, id).pid();
            if (pidFile.isPresent()) {
                writePidFile(pidFile.get(), pid);
            }
        }
        if (andStart && load(root, id).status().equals("created")) {
            start(root, id);
        }
        return pid;
    }

    private static void write(Prepared p, String status, long pid, long start) {
        write(p.state(), new State(p.ociVersion(), p.state().id(), status, pid, start, p.bundle(), p.rootfs(),
                p.created(), p.annotations(), p.cgroup().dirs(), p.postHooks()));
    }

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

    private static void failIfStageFailed(Path errorFile) {
        String err = readIfPresent(errorFile);
        if (err != null && !err.isEmpty()) {
            throw new RuntimeFailure(err);
        }
    }

    private static int runStage(Invocation.StageCall call) {
        return Invocation.current().stages().run(call);
    }

    /**
     * The stage as this JVM's child (the direct path), with SIGINT, SIGTERM and SIGHUP written to
     * the call's control FIFO while it runs.
     */
    static int runStageHere(Invocation.StageCall call) {
        Path stage = Stage.binary();
        List<String> cmd = new ArrayList<>(List.of(stage.toString()));
        cmd.addAll(call.args());
        try {
            // Handlers first: a signal that arrives once the container runs must be forwarded,
            // not end this JVM and orphan the container.
            call.control().ifPresent(SignalForwarder::install);
            try {
                ProcessBuilder pb = new ProcessBuilder(cmd).inheritIO().redirectOutput(call.stdout());
                if (call.stdinNull()) {
                    pb.redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile()));
                }
                Process p = pb.start();
                Timing.mark("stage started");
                while (true) {
                    try {
                        return p.waitFor();
                    } catch (InterruptedException e) {
                        // keep waiting: the container decides when this ends
                    }
                }
            } finally {
                SignalForwarder.uninstall();
            }
        } catch (IOException e) {
            throw new RuntimeFailure("start the stage " + stage + ": " + e.getMessage(), e);
        }
    }

    private static void writePidFile(Path file, long pid) {
        try {
            Path tmp = file.resolveSibling("." + file.getFileName() + ".tmp");
            Files.writeString(tmp, Long.toString(pid));
            Files.move(tmp, file, java.nio.file.StandardCopyOption.ATOMIC_MOVE, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            throw new RuntimeFailure("write pid file " + file + ": " + e.getMessage(), e);
        }
    }

    // ---- start ----

    public static void start(Path root, String id) {
        try (FileLocks.Held l = lock(root, id)) {
            State s = load(root, id);
            if (!s.status().equals("created")) {
                throw new RuntimeFailure("cannot start container \"" + id + "\": it is " + s.status() + ", not created");
            }
            Path fifo = root.resolve(id).resolve(Planner.EXEC_FIFO);
            // If init dies while we wait on the FIFO, open it for writing ourselves so the read
            // below ends instead of hanging.
            Thread watchdog = Thread.ofPlatform().daemon().start(() -> {
                while (isAlive(s.pid(), s.start())) {
                    try {
                        Thread.sleep(20);
                    } catch (InterruptedException e) {
                        return;
                    }
                }
                try (FileOutputStream unblock = new FileOutputStream(fifo.toFile())) {
                    unblock.flush();
                } catch (IOException e) {
                    // the reader has gone already
                }
            });
            // The FIFO goes before the byte is read: once this end is open, the init either gets
            // its byte or, if this process dies first, SIGPIPE. So a start killed at any point
            // leaves a container that is running or stopped, never one that looks created
            // while its init has gone on, and a retried start gets a clear answer.
            int b;
            try (FileInputStream in = new FileInputStream(fifo.toFile())) {
                try {
                    Files.deleteIfExists(fifo);
                } catch (IOException e) {
                    throw new RuntimeFailure("remove " + fifo + ": " + e.getMessage(), e);
                }
                b = in.read();
            } catch (IOException e) {
                throw new RuntimeFailure("open exec fifo " + fifo + ": " + e.getMessage(), e);
            } finally {
                watchdog.interrupt();
            }
            if (b != '0') {
                throw new RuntimeFailure("cannot start container \"" + id + "\": its init exited before start");
            }
            if (s.postHooks()) {
                Spec spec = readConfig(s.bundle());
                spec.hooks().ifPresent(h -> HookRunner.warn(HookRunner.run("poststart", h.poststart(),
                        HookRunner.state(spec, id, s.bundle(), "running", s.pid()))));
            }
        }
    }

    // ---- exec ----

    /**
     * Runs process in a created or running container. Foreground: returns its exit status, with
     * SIGINT, SIGTERM and SIGHUP forwarded. Detached: returns 0 once it has called execve.
     */
    public static int exec(Path root, String id, Spec.Process process, boolean detach, Optional<Path> pidFile,
            Optional<Path> consoleSocket) {
        return exec(root, id, process, detach, pidFile, consoleSocket, SystemMode.Options.defaults());
    }

    /**
     * exec, with the runtime-wide system settings (the agent starter). A container with its own ID
     * range runs the process under the config create made (STATE/mode says how): in the init's
     * user namespace, and in a system container with full capabilities for root and the same
     * filter, whose notify fd goes to the agent that supervises the init.
     */
    public static int exec(Path root, String id, Spec.Process process, boolean detach, Optional<Path> pidFile,
            Optional<Path> consoleSocket, SystemMode.Options sys) {
        State s = load(root, id);
        if (!s.status().equals("running") && !s.status().equals("created")) {
            throw new RuntimeFailure("cannot exec in container \"" + id + "\": it is " + s.status());
        }
        Spec spec = readConfig(s.bundle());
        HostInfo host = HostInfo.read();
        Optional<Long> range = IdRanges.recordedStart(root.resolve(id));
        if (range.isPresent()) {
            // Joined as the engine's config says, a process would miss the container's user
            // namespace and its supervised filter: without the record, refuse rather than run it half-confined.
            SystemMode.Applied applied = SystemMode.Applied.read(root.resolve(id)).orElseThrow(() -> new RuntimeFailure(
                    "cannot exec in container \"" + id + "\": its state records an ID range but not the mode create applied ("
                            + root.resolve(id).resolve(SystemMode.MODE_FILE) + " is missing; created by an older Bulwark?)"));
            spec = applied.apply(spec, range.get(), host);
            if (applied.system()) {
                process = SystemMode.withCapabilities(process, host);
                sys.agent().ensureRunning(applied.agentSocket());
                SystemMode.requireSocket(applied.agentSocket());
            }
        }
        Planner.Checked checked = Planner.check(spec, s.bundle(), host, Optional.of(root));
        List<Path> procs = s.cgroupDirs().isEmpty() ? List.of()
                : CgroupManager.open(Cgroups.detect(), s.cgroupDirs()).procsFiles();
        Path files = root.resolve(id).resolve("exec-" + Invocation.current().pid());
        List<Op> ops = Planner.planExec(spec, checked, process, s.pid(), files, detach, procs, host, consoleSocket,
                Optional.of(new Planner.ExecTarget(id, s.bundle(), s.status())));
        Path plan = Path.of(files + ".plan");
        int code;
        try {
            Files.write(plan, PlanEncoder.encode(ops));
            List<String> resume = new ArrayList<>(List.of("exec", "--files", files.toString()));
            if (detach) {
                resume.add("--detach");
            }
            pidFile.ifPresent(f -> resume.addAll(List.of("--pid-file", f.toString())));
            resume.add(id);
            code = runStage(new Invocation.StageCall(List.of(plan.toString()), false, ProcessBuilder.Redirect.INHERIT,
                    detach ? Optional.empty() : Optional.of(Path.of(files + ".control")), resume));
        } catch (IOException e) {
            removeExecFiles(files);
            throw new RuntimeFailure("write " + plan + ": " + e.getMessage(), e);
        } catch (RuntimeException e) {
            removeExecFiles(files);
            throw e;
        }
        return finishExec(files, detach, pidFile, code);
    }

    /** After an exec's stage: its error, its pid file, and its files in the state directory removed. */
    private static int finishExec(Path files, boolean detach, Optional<Path> pidFile, int code) {
        try {
            failIfStageFailed(Path.of(files + ".error"));
            if (detach && pidFile.isPresent()) {
                writePidFile(pidFile.get(), Long.parseLong(readIfPresent(Path.of(files + ".pid"))));
            }
            return code;
        } finally {
            removeExecFiles(files);
        }
    }

    /** Finishes an exec on the direct path: its planner died while the stage ran. */
    public static int resumeExec(Path root, String id, Path files, boolean detach, Optional<Path> pidFile, int code) {
        StateDir.checkId(id);
        if (!files.getParent().equals(root.resolve(id)) || !files.getFileName().toString().equals("exec-" + Invocation.current().pid())) {
            throw new RuntimeFailure("exec files " + files + " are not this call's in container \"" + id + "\"");
        }
        return finishExec(files, detach, pidFile, code);
    }

    private static void removeExecFiles(Path files) {
        for (String suffix : List.of(".plan", ".error", ".pid", ".pid.tmp", ".control")) {
            try {
                Files.deleteIfExists(Path.of(files + suffix));
            } catch (IOException e) {
                // the container's state directory is removed with it at delete
            }
        }
    }

    // ---- state, list ----

    public static State load(Path root, String id) {
        StateDir.checkId(id);
        Path dir = root.resolve(id);
        String text = readIfPresent(dir.resolve("state.json"));
        if (text == null) {
            throw new RuntimeFailure("container \"" + id + "\" does not exist");
        }
        Node n = Node.root(Json.parse(text));
        long pid = n.opt("pid").map(Node::int64).orElse(0L);
        Node priv = n.opt("bulwark").orElse(Node.root(JsonBuilder.object().build()));
        long start = priv.opt("initStart").map(Node::int64).orElse(0L);
        Map<String, Path> dirs = new LinkedHashMap<>();
        priv.opt("cgroupDirs").ifPresent(d -> d.members().forEach((k, v) -> dirs.put(k, Path.of(v.string()))));
        String recorded = n.req("status").string();
        String status = liveStatus(recorded, pid, start, dir, dirs);
        return new State(n.req("ociVersion").string(), id, status, pid, start, Path.of(n.req("bundle").string()),
                Path.of(n.optString("rootfs", "")), n.optString("created", ""), n.optStringMap("annotations"), dirs,
                priv.optBool("postHooks", true));
    }

    private static String liveStatus(String recorded, long pid, long start, Path dir, Map<String, Path> dirs) {
        if (recorded.equals("creating")) {
            return "creating";
        }
        if (pid <= 0 || !isAlive(pid, start)) {
            return "stopped";
        }
        if (Files.exists(dir.resolve(Planner.EXEC_FIFO))) {
            return "created";
        }
        if (!dirs.isEmpty()) {
            try {
                if (CgroupManager.open(Cgroups.detect(), dirs).freezerState() == CgroupManager.FreezerState.FROZEN) {
                    return "paused";
                }
            } catch (CgroupException e) {
                // no freezer: cannot be paused
            }
        }
        return "running";
    }

    public static List<State> list(Path root) {
        List<State> out = new ArrayList<>();
        if (!Files.isDirectory(root)) {
            return out;
        }
        try (var dirs = Files.list(root)) {
            for (Path d : (Iterable<Path>) dirs.sorted()::iterator) {
                String name = d.getFileName().toString();
                if (!name.startsWith(".") && Files.exists(d.resolve("state.json"))) {
                    out.add(load(root, name));
                }
            }
        } catch (IOException e) {
            throw new RuntimeFailure("list " + root + ": " + e.getMessage(), e);
        }
        return out;
    }

    // ---- update, stats ----

    /** Applies new limits to a live container's cgroup. */
    public static void update(Path root, String id, Spec.Resources resources) {
        try (FileLocks.Held l = lock(root, id)) {
            State s = load(root, id);
            if (s.status().equals("stopped") || s.cgroupDirs().isEmpty()) {
                throw new RuntimeFailure("cannot update container \"" + id + "\": it is " + s.status());
            }
            try {
                if (CgroupManager.open(Cgroups.detect(), s.cgroupDirs()).update(resources).isPresent()) {
                    throw new RuntimeFailure("changing device rules of a cgroup v2 container is not supported yet");
                }
            } catch (CgroupException e) {
                throw new SpecException("", e.getMessage());
            }
        }
    }

    /** The container's cgroup statistics, as `runc events --stats` prints them. */
    public static JsonValue stats(Path root, String id) {
        State s = load(root, id);
        if (s.cgroupDirs().isEmpty()) {
            throw new RuntimeFailure("container \"" + id + "\" has no cgroup");
        }
        return CgroupManager.open(Cgroups.detect(), s.cgroupDirs()).stats().toJson();
    }

    // ---- kill, pause, resume ----

    public static void kill(Path root, String id, int signal, boolean all) {
        State s = load(root, id);
        // kill --all of a stopped container is runc's contract: with a shared PID namespace the
        // init can be gone while its children live on in the cgroup, and containerd's shim sends
        // exactly that (kill --all ID 9) when such an init exits.
        if (s.status().equals("creating") || (s.status().equals("stopped") && !all)) {
            throw new RuntimeFailure("cannot kill container \"" + id + "\": it is " + s.status());
        }
        List<String> targets = new ArrayList<>();
        if (all && !s.cgroupDirs().isEmpty()) {
            for (long pid : processes(root, id)) {
                targets.add(Long.toString(pid));
            }
        }
        if (!s.status().equals("stopped")) {
            targets.add(s.pid() + "@" + s.start());
        }
        if (!targets.isEmpty()) {
            signal(signal, targets);
        }
    }

    public static void pause(Path root, String id, boolean pause) {
        try (FileLocks.Held l = lock(root, id)) {
            State s = load(root, id);
            String need = pause ? "running" : "paused";
            if (!s.status().equals(need)) {
                throw new RuntimeFailure("cannot " + (pause ? "pause" : "resume") + " container \"" + id + "\": it is "
                        + s.status() + ", not " + need);
            }
            CgroupManager c = CgroupManager.open(Cgroups.detect(), s.cgroupDirs());
            if (pause) {
                c.freeze();
            } else {
                c.thaw();
            }
        }
    }

    /** The PIDs in a container's cgroup (`ps`): what containerd's shim lists as the task's processes. */
    public static List<Long> processes(Path root, String id) {
        State s = load(root, id);
        if (s.status().equals("creating")) {
            throw new RuntimeFailure("cannot list processes of container \"" + id + "\": it is creating");
        }
        if (s.cgroupDirs().isEmpty()) {
            throw new RuntimeFailure("cannot list processes of container \"" + id + "\": it has no cgroup");
        }
        try {
            return CgroupManager.open(Cgroups.detect(), s.cgroupDirs()).pids();
        } catch (CgroupException e) {
            // A stopped container's cgroup may be gone already: then nothing is left in it.
            if (s.status().equals("stopped")) {
                return List.of();
            }
            throw e;
        }
    }

    /**
     * Sends signal to targets ("PID@START", or a PID), each through a pidfd taken before its start
     * time is checked, so a reused PID is never signalled. The JDK can only send TERM and KILL,
     * so by default the stage sends them (`bulwark-stage signal`); a long-running JVM may set a
     * sender that makes the system calls itself ({@link #useSignalSender}).
     */
    static void signal(int signal, List<String> targets) {
        signalSender.send(signal, targets);
    }

    /** Sends a signal to "PID@START" targets; fails with a clear error, except for targets already gone. */
    @FunctionalInterface
    public interface SignalSender {
        void send(int signal, List<String> targets);
    }

    private static volatile SignalSender signalSender = Lifecycle::signalThroughStage;

    /** The planner's own pidfd sender: no process spawned per signal. */
    public static void useSignalSender(SignalSender s) {
        signalSender = s;
    }

    private static void signalThroughStage(int signal, List<String> targets) {
        List<String> cmd = new ArrayList<>(List.of(Stage.binary().toString(), "signal", Integer.toString(signal)));
        cmd.addAll(targets);
        try {
            Process p = new ProcessBuilder(cmd).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
            String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8).strip();
            int code = p.waitFor();
            if (code == 2) {
                throw new RuntimeFailure("send signal " + signal + ": " + err);
            }
        } catch (IOException e) {
            throw new RuntimeFailure("send signal " + signal + ": " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new RuntimeFailure("interrupted while sending signal " + signal);
        }
    }

    private static void killAll(CgroupManager c, int signal) {
        List<String> pids = new ArrayList<>();
        for (long pid : c.pids()) {
            pids.add(Long.toString(pid));
        }
        if (!pids.isEmpty()) {
            signal(signal, pids);
        }
    }

    // ---- delete ----

    public static void delete(Path root, String id, boolean force) {
        StateDir.checkId(id);
        if (force && !Files.isDirectory(root.resolve(id))) {
            // runc's contract: deleting a container that does not exist is not an error with
            // --force. containerd's shim deletes again after the task's own delete and logs a
            // warning for every failure.
            return;
        }
        if (force && Files.isDirectory(root.resolve(id)) && !Files.exists(root.resolve(id).resolve("state.json"))) {
            // A create killed before it wrote any state: nothing but the directory (and perhaps
            // its ID range's record) exists yet.
            IdRanges.release(id, root.resolve(id));
            StateDir.existing(root, id).remove();
            return;
        }
        try (FileLocks.Held l = lock(root, id)) {
            State s = load(root, id);
            switch (s.status()) {
                case "running", "paused" -> {
                    if (!force) {
                        throw new RuntimeFailure("cannot delete container \"" + id + "\": it is " + s.status()
                                + " (stop it first or use --force)");
                    }
                }
                default -> { }
            }
            if (!s.status().equals("stopped") && s.pid() > 0) {
                signal(9, List.of(s.pid() + "@" + s.start()));
            }
            if (!s.cgroupDirs().isEmpty()) {
                CgroupManager c = CgroupManager.open(Cgroups.detect(), s.cgroupDirs());
                if (s.status().equals("paused")) {
                    c.thaw();
                }
                killAll(c, 9);
                waitGone(s.pid(), s.start());
                c.destroy();
            }
            if (!s.status().equals("creating") && s.postHooks()) {
                try {
                    Spec spec = readConfig(s.bundle());
                    spec.hooks().ifPresent(h -> HookRunner.warn(HookRunner.run("poststop", h.poststop(),
                            HookRunner.state(spec, id, s.bundle(), "stopped", 0))));
                } catch (SpecException e) {
                    HookRunner.warn(List.of("poststop hooks not run: " + e.getMessage()));
                }
            }
            // Its processes are gone: what it mounted on the host can go, and its ID range to another container.
            HostMounts.release(root.resolve(id));
            IdRanges.release(id, root.resolve(id));
        }
        StateDir.existing(root, id).remove();
    }

    private static void waitGone(long pid, long start) {
        for (int i = 0; i < 500 && pid > 0 && isAlive(pid, start); i++) {
            try {
                Thread.sleep(10);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    // ---- helpers ----

    static boolean isAlive(long pid, long start) {
        return Procfs.startTime(pid).map(t -> start == 0 || t == start).orElse(false);
    }

    private static void write(StateDir state, State s) {
        state.writeAtomically("state.json", Json.write(s.toJson()).getBytes(StandardCharsets.UTF_8));
    }

    private static String readIfPresent(Path p) {
        try {
            return Files.readString(p, StandardCharsets.UTF_8).strip();
        } catch (NoSuchFileException e) {
            return null;
        } catch (IOException e) {
            throw new RuntimeFailure("read " + p + ": " + e.getMessage(), e);
        }
    }

    /** An exclusive lock on a container (its state directory's lock file) for one operation. */
    private static FileLocks.Held lock(Path root, String id) {
        StateDir.checkId(id);
        Path file = root.resolve(id).resolve("lock");
        if (!Files.isDirectory(file.getParent())) {
            throw new RuntimeFailure("container \"" + id + "\" does not exist");
        }
        try {
            return FileLocks.lock(file);
        } catch (IOException e) {
            throw new RuntimeFailure("lock " + file + ": " + e.getMessage(), e);
        }
    }

    /**
     * Forwards SIGINT, SIGTERM and SIGHUP sent to this JVM to the container, by writing the
     * signal number into the stage's control FIFO (the JDK cannot send arbitrary signals).
     */
    static final class SignalForwarder {
        private static final String[] SIGNALS = {"INT", "TERM", "HUP"};
        private static volatile Path fifo;

        public static void install(Path control) {
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
