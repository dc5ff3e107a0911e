package dev.bulwark.planner;

import dev.bulwark.cli.Main;
import dev.bulwark.runtime.Invocation;
import dev.bulwark.runtime.Procfs;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.UserPrincipal;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The warm planner: accepts clients on a unix socket and serves each call on a thread of its
 * own, with the same code the direct path runs (Main.execute), under the caller's working
 * directory, environment and PID ({@link Invocation}). Calls share nothing but this JVM's caches
 * of immutable facts; every container's state is on disk under its --root, so a planner
 * restart loses nothing.
 *
 * <p>Refused (the client then runs the call itself, on the direct path): a peer whose uid is not
 * the planner's (SO_PEERCRED), a client of another build, a client in other mount, PID or user
 * namespaces (its paths and PIDs would mean other things here). Commands that need the caller's
 * own process (demo, audit, the agent, events, update from stdin) are sent back as DIRECT.
 */
final class PlannerServer {
    /** The commands the planner runs; everything else runs on the direct path. */
    static final Set<String> SERVED = Set.of("create", "start", "state", "kill", "delete", "list", "ps", "pause", "resume",
            "features", "run", "exec", "spec", "images", "inspect", "rmi", "import", "export", "unpack", "pull", "push", "sign",
            "verify", "key", "policy");

    private final String buildId;
    private final List<String> namespaces;
    private final UserPrincipal self;
    private final long idleMillis;
    private final AtomicInteger active = new AtomicInteger();
    private final AtomicLong lastActivity = new AtomicLong(System.nanoTime());
    private final AtomicLong served = new AtomicLong();

    PlannerServer(String buildId, long idleMillis) throws IOException {
        this.buildId = buildId;
        this.namespaces = ownNamespaces();
        this.self = Files.getOwner(Path.of("/proc/self"));
        this.idleMillis = idleMillis;
    }

    static List<String> ownNamespaces() throws IOException {
        return List.of(Files.readSymbolicLink(Path.of("/proc/self/ns/mnt")).toString(),
                Files.readSymbolicLink(Path.of("/proc/self/ns/pid")).toString(),
                Files.readSymbolicLink(Path.of("/proc/self/ns/user")).toString());
    }

    int active() {
        return active.get();
    }

    long served() {
        return served.get();
    }

    /** Whether the planner has been idle (no call open) for longer than its idle time. */
    boolean idle() {
        return idleMillis > 0 && active.get() == 0 && (System.nanoTime() - lastActivity.get()) / 1_000_000 > idleMillis;
    }

    /** Accepts until the channel is closed. */
    void serve(ServerSocketChannel server) throws IOException {
        while (server.isOpen()) {
            SocketChannel c;
            try {
                c = server.accept();
            } catch (java.nio.channels.AsynchronousCloseException e) {
                return;
            }
            active.incrementAndGet();
            lastActivity.set(System.nanoTime());
            Thread.ofPlatform().name("planner-call").start(() -> {
                try (c) {
                    handle(c);
                } catch (IOException | RuntimeException e) {
                    System.err.println("bulwark planner: call dropped: " + e);
                } finally {
                    served.incrementAndGet();
                    lastActivity.set(System.nanoTime());
                    active.decrementAndGet();
                }
            });
        }
    }

    private void handle(SocketChannel c) throws IOException {
        DataInputStream in = new DataInputStream(new BufferedInputStream(Channels.newInputStream(c)));
        DataOutputStream out = new DataOutputStream(new BufferedOutputStream(Channels.newOutputStream(c)));
        Frames.Frame f = Frames.read(in);
        if (f.type() != Frames.REQUEST) {
            throw new IOException("the first frame must be a request, not '" + (char) f.type() + "'");
        }
        Request r = Request.parse(f.payload());
        Optional<String> refusal = refusal(c, r);
        if (refusal.isPresent()) {
            System.err.println("bulwark planner: refused a call: " + refusal.get());
            Frames.write(out, Frames.REFUSED, new Frames.Payload().string(refusal.get()).bytes());
            return;
        }
        int at = Main.commandIndex(r.argv());
        String command = at < 0 ? "" : r.argv().get(at);
        if (!SERVED.contains(command) || !servable(command, r.argv().subList(at + 1, r.argv().size()))) {
            Frames.write(out, Frames.DIRECT, new Frames.Payload().string(command).bytes());
            return;
        }
        long start = Procfs.startTime(r.pid()).orElseThrow(() -> new IOException("client " + r.pid() + " is gone"));
        Call call = new Call(in, out, r.argv().subList(0, at));
        Invocation inv = new Invocation(Path.of(r.cwd()), r.env(), r.pid(), start, (r.flags() & Request.STDERR_TTY) != 0, call);
        Thread beat = Thread.ofVirtual().start(() -> {
            try {
                while (true) {
                    Thread.sleep(1000);
                    call.heartbeat();
                }
            } catch (InterruptedException e) {
                // the call is over
            }
        });
        try {
            int[] code = {1};
            Output.serve(call, () -> Invocation.serve(inv, () -> code[0] = Main.execute(r.argv())));
            call.exit(code[0]);
        } finally {
            beat.interrupt();
        }
    }

    /** Why this client is not served here, if it is not. */
    private Optional<String> refusal(SocketChannel c, Request r) throws IOException {
        UserPrincipal peer = c.getOption(jdk.net.ExtendedSocketOptions.SO_PEERCRED).user();
        if (!peer.equals(self)) {
            return Optional.of("the planner serves " + self.getName() + " only, not " + peer.getName());
        }
        if (!r.buildId().equals(buildId)) {
            return Optional.of("the planner is build " + buildId + ", the client build " + r.buildId());
        }
        if (!r.namespaces().equals(namespaces)) {
            return Optional.of("the client's namespaces " + r.namespaces() + " are not the planner's " + namespaces);
        }
        if (!r.cwd().startsWith("/")) {
            return Optional.of("the client's working directory \"" + r.cwd() + "\" is not absolute");
        }
        return Optional.empty();
    }

    /** Calls of a served command that still need the caller's own process. */
    private static boolean servable(String command, List<String> args) {
        // `exec --process -` and similar read the caller's stdin, which the planner does not have.
        return !args.contains("-");
    }
}
