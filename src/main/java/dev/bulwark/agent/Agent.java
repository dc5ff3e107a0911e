package dev.bulwark.agent;

import dev.bulwark.json.Json;
import dev.bulwark.json.JsonValue;
import dev.bulwark.runtime.Procfs;
import dev.bulwark.stage.Stage;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;

/**
 * `bulwark agent`: one process for all containers. Listens on an AF_UNIX socket for the runtime's
 * seccomp listener connections (runtime-spec: the container process state JSON with the notify
 * fd over SCM_RIGHTS), records each container's creation mounts, and supervises its fd until the
 * container is gone. A connection that says "ping" and sends no fd is answered, so a launcher can
 * tell a live agent from a stale socket file.
 */
public final class Agent {
    static final String PING = "ping";
    static final String PONG = "bulwark-agent";
    /** "supervised? ID PID": answered "yes" once the container whose init is PID is registered and kept, "no" if never. */
    public static final String SUPERVISED = "supervised?";
    private static final long SUPERVISED_WAIT_MS = 10_000;

    private final Path socket;
    private final Path helper;
    /** Every supervised notify fd: its name for the log. */
    private final ConcurrentHashMap<Integer, String> containers = new ConcurrentHashMap<>();
    /** The containers whose init registered, by ID: what exec'd processes are supervised under. */
    private final ConcurrentHashMap<String, Container> byId = new ConcurrentHashMap<>();
    /** The containers of byId whose init's fd is kept (the fd keeper has it) and served. */
    private final java.util.Set<Container> ready = ConcurrentHashMap.newKeySet();
    private Keeper keeper;

    Agent(Path socket, Path helper) {
        this.socket = socket;
        this.helper = helper;
    }

    static void log(String msg) {
        System.err.println(Instant.now() + " " + msg);
    }

    private static final boolean DEBUG = System.getenv("BULWARK_AGENT_DEBUG") != null;

    static void debug(java.util.function.Supplier<String> msg) {
        if (DEBUG) {
            log(msg.get());
        }
    }

    static Path helperBinary() {
        Path h = Stage.binary().resolveSibling("bulwark-mountctl");
        if (!Files.isExecutable(h)) {
            throw new AgentException("the agent's helper is missing: " + h + " (build with mvn package)");
        }
        return h;
    }

