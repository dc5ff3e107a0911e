package dev.bulwark.runtime;

import static dev.bulwark.runtime.MountOptions.MS_BIND;
import static dev.bulwark.runtime.MountOptions.MS_NODEV;
import static dev.bulwark.runtime.MountOptions.MS_NOEXEC;
import static dev.bulwark.runtime.MountOptions.MS_NOSUID;
import static dev.bulwark.runtime.MountOptions.MS_PRIVATE;
import static dev.bulwark.runtime.MountOptions.MS_RDONLY;
import static dev.bulwark.runtime.MountOptions.MS_REC;
import static dev.bulwark.runtime.MountOptions.MS_SHARED;
import static dev.bulwark.runtime.MountOptions.MS_SLAVE;
import static dev.bulwark.runtime.MountOptions.MS_UNBINDABLE;
import static dev.bulwark.runtime.MountOptions.MOUNT_ATTR_RDONLY;

import dev.bulwark.cgroup.DeviceProgram;
import dev.bulwark.seccomp.SeccompCompiler;
import dev.bulwark.seccomp.SeccompException;
import dev.bulwark.seccomp.SeccompProgram;
import dev.bulwark.spec.Spec;
import dev.bulwark.spec.SpecException;
import dev.bulwark.spec.Spec.Device;
import dev.bulwark.spec.Spec.IdMapping;
import dev.bulwark.spec.Spec.Linux;
import dev.bulwark.spec.Spec.Mount;
import dev.bulwark.spec.Spec.Namespace;
import dev.bulwark.spec.Spec.Process;
import dev.bulwark.spec.Spec.Rlimit;
import dev.bulwark.stage.Op;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Turns a validated config into the linear plan the stage executes. Every decision is made here:
 * the order of operations, which devices are created or bound, how each mount option maps to
 * flags, the capability masks, the ID maps. The order follows runc's, which the kernel dictates:
 * mounts before pivot_root, sysctls before /proc/sys goes read-only, the bounding set before the
 * user switch, capabilities after it, no_new_privs and seccomp last.
 */
public final class Planner {
    /** runc's default devices: null, zero, full, random, urandom, tty. */
    static final List<Device> DEFAULT_DEVICES = List.of(
            dev("/dev/null", 1, 3), dev("/dev/zero", 1, 5), dev("/dev/full", 1, 7),
            dev("/dev/random", 1, 8), dev("/dev/urandom", 1, 9), dev("/dev/tty", 5, 0));

    private static final int S_IFCHR = 0020000;
    private static final int S_IFBLK = 0060000;
    private static final int S_IFIFO = 0010000;

    /** The FIFO a created container waits on until `start` opens it. */
    public static final String EXEC_FIFO = "exec.fifo";

    /** How the stage is asked to behave: run waits and returns the exit status. */
    public enum Mode { RUN, CREATE }

    public record Request(
            Spec spec, Path bundle, Path stateDir, Mode mode, int preserveFds, boolean noPivot, CgroupSetup cgroup,
            Optional<Path> consoleSocket, boolean newKeyring, boolean idmapped) {
        public Request(Spec spec, Path bundle, Path stateDir, Mode mode, int preserveFds, boolean noPivot, CgroupSetup cgroup) {
            this(spec, bundle, stateDir, mode, preserveFds, noPivot, cgroup, Optional.empty(), true, false);
        }

        public Request(Spec spec, Path bundle, Path stateDir, Mode mode, int preserveFds, boolean noPivot, CgroupSetup cgroup,
                Optional<Path> consoleSocket, boolean newKeyring) {
            this(spec, bundle, stateDir, mode, preserveFds, noPivot, cgroup, consoleSocket, newKeyring, false);
        }
    }

    /** The container's cgroup as the cgroup manager made it: files to join, directories, v2 device program. */
    public record CgroupSetup(List<Path> procsFiles, List<Path> dirs, Optional<DeviceProgram> devices) {
        public static final CgroupSetup NONE = new CgroupSetup(List.of(), List.of(), Optional.empty());
    }

    /** A config that passed every check, with what the checks computed (the compiled filter). */
    public record Checked(Spec spec, Optional<SeccompProgram> seccomp) {}

    private final Request req;
    private final HostInfo host;
    private final List<Op> ops = new ArrayList<>();
    /** IDMAP_TREE ops (MAP phase), gathered while the INIT mounts are planned, that place them. */
    private final List<Op> idmaps = new ArrayList<>();

    private Planner(Request req, HostInfo host) {
        this.req = req;
        this.host = host;
    }

    /**
     * Validates a config and compiles its seccomp filter: every error a config can have is found
     * here, before anything is created.
     */
    public static Checked check(Spec spec, Path bundle, HostInfo host) {
        return check(spec, bundle, host, Optional.empty());
    }

