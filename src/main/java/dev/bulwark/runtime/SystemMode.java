package dev.bulwark.runtime;

import dev.bulwark.spec.Spec;
import dev.bulwark.spec.Spec.IdMapping;
import dev.bulwark.spec.Spec.Linux;
import dev.bulwark.spec.Spec.Namespace;
import dev.bulwark.spec.Spec.SeccompSyscall;
import dev.bulwark.spec.SpecException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Supplier;

/**
 * System containers (Sysbox's kind): what turns an engine's config into one. A user namespace
 * always, with the container's own 65536-ID range; full capabilities, which count only inside
 * it; the rootfs and bind mounts ID-mapped (the planner does that); and a seccomp filter that
 * allows what the kernel checks against the user namespace, keeps out what only helps an escape,
 * and traps the mount family to the agent, which keeps the mounts made at creation immutable.
 */
public final class SystemMode {
    /** Annotation selecting system mode for one container ("true"). */
    public static final String ANNOTATION = "dev.bulwark.system";
    /** Annotation that, "false", makes the mounts made at creation impossible to unmount. */
    public static final String ALLOW_UNMOUNTS = "dev.bulwark.allow-immutable-unmounts";
    /** Annotation: "private" gives a container its own user namespace and ID range without system mode. */
    public static final String USERNS = "dev.bulwark.userns";
    public static final Path DEFAULT_AGENT_SOCKET = Path.of("/run/bulwark/agent.sock");
    public static final Path DEFAULT_CONFIG = Path.of("/etc/bulwark/system.conf");

    /**
     * Trapped to the agent: the calls that change or remove an existing mount, and those that make
     * a new one (a new proc or sysfs gets the container's masks); sysinfo and sched_getaffinity,
     * which it answers from the container's limits (`free`, `nproc`); setns and unshare, which it
     * lets go on once its workers know that a task's namespaces may change (so they need not read
     * a known caller's namespaces at every call; "trap-ns=on" in the listener's metadata says so).
     */
    static final List<String> NOTIFY = List.of(
            "mount", "umount2", "umount", "move_mount", "open_tree", "mount_setattr", "fspick", "fsopen",
            "sysinfo", "sched_getaffinity", "setns", "unshare");
    /**
     * Allowed although Docker's profile gates them on CAP_SYS_ADMIN (or CAP_SYS_CHROOT,
     * CAP_SYS_PTRACE, CAP_SYS_BOOT): the kernel checks each against the namespace the caller's
     * user namespace owns. fsconfig and fsmount only finish what a trapped fsopen began. Docker
     * refuses keyctl, add_key and request_key because keys were once global; since Linux 5.3
     * keyring names belong to the user namespace, and a container's uids are its range's own, so
     * its keys are its own (runc inside, as dockerd's runtime, needs a session keyring).
     */
    static final List<String> ALLOW = List.of(
            "clone", "clone3", "sethostname", "setdomainname", "chroot", "pivot_root",
            "fsconfig", "fsmount", "reboot", "ptrace", "kcmp", "pidfd_getfd", "process_vm_readv",
            "process_vm_writev", "keyctl", "add_key", "request_key");
    /** Refused whatever the engine's profile says: they give a container nothing but a way out. */
    static final List<String> DENY = List.of(
            "bpf", "perf_event_open", "open_by_handle_at", "name_to_handle_at", "kexec_load", "kexec_file_load",
            "init_module", "finit_module", "delete_module", "syslog", "lookup_dcookie", "iopl", "ioperm", "acct",
            "swapon", "swapoff", "quotactl", "quotactl_fd", "settimeofday", "clock_settime", "stime",
            "fanotify_init", "userfaultfd");
    private static final int EPERM = 1;

    private SystemMode() {}

    /** Checks the agent is there before a system container is created; the lead's AgentLauncher starts it. */
    @FunctionalInterface
    public interface AgentStarter {
        /** Returns once a listener accepts on socket, or throws naming what is wrong. */
        void ensureRunning(Path socket);

        /** Starts nothing: the socket must be there already. */
        AgentStarter PRESENT = SystemMode::requireSocket;
    }

