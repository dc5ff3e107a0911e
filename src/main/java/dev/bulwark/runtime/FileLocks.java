package dev.bulwark.runtime;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Exclusive locks on files that hold against other processes and against this JVM's other
 * threads. The JDK's file locks are fcntl record locks: they belong to the process, a second
 * lock on the same file from this JVM throws, and closing any descriptor of the file drops them
 * all. So the planner, which serves many calls at once, orders its threads with a Java lock per
 * file first and only then opens the file and takes the record lock; no other thread of the JVM
 * has the file open for locking meanwhile. A process killed with SIGKILL loses its locks with
 * its descriptors.
 */
public final class FileLocks {
    private FileLocks() {}

    private static final class Local {
        final ReentrantLock lock = new ReentrantLock();
        int users;
    }

    private static final ConcurrentHashMap<Path, Local> LOCAL = new ConcurrentHashMap<>();

    /** A held lock; its channel reads and writes the locked file. */
    public static final class Held implements AutoCloseable {
        private final Path file;
        private final Local local;
        private final FileChannel channel;

        private Held(Path file, Local local, FileChannel channel) {
            this.file = file;
            this.local = local;
            this.channel = channel;
        }

        public FileChannel channel() {
            return channel;
        }

        @Override
        public void close() {
            try {
                channel.close(); // releases the record lock
            } catch (IOException e) {
                // closing releases the lock whatever it reports
            } finally {
                local.lock.unlock();
                release(file, local);
            }
        }
    }

    /** Waits for the lock on file (created if missing). */
    public static Held lock(Path file) throws IOException {
        return acquire(file, true).orElseThrow();
    }

    /** The lock on file if nobody, in this JVM or another process, holds it. */
    public static Optional<Held> tryLock(Path file) throws IOException {
        return acquire(file, false);
    }

    private static Optional<Held> acquire(Path file, boolean wait) throws IOException {
        Path key = file.toAbsolutePath().normalize();
        Local local = LOCAL.compute(key, (k, v) -> {
            Local l = v != null ? v : new Local();
            l.users++;
            return l;
        });
        boolean handedOut = false;
        try {
            if (wait) {
                local.lock.lock();
            } else if (!local.lock.tryLock()) {
                return Optional.empty();
            }
            try {
                FileChannel ch = FileChannel.open(key, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
                try {
                    FileLock l = wait ? ch.lock() : ch.tryLock();
                    if (l != null) {
                        handedOut = true;
                        return Optional.of(new Held(key, local, ch));
                    }
                    return Optional.empty();
                } finally {
                    if (!handedOut) {
                        ch.close();
                    }
                }
            } finally {
                if (!handedOut) {
                    local.lock.unlock();
                }
            }
        } finally {
            if (!handedOut) {
                release(key, local);
            }
        }
    }

    /** Drops one use of the entry; the last one removes it, so the map holds only files in use. */
    private static void release(Path key, Local local) {
        LOCAL.computeIfPresent(key, (k, v) -> v != local ? v : --v.users == 0 ? null : v);
    }

    /** Files with a lock held or waited for in this JVM (for the planner's leak checks). */
    public static int inUse() {
        return LOCAL.size();
    }
}