    /** check, with compiled filters reused from (and added to) the cache under a state root. */
    public static Checked check(Spec spec, Path bundle, HostInfo host, Optional<Path> cacheRoot) {
        Validator.validate(spec, bundle);
        Landlock.of(spec, host);
        // A new user namespace starts with a full bounding set (the kernel resets it there), so
        // only without one does the runtime's own bounding set limit what can be granted.
        if (!spec.linux().map(l -> Validator.newNamespace(l, "user")).orElse(false)) {
            spec.process().flatMap(Process::capabilities).ifPresent(c -> grantable(c, host));
        }
        spec.process().ifPresent(Lsm::check);
        boolean hostMountNs = spec.linux().map(l -> l.namespaces().stream().noneMatch(n -> n.type().equals("mount"))).orElse(false);
        if (hostMountNs && spec.process().flatMap(Process::capabilities)
                .map(c -> c.bounding().contains("CAP_SYS_CHROOT")).orElse(false)) {
            Warnings.warn("linux.namespaces has no \"mount\": the container's root is a chroot in the host's mount namespace,"
                    + " which a process holding CAP_SYS_CHROOT can leave");
        }
        spec.process().map(p -> CapabilitySets.of(p.capabilities(), host).warnings()).orElse(List.of())
                .forEach(Warnings::warn);
        Optional<SeccompProgram> program = Optional.empty();
        Optional<Spec.Seccomp> seccomp = spec.linux().flatMap(Linux::seccomp);
        if (seccomp.isPresent()) {
            Optional<SeccompCache> cache = cacheRoot.flatMap(SeccompCache::under);
            String key = cache.isPresent() ? SeccompCache.key(seccomp.get()) : "";
            program = cache.flatMap(c -> c.get(key));
            if (program.isEmpty()) {
                try {
                    program = Optional.of(SeccompCompiler.compile(seccomp.get()));
                } catch (SeccompException e) {
                    throw new SpecException("", e.getMessage());
                }
                SeccompProgram compiled = program.get();
                cache.ifPresent(c -> c.put(key, compiled));
            }
            if (program.get().needsListener() && seccomp.get().listenerPath().isEmpty()) {
                throw new SpecException("linux.seccomp.listenerPath", "SCMP_ACT_NOTIFY rules need a listener socket path");
            }
            if (!seccomp.get().listenerPath().isEmpty() && !seccomp.get().listenerPath().startsWith("/")) {
                throw new SpecException("linux.seccomp.listenerPath", "must be an absolute path");
            }
        }
        return new Checked(spec, program);
    }

    public static List<Op> plan(Request req, HostInfo host) {
        return plan(req, check(req.spec(), req.bundle(), host), host);
    }

    /**
     * The runtime cannot give what it does not have: a capability outside its own bounding set
     * would make capset fail deep in the stage, so it is refused here by name. (The bounding set
     * itself may list more: those bits are simply not there to drop; an ambient capability is
     * raised only from the permitted and inheritable sets, so it is checked there.)
     */
    private static void grantable(Spec.Capabilities c, HostInfo host) {
        String[] sets = {"effective", "permitted", "inheritable"};
        List<List<String>> lists = List.of(c.effective(), c.permitted(), c.inheritable());
        for (int s = 0; s < sets.length; s++) {
            List<String> names = lists.get(s);
            for (int i = 0; i < names.size(); i++) {
                int n = Capabilities.number(names.get(i));
                if (n >= 0 && n <= host.capLastCap() && (host.capBounding() & (1L << n)) == 0) {
                    throw new SpecException("process.capabilities." + sets[s] + "[" + i + "]", "capability \""
                            + names.get(i) + "\" is not in the runtime's own bounding set, so it cannot be granted");
                }
            }
        }
    }

    /**
     * A plan that runs process inside the running container whose init is initPid: join each of
     * its namespaces (the user namespace last), fork into its PID namespace, join its cgroups,
     * then the same credentials, capabilities, no_new_privs and seccomp steps as its init.
     */
    public static List<Op> planExec(Spec spec, Checked checked, Process process, long initPid, Path files, boolean detach,
            List<Path> cgroupProcs, HostInfo host, Optional<Path> consoleSocket) {
        return planExec(spec, checked, process, initPid, files, detach, cgroupProcs, host, consoleSocket, Optional.empty());
    }

    /** The container an exec'd process joins, as its seccomp listener is told (runtime-spec state). */
    public record ExecTarget(String id, Path bundle, String status) {}