    /**
     * The runtime-wide settings: --system, --allow-immutable-unmounts, --agent-socket, and the
     * allocator from --system-config (default /etc/bulwark/system.conf).
     */
    public record Options(
            boolean system, Optional<Boolean> allowImmutableUnmounts, Path agentSocket, Supplier<IdRanges.Config> rangeConfig,
            AgentStarter agent) {
        public Options(boolean system, Optional<Boolean> allowImmutableUnmounts, Path agentSocket, IdRanges.Config ranges,
                AgentStarter agent) {
            this(system, allowImmutableUnmounts, agentSocket, () -> ranges, agent);
        }

        public static Options defaults() {
            return new Options(false, Optional.empty(), DEFAULT_AGENT_SOCKET, IdRanges.Config.defaults(), AgentStarter.PRESENT);
        }

        /** The allocator's settings, read when a container with its own range is created, not on every command. */
        public IdRanges.Config ranges() {
            return rangeConfig.get();
        }
    }

    /** The file in a container's state directory that records what create applied (see {@link Applied}). */
    public static final String MODE_FILE = "mode";

    /**
     * What create applied to a container with its own ID range, recorded in STATE/mode so that
     * exec rebuilds the same config: the runtime-wide --system flag that may have selected system
     * mode, --allow-immutable-unmounts and --agent-socket need not be given to exec again (and
     * must not differ: only the agent that supervises the container's init knows its mounts).
     * The file is "private", or "system allow-immutable-unmounts=BOOL" and "agent-socket=PATH".
     */
    public record Applied(boolean system, boolean allowUnmounts, Path agentSocket) {
        public static Applied privateUserns() {
            return new Applied(false, false, DEFAULT_AGENT_SOCKET);
        }

        public static Applied system(Spec spec, Options o) {
            return new Applied(true, SystemMode.allowUnmounts(spec, o), o.agentSocket());
        }

        public byte[] encode() {
            String s = system ? "system allow-immutable-unmounts=" + allowUnmounts + "\nagent-socket=" + agentSocket + "\n"
                    : "private\n";
            return s.getBytes(StandardCharsets.UTF_8);
        }

        /** The record in a container's state directory, if create wrote one; a malformed one is an error. */
        public static Optional<Applied> read(Path stateDir) {
            Path f = stateDir.resolve(MODE_FILE);
            String text;
            try {
                text = Files.readString(f, StandardCharsets.UTF_8);
            } catch (NoSuchFileException e) {
                return Optional.empty();
            } catch (IOException e) {
                throw new RuntimeFailure("read " + f + ": " + e.getMessage(), e);
            }
            List<String> lines = text.lines().toList();
            if (lines.equals(List.of("private"))) {
                return Optional.of(privateUserns());
            }
            if (lines.size() == 2 && lines.get(1).startsWith("agent-socket=/")) {
                Path socket = Path.of(lines.get(1).substring("agent-socket=".length()));
                switch (lines.get(0)) {
                    case "system allow-immutable-unmounts=true" -> {
                        return Optional.of(new Applied(true, true, socket));
                    }
                    case "system allow-immutable-unmounts=false" -> {
                        return Optional.of(new Applied(true, false, socket));
                    }
                    default -> { }
                }
            }
            throw new RuntimeFailure(f + ": expected \"private\", or \"system allow-immutable-unmounts=true|false\" and"
                    + " \"agent-socket=PATH\", not \"" + text.strip().replace("\n", "\\n") + "\"");
        }

        /** The config create made from the engine's, for a range starting at hostStart. */
        public Spec apply(Spec engineSpec, long hostStart, HostInfo host) {
            if (!system) {
                return applyPrivateUserns(engineSpec, hostStart, host);
            }
            Options o = new Options(true, Optional.of(allowUnmounts), agentSocket, IdRanges.Config.defaults(), AgentStarter.PRESENT);
            return SystemMode.apply(engineSpec, hostStart, o, host);
        }
    }

    /** Whether a container is a system container: the annotation or the runtime-wide flag. */
    public static boolean selected(Spec spec, Options o) {
        return o.system() || "true".equals(spec.annotations().get(ANNOTATION));
    }

    /** allow-immutable-unmounts: true unless the annotation or the flag says false (the stricter wins). */
    public static boolean allowUnmounts(Spec spec, Options o) {
        String a = spec.annotations().getOrDefault(ALLOW_UNMOUNTS, "true");
        if (!a.equals("true") && !a.equals("false")) {
            throw new SpecException("annotations." + ALLOW_UNMOUNTS, "must be \"true\" or \"false\", not \"" + a + "\"");
        }
        return a.equals("true") && o.allowImmutableUnmounts().orElse(true);
    }

