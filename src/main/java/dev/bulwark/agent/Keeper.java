package dev.bulwark.agent;

import dev.bulwark.runtime.Procfs;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;

/**
 * The fd keeper (bulwark-fdkeeper) and the records that let a restarted agent take every live
 * container's notify fd back from it. Beside the agent's socket S:
 * S.keeper (its socket), S.keeper.pid ("PID STARTTIME"), S.d/PID-START.rec (one per notify fd:
 * the keeper's fd number, the container's init PID and start time, its settings, the PID and
 * start time of the process that registered it (the init, or a process exec'd into the
 * container), the container's ID, and the mountinfo its init was registered with, which is its
 * set of immutable mounts).
 */
final class Keeper {
    /** A process named by PID and start time, so a reused PID is never mistaken for it. */
    record Proc(long pid, long start) {
        boolean alive() {
            return Procfs.startTime(pid).map(s -> s == start).orElse(false);
        }
    }

    /**
     * One supervised notify fd, as written to S.d/: a container's init's (process equals init) or
     * that of a process exec'd into it, which is supervised under the container's creation mounts.
     */
    record Record(Path file, int keeperFd, Proc init, boolean allow, String mntNs, String name, String mountinfo, Proc process,
            String id, boolean landlock) {
        boolean exec() {
            return !process.equals(init);
        }
    }

    private final Path socket;
    private final Proc proc;
    private final Path records;

    private Keeper(Path socket, Proc proc, Path records) {
        this.socket = socket;
        this.proc = proc;
        this.records = records;
    }

    Proc proc() {
        return proc;
    }

    /** The running keeper for agentSocket, or a new one (detached: its own session). */
    static Keeper ensure(Path agentSocket, Path binary) throws IOException {
        Path sock = agentSocket.resolveSibling(agentSocket.getFileName() + ".keeper");
        Path pidFile = agentSocket.resolveSibling(agentSocket.getFileName() + ".keeper.pid");
        Path records = Files.createDirectories(agentSocket.resolveSibling(agentSocket.getFileName() + ".d"));
        if (Files.exists(pidFile)) {
            String[] f = Files.readString(pidFile).trim().split(" ");
            Proc p = new Proc(Long.parseLong(f[0]), Long.parseLong(f[1]));
            if (p.alive() && Files.exists(sock)) {
                return new Keeper(sock, p, records);
            }
        }
        Process p = new ProcessBuilder("setsid", binary.toString(), sock.toString())
                .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile()))
                .redirectError(ProcessBuilder.Redirect.INHERIT).start();
        String first = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8)).readLine();
        if (!"listening".equals(first)) {
            throw new AgentException("the fd keeper " + binary + " did not start on " + sock);
        }
        p.getInputStream().close();
        Proc proc = new Proc(p.pid(), Procfs.startTime(p.pid()).orElseThrow(() -> new AgentException("the fd keeper exited")));
        Path tmp = pidFile.resolveSibling(pidFile.getFileName() + ".tmp");
        Files.writeString(tmp, proc.pid() + " " + proc.start() + "\n");
        Files.move(tmp, pidFile, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        // records of an older keeper name fds that are gone with it
        try (var s = Files.list(records)) {
            for (Path r : s.toList()) {
                Files.deleteIfExists(r);
            }
        }
        return new Keeper(sock, proc, records);
    }

    /** Hands fd to the keeper and records whose it is; returns the record. */
    Record keep(int fd, Proc init, Proc process, String id, boolean allow, String mntNs, String name, String mountinfo,
            boolean landlock) throws IOException {
        int keeperFd = keepRaw(fd);
        Path file = records.resolve(process.pid() + "-" + process.start() + ".rec");
        Path tmp = records.resolve(file.getFileName() + ".tmp");
        Files.writeString(tmp, keeperFd + " " + init.pid() + " " + init.start() + " " + allow + " " + mntNs + " "
                + name.replace(' ', '_') + " " + process.pid() + " " + process.start() + " "
                + HexFormat.of().formatHex(id.getBytes(StandardCharsets.UTF_8)) + (landlock ? " landlock" : " -") + "\n" + mountinfo);
        Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        return new Record(file, keeperFd, init, allow, mntNs, name, mountinfo, process, id, landlock);
    }

    /** Hands fd to the keeper with no record; returns the keeper's number for it. */
    int keepRaw(int fd) {
        String answer = Native.exchange(socket.toString(), "keep".getBytes(StandardCharsets.UTF_8), fd);
        try {
            return Integer.parseInt(answer);
        } catch (NumberFormatException e) {
            throw new AgentException("the fd keeper answered \"" + answer + "\", expected an fd number");
        }
    }

    /** Closes the keeper's fd number keeperFd. */
    void dropRaw(int keeperFd) {
        Native.exchange(socket.toString(), ("drop " + keeperFd).getBytes(StandardCharsets.UTF_8), -1);
    }

    /** The directory of records (S.d/); a keeper started afresh empties it. */
    Path recordsDir() {
        return records;
    }

    void drop(Record r) {
        try {
            Files.deleteIfExists(r.file());
            dropRaw(r.keeperFd());
        } catch (IOException | RuntimeException e) {
            Agent.log("fd keeper: cannot drop fd " + r.keeperFd() + ": " + e.getMessage());
        }
    }

    /** Every recorded container; the caller takes the fds back and drops the ones whose container is gone. */
    List<Record> records() throws IOException {
        List<Record> out = new ArrayList<>();
        try (var s = Files.list(records)) {
            for (Path f : s.filter(p -> p.toString().endsWith(".rec")).toList()) {
                String text = Files.readString(f);
                int nl = text.indexOf('\n');
                String[] h = text.substring(0, nl).split(" ");
                Proc init = new Proc(Long.parseLong(h[1]), Long.parseLong(h[2]));
                // a record of an agent before exec support names the init only, and no ID to look it up by
                Proc process = h.length > 8 ? new Proc(Long.parseLong(h[6]), Long.parseLong(h[7])) : init;
                String id = h.length > 8 ? new String(HexFormat.of().parseHex(h[8]), StandardCharsets.UTF_8) : "";
                boolean landlock = h.length > 9 && h[9].equals("landlock");
                out.add(new Record(f, Integer.parseInt(h[0]), init, Boolean.parseBoolean(h[3]), h[4], h[5], text.substring(nl + 1),
                        process, id, landlock));
            }
        }
        return out;
    }
}