    /**
     * planExec; with a target, a filter with SCMP_ACT_NOTIFY rules has its fd sent to the
     * config's listener as create does, with the exec'd process as "pid" and the container's
     * init in the state. Without one, such a filter is refused.
     */
    public static List<Op> planExec(Spec spec, Checked checked, Process process, long initPid, Path files, boolean detach,
            List<Path> cgroupProcs, HostInfo host, Optional<Path> consoleSocket, Optional<ExecTarget> target) {
        terminal(process, detach ? Mode.CREATE : Mode.RUN, consoleSocket);
        Linux linux = spec.linux().orElseThrow();
        Validator.process(process, Validator.namespaces(linux));
        // Joining a user namespace gives a full bounding set there (as creating one does): the
        // runtime's own bounding set limits only a process that stays in the host's.
        boolean user = linux.namespaces().stream().anyMatch(n -> n.type().equals("user"));
        if (!user) {
            process.capabilities().ifPresent(c -> grantable(c, host));
        }
        Lsm.check(process);
        CapabilitySets.of(process.capabilities(), host).warnings().forEach(Warnings::warn);
        boolean notify = checked.seccomp().isPresent() && checked.seccomp().get().needsListener();
        if (notify && target.isEmpty()) {
            throw new SpecException("linux.seccomp", "exec into a container whose filter uses SCMP_ACT_NOTIFY needs the"
                    + " container's state for its listener");
        }
        List<Op> ops = new ArrayList<>();
        ops.add(new Op.ErrorFile(files + ".error"));
        ops.add(new Op.PidFile(files + ".pid"));
        if (!detach) {
            ops.add(new Op.ControlFifo(files + ".control"));
        }
        consoleSocket.ifPresent(c -> ops.add(new Op.ConsoleSocket(c.toString())));
        if (notify) {
            Spec.Seccomp seccomp = linux.seccomp().orElseThrow();
            ExecTarget t = target.get();
            // one PID goes in (the exec'd process, which only the stage knows); the state's is the init's
            List<String> state = hookState(spec, t.id(), t.bundle());
            ops.add(new Op.SeccompListener(seccomp.listenerPath(), List.of(listenerPrefix(spec, seccomp),
                    ",\"state\":" + state.get(0) + t.status() + state.get(1) + initPid + state.get(2) + "}")));
        }
        ops.add(new Op.Mode(detach ? 2 : 0, 0));
        for (Path procs : cgroupProcs) {
            ops.add(new Op.CgroupJoin(procs.toString()));
        }
        process.oomScoreAdj().ifPresent(v -> ops.add(new Op.OomScoreAdj(v)));
        for (Rlimit r : process.rlimits()) {
            ops.add(new Op.Rlimit(Validator.RLIMITS.indexOf(r.type()), r.soft(), r.hard()));
        }
        for (Namespace n : linux.namespaces()) {
            if (!n.type().equals("user")) {
                ops.add(new Op.Setns("/proc/" + initPid + "/ns/" + Namespaces.procName(n.type()), Namespaces.FLAGS.get(n.type())));
            }
        }
        if (user) {
            ops.add(new Op.Setns("/proc/" + initPid + "/ns/user", Namespaces.CLONE_NEWUSER));
        }
        ops.add(new Op.Clone(0));
        ops.add(new Op.Setsid());
        if (user) {
            ops.add(new Op.BecomeRoot());
        }
        if (linux.namespaces().stream().noneMatch(n -> n.type().equals("mount"))) {
            // the container shares the host's mount namespace: its root is where its init chrooted
            ops.add(new Op.Chroot("/proc/" + initPid + "/root"));
        }
        ops.add(new Op.OpenRoot());
        if (process.terminal()) {
            ops.add(new Op.Console(0, 0, false));
        }
        ops.add(new Op.Chdir(process.cwd()));
        ops.add(new Op.Umask(process.user().umask().orElse(0022)));
        // the container's ruleset (its config's), whatever the exec'd process asks
        credentials(ops, process, checked.seccomp(), host, Landlock.of(spec, host));
        ops.add(new Op.Exec(pathOf(process.env()), process.args(), process.env()));
        return List.copyOf(ops);
    }

    public static List<Op> plan(Request req, Checked checked, HostInfo host) {
        Planner p = new Planner(req, host);
        p.build(checked);
        return List.copyOf(p.ops);
    }

    private static Device dev(String path, long major, long minor) {
        return new Device("c", path, major, minor, java.util.Optional.of(0666), java.util.Optional.of(0L),
                java.util.Optional.of(0L));
    }