    /** Serves until the process is killed. */
    void serve() throws IOException {
        Files.createDirectories(socket.toAbsolutePath().getParent());
        Path lockPath = socket.resolveSibling(socket.getFileName() + ".lock");
        FileChannel lockFile = FileChannel.open(lockPath, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
        FileLock lock = lockFile.tryLock();
        if (lock == null) {
            throw new AgentException("another agent holds " + lockPath);
        }
        // we hold the lock: a socket file here is a dead agent's
        Files.deleteIfExists(socket);
        try {
            keeper = Keeper.ensure(socket, helper.resolveSibling("bulwark-fdkeeper"));
            recover();
        } catch (IOException | RuntimeException e) {
            // fail closed all the same: without a keeper, an agent's death closes the fds (ENOSYS)
            log("no fd keeper (" + e.getMessage() + "): containers will not outlive this agent's supervision");
            keeper = null;
        }
        procView();
        int srv = Native.listenUnix(socket.toString());
        log("agent " + ProcessHandle.current().pid() + " listening on " + socket + ", helper " + helper
                + (keeper == null ? "" : ", fd keeper " + keeper.proc().pid()));
        while (true) {
            int c = Native.accept(srv);
            Thread.ofPlatform().name("conn-" + c).start(() -> connection(c));
        }
    }

    /** Where the agent on socket mounts its view of /proc (see {@link FuseServer}). */
    public static Path procViewDir(Path socket) {
        return socket.resolveSibling(socket.getFileName() + ".procview");
    }

    /**
     * Serves the view of /proc that system containers get bound over their /proc files: the
     * mount an earlier agent made, with its /dev/fuse fd taken back from the keeper, or a new one.
     * Without it (no FUSE, no keeper) containers are created with the host's files, and this says so.
     */
    private void procView() {
        Path dir = procViewDir(socket);
        Path rec = keeper == null ? null : keeper.recordsDir().resolve("procview.fd");
        try {
            int fd = -1;
            boolean mounted = isProcViewMount(dir);
            if (mounted && rec != null && Files.exists(rec)) {
                try {
                    fd = Native.takeFd(keeper.proc().pid(), Integer.parseInt(Files.readString(rec).strip()));
                    log("procview: serving " + dir + " again (its /dev/fuse from the fd keeper)");
                } catch (RuntimeException | IOException e) {
                    log("procview: cannot take the earlier mount's fd back (" + e.getMessage() + "): mounting afresh");
                }
            }
            if (fd < 0) {
                if (mounted) {
                    FuseServer.detach(dir.toString()); // its server is gone: every read there fails
                }
                Files.createDirectories(dir);
                fd = FuseServer.mount(dir.toString());
                try {
                    new FuseServer(fd, null).init();
                } catch (RuntimeException e) {
                    FuseServer.detach(dir.toString());
                    FuseServer.Sys.close(fd);
                    throw e;
                }
                if (keeper != null) {
                    try {
                        if (rec != null && Files.exists(rec)) {
                            keeper.dropRaw(Integer.parseInt(Files.readString(rec).strip()));
                        }
                        int kept = keeper.keepRaw(fd);
                        Path tmp = rec.resolveSibling("procview.fd.tmp");
                        Files.writeString(tmp, kept + "\n");
                        Files.move(tmp, rec, java.nio.file.StandardCopyOption.ATOMIC_MOVE, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
                    } catch (RuntimeException | IOException e) {
                        log("procview: the fd keeper did not take /dev/fuse (" + e.getMessage() + "): the view ends with this agent");
                    }
                }
                log("procview: mounted at " + dir);
            }
            Thread.ofPlatform().daemon().name("procview").start(new FuseServer(fd, new ProcView(ProcView.Host.REAL)));
        } catch (RuntimeException | IOException e) {
            log("procview: not served (" + e.getMessage() + "): system containers see the host's /proc/meminfo, cpuinfo, stat, uptime");
        }
    }

    /** The files of the view: the name under {@link #procViewDir} and where a container gets it. */
    public static java.util.Map<String, String> procViewFiles() {
        return ProcView.FILES;
    }

    /** Whether dir is a mount point of this agent's FUSE view, from this process's mountinfo. */
    public static boolean isProcViewMount(Path dir) throws IOException {
        String want = dir.toAbsolutePath().normalize().toString();
        for (String line : Procfs.read(Path.of("/proc/self/mountinfo")).split("\n")) {
            String[] f = line.split(" ");
            int dash = line.indexOf(" - ");
            if (f.length > 4 && dash > 0 && f[4].equals(want)) {
                String[] fs = line.substring(dash + 3).split(" ");
                if (fs.length > 1 && fs[0].equals("fuse") && fs[1].equals(FuseServer.SOURCE)) {
                    return true;
                }
            }
        }
        return false;
    }

    private void connection(int c) {
        try {
            Native.Message m = Native.recvWithFds(c, 65536);
            String text = new String(m.data(), StandardCharsets.UTF_8);
            if (m.fds().length == 0) {
                if (text.startsWith(SUPERVISED + " ")) {
                    Native.send(c, (supervised(text.trim()) ? "yes\n" : "no\n").getBytes(StandardCharsets.UTF_8));
                    return;
                }
                if (text.trim().equals(PING)) {
                    Native.send(c, (PONG + " " + ProcessHandle.current().pid() + " " + containers.size() + "\n").getBytes(StandardCharsets.UTF_8));
                }
                return;
            }
            for (int i = 1; i < m.fds().length; i++) {
                Native.close(m.fds()[i]);
            }
            register(text, m.fds()[0]);
        } catch (RuntimeException e) {
            log("connection: " + e.getMessage());
        } finally {
            Native.close(c);
        }
    }

    /**
     * Whether the container named in "supervised? ID PID" is registered with PID as its init, and
     * its fd kept: create asks before it returns, since the stage's hand-off of the fd is only a
     * message and its registration here runs on a thread of its own. Waits while the init is
     * alive and not yet registered, at most SUPERVISED_WAIT_MS.
     */
    private boolean supervised(String query) {
        String[] f = query.split(" ");
        if (f.length != 3) {
            return false;
        }
        long pid;
        try {
            pid = Long.parseLong(f[2]);
        } catch (NumberFormatException e) {
            return false;
        }
        long deadline = System.nanoTime() + SUPERVISED_WAIT_MS * 1_000_000;
        while (System.nanoTime() < deadline) {
            Container c = byId.get(f[1]);
            if (c != null && c.init().pid() == pid && ready.contains(c)) {
                return true;
            }
            if (Procfs.startTime(pid).isEmpty()) {
                return false;
            }
            try {
                Thread.sleep(2);
            } catch (InterruptedException e) {
                return false;
            }
        }
        return false;
    }

    /** Containers an earlier agent supervised: their fds back from the keeper, their policy from the record. */
    private void recover() throws IOException {
        for (Keeper.Record r : keeper.records()) {
            if (!r.init().alive()) {
                keeper.drop(r);
                continue;
            }
            // An exec'd process that is gone may have left children under its filter: the fd is
            // taken back all the same, and its supervisor drops the record at the first poll
            // (POLLHUP) when no task of that filter is left.
            int fd = Native.takeFd(keeper.proc().pid(), r.keeperFd());
            Policy policy = new Policy(Mount.parse(r.mountinfo()), r.allow(), r.landlock());
            Runnable forget = () -> { };
            if (!r.exec() && !r.id().isEmpty()) {
                Container c = new Container(r.id(), r.init(), r.allow(), r.mntNs(), r.mountinfo(), policy);
                byId.put(r.id(), c);
                ready.add(c);
                forget = () -> {
                    byId.remove(r.id(), c);
                    ready.remove(c);
                };
            }
            Runnable gone = forget;
            containers.put(fd, r.name());
            log(r.name() + ": supervised again (from the fd keeper), " + policy.immutableCount() + " immutable mounts");
            Thread.ofPlatform().name("ctr-" + r.process().pid()).start(new Supervisor(r.name(), fd, r.mntNs(), policy, helper,
                    false /* the keeper does not keep trap-ns: each check reads the caller's namespaces */, () -> {
                containers.remove(fd);
                gone.run();
                keeper.drop(r);
            }));
        }
    }

    /**
     * A container this agent supervises, as its init registered it: what an exec'd process of the
     * same container is supervised under.
     */
    private record Container(String id, Keeper.Proc init, boolean allow, String mntNs, String mountinfo, Policy policy) {}

    /**
     * The state message names the container and the process whose fd it is. When that is the
     * init (state.pid = pid), its mountinfo now is what creation made. Otherwise it is a process
     * exec'd into a container the init registered already: it gets that container's creation
     * set, never the mountinfo of now, which would make the container's own later mounts
     * immutable. Fails closed: the fd is closed (trapped calls get ENOSYS).
     */
    private void register(String state, int notifyFd) {
        try {
            JsonValue.JsonObject o = (JsonValue.JsonObject) Json.parse(state);
            int pid = ((JsonValue.JsonNumber) o.members().get("pid")).value().intValueExact();
            JsonValue.JsonObject st = o.members().get("state") instanceof JsonValue.JsonObject s ? s : null;
            String id = st != null && st.members().get("id") instanceof JsonValue.JsonString i ? i.value() : "pid " + pid;
            long initPid = st != null && st.members().get("pid") instanceof JsonValue.JsonNumber n ? n.value().longValueExact() : pid;
            String metadata = o.members().get("metadata") instanceof JsonValue.JsonString s ? s.value() : "";
            boolean allow = allowUnmounts(metadata);
            boolean nsTrapped = nsTrapped(metadata);
            Keeper.Proc proc = new Keeper.Proc(pid, Procfs.startTime(pid).orElseThrow(() -> new AgentException("pid " + pid + " is gone")));
            if (initPid != pid) {
                registerExec(id, initPid, proc, allow, nsTrapped, notifyFd);
                return;
            }
            String mountinfo = Procfs.read(Path.of("/proc", Integer.toString(pid), "mountinfo"));
            List<Mount> mounts = Mount.parse(mountinfo);
            String mntNs = Files.readSymbolicLink(Path.of("/proc", Integer.toString(pid), "ns", "mnt")).toString();
            Policy policy = new Policy(mounts, allow, landlocked(metadata));
            Container c = new Container(id, proc, allow, mntNs, mountinfo, policy);
            String name = id + " (pid " + pid + ")";
            // known before its supervisor runs, so the supervisor's end always forgets it
            byId.put(id, c);
            supervise(c, proc, name, allow, policy, nsTrapped, notifyFd);
            ready.add(c);
            if (byId.get(id) != c) {
                ready.remove(c); // its supervisor has ended already
            }
            log(name + ": registered, " + mounts.size() + " immutable mounts, allow-immutable-unmounts=" + allow);
        } catch (RuntimeException | IOException e) {
            // fail closed: without its listener every trapped call of this container gets ENOSYS
            log("cannot register a container (" + e.getMessage() + "): closing its notify fd");
            Native.close(notifyFd);
        }
    }

    private void registerExec(String id, long initPid, Keeper.Proc proc, boolean allow, boolean nsTrapped, int notifyFd) {
        Container c = byId.get(id);
        if (c == null || c.init().pid() != initPid || !c.init().alive()) {
            throw new AgentException("process " + proc.pid() + " exec'd into container " + id + " (init pid " + initPid
                    + "), which this agent does not supervise" + (c == null ? "" : " (its init here is pid " + c.init().pid()
                    + (c.init().alive() ? ")" : ", gone)")) + ": its creation mounts are unknown");
        }
        // the container's setting decides; a stricter one in the message is honoured too
        boolean strict = c.allow() && !allow;
        Policy policy = strict ? c.policy().withoutUnmounts() : c.policy();
        String name = id + " (exec pid " + proc.pid() + ")";
        supervise(c, proc, name, c.allow() && allow, policy, nsTrapped, notifyFd);
        log(name + ": registered under the container's " + policy.immutableCount() + " creation mounts, allow-immutable-unmounts="
                + (c.allow() && allow));
    }

    /** Hands the fd to the keeper (so a restarted agent supervises it again) and serves it. */
    private void supervise(Container c, Keeper.Proc proc, String name, boolean allow, Policy policy, boolean nsTrapped, int notifyFd) {
        Keeper k = keeper;
        Keeper.Record rec = null;
        if (k != null) {
            try {
                rec = k.keep(notifyFd, c.init(), proc, c.id(), allow, c.mntNs(), name, c.mountinfo(), policy.landlocked());
            } catch (IOException | RuntimeException e) {
                log(name + ": the fd keeper did not take the fd (" + e.getMessage() + "): not supervised after a restart");
            }
        }
        Keeper.Record kept = rec;
        boolean init = proc.equals(c.init());
        containers.put(notifyFd, name);
        Thread.ofPlatform().name("ctr-" + proc.pid()).start(new Supervisor(name, notifyFd, c.mntNs(), policy, helper, nsTrapped, () -> {
            containers.remove(notifyFd);
            if (init) {
                byId.remove(c.id(), c);
                ready.remove(c);
            }
            if (kept != null) {
                k.drop(kept);
            }
        }));
    }

    /**
     * listenerMetadata: "allow-immutable-unmounts=true|false" (default true), "landlock=on" when
     * the container's processes are confined by Landlock, and "trap-ns=on" when its filter traps
     * setns and unshare to the agent; anything else is refused.
     */
    static boolean allowUnmounts(String metadata) {
        boolean allow = true;
        for (String kv : metadata.split("[,\\s]+")) {
            if (kv.isEmpty()) {
                continue;
            }
            switch (kv) {
                case "allow-immutable-unmounts=true" -> allow = true;
                case "allow-immutable-unmounts=false" -> allow = false;
                case "landlock=on", "trap-ns=on" -> { }
                default -> throw new AgentException("listenerMetadata: unknown setting \"" + kv
                        + "\", expected allow-immutable-unmounts=true or =false, landlock=on or trap-ns=on");
            }
        }
        return allow;
    }

    /** listenerMetadata says "trap-ns=on": every setns and unshare of the container's comes to the agent first. */
    static boolean nsTrapped(String metadata) {
        return List.of(metadata.split("[,\\s]+")).contains("trap-ns=on");
    }

    /** listenerMetadata says "landlock=on": Landlock refuses the container's mounts, and so does the agent. */
    static boolean landlocked(String metadata) {
        return List.of(metadata.split("[,\\s]+")).contains("landlock=on");
    }
}
