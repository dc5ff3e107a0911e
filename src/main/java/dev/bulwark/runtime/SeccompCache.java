package dev.bulwark.runtime;

import dev.bulwark.seccomp.SeccompProgram;
import dev.bulwark.spec.Spec;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Optional;

/**
 * Compiled seccomp programs, kept under the runtime's root so the next container with the same
 * profile (an engine sends the same one every time) skips the compile, which a cold JVM pays
 * tens of milliseconds for.
 *
 * Safety: an entry is used only when its stored key, the complete profile text plus compiler
 * version and architecture, equals this profile's exactly; the file name's hash only finds the
 * candidate. The directory must be root's and closed to everyone else, or the cache is not used.
 * Any unreadable or odd entry is a miss, never an error, so the worst case is a fresh compile.
 */
final class SeccompCache {
    /** Bump when the compiler's output for the same profile changes. */
    private static final String VERSION = "bulwark-seccomp-cache 1";

    private final Path dir;

    private SeccompCache(Path dir) {
        this.dir = dir;
    }

    /** The cache under a state root, if that directory is (or can be made) private to root. */
    static Optional<SeccompCache> under(Path stateRoot) {
        Path dir = stateRoot.resolve(".cache").resolve("seccomp");
        try {
            if (!Files.isDirectory(dir)) {
                Files.createDirectories(dir, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
            }
            for (Path d : new Path[] {stateRoot, dir.getParent(), dir}) {
                int uid = (Integer) Files.getAttribute(d, "unix:uid", java.nio.file.LinkOption.NOFOLLOW_LINKS);
                int mode = (Integer) Files.getAttribute(d, "unix:mode", java.nio.file.LinkOption.NOFOLLOW_LINKS);
                if (uid != 0 || (mode & 0022) != 0 || Files.isSymbolicLink(d)) {
                    return Optional.empty();
                }
            }
            return Optional.of(new SeccompCache(dir));
        } catch (IOException | UnsupportedOperationException | IllegalArgumentException e) {
            return Optional.empty();
        }
    }

    /** The exact text a cached program must have been compiled from. */
    static String key(Spec.Seccomp s) {
        StringBuilder sb = new StringBuilder(16384);
        sb.append(VERSION).append('\n').append(System.getProperty("os.arch")).append('\n');
        sb.append(s.defaultAction()).append('|').append(s.defaultErrnoRet().map(String::valueOf).orElse("-")).append('|');
        sb.append(s.architectures()).append('|').append(s.flags()).append('|');
        sb.append(s.listenerPath()).append('|').append(s.listenerMetadata()).append('\n');
        for (Spec.SeccompSyscall c : s.syscalls()) {
            sb.append(c.names()).append('|').append(c.action()).append('|');
            sb.append(c.errnoRet().map(String::valueOf).orElse("-"));
            for (Spec.SeccompArg a : c.args()) {
                sb.append('|').append(a.index()).append(',').append(a.value()).append(',').append(a.valueTwo()).append(',').append(a.op());
            }
            sb.append('\n');
        }
        return sb.toString();
    }

    private Path file(String key) {
        return dir.resolve(Integer.toHexString(key.hashCode()) + "-" + key.length());
    }

    Optional<SeccompProgram> get(String key) {
        try (InputStream raw = Files.newInputStream(file(key)); DataInputStream in = new DataInputStream(raw)) {
            byte[] stored = in.readNBytes(in.readInt());
            if (!new String(stored, StandardCharsets.UTF_8).equals(key)) {
                return Optional.empty();
            }
            int flags = in.readInt();
            boolean listener = in.readBoolean();
            int count = in.readInt();
            int len = in.readInt();
            if (len != count * 8 || len <= 0) {
                return Optional.empty();
            }
            byte[] filter = in.readNBytes(len);
            if (filter.length != len || in.read() != -1) {
                return Optional.empty();
            }
            return Optional.of(new SeccompProgram(filter, flags, listener, count));
        } catch (NoSuchFileException e) {
            return Optional.empty();
        } catch (IOException | RuntimeException e) {
            return Optional.empty();
        }
    }

    void put(String key, SeccompProgram p) {
        try {
            ByteArrayOutputStream buf = new ByteArrayOutputStream(key.length() + p.filter().length + 64);
            DataOutputStream out = new DataOutputStream(buf);
            byte[] k = key.getBytes(StandardCharsets.UTF_8);
            out.writeInt(k.length);
            out.write(k);
            out.writeInt(p.flags());
            out.writeBoolean(p.needsListener());
            out.writeInt(p.instructionCount());
            out.writeInt(p.filter().length);
            out.write(p.filter());
            Path tmp = Files.createTempFile(dir, ".entry", ".tmp");
            Files.write(tmp, buf.toByteArray());
            Files.move(tmp, file(key), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException | RuntimeException e) {
            // a cache that cannot be written only costs the next run a compile
        }
    }
}