    private void build(Checked checked) {
        Spec spec = req.spec();
        Process process = spec.process().orElseThrow();
        Linux linux = spec.linux().orElseThrow();
        Path state = req.stateDir();

        // SETUP
        ops.add(new Op.ErrorFile(state.resolve("stage-error").toString()));
        ops.add(new Op.PidFile(state.resolve("pid").toString()));
        if (req.mode() == Mode.RUN) {
            ops.add(new Op.ControlFifo(state.resolve("control").toString()));
        } else {
            ops.add(new Op.ExecFifo(state.resolve(EXEC_FIFO).toString()));
        }
        ops.add(new Op.Mode(req.mode() == Mode.RUN ? 0 : 1, req.mode() == Mode.RUN ? 1 : 0));
        if (req.preserveFds() > 0) {
            ops.add(new Op.PreserveFds(req.preserveFds()));
        }
        terminal(process, req.mode(), req.consoleSocket());
        spec.hooks().ifPresent(h -> hooks(h, spec, req));
        req.consoleSocket().ifPresent(c -> ops.add(new Op.ConsoleSocket(c.toString())));
        Optional<Spec.Seccomp> seccomp = linux.seccomp();
        if (checked.seccomp().isPresent() && checked.seccomp().get().needsListener()) {
            ops.add(new Op.SeccompListener(seccomp.get().listenerPath(), listenerMessage(spec, seccomp.get())));
        }

        // PARENT: cgroups first so everything after is accounted; rlimits and oom_score_adj from
        // the host, because a process in a new user namespace may not raise them.
        for (Path procs : req.cgroup().procsFiles()) {
            ops.add(new Op.CgroupJoin(procs.toString()));
        }
        req.cgroup().devices().ifPresent(d -> ops.add(new Op.CgroupDevices(
                d.cgroupDir().toString(), d.instructions(), DeviceProgram.PROG_TYPE, DeviceProgram.ATTACH_TYPE,
                DeviceProgram.ATTACH_FLAGS, DeviceProgram.LICENSE)));
        process.oomScoreAdj().ifPresent(v -> ops.add(new Op.OomScoreAdj(v)));
        for (Rlimit r : process.rlimits()) {
            ops.add(new Op.Rlimit(Validator.RLIMITS.indexOf(r.type()), r.soft(), r.hard()));
        }

        // JOIN: other namespaces before the user namespace (joining it first would drop the
        // host privileges needed to join namespaces the host owns).
        long cloneFlags = 0;
        boolean newUser = false;
        boolean newTime = false;
        Namespace userJoin = null;
        for (Namespace n : linux.namespaces()) {
            int flag = Namespaces.FLAGS.get(n.type());
            if (!n.path().isEmpty()) {
                if (n.type().equals("user")) {
                    userJoin = n;
                } else {
                    ops.add(new Op.Setns(n.path(), flag));
                }
            } else if (flag == Namespaces.CLONE_NEWTIME) {
                newTime = true;
            } else {
                cloneFlags |= flag;
                newUser |= flag == Namespaces.CLONE_NEWUSER;
            }
        }
        if (userJoin != null) {
            ops.add(new Op.Setns(userJoin.path(), Namespaces.CLONE_NEWUSER));
        }
        if (newTime) {
            StringBuilder sb = new StringBuilder();
            linux.timeOffsets().forEach((clock, o) ->
                    sb.append(clock).append(' ').append(o.secs()).append(' ').append(o.nanosecs()).append('\n'));
            ops.add(new Op.Timens(sb.toString()));
        }
        ops.add(new Op.Clone(cloneFlags));

        // MAP
        if (newUser) {
            ops.add(new Op.UidMap(mapContent(linux.uidMappings())));
            ops.add(new Op.GidMap(mapContent(linux.gidMappings())));
        } else if (req.idmapped()) {
            throw new SpecException("linux.namespaces", "ID-mapped mounts need a new user namespace");
        }
        int mapEnd = ops.size();

        // INIT
        ops.add(new Op.Setsid());
        if (newUser || userJoin != null) {
            ops.add(new Op.BecomeRoot());
        }
        if (req.newKeyring()) {
            ops.add(new Op.SessionKeyring("_ses." + req.stateDir().getFileName()));
        }
        // A mount namespace joined by path gets the root set up in it, as a new one does (runc
        // checks that the config lists a mount namespace, not that it is new).
        // With no mount namespace listed the root is set up in the host's, as runc does, and
        // chrooted into; what that mounts on the host goes when the container is deleted (HostMounts).
        boolean ownMount = linux.namespaces().stream().anyMatch(n -> n.type().equals("mount"));
        rootfs(spec, linux, process, newUser, ownMount);
        if (!spec.hostname().isEmpty()) {
            ops.add(new Op.Hostname(spec.hostname()));
        }
        if (!spec.domainname().isEmpty()) {
            ops.add(new Op.Domainname(spec.domainname()));
        }
        if (Validator.newNamespace(linux, "network")) {
            ops.add(new Op.LoopbackUp());
        }
        {
            linux.sysctl().forEach((k, v) -> ops.add(new Op.Write("/proc/sys/" + k.replace('.', '/'), v)));
            for (String p : linux.readonlyPaths()) {
                ops.add(new Op.Readonly(p));
            }
            for (String p : linux.maskedPaths()) {
                ops.add(new Op.Mask(p));
            }
            if (spec.root().readonly()) {
                ops.add(new Op.Setattr("/", false, MOUNT_ATTR_RDONLY, 0, 0));
            }
        }
        ops.add(new Op.Chdir(process.cwd()));
        ops.add(new Op.Umask(process.user().umask().orElse(0022)));
        linux.personality().ifPresent(p -> ops.add(new Op.Personality(p.domain().equals("LINUX32") ? 0x0008 : 0)));
        credentials(ops, process, checked.seccomp(), host, Landlock.of(spec, host));
        ops.add(new Op.Exec(pathOf(process.env()), process.args(), process.env()));
        ops.addAll(mapEnd, idmaps);
    }

