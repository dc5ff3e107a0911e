package dev.bulwark.image;

import java.io.IOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Optional;

/**
 * Unpacked images, one directory per image config digest under {@code STORE/rootfs/}, shared
 * read-only as the lower layer of every container's overlay. An image is unpacked into
 * {@code .tmp-HEX-PID-N} and renamed into place only when complete, so a crash leaves a temp
 * directory (removed by the next user once its PID is gone), never a half cache under the
 * final name. Two unpacks of the same image race harmlessly: the first rename wins, the loser
 * removes its copy.
 */
public final class RootfsCache {
    private final Path dir;

    private RootfsCache(Path dir) {
        this.dir = dir;
    }

    public static RootfsCache of(ContentStore store) {
        Path d = store.root().resolve("rootfs");
        try {
            Files.createDirectories(d);
            Files.setPosixFilePermissions(d, PosixFilePermissions.fromString("rwx------"));
        } catch (IOException e) {
            throw new ImageException("rootfs cache " + d + ": " + e.getMessage(), e);
        }
        RootfsCache c = new RootfsCache(d);
        c.removeAbandoned();
        return c;
    }

    public Path dir() {
        return dir;
    }

    /** The cached rootfs of an image config, if it is complete. */
    public Optional<Path> lookup(Digest config) {
        Path p = dir.resolve(config.hex());
        return Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS) ? Optional.of(p) : Optional.empty();
    }

    /**
     * The rootfs of the named image, unpacked now if it is not cached.
     *
     * @param name   the store's name of the image (as {@link Images#resolve} returns it)
     * @param config its config digest, the cache key
     */
    public Path get(Images images, String name, Digest config, UnpackOptions options) {
        Optional<Path> hit = lookup(config);
        if (hit.isPresent()) {
            return hit.get();
        }
        Path tmp = dir.resolve(".tmp-" + config.hex() + "-" + ProcessHandle.current().pid() + "-" + System.nanoTime());
        Path target = dir.resolve(config.hex());
        try {
            Files.createDirectory(tmp);
            Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rwxr-xr-x"));
            images.unpack(name, tmp, options);
            try {
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
            } catch (FileAlreadyExistsException | DirectoryNotEmptyException e) {
                // another run unpacked the same image first: use its copy
                Trees.remove(tmp);
            } catch (AtomicMoveNotSupportedException e) {
                throw new ImageException("rootfs cache " + dir + ": rename is not atomic here: " + e.getMessage(), e);
            }
            return target;
        } catch (IOException e) {
            throw new ImageException("rootfs cache " + tmp + ": " + e.getMessage(), e);
        } finally {
            try {
                if (Files.exists(tmp, LinkOption.NOFOLLOW_LINKS)) {
                    Trees.remove(tmp);
                }
            } catch (IOException e) {
                // the next user removes it once this PID is gone
            }
        }
    }

    /** Removes a cached rootfs (after `rmi`; no container may be using it). */
    public boolean remove(Digest config) {
        Path p = dir.resolve(config.hex());
        try {
            if (!Files.exists(p, LinkOption.NOFOLLOW_LINKS)) {
                return false;
            }
            // Renamed out of the way first: a half-removed tree must never be found under its name.
            Path gone = dir.resolve(".tmp-" + config.hex() + "-" + ProcessHandle.current().pid() + "-rm" + System.nanoTime());
            Files.move(p, gone, StandardCopyOption.ATOMIC_MOVE);
            Trees.remove(gone);
            return true;
        } catch (IOException e) {
            throw new ImageException("remove cached rootfs " + p + ": " + e.getMessage(), e);
        }
    }

    /**
     * Removes cached trees whose image config is no longer in the store (after `rmi`), except
     * those a mount still names (a container's overlay uses it as its lower layer): they go at a
     * later prune. Returns how many were removed.
     */
    public int prune(ContentStore store) {
        if (!Files.isDirectory(dir)) {
            return 0;
        }
        String mounts;
        try {
            mounts = dev.bulwark.runtime.Procfs.read(Path.of("/proc/self/mountinfo"));
        } catch (IOException e) {
            throw new ImageException("rootfs cache " + dir + ": read /proc/self/mountinfo: " + e.getMessage(), e);
        }
        int removed = 0;
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, "[0-9a-f]*")) {
            for (Path p : ds) {
                String hex = p.getFileName().toString();
                if (hex.length() != 64 || store.has(Digest.parse("sha256:" + hex)) || mounts.contains(p.toString())) {
                    continue;
                }
                if (remove(Digest.parse("sha256:" + hex))) {
                    removed++;
                }
            }
        } catch (IOException e) {
            throw new ImageException("rootfs cache " + dir + ": " + e.getMessage(), e);
        }
        return removed;
    }

    /** Temp directories of unpacks whose process is gone (killed mid-unpack). */
    private void removeAbandoned() {
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, ".tmp-*")) {
            for (Path p : ds) {
                String[] f = p.getFileName().toString().split("-");
                if (f.length >= 4) {
                    try {
                        long pid = Long.parseLong(f[2]);
                        if (ProcessHandle.of(pid).isPresent()) {
                            continue;
                        }
                    } catch (NumberFormatException e) {
                        // not ours: remove
                    }
                }
                Trees.remove(p);
            }
        } catch (IOException e) {
            throw new ImageException("rootfs cache " + dir + ": remove abandoned unpacks: " + e.getMessage(), e);
        }
    }

    /** Recursive removal that never follows a symlink and makes read-only directories writable first. */
    public static final class Trees {
        private Trees() {}

        public static void remove(Path p) throws IOException {
            BasicFileAttributes a;
            try {
                a = Files.readAttributes(p, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
            } catch (java.nio.file.NoSuchFileException e) {
                return;
            }
            if (a.isDirectory()) {
                if (!Files.isWritable(p)) {
                    Files.setAttribute(p, "unix:mode", 0700, LinkOption.NOFOLLOW_LINKS);
                }
                List<Path> children;
                try (var s = Files.list(p)) {
                    children = s.toList();
                }
                for (Path c : children) {
                    remove(c);
                }
            }
            Files.deleteIfExists(p);
        }
    }
}