    /** Fail closed: without the agent's socket the mount syscalls would be unsupervised. */
    public static void requireSocket(Path socket) {
        if (!Files.exists(socket)) {
            throw new RuntimeFailure("the Bulwark agent is not running (no socket at " + socket + "): a system container's"
                    + " mount calls must be supervised, so it is not created; start `bulwark agent` or pass --agent-socket");
        }
        try {
            if ((((Integer) Files.getAttribute(socket, "unix:mode")) & 0170000) != 0140000) {
                throw new RuntimeFailure("agent socket " + socket + " is not a unix socket");
            }
        } catch (IOException e) {
            throw new RuntimeFailure("stat agent socket " + socket + ": " + e.getMessage(), e);
        }
    }

    /** How long create waits for the agent's answer (the agent itself gives up after 10 s); tests shorten it. */
    static volatile long supervisedAnswerNs = 15_000_000_000L;

    /**
     * Returns once the agent on socket supervises container id with init pid: its notify fd
     * registered and kept. The stage's hand-off is a message the agent registers on a thread of
     * its own, so without this a create could return, and an exec or the agent's restart come,
     * before the agent knows the container. Fails closed: an agent that says no, or does not
     * answer (an older agent), fails the create.
     */
    public static void awaitSupervised(Path socket, String id, long pid) {
        String asked = "supervised? " + id + " " + pid + "\n";
        String answer;
        try (java.nio.channels.SocketChannel ch = java.nio.channels.SocketChannel.open(java.net.StandardProtocolFamily.UNIX);
                java.nio.channels.Selector sel = java.nio.channels.Selector.open()) {
            ch.connect(java.net.UnixDomainSocketAddress.of(socket));
            ch.write(java.nio.ByteBuffer.wrap(asked.getBytes(StandardCharsets.UTF_8)));
            // The agent answers within SUPERVISED_WAIT (10 s); one that hangs fails the create too.
            ch.configureBlocking(false);
            ch.register(sel, java.nio.channels.SelectionKey.OP_READ);
            long deadline = System.nanoTime() + supervisedAnswerNs;
            java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(16);
            while (b.hasRemaining()) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    break;
                }
                sel.select(Math.max(1, left / 1_000_000));
                sel.selectedKeys().clear();
                if (ch.read(b) < 0 || (b.position() > 0 && b.get(b.position() - 1) == '\n')) {
                    break;
                }
            }
            answer = new String(b.array(), 0, b.position(), StandardCharsets.UTF_8).strip();
            if (answer.isEmpty() && System.nanoTime() - deadline >= 0) {
                answer = "none within " + supervisedAnswerNs / 1_000_000 + " ms";
            }
        } catch (IOException e) {
            throw new RuntimeFailure("ask the agent on " + socket + " whether it supervises container \"" + id + "\": "
                    + e.getMessage(), e);
        }
        if (!answer.equals("yes")) {
            throw new RuntimeFailure("the agent on " + socket + " does not supervise container \"" + id + "\" (init " + pid
                    + ", answer \"" + answer + "\"; see its log" + (answer.isEmpty() ? ", or restart an agent older than this runtime" : "")
                    + "): its mount calls would fail, so it is not created");
        }
    }

    /**
     * The config a system container runs with: hostStart is the first host ID of its range.
     * An existing user namespace entry keeps its place, and its mappings are replaced by the range.
     */
    public static Spec apply(Spec spec, long hostStart, Options o, HostInfo host) {
        return isolate(spec, hostStart, true, o, host);
    }

    /**
     * A container with a private user namespace (annotation {@value #USERNS} = "private", what
     * `bulwark run IMAGE` asks for by default): its own exclusive range and ID-mapped mounts as a
     * system container has, but the engine's capabilities and seccomp filter, and no agent.
     */
    public static boolean privateUserns(Spec spec) {
        String v = spec.annotations().getOrDefault(USERNS, "");
        if (!v.isEmpty() && !v.equals("private")) {
            throw new SpecException("annotations." + USERNS, "the only value is \"private\", not \"" + v + "\"");
        }
        return v.equals("private");
    }

    /** The config of a container with a private user namespace: see {@link #privateUserns}. */
    public static Spec applyPrivateUserns(Spec spec, long hostStart, HostInfo host) {
        return isolate(spec, hostStart, false, Options.defaults(), host);
    }

    private static Spec isolate(Spec spec, long hostStart, boolean system, Options o, HostInfo host) {
        String what = system ? "a system container" : "a container with a private user namespace";
        Linux linux = spec.linux().orElseThrow(() -> new SpecException("linux", what + " needs a linux object"));
        List<Namespace> ns = new ArrayList<>();
        boolean user = false;
        boolean mount = false;
        for (int i = 0; i < linux.namespaces().size(); i++) {
            Namespace n = linux.namespaces().get(i);
            if (n.type().equals("user")) {
                if (!n.path().isEmpty()) {
                    throw new SpecException("linux.namespaces[" + i + "].path", what + " gets a new user namespace"
                            + " with its own ID range; it cannot join " + n.path());
                }
                user = true;
            }
            if (n.type().equals("mount")) {
                if (!n.path().isEmpty()) {
                    throw new SpecException("linux.namespaces[" + i + "].path", what + " needs a new mount"
                            + " namespace for its ID-mapped mounts; it cannot join " + n.path());
                }
                mount = true;
            }
            ns.add(n);
        }
        if (!mount) {
            throw new SpecException("linux.namespaces", what + " needs a new mount namespace");
        }
        if (!user) {
            ns.add(new Namespace("user", ""));
        }
        // A system container sees its own cgroup tree as the root, as on a host (Docker shares
        // the host's cgroup namespace on cgroup v1 unless told otherwise).
        if (ns.stream().noneMatch(n -> n.type().equals("cgroup"))) {
            ns.add(new Namespace("cgroup", ""));
        }
        List<IdMapping> map = List.of(new IdMapping(0, hostStart, IdRanges.SIZE));
        Optional<Spec.Seccomp> seccomp = system
                ? Optional.of(seccomp(linux.seccomp(), o.agentSocket(), allowUnmounts(spec, o), Landlock.of(spec, host).isPresent()))
                : linux.seccomp();
        Linux l = new Linux(ns, map, map, linux.timeOffsets(), linux.devices(), linux.cgroupsPath(), linux.resources(),
                linux.rootfsPropagation(), linux.maskedPaths(), system ? readonlyPaths(linux.readonlyPaths()) : linux.readonlyPaths(),
                sysctls(linux.sysctl()), seccomp,
                linux.mountLabel(), linux.personality());
        Optional<Spec.Process> process = system ? spec.process().map(p -> withCapabilities(p, host)) : spec.process();
        return new Spec(spec.ociVersion(), spec.root(), process, spec.hostname(), spec.domainname(),
                system ? writableCgroups(spec.mounts()) : spec.mounts(), spec.hooks(), spec.annotations(), Optional.of(l));
    }

    /**
     * The config's mounts with cgroupfs read-write (engines mount it read-only): a system
     * container's cgroup is delegated to its root (CgroupManager.delegate), who makes child
     * cgroups in it as systemd and dockerd do on a host. Its cgroup namespace shows it only its
     * own subtree, and the files it does not own stay read-only to it.
     */
    static List<Spec.Mount> writableCgroups(List<Spec.Mount> mounts) {
        List<Spec.Mount> out = new ArrayList<>();
        for (Spec.Mount m : mounts) {
            if (m.type().equals("cgroup") || m.type().equals("cgroup2")) {
                List<String> opts = new ArrayList<>(m.options().stream().filter(x -> !x.equals("ro")).toList());
                if (!opts.contains("rw")) {
                    opts.add("rw");
                }
                m = new Spec.Mount(m.destination(), m.type(), m.source(), opts, m.uidMappings(), m.gidMappings());
            }
            out.add(m);
        }
        return out;
    }

    /**
     * The config's mounts, then a read-only bind of each file of the agent's view of /proc
     * ({@code bulwark agent}, docs/system-containers.md) over the container's own: /proc/meminfo,
     * cpuinfo, stat, uptime and /sys/devices/system/cpu/online, computed for the reader from its
     * cgroup's limits. Only where the config mounts /proc (or /sys), does not mount or mask that
     * file itself, and the agent has its view mounted; otherwise the files are the kernel's.
     *
     * <p>Called once the agent runs: a request to the view while no agent serves it waits for
     * one, so this looks only at mountinfo and never touches the view's files.
     */
    public static Spec withProcView(Spec spec, Path agentSocket) {
        List<Spec.Mount> mounts = spec.mounts();
        List<String> masked = spec.linux().map(Linux::maskedPaths).orElse(List.of());
        Path dir = dev.bulwark.agent.Agent.procViewDir(agentSocket);
        Map<String, String> files = dev.bulwark.agent.Agent.procViewFiles();
        boolean proc = mounts.stream().anyMatch(m -> m.destination().equals("/proc") && m.type().equals("proc"));
        boolean sys = mounts.stream().anyMatch(m -> m.destination().equals("/sys"));
        try {
            if (!proc || !dev.bulwark.agent.Agent.isProcViewMount(dir)) {
                return spec;
            }
        } catch (IOException e) {
            return spec;
        }
        List<Spec.Mount> out = new ArrayList<>(mounts);
        for (Map.Entry<String, String> f : new java.util.TreeMap<>(files).entrySet()) {
            String dest = f.getValue();
            if ((dest.startsWith("/sys/") && !sys) || masked.contains(dest)
                    || mounts.stream().anyMatch(m -> m.destination().equals(dest))) {
                continue;
            }
            out.add(new Spec.Mount(dest, "bind", dir.resolve(f.getKey()).toString(),
                    List.of("bind", "ro", "nosuid", "nodev", "noexec"), List.of(), List.of()));
        }
        return new Spec(spec.ociVersion(), spec.root(), spec.process(), spec.hostname(), spec.domainname(), out,
                spec.hooks(), spec.annotations(), spec.linux());
    }

    /**
     * The engine's read-only paths less /proc/sys: a system container's root may write the sysctls
     * of the namespaces it owns (net.*, the IPC ones, user.max_*), as on a host. The kernel checks
     * each file against its owner: those of the container's namespaces belong to its root, every
     * other one to the host's (uid 0 of the initial user namespace, which the container's range
     * never maps), so they stay read-only to it.
     */
    static List<String> readonlyPaths(List<String> in) {
        return in.stream().filter(p -> !p.equals("/proc/sys")).toList();
    }

    /**
     * Docker asks for net.ipv4.ping_group_range "0 2147483647" (every group may ping) when it
     * does not know of a user namespace; in one, the kernel takes only mapped groups (EINVAL
     * otherwise), so the range is cut to the container's 0-65535, which means the same there.
     */
    static java.util.Map<String, String> sysctls(java.util.Map<String, String> in) {
        String ping = in.get("net.ipv4.ping_group_range");
        if (ping == null) {
            return in;
        }
        String[] f = ping.strip().split("\\s+");
        if (f.length != 2) {
            throw new SpecException("linux.sysctl.net.ipv4.ping_group_range", "expected two group IDs, not \"" + ping + "\"");
        }
        long max = IdRanges.SIZE - 1;
        java.util.Map<String, String> out = new java.util.LinkedHashMap<>(in);
        try {
            out.put("net.ipv4.ping_group_range", Math.min(Long.parseLong(f[0]), max) + " " + Math.min(Long.parseLong(f[1]), max));
        } catch (NumberFormatException e) {
            throw new SpecException("linux.sysctl.net.ipv4.ping_group_range", "expected two group IDs, not \"" + ping + "\"");
        }
        return out;
    }

    /**
     * The one capability a system container is not given: the kernel checks CAP_SYS_RAWIO
     * (I/O ports, /dev/mem, raw block and SCSI commands, FIBMAP, debugfs and tracefs) only
     * against the host's user namespace, so in the container's it grants nothing. Holding it
     * only misleads software that asks: systemd would start debugfs, tracefs and configfs mounts
     * and e2scrub, which the kernel then refuses, and report them failed.
     */
    static final String HOST_ONLY = "CAP_SYS_RAWIO";

    /**
     * Root in a system container has every capability but {@link #HOST_ONLY} in every set, as on a host; in its own
     * user namespace they reach only what that namespace owns. Another user keeps the engine's
     * sets, with a full bounding set (so setuid programs and sudo work as on a host).
     */
    static Spec.Process withCapabilities(Spec.Process p, HostInfo host) {
        List<String> all = Capabilities.NAMES.subList(0, Math.min(Capabilities.NAMES.size(), host.capLastCap() + 1)).stream()
                .filter(c -> !c.equals(HOST_ONLY)).toList();
        Spec.Capabilities c = p.user().uid() == 0
                ? new Spec.Capabilities(all, all, all, all, all)
                : p.capabilities().map(e -> new Spec.Capabilities(all, e.effective(), e.inheritable(), e.permitted(), e.ambient()))
                        .orElse(new Spec.Capabilities(all, List.of(), List.of(), List.of(), List.of()));
        return new Spec.Process(p.terminal(), p.user(), p.args(), p.env(), p.cwd(), Optional.of(c), p.rlimits(),
                p.noNewPrivileges(), p.apparmorProfile(), p.oomScoreAdj(), p.selinuxLabel(), p.landlock());
    }

    /**
     * The engine's profile (or allow-all when it has none) with three rules put first: the first
     * unconditional rule for a syscall wins in the compiler (as in libseccomp), so these decide
     * over anything the engine's profile says about the same calls.
     */
    static Spec.Seccomp seccomp(Optional<Spec.Seccomp> engine, Path agentSocket, boolean allowUnmounts, boolean landlock) {
        Spec.Seccomp base = engine.orElse(new Spec.Seccomp("SCMP_ACT_ALLOW", Optional.empty(), List.of(), List.of(), "", "",
                List.of()));
        if (!base.listenerPath().isEmpty()) {
            throw new SpecException("linux.seccomp.listenerPath", "a system container's mount calls go to the Bulwark agent;"
                    + " the config names another listener (" + base.listenerPath() + ")");
        }
        List<SeccompSyscall> rules = new ArrayList<>();
        rules.add(new SeccompSyscall(NOTIFY, "SCMP_ACT_NOTIFY", Optional.empty(), List.of()));
        rules.add(new SeccompSyscall(DENY, "SCMP_ACT_ERRNO", Optional.of(EPERM), List.of()));
        rules.add(new SeccompSyscall(ALLOW, "SCMP_ACT_ALLOW", Optional.empty(), List.of()));
        rules.addAll(base.syscalls());
        return new Spec.Seccomp(base.defaultAction(), base.defaultErrnoRet(), base.architectures(), base.flags(),
                agentSocket.toString(), "allow-immutable-unmounts=" + allowUnmounts + " trap-ns=on" + (landlock ? " landlock=on" : ""), rules);
    }

    /**
     * The allocator's settings from a system config file: "key = value" lines, '#' comments.
     * Keys: id-range-state (directory), subuid, subgid (files), on-exhausted (fail or share).
     * A missing file at the default path means the defaults; one named explicitly must exist.
     */
    public static IdRanges.Config readConfig(Path file, boolean explicit) {
        IdRanges.Config d = IdRanges.Config.defaults();
        List<String> lines;
        try {
            lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            if (explicit) {
                throw new RuntimeFailure("system config " + file + " does not exist");
            }
            return d;
        } catch (IOException e) {
            throw new RuntimeFailure("read " + file + ": " + e.getMessage(), e);
        }
        Path state = d.stateDir();
        Path subuid = d.subuid();
        Path subgid = d.subgid();
        boolean share = d.share();
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i).strip();
            if (line.isEmpty() || line.startsWith("#")) {
                continue;
            }
            int eq = line.indexOf('=');
            String where = file + " line " + (i + 1);
            if (eq < 0) {
                throw new RuntimeFailure(where + ": expected key = value, not \"" + line + "\"");
            }
            String key = line.substring(0, eq).strip();
            String value = line.substring(eq + 1).strip();
            switch (key) {
                case "id-range-state" -> state = absolute(where, value);
                case "subuid" -> subuid = absolute(where, value);
                case "subgid" -> subgid = absolute(where, value);
                case "on-exhausted" -> {
                    if (!value.equals("fail") && !value.equals("share")) {
                        throw new RuntimeFailure(where + ": on-exhausted must be fail or share, not \"" + value + "\"");
                    }
                    share = value.equals("share");
                }
                default -> throw new RuntimeFailure(where + ": unknown key \"" + key
                        + "\" (expected id-range-state, subuid, subgid or on-exhausted)");
            }
        }
        return new IdRanges.Config(state, subuid, subgid, share);
    }

    private static Path absolute(String where, String value) {
        if (!value.startsWith("/")) {
            throw new RuntimeFailure(where + ": \"" + value + "\" must be an absolute path");
        }
        return Path.of(value);
    }
}