    /** The host ID that container ID 0 maps to. */
    private static long hostId(List<IdMapping> maps) {
        return maps.stream().filter(m -> m.containerID() == 0).findFirst().map(IdMapping::hostID)
                .orElseThrow(() -> new SpecException("linux.uidMappings", "an ID-mapped overlay root needs container ID 0 mapped"));
    }

    private static String mapContent(List<IdMapping> maps) {
        StringBuilder sb = new StringBuilder();
        for (IdMapping m : maps) {
            sb.append(m.containerID()).append(' ').append(m.hostID()).append(' ').append(m.size()).append('\n');
        }
        return sb.toString();
    }

    private void rootfs(Spec spec, Linux linux, Process process, boolean newUser, boolean ownMount) {
        // Keep host mount events out, and ours from reaching the host: rslave unless the config
        // asks for private. (shared is applied to the new root after pivot_root, which refuses a
        // shared parent.) In the host's own mount namespace "/" is left as it is (runc makes the
        // host's root rslave there); the root's bind is made private instead, so nothing mounted
        // in it reaches another namespace.
        String rp = linux.rootfsPropagation();
        if (ownMount) {
            ops.add(new Op.Propagation("/", (rp.endsWith("private") ? MS_PRIVATE : MS_SLAVE) | MS_REC));
        }
        Path rootPath = req.bundle().resolve(spec.root().path()).toAbsolutePath().normalize();
        if (req.idmapped()) {
            // The whole tree under the root (Docker's overlay and whatever is mounted beneath it):
            // files owned by host ID 0 appear owned by the container's root, with no chown.
            Optional<Overlay> overlay = Overlay.at(rootPath);
            idmaps.add(overlay.isPresent()
                    ? new Op.IdmapOverlay(overlay.get().lowers(), overlay.get().upper(), overlay.get().work(),
                            hostId(linux.uidMappings()), hostId(linux.gidMappings()))
                    : new Op.IdmapTree(rootPath.toString(), true, 0, 0));
            ops.add(new Op.RootfsTree(rootPath.toString()));
        } else {
            ops.add(new Op.Rootfs(rootPath.toString()));
            if (!ownMount) {
                ops.add(new Op.Propagation(rootPath.toString(), MS_PRIVATE | MS_REC));
            }
        }

        boolean devTmpfs = false;
        boolean hasPts = false;
        boolean hasShm = false;
        boolean devBound = false;
        boolean newNet = Validator.newNamespace(linux, "network");
        for (Mount m : spec.mounts()) {
            String d = normalize(m.destination());
            if (d.equals("/dev")) {
                devTmpfs = !isBind(m);
                devBound = isBind(m);
            }
            hasPts |= d.equals("/dev/pts");
            hasShm |= d.equals("/dev/shm");
        }
        for (int i = 0; i < spec.mounts().size(); i++) {
            Mount m = spec.mounts().get(i);
            mount(m, "mounts[" + i + "].options", newUser, newNet, linux);
            if (devTmpfs && normalize(m.destination()).equals("/dev")) {
                // Docker's default /dev/pts and /dev/shm when a config mounts a fresh /dev without them.
                if (!hasPts) {
                    ops.add(new Op.Mkpath("/dev/pts", 1, 0755));
                    ops.add(new Op.Mount("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
                            Lsm.mountData("newinstance,ptmxmode=0666,mode=0620" + (newUser ? "" : ",gid=5"), linux.mountLabel())));
                }
                if (!hasShm) {
                    ops.add(new Op.Mkpath("/dev/shm", 1, 0755));
                    ops.add(new Op.Mount("shm", "/dev/shm", "tmpfs", MS_NOSUID | MS_NOEXEC | MS_NODEV,
                            Lsm.mountData("mode=1777,size=65536k", linux.mountLabel())));
                }
            }
        }
        if (!devBound) {
            devices(linux, newUser);
            ops.add(new Op.Symlink("/proc/self/fd", "/dev/fd"));
            ops.add(new Op.Symlink("/proc/self/fd/0", "/dev/stdin"));
            ops.add(new Op.Symlink("/proc/self/fd/1", "/dev/stdout"));
            ops.add(new Op.Symlink("/proc/self/fd/2", "/dev/stderr"));
            ops.add(new Op.Symlink("pts/ptmx", "/dev/ptmx"));
        }
        ops.add(new Op.Mkpath(process.cwd(), 1, 0755));
        if (process.terminal()) {
            if (!devBound && !hasPtsMount(spec) && !devTmpfs) {
                throw new SpecException("process.terminal", "a terminal needs a devpts mount at /dev/pts");
            }
            ops.add(new Op.Mkpath("/dev/console", 2, 0600));
            ops.add(new Op.Console(0, 0, true));
        }
        if (spec.hooks().map(h -> !h.prestart().isEmpty() || !h.createRuntime().isEmpty() || !h.createContainer().isEmpty())
                .orElse(false)) {
            ops.add(new Op.Hooks());
        }
        if (req.mode() == Mode.CREATE) {
            // opened (O_PATH) while the host path is still reachable; written just before execve
            ops.add(new Op.WaitFifo(req.stateDir().resolve(EXEC_FIFO).toString()));
        }
        ops.add(ownMount ? new Op.PivotRoot(req.noPivot()) : new Op.Chroot(""));
        if (rp.endsWith("shared") || rp.endsWith("unbindable")) {
            ops.add(new Op.Setattr("/", rp.startsWith("r"), 0, 0, rp.endsWith("shared") ? MS_SHARED : MS_UNBINDABLE));
        }
    }

