package dev.bulwark.image;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantLock;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * The store's lock file, {@code <root>/lock}, guarding two things with byte-range locks:
 * byte 0, shared by everyone who adds content or names it and exclusive for garbage collection
 * (so GC never deletes a blob written but not yet referenced); byte 1, exclusive around every
 * read-modify-write of index.json.
 *
 * <p>Record locks (fcntl) belong to the process, not to a thread or a channel, and closing any
 * descriptor of the file drops all of them. So there is exactly one channel per store per JVM,
 * never closed, and threads of this JVM are ordered by Java locks in front of the file locks.
 * A process killed with SIGKILL loses its locks with its descriptors, so a crash never leaves
 * the store locked.
 */
final class StoreLock {
    private static final Map<Path, StoreLock> LOCKS = new ConcurrentHashMap<>();

    private final Path file;
    private final FileChannel channel;
    private final ReentrantReadWriteLock gate = new ReentrantReadWriteLock();
    private final ReentrantLock indexGate = new ReentrantLock();
    private int sharedHolders;
    private FileLock shared;

    /** A held lock; close releases it. */
    interface Held extends AutoCloseable {
        @Override
        void close();
    }

    private StoreLock(Path file) throws IOException {
        this.file = file;
        this.channel = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
    }

    static StoreLock of(Path root) {
        Path file = root.resolve("lock").toAbsolutePath().normalize();
        return LOCKS.computeIfAbsent(file, f -> {
            try {
                return new StoreLock(f);
            } catch (IOException e) {
                throw new ImageException("open lock file " + f + ": " + e.getMessage(), e);
            }
        });
    }

    /** Writers: many at once, none during GC. */
    Held shared() {
        gate.readLock().lock();
        try {
            synchronized (this) {
                if (sharedHolders == 0) {
                    shared = channel.lock(0, 1, true);
                }
                sharedHolders++;
            }
        } catch (IOException | RuntimeException e) {
            gate.readLock().unlock();
            throw failure("shared", e);
        }
        return () -> {
            synchronized (this) {
                if (--sharedHolders == 0) {
                    release(shared);
                    shared = null;
                }
            }
            gate.readLock().unlock();
        };
    }

    /** GC and clean-up of abandoned temp files: alone. */
    Held exclusive() {
        gate.writeLock().lock();
        try {
            FileLock l = channel.lock(0, 1, false);
            return () -> {
                release(l);
                gate.writeLock().unlock();
            };
        } catch (IOException | RuntimeException e) {
            gate.writeLock().unlock();
            throw failure("exclusive", e);
        }
    }

    /** Exclusive if nobody else holds the store, else empty: open() cleans up only when alone. */
    java.util.Optional<Held> tryExclusive() {
        if (!gate.writeLock().tryLock()) {
            return java.util.Optional.empty();
        }
        try {
            FileLock l = channel.tryLock(0, 1, false);
            if (l == null) {
                gate.writeLock().unlock();
                return java.util.Optional.empty();
            }
            return java.util.Optional.of(() -> {
                release(l);
                gate.writeLock().unlock();
            });
        } catch (IOException | RuntimeException e) {
            gate.writeLock().unlock();
            throw failure("exclusive", e);
        }
    }

    /** Around a read-modify-write of index.json. */
    Held index() {
        indexGate.lock();
        try {
            FileLock l = channel.lock(1, 1, false);
            return () -> {
                release(l);
                indexGate.unlock();
            };
        } catch (IOException | RuntimeException e) {
            indexGate.unlock();
            throw failure("index", e);
        }
    }

    private void release(FileLock l) {
        try {
            l.release();
        } catch (IOException e) {
            throw new ImageException("unlock " + file + ": " + e.getMessage(), e);
        }
    }

    private ImageException failure(String kind, Exception e) {
        return new ImageException("lock " + file + " (" + kind + "): " + e.getMessage(), e);
    }
}
