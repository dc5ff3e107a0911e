package dev.bulwark.runtime;

import java.io.IOException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Pattern;

/**
 * One container's directory under --root: state.json (the runtime-spec state, written
 * atomically), the plan, and the files the stage writes (pid, stage-error, control FIFO).
 * Creating the directory is the claim on the ID: a second container with the same ID fails. Its
 * first file, {@code owner}, names the process that made it (PID and start time).
 */
public final class StateDir {
    private static final Pattern ID = Pattern.compile("[\\w+\\-.]+");

    private final Path dir;
    private final String id;

    private StateDir(Path dir, String id) {
        this.dir = dir;
        this.id = id;
    }

    public static void checkId(String id) {
        if (id.isEmpty() || id.length() > 1024 || !ID.matcher(id).matches() || id.equals(".") || id.equals("..")) {
            throw new RuntimeFailure("invalid container ID \"" + id + "\": use letters, digits, _ + - and . only");
        }
    }

    /** The process that made a state directory: a create in progress, or one that died half-way. */
    public record Owner(long pid, long startTime) {
        static final String FILE = "owner";

        public static Owner of(Invocation inv) {
            return new Owner(inv.pid(), inv.startTime());
        }

        boolean alive() {
            return Procfs.startTime(pid).map(t -> t == startTime).orElse(false);
        }

        String encode() {
            return pid + " " + startTime + "\n";
        }

        static Optional<Owner> read(Path dir) {
            try {
                String[] f = Files.readString(dir.resolve(FILE), StandardCharsets.UTF_8).strip().split(" ");
                return f.length == 2 ? Optional.of(new Owner(Long.parseLong(f[0]), Long.parseLong(f[1]))) : Optional.empty();
            } catch (NoSuchFileException e) {
                return Optional.empty();
            } catch (IOException | NumberFormatException e) {
                throw new RuntimeFailure("read " + dir.resolve(FILE) + ": " + e.getMessage(), e);
            }
        }
    }

    /** The ID is taken. */
    public static final class Exists extends RuntimeFailure {
        private final Optional<Owner> owner;

        Exists(Path dir, String id, Optional<Owner> owner) {
            super("container \"" + id + "\" already exists (" + dir + ")");
            this.owner = owner;
        }

        /** Who made the existing directory, if it records that. */
        public Optional<Owner> owner() {
            return owner;
        }
    }

    private static final AtomicLong NEW = new AtomicLong();

    /**
     * Claims the ID: the directory appears under root already holding its owner record, made in
     * root/.new and renamed into place, so every state directory anyone can see says which
     * process made it. Two creates of one ID: the second rename meets a non-empty directory and
     * fails.
     */
    public static StateDir create(Path root, String id, Owner owner) {
        checkId(id);
        Path dir = root.resolve(id);
        Path tmp = null;
        try {
            Files.createDirectories(root, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx--x--x")));
            if (Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) {
                throw new Exists(dir, id, Owner.read(dir));
            }
            Path staging = root.resolve(".new");
            Files.createDirectories(staging, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
            tmp = staging.resolve(owner.pid() + "-" + owner.startTime() + "-" + NEW.incrementAndGet());
            Files.createDirectory(tmp, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx--x--x")));
            Files.writeString(tmp.resolve(Owner.FILE), owner.encode(), StandardCharsets.UTF_8);
            Files.move(tmp, dir, StandardCopyOption.ATOMIC_MOVE);
            return new StateDir(dir, id);
        } catch (IOException e) {
            removeQuietly(tmp);
            // rename(2) onto a directory that has content: ENOTEMPTY or EEXIST, whichever the JDK maps it to
            if (Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) {
                throw new Exists(dir, id, Owner.read(dir));
            }
            throw new RuntimeFailure("create state directory " + dir + ": " + e.getMessage(), e);
        }
    }

    /**
     * Removes staging directories under root/.new whose creating process is gone (it was killed
     * between making one and renaming it into place).
     */
    public static void sweepStaging(Path root) {
        Path staging = root.resolve(".new");
        if (!Files.isDirectory(staging)) {
            return;
        }
        try (var entries = Files.list(staging)) {
            for (Path p : (Iterable<Path>) entries::iterator) {
                String[] f = p.getFileName().toString().split("-");
                try {
                    if (f.length == 3 && !new Owner(Long.parseLong(f[0]), Long.parseLong(f[1])).alive()) {
                        removeQuietly(p);
                    }
                } catch (NumberFormatException e) {
                    // not one of ours
                }
            }
        } catch (IOException e) {
            // sweeping is best effort; the next create tries again
        }
    }

    private static void removeQuietly(Path dir) {
        if (dir == null) {
            return;
        }
        try {
            new StateDir(dir, "").remove();
        } catch (RuntimeFailure e) {
            // left for sweepStaging
        }
    }

    /** An existing container's directory, for removal. */
    public static StateDir existing(Path root, String id) {
        checkId(id);
        return new StateDir(root.resolve(id), id);
    }

    public Path dir() {
        return dir;
    }

    public String id() {
        return id;
    }

    public void writeAtomically(String name, byte[] content) {
        Path tmp = dir.resolve("." + name + ".tmp");
        try {
            Files.write(tmp, content);
            Files.move(tmp, dir.resolve(name), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            throw new RuntimeFailure("write " + dir.resolve(name) + ": " + e.getMessage(), e);
        }
    }

    /** Removes the directory and everything the runtime and stage put in it (one level deep). */
    public void remove() {
        try (var files = Files.list(dir)) {
            for (Path p : (Iterable<Path>) files::iterator) {
                Files.deleteIfExists(p);
            }
            Files.deleteIfExists(dir);
        } catch (NoSuchFileException e) {
            // already gone
        } catch (DirectoryNotEmptyException e) {
            throw new RuntimeFailure("remove " + dir + ": not empty", e);
        } catch (IOException e) {
            throw new RuntimeFailure("remove " + dir + ": " + e.getMessage(), e);
        }
    }
}