    /** Hook ops in the order the runtime-spec runs them; poststart of a created container is `start`'s. */
    private void hooks(Spec.Hooks h, Spec spec, Request req) {
        if (h.isEmpty()) {
            return;
        }
        ops.add(new Op.HookState(hookState(spec, req.stateDir().getFileName().toString(), req.bundle())));
        h.prestart().forEach(k -> ops.add(hook(0, k)));
        h.createRuntime().forEach(k -> ops.add(hook(0, k)));
        h.createContainer().forEach(k -> ops.add(hook(1, k)));
        h.startContainer().forEach(k -> ops.add(hook(2, k)));
        if (req.mode() == Mode.RUN) {
            h.poststart().forEach(k -> ops.add(hook(3, k)));
        }
    }

    private static Op hook(int kind, Spec.Hook h) {
        return new Op.Hook(kind, h.path(), h.args(), h.env(), h.timeout().orElse(0));
    }

    /** The runtime-spec state as hooks read it, in three parts around the status and the PID. */
    public static List<String> hookState(Spec spec, String id, Path bundle) {
        StringBuilder a = new StringBuilder("{\"ociVersion\":");
        dev.bulwark.json.Json.quote(a, spec.ociVersion());
        a.append(",\"id\":");
        dev.bulwark.json.Json.quote(a, id);
        a.append(",\"status\":\"");
        StringBuilder c = new StringBuilder(",\"bundle\":");
        dev.bulwark.json.Json.quote(c, bundle.toString());
        c.append(",\"annotations\":{");
        boolean first = true;
        for (var e : spec.annotations().entrySet()) {
            if (!first) {
                c.append(',');
            }
            first = false;
            dev.bulwark.json.Json.quote(c, e.getKey());
            c.append(':');
            dev.bulwark.json.Json.quote(c, e.getValue());
        }
        c.append("}}");
        return List.of(a.toString(), "\",\"pid\":", c.toString());
    }

    private static boolean hasPtsMount(Spec spec) {
        return spec.mounts().stream().anyMatch(m -> normalize(m.destination()).equals("/dev/pts") && m.type().equals("devpts"));
    }

    /**
     * runc's rules: a terminal in a container that is created (or exec'd detached) needs a
     * console socket to send it to, and a console socket needs a terminal.
     */
    private static void terminal(Process process, Mode mode, Optional<Path> consoleSocket) {
        if (process.terminal() && mode == Mode.CREATE && consoleSocket.isEmpty()) {
            throw new SpecException("process.terminal", "true needs --console-socket to send the terminal to");
        }
        if (!process.terminal() && consoleSocket.isPresent()) {
            throw new SpecException("process.terminal", "--console-socket was given but process.terminal is false");
        }
    }

    private static boolean isBind(Mount m) {
        return m.type().equals("bind") || m.options().contains("bind") || m.options().contains("rbind");
    }

    private void mount(Mount m, String optPath, boolean newUser, boolean newNet, Linux linux) {
        MountOptions o = MountOptions.parse(m.options(), optPath);
        String dest = normalize(m.destination());
        if (isBind(m)) {
            Path src = req.bundle().resolve(m.source()).toAbsolutePath().normalize();
            ops.add(new Op.Mkpath(dest, Files.isDirectory(src) ? 1 : 2, Files.isDirectory(src) ? 0755 : 0644));
            if (req.idmapped()) {
                idmaps.add(new Op.IdmapTree(src.toString(), o.recursive(), o.attrSet(), o.attrClr()));
                ops.add(new Op.BindTree(dest));
            } else {
                ops.add(new Op.Bind(src.toString(), dest, o.recursive(), o.attrSet(), o.attrClr()));
            }
        } else if (m.type().equals("sysfs") && newUser && !newNet) {
            // sysfs can only be mounted from a network namespace the user namespace owns; runc
            // binds the host's /sys instead, read-only as asked.
            ops.add(new Op.Mkpath(dest, 1, 0755));
            ops.add(new Op.Bind("/sys", dest, true, o.attrSet(), o.attrClr()));
        } else if (m.type().equals("cgroup") || m.type().equals("cgroup2")) {
            cgroupMount(dest, o, linux);
        } else {
            ops.add(new Op.Mkpath(dest, 1, 0755));
            String data = Set.of("proc", "sysfs", "mqueue").contains(m.type()) ? o.data() : Lsm.mountData(o.data(), linux.mountLabel());
            ops.add(new Op.Mount(m.source().isEmpty() ? m.type() : m.source(), dest, m.type(), o.flags(), data, o.copyUp()));
        }
        if (o.propagation() != 0) {
            ops.add(new Op.Setattr(dest, o.propagationRecursive(), 0, 0, o.propagation()));
        }
    }

