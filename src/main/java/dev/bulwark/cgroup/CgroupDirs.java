package dev.bulwark.cgroup;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.function.Consumer;

/** Directory work shared by both versions: creating with an undo list, removing, listing PIDs. */
final class CgroupDirs {
    private CgroupDirs() {}

    /**
     * Creates {@code dir} and any missing parents, top down, calling {@code onCreate} for each new
     * directory (v1 cpuset must be filled before the next level is made) and adding it to {@code created}.
     */
    static void mkdirs(Path dir, List<Path> created, Consumer<Path> onCreate) {
        Deque<Path> missing = new ArrayDeque<>();
        for (Path p = dir; p != null && !Files.isDirectory(p); p = p.getParent()) {
            missing.push(p);
        }
        for (Path p : missing) {
            try {
                Files.createDirectory(p);
            } catch (FileAlreadyExistsException e) {
                continue; // made concurrently by another runtime; it is not ours to remove
            } catch (IOException e) {
                throw new CgroupException("cannot create cgroup " + p + ": " + CgroupFiles.reason(e), e);
            }
            created.add(p);
            onCreate.accept(p);
        }
    }

    /** Removes what a failed creation made, newest first; failures are attached to the original error. */
    static void rollback(List<Path> created, RuntimeException cause) {
        for (int i = created.size() - 1; i >= 0; i--) {
            try {
                Files.deleteIfExists(created.get(i));
            } catch (IOException e) {
                cause.addSuppressed(new CgroupException("cannot remove cgroup " + created.get(i)
                        + " after a failed creation: " + CgroupFiles.reason(e), e));
            }
        }
    }

    /**
     * rmdir of {@code dir} and the cgroups below it, deepest first. cgroupfs only lets a cgroup
     * go once its tasks are gone, and a task that was just killed can take a moment to leave, so
     * EBUSY is retried until {@code timeoutMillis}. Only directories are removed: cgroupfs
     * interface files go with their directory.
     */
    static void removeTree(Path dir, long timeoutMillis) {
        long deadline = System.nanoTime() + timeoutMillis * 1_000_000;
        long sleep = 1;
        while (true) {
            try {
                removeOnce(dir);
                return;
            } catch (IOException e) {
                if (System.nanoTime() > deadline) {
                    List<Long> left = new ArrayList<>();
                    try {
                        collectPids(dir, left);
                    } catch (RuntimeException ignored) {
                        // the error below is what matters
                    }
                    throw new CgroupException("cannot remove cgroup " + dir + ": " + CgroupFiles.reason(e)
                            + (left.isEmpty() ? "" : " (tasks still in it: " + left + ")"), e);
                }
                try {
                    Thread.sleep(sleep);
                } catch (InterruptedException ie) {
                    Thread.currentThread().interrupt();
                    throw new CgroupException("interrupted while removing cgroup " + dir, ie);
                }
                sleep = Math.min(sleep * 2, 20);
            }
        }
    }

    private static void removeOnce(Path dir) throws IOException {
        List<Path> children = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, Files::isDirectory)) {
            ds.forEach(children::add);
        } catch (NoSuchFileException e) {
            return;
        }
        for (Path c : children) {
            removeOnce(c);
        }
        try {
            Files.delete(dir);
        } catch (NoSuchFileException e) {
            // already gone
        }
    }

    /** PIDs from cgroup.procs of {@code dir} and every cgroup below it. */
    static void collectPids(Path dir, List<Long> out) {
        Path procs = dir.resolve("cgroup.procs");
        String text;
        try {
            text = Files.readString(procs);
        } catch (NoSuchFileException e) {
            if (Files.isDirectory(dir)) {
                throw new CgroupException("cannot read " + procs + ": " + CgroupFiles.reason(e), e);
            }
            return; // the cgroup is gone, so it has no tasks
        } catch (IOException e) {
            throw new CgroupException("cannot read " + procs + ": " + CgroupFiles.reason(e), e);
        }
        for (String line : text.split("\n")) {
            if (!line.isBlank()) {
                out.add(Long.parseLong(line.strip()));
            }
        }
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, Files::isDirectory)) {
            for (Path c : ds) {
                collectPids(c, out);
            }
        } catch (NoSuchFileException e) {
            // removed while we read
        } catch (IOException e) {
            throw new CgroupException("cannot list " + dir + ": " + CgroupFiles.reason(e), e);
        }
    }

    /** Sleeps for polling loops that wait on the kernel (freezer). */
    static void pause(long millis, String what) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CgroupException("interrupted while " + what, e);
        }
    }
}
