package dev.bulwark.runtime;

import java.io.IOException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.regex.Pattern;

/**
 * One container's directory under --root: state.json (the runtime-spec state, written
 * atomically), the plan, and the files the stage writes (pid, stage-error, control FIFO).
 * Creating the directory is the claim on the ID: a second container with the same ID fails.
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

    public static StateDir create(Path root, String id) {
        checkId(id);
        try {
            Files.createDirectories(root, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx--x--x")));
            Path dir = root.resolve(id);
            Files.createDirectory(dir, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx--x--x")));
            return new StateDir(dir, id);
        } catch (FileAlreadyExistsException e) {
            throw new RuntimeFailure("container \"" + id + "\" already exists (" + root.resolve(id) + ")");
        } catch (IOException e) {
            throw new RuntimeFailure("create state directory " + root.resolve(id) + ": " + e.getMessage(), e);
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