    /**
     * The container's view of cgroupfs. With cgroup v2 it is one cgroup2 mount. With v1, as runc
     * does: a tmpfs holding one mount per host hierarchy, each either a fresh cgroup mount (when
     * the container has its own cgroup namespace, which then shows only its subtree) or a bind of
     * the container's own cgroup directory.
     */
    private void cgroupMount(String dest, MountOptions o, Linux linux) {
        long flags = o.flags() | MS_NOSUID | MS_NODEV | MS_NOEXEC;
        boolean newCgroupNs = Validator.newNamespace(linux, "cgroup");
        List<HostInfo.CgroupMount> mounts = host.cgroupMounts().get();
        ops.add(new Op.Mkpath(dest, 1, 0755));
        boolean v2Only = mounts.stream().anyMatch(c -> c.fsType().equals("cgroup2") && c.mountPoint().equals("/sys/fs/cgroup"));
        if (v2Only) {
            if (newCgroupNs) {
                ops.add(new Op.Mount("cgroup2", dest, "cgroup2", flags, ""));
            } else {
                ops.add(new Op.Bind(cgroupDirUnder("/sys/fs/cgroup", ownCgroup("0", "")), dest, true, o.attrSet() | MountOptions.MOUNT_ATTR_NOSUID
                        | MountOptions.MOUNT_ATTR_NODEV | MountOptions.MOUNT_ATTR_NOEXEC, o.attrClr()));
            }
            return;
        }
        ops.add(new Op.Mount("tmpfs", dest, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, Lsm.mountData("mode=755", linux.mountLabel())));
        for (HostInfo.CgroupMount c : mounts) {
            if (c.mountPoint().equals("/sys/fs/cgroup")) {
                continue;
            }
            String name = c.mountPoint().substring(c.mountPoint().lastIndexOf('/') + 1);
            String sub = dest + "/" + name;
            ops.add(new Op.Mkpath(sub, 1, 0755));
            List<String> controllers = new ArrayList<>();
            for (String s : c.superOptions().split(",")) {
                if (!s.equals("rw") && !s.equals("ro")) {
                    controllers.add(s);
                }
            }
            if (newCgroupNs) {
                String data = String.join(",", controllers);
                if (c.fsType().equals("cgroup") && controllers.stream().allMatch(s -> s.startsWith("name="))) {
                    data = "none," + data;
                }
                ops.add(new Op.Mount("cgroup", sub, c.fsType(), flags, c.fsType().equals("cgroup2") ? "" : data));
            } else {
                String key = c.fsType().equals("cgroup2") ? "" : String.join(",", controllers);
                ops.add(new Op.Bind(cgroupDirUnder(c.mountPoint(), ownCgroup(c.fsType().equals("cgroup2") ? "0" : null, key)), sub, true,
                        o.attrSet() | MountOptions.MOUNT_ATTR_NOSUID | MountOptions.MOUNT_ATTR_NODEV
                                | MountOptions.MOUNT_ATTR_NOEXEC, o.attrClr()));
            }
        }
        if ((o.flags() & MS_RDONLY) != 0) {
            ops.add(new Op.Setattr(dest, false, MOUNT_ATTR_RDONLY, 0, 0));
        }
    }

    /**
     * The container's own cgroup directory in the hierarchy mounted at mountPoint, or (when the
     * runtime made none there) the runtime's own cgroup, which the container then shares.
     */
    private String cgroupDirUnder(String mountPoint, String ownPath) {
        for (Path d : req.cgroup().dirs()) {
            if (d.startsWith(Path.of(mountPoint)) && !d.equals(Path.of(mountPoint))
                    && host.cgroupMounts().get().stream().noneMatch(m -> !m.mountPoint().equals(mountPoint)
                            && d.startsWith(Path.of(m.mountPoint())) && m.mountPoint().length() > mountPoint.length())) {
                return d.toString();
            }
        }
        return mountPoint + ownPath;
    }

    /** This process's cgroup path in a hierarchy, from /proc/self/cgroup ("id:controllers:path"). */
    private String ownCgroup(String id, String controllers) {
        for (String line : host.ownCgroups().get()) {
            String[] f = line.split(":", 3);
            if (f.length == 3 && (id != null ? f[0].equals(id) : f[1].equals(controllers))) {
                return f[2].equals("/") ? "" : f[2];
            }
        }
        return "";
    }

