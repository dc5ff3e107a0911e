package dev.bulwark.runtime;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The persistent allocator of 65536-ID ranges for system containers.
 *
 * <p>The pool is the {@code bulwark} line of /etc/subuid and /etc/subgid ({@code bulwark:START:COUNT},
 * the same in both), cut into COUNT/65536 ranges. Range i has one slot file, {@code DIR/i}, under
 * the allocator's state directory. A slot names its owners, one {@code ID<TAB>STATE-DIR} line each;
 * an empty slot is a free range. Every read and write of a slot happens under its file lock, and
 * the lock is held from the moment a create claims the range until its state directory records
 * the claim (the file {@value #RECORD} naming the slot), so:
 * <ul>
 *   <li>two creates never get the same range: each checks and writes the slot under its lock;
 *   <li>a create killed at any moment leaves at worst a slot naming a state directory that does not
 *       exist or does not record that slot; the next allocation that meets it (lock free) sees that
 *       and takes the range back (the kernel drops a dead process's locks);
 *   <li>a create killed after its state directory recorded the range keeps the range until
 *       {@code delete --force} of that container, which frees it, since its init may still live.
 * </ul>
 * Slots are never removed, only emptied, so a lock always guards the file the next process opens.
 *
 * <p>When the pool is exhausted: an error, or with {@code on-exhausted = share} a range already in
 * use gets one more owner (the containers sharing it are then not separated by IDs).
 */
public final class IdRanges {
    /** IDs per container: uid and gid 0-65535 inside. */
    public static final long SIZE = 65536;
    /** The pool when /etc/subuid and /etc/subgid have no bulwark line: 4096 ranges from 2^30, far above the usual 100000-based user ranges. */
    public static final Pool DEFAULT_POOL = new Pool(1L << 30, 4096 * SIZE, "default");
    /** The file in a container's state directory that records its slot (absolute path) and its first host ID. */
    public static final String RECORD = "idrange";

    private IdRanges() {}

    /** Where the allocator keeps its slots and where its pool comes from. */
    public record Config(Path stateDir, Path subuid, Path subgid, boolean share) {
        public static final Path DEFAULT_STATE = Path.of("/var/lib/bulwark/idranges");

        public static Config defaults() {
            return new Config(DEFAULT_STATE, Path.of("/etc/subuid"), Path.of("/etc/subgid"), false);
        }
    }

    /** The pool: host IDs start to start+count-1; origin says where it was read. */
    public record Pool(long start, long count, String origin) {
        public int ranges() {
            return (int) Math.min(Integer.MAX_VALUE, count / SIZE);
        }

        public long rangeStart(int index) {
            return start + index * SIZE;
        }
    }

    /** A range given to a container: host IDs start..start+65535, held in slot. */
    public record Range(int index, long start, Path slot) {}

    /**
     * A claimed range whose slot is still locked: close() releases the lock once the container's
     * state directory records the range (see {@link #record}); free() gives the range back.
     */
    public static final class Claim implements AutoCloseable {
        private final Range range;
        private final FileLocks.Held lock;
        private final String owner;

        private Claim(Range range, FileLocks.Held lock, String owner) {
            this.range = range;
            this.lock = lock;
            this.owner = owner;
        }

        public Range range() {
            return range;
        }

        /** Writes the record into the container's state directory: from now on the range is the container's. */
        public void record(Path containerState) {
            Path tmp = containerState.resolve("." + RECORD + ".tmp");
            try {
                Files.writeString(tmp, range.slot() + "\n" + range.start() + "\n");
                Files.move(tmp, containerState.resolve(RECORD), java.nio.file.StandardCopyOption.ATOMIC_MOVE);
            } catch (IOException e) {
                throw new RuntimeFailure("write " + containerState.resolve(RECORD) + ": " + e.getMessage(), e);
            }
        }

        /** Gives the range back (an error path of create): this owner's line leaves the slot. */
        public void free() {
            try {
                removeOwner(lock.channel(), owner);
            } finally {
                close();
            }
        }

        @Override
        public void close() {
            lock.close();
        }
    }

    /** The pool from the bulwark lines of the subuid and subgid files; both must say the same. */
    public static Pool pool(Config c) {
        Optional<long[]> u = line(c.subuid());
        Optional<long[]> g = line(c.subgid());
        if (u.isEmpty() && g.isEmpty()) {
            return DEFAULT_POOL;
        }
        if (u.isEmpty() || g.isEmpty() || u.get()[0] != g.get()[0] || u.get()[1] != g.get()[1]) {
            throw new RuntimeFailure("the bulwark lines of " + c.subuid() + " (" + show(u) + ") and " + c.subgid() + " ("
                    + show(g) + ") must give the same range: system containers map uids and gids alike");
        }
        long start = u.get()[0];
        long count = u.get()[1];
        if (start < 1 || count < SIZE || start + count - 1 > 0xFFFF_FFFEL) {
            throw new RuntimeFailure(c.subuid() + ": bulwark:" + start + ":" + count + " must start above 0, hold at least "
                    + SIZE + " IDs and end below 4294967295");
        }
        return new Pool(start, count, c.subuid() + " and " + c.subgid());
    }

    private static String show(Optional<long[]> l) {
        return l.map(v -> "bulwark:" + v[0] + ":" + v[1]).orElse("no bulwark line");
    }

    /** START and COUNT of the first bulwark line of a subordinate ID file, if it has one. */
    private static Optional<long[]> line(Path file) {
        List<String> lines;
        try {
            lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            return Optional.empty();
        } catch (IOException e) {
            throw new RuntimeFailure("read " + file + ": " + e.getMessage(), e);
        }
        for (int i = 0; i < lines.size(); i++) {
            String[] f = lines.get(i).strip().split(":");
            if (f.length == 3 && f[0].equals("bulwark")) {
                try {
                    return Optional.of(new long[] {Long.parseLong(f[1]), Long.parseLong(f[2])});
                } catch (NumberFormatException e) {
                    throw new RuntimeFailure(file + " line " + (i + 1) + ": expected bulwark:START:COUNT, not \""
                            + lines.get(i) + "\"");
                }
            }
        }
        return Optional.empty();
    }

    /**
     * Claims a range for container id whose state directory is containerState. The slot stays
     * locked until the Claim is closed.
     */
    public static Claim allocate(Config c, String id, Path containerState) {
        Pool pool = pool(c);
        String owner = id + "\t" + containerState.toAbsolutePath().normalize() + "\n";
        try {
            Files.createDirectories(c.stateDir(), PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        } catch (IOException e) {
            throw new RuntimeFailure("create " + c.stateDir() + ": " + e.getMessage(), e);
        }
        int n = pool.ranges();
        // Start at a point that depends on the container, so concurrent creates rarely meet on a slot.
        int first = Math.floorMod(owner.hashCode(), n);
        for (int k = 0; k < n; k++) {
            int i = (first + k) % n;
            Optional<Claim> claim = tryClaim(c, pool, i, owner, false);
            if (claim.isPresent()) {
                return claim.get();
            }
        }
        if (c.share()) {
            // Blocking on the lock here: every slot has an owner, so waiting on one is the only way on.
            for (int k = 0; k < n; k++) {
                Optional<Claim> claim = tryClaim(c, pool, (first + k) % n, owner, true);
                if (claim.isPresent()) {
                    return claim.get();
                }
            }
        }
        throw new RuntimeFailure("no free ID range: all " + n + " ranges of " + SIZE + " IDs in the pool " + pool.start()
                + "-" + (pool.start() + pool.count() - 1) + " (" + pool.origin() + ") belong to live system containers"
                + " (delete one, widen the bulwark line of /etc/subuid and /etc/subgid, or set on-exhausted = share"
                + " in the system config)");
    }

    /** Claims slot i if it is free (or, sharing, whatever it holds), pruning owners whose claim is stale. */
    private static Optional<Claim> tryClaim(Config c, Pool pool, int i, String owner, boolean share) {
        Path slot = c.stateDir().resolve(Integer.toString(i));
        Optional<FileLocks.Held> held = Optional.empty();
        try {
            held = share ? Optional.of(FileLocks.lock(slot)) : FileLocks.tryLock(slot);
            if (held.isEmpty()) {
                return Optional.empty();
            }
            FileChannel ch = held.get().channel();
            List<String> live = liveOwners(slot, read(ch));
            if (!live.isEmpty() && !share) {
                held.get().close();
                return Optional.empty();
            }
            live.add(owner);
            write(ch, String.join("", live));
            return Optional.of(new Claim(new Range(i, pool.rangeStart(i), slot), held.get(), owner));
        } catch (IOException | RuntimeException e) {
            held.ifPresent(FileLocks.Held::close);
            if (e instanceof RuntimeFailure f) {
                throw f;
            }
            throw new RuntimeFailure("claim ID range slot " + slot + ": " + e.getMessage(), e);
        }
    }

    /**
     * The owner lines of a slot whose claim still stands: the owner's state directory exists and
     * records this slot. Lines a killed create left half-written are dropped.
     */
    static List<String> liveOwners(Path slot, String content) {
        List<String> live = new ArrayList<>();
        for (String line : content.split("\n")) {
            String[] f = line.split("\t");
            if (f.length != 2 || !f[1].startsWith("/")) {
                continue;
            }
            if (recordedSlot(Path.of(f[1])).map(s -> s.equals(slot.toAbsolutePath().normalize())).orElse(false)) {
                live.add(line + "\n");
            }
        }
        return live;
    }

    /** The slot a container's state directory records, if it records one. */
    public static Optional<Path> recordedSlot(Path containerState) {
        try {
            String[] lines = Files.readString(containerState.resolve(RECORD), StandardCharsets.UTF_8).split("\n");
            return lines.length >= 1 && lines[0].startsWith("/") ? Optional.of(Path.of(lines[0]).normalize()) : Optional.empty();
        } catch (NoSuchFileException e) {
            return Optional.empty();
        } catch (IOException e) {
            throw new RuntimeFailure("read " + containerState.resolve(RECORD) + ": " + e.getMessage(), e);
        }
    }

    /** The first host ID of the range a container's state directory records, if any. */
    public static Optional<Long> recordedStart(Path containerState) {
        try {
            String[] lines = Files.readString(containerState.resolve(RECORD), StandardCharsets.UTF_8).split("\n");
            return lines.length >= 2 ? Optional.of(Long.parseLong(lines[1].strip())) : Optional.empty();
        } catch (NoSuchFileException e) {
            return Optional.empty();
        } catch (IOException | NumberFormatException e) {
            throw new RuntimeFailure("read " + containerState.resolve(RECORD) + ": " + e.getMessage(), e);
        }
    }

    /**
     * Frees the range of a container being deleted (call it after its processes are gone): its
     * line leaves the slot its state directory records. Nothing recorded: nothing to free.
     */
    public static void release(String id, Path containerState) {
        Optional<Path> slot = recordedSlot(containerState);
        if (slot.isEmpty()) {
            return;
        }
        String owner = id + "\t" + containerState.toAbsolutePath().normalize() + "\n";
        if (!Files.exists(slot.get())) {
            return; // the allocator's state was removed: nothing holds the range
        }
        try (FileLocks.Held held = FileLocks.lock(slot.get())) {
            removeOwner(held.channel(), owner);
        } catch (NoSuchFileException e) {
            // the allocator's state was removed: nothing holds the range
        } catch (IOException e) {
            throw new RuntimeFailure("free ID range slot " + slot.get() + ": " + e.getMessage(), e);
        }
    }

    /** The slots that have an owner (live or stale), for tests and diagnostics. */
    public static List<Integer> used(Config c) {
        List<Integer> out = new ArrayList<>();
        if (!Files.isDirectory(c.stateDir())) {
            return out;
        }
        try (var files = Files.list(c.stateDir())) {
            for (Path p : (Iterable<Path>) files::iterator) {
                if (p.getFileName().toString().matches("\\d+") && Files.size(p) > 0) {
                    out.add(Integer.parseInt(p.getFileName().toString()));
                }
            }
        } catch (IOException e) {
            throw new RuntimeFailure("list " + c.stateDir() + ": " + e.getMessage(), e);
        }
        out.sort(null);
        return out;
    }

    private static void removeOwner(FileChannel ch, String owner) {
        try {
            StringBuilder rest = new StringBuilder();
            for (String line : read(ch).split("\n")) {
                if (!line.isEmpty() && !(line + "\n").equals(owner)) {
                    rest.append(line).append('\n');
                }
            }
            write(ch, rest.toString());
        } catch (IOException e) {
            throw new RuntimeFailure("free ID range: " + e.getMessage(), e);
        }
    }

    private static String read(FileChannel ch) throws IOException {
        ByteBuffer b = ByteBuffer.allocate((int) Math.min(ch.size(), 1 << 20));
        ch.position(0);
        while (b.hasRemaining() && ch.read(b) > 0) {
            // read on
        }
        return new String(b.array(), 0, b.position(), StandardCharsets.UTF_8);
    }

    /**
     * Replaces the slot's content: one write over the old content, then the cut. A slot is a few
     * hundred bytes, so the write is one system call that a kill cannot split; killed before the
     * cut, the old tail stays behind the new lines, and liveOwners drops what of it is not whole
     * and current (no live owner's line is ever missing in between).
     */
    private static void write(FileChannel ch, String content) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(content.getBytes(StandardCharsets.UTF_8));
        long pos = 0;
        while (b.hasRemaining()) {
            pos += ch.write(b, pos);
        }
        ch.truncate(pos);
        ch.force(false);
    }
}
