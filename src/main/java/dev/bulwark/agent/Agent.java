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

    private final Path socket;
    private final Path helper;
    private final ConcurrentHashMap<Integer, String> containers = new ConcurrentHashMap<>();
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
        int srv = Native.listenUnix(socket.toString());
        log("agent " + ProcessHandle.current().pid() + " listening on " + socket + ", helper " + helper
                + (keeper == null ? "" : ", fd keeper " + keeper.proc().pid()));
        while (true) {
            int c = Native.accept(srv);
            Thread.ofPlatform().name("conn-" + c).start(() -> connection(c));
        }
    }

    private void connection(int c) {
        try {
            Native.Message m = Native.recvWithFds(c, 65536);
            String text = new String(m.data(), StandardCharsets.UTF_8);
            if (m.fds().length == 0) {
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

    /** Containers an earlier agent supervised: their fds back from the keeper, their policy from the record. */
    private void recover() throws IOException {
        for (Keeper.Record r : keeper.records()) {
            if (!r.init().alive()) {
                keeper.drop(r);
                continue;
            }
            int fd = Native.takeFd(keeper.proc().pid(), r.keeperFd());
            Policy policy = new Policy(Mount.parse(r.mountinfo()), r.allow());
            containers.put(fd, r.name());
            log(r.name() + ": supervised again (from the fd keeper), " + policy.immutableCount() + " immutable mounts");
            Thread.ofPlatform().name("ctr-" + r.init().pid()).start(new Supervisor(r.name(), fd, r.mntNs(), policy, helper, () -> {
                containers.remove(fd);
                keeper.drop(r);
            }));
        }
    }

    /** The state message names the container and its init PID; its mountinfo now is what creation made. */
    private void register(String state, int notifyFd) {
        try {
            JsonValue.JsonObject o = (JsonValue.JsonObject) Json.parse(state);
            int pid = ((JsonValue.JsonNumber) o.members().get("pid")).value().intValueExact();
            String id = o.members().get("state") instanceof JsonValue.JsonObject s && s.members().get("id") instanceof JsonValue.JsonString i
                    ? i.value() : "pid " + pid;
            boolean allow = allowUnmounts(o.members().get("metadata") instanceof JsonValue.JsonString s ? s.value() : "");
            Keeper.Proc init = new Keeper.Proc(pid, Keeper.startTime(pid).orElseThrow(() -> new AgentException("pid " + pid + " is gone")));
            String mountinfo = Procfs.read(Path.of("/proc", Integer.toString(pid), "mountinfo"));
            List<Mount> mounts = Mount.parse(mountinfo);
            String mntNs = Files.readSymbolicLink(Path.of("/proc", Integer.toString(pid), "ns", "mnt")).toString();
            Policy policy = new Policy(mounts, allow);
            String name = id + " (pid " + pid + ")";
            Keeper k = keeper;
            Keeper.Record rec = null;
            if (k != null) {
                try {
                    rec = k.keep(notifyFd, init, allow, mntNs, name, mountinfo);
                } catch (IOException | RuntimeException e) {
                    log(name + ": the fd keeper did not take the fd (" + e.getMessage() + "): not supervised after a restart");
                }
            }
            Keeper.Record kept = rec;
            containers.put(notifyFd, name);
            log(name + ": registered, " + mounts.size() + " immutable mounts, allow-immutable-unmounts=" + allow);
            Thread.ofPlatform().name("ctr-" + id).start(new Supervisor(name, notifyFd, mntNs, policy, helper, () -> {
                containers.remove(notifyFd);
                if (kept != null) {
                    k.drop(kept);
                }
            }));
        } catch (RuntimeException | IOException e) {
            // fail closed: without its listener every trapped call of this container gets ENOSYS
            log("cannot register a container (" + e.getMessage() + "): closing its notify fd");
            Native.close(notifyFd);
        }
    }

    /** listenerMetadata: "allow-immutable-unmounts=true|false" (default true); anything else is refused. */
    static boolean allowUnmounts(String metadata) {
        boolean allow = true;
        for (String kv : metadata.split("[,\\s]+")) {
            if (kv.isEmpty()) {
                continue;
            }
            switch (kv) {
                case "allow-immutable-unmounts=true" -> allow = true;
                case "allow-immutable-unmounts=false" -> allow = false;
                default -> throw new AgentException("listenerMetadata: unknown setting \"" + kv
                        + "\", expected allow-immutable-unmounts=true or =false");
            }
        }
        return allow;
    }
}