    private void devices(Linux linux, boolean newUser) {
        Map<String, Device> all = new java.util.LinkedHashMap<>();
        for (Device d : DEFAULT_DEVICES) {
            all.put(d.path(), d);
        }
        for (Device d : linux.devices()) {
            all.put(normalize(d.path()), d);
        }
        for (Device d : all.values()) {
            String path = normalize(d.path());
            if (newUser) {
                // mknod is not allowed in a user namespace; bind the host's node instead, as runc does.
                ops.add(new Op.Mkpath(path, 2, 0644));
                ops.add(new Op.Bind(path, path, false, 0, 0));
            } else {
                int type = switch (d.type()) {
                    case "b" -> S_IFBLK;
                    case "p" -> S_IFIFO;
                    default -> S_IFCHR;
                };
                String parent = path.substring(0, path.lastIndexOf('/'));
                if (!parent.equals("/dev")) {
                    ops.add(new Op.Mkpath(parent, 1, 0755));
                }
                ops.add(new Op.Mknod(path, type | d.fileMode().orElse(0666), makedev(d.major(), d.minor()),
                        d.uid().orElse(0L), d.gid().orElse(0L)));
            }
        }
    }

    /** The kernel's new_encode_dev layout, as glibc's makedev. */
    static long makedev(long major, long minor) {
        return ((major & 0xfffff000L) << 32) | ((major & 0xfffL) << 8) | ((minor & 0xffffff00L) << 12) | (minor & 0xffL);
    }

    /**
     * The state the runtime-spec says a seccomp listener receives, split where the PID goes (only
     * the stage knows it): parts joined with the PID between each pair.
     */
    private List<String> listenerMessage(Spec spec, Spec.Seccomp seccomp) {
        // the container's state, as hooks get it, with status "creating"
        List<String> state = hookState(spec, req.stateDir().getFileName().toString(), req.bundle());
        return List.of(listenerPrefix(spec, seccomp), ",\"state\":" + state.get(0) + "creating" + state.get(1), state.get(2) + "}");
    }

    /** The listener message up to the process's PID. */
    private static String listenerPrefix(Spec spec, Spec.Seccomp seccomp) {
        StringBuilder a = new StringBuilder("{\"ociVersion\":");
        dev.bulwark.json.Json.quote(a, spec.ociVersion());
        a.append(",\"fds\":[\"seccompFd\"],\"metadata\":");
        dev.bulwark.json.Json.quote(a, seccomp.listenerMetadata());
        a.append(",\"pid\":");
        return a.toString();
    }

    private static void credentials(List<Op> ops, Process process, Optional<SeccompProgram> seccomp, HostInfo host,
            Optional<Landlock.Ruleset> landlock) {
        Spec.User user = process.user();
        ops.addAll(Lsm.ops(process));
        CapabilitySets caps = CapabilitySets.of(process.capabilities(), host);
        long effective = caps.effective();
        // Loading a filter needs no_new_privs or CAP_SYS_ADMIN. With no_new_privs (or when the
        // process keeps CAP_SYS_ADMIN) it is the last step before execve; otherwise, as runc does,
        // it is loaded while the stage still holds CAP_SYS_ADMIN, before the user switch, and the
        // filter must then allow setgroups, setresuid, capset, prctl and execve.
        boolean late = process.noNewPrivileges() || (effective & (1L << Capabilities.number("CAP_SYS_ADMIN"))) != 0;
        // landlock_restrict_self needs no_new_privs or CAP_SYS_ADMIN too: right after no_new_privs,
        // or else first, while the stage still holds every capability; before seccomp either way,
        // so the filter need not allow the landlock calls.
        if (landlock.isPresent() && !process.noNewPrivileges()) {
            ops.addAll(landlock.get().ops());
        }
        if (seccomp.isPresent() && !late) {
            ops.add(seccompOp(seccomp.get()));
        }
        ops.add(new Op.CapsBounding(caps.bounding(), host.capLastCap()));
        ops.add(new Op.SetUser(user.uid(), user.gid(), user.additionalGids()));
        ops.add(new Op.Caps(caps.effective(), caps.permitted(), caps.inheritable(), caps.ambient()));
        if (process.noNewPrivileges()) {
            ops.add(new Op.NoNewPrivs());
            landlock.ifPresent(l -> ops.addAll(l.ops()));
        }
        if (seccomp.isPresent() && late) {
            ops.add(seccompOp(seccomp.get()));
        }
    }

    private static Op seccompOp(SeccompProgram p) {
        return new Op.Seccomp(p.flags(), p.filter(), p.needsListener());
    }

    private static String pathOf(List<String> env) {
        String path = "";
        for (String e : env) {
            if (e.startsWith("PATH=")) {
                path = e.substring(5);
            }
        }
        return path;
    }

    /** "/a//b/./c/" to "/a/b/c"; ".." stays and is resolved by the stage inside the root. */
    static String normalize(String p) {
        StringBuilder sb = new StringBuilder();
        for (String part : p.split("/")) {
            if (part.isEmpty() || part.equals(".")) {
                continue;
            }
            sb.append('/').append(part);
        }
        return sb.isEmpty() ? "/" : sb.toString();
    }
}
