package dev.bulwark.runtime;

import dev.bulwark.json.Json;
import dev.bulwark.json.JsonBuilder;
import dev.bulwark.json.JsonValue;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Map;
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

    public void writeState(String ociVersion, String status, long pid, Path bundle, Map<String, String> annotations) {
        JsonBuilder annot = JsonBuilder.object();
        annotations.forEach(annot::put);
        JsonValue v = JsonBuilder.object()
                .put("ociVersion", ociVersion)
                .put("id", id)
                .put("status", status)
                .put("pid", pid)
                .put("bundle", bundle.toString())
                .put("annotations", annot)
                .build();
        writeAtomically("state.json", Json.write(v).getBytes(StandardCharsets.UTF_8));
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
