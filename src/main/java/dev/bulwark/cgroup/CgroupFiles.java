package dev.bulwark.cgroup;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/** Reads and writes of cgroupfs interface files, with errors that name the file and the value. */
final class CgroupFiles {
    private CgroupFiles() {}

    /**
     * One write(2) of the whole value, with O_TRUNC as echo and runc do. The file is opened without O_CREAT: a missing interface
     * file means the controller is not there, and creating a regular file in its place (possible
     * on a fake or a tmpfs) would hide that.
     */
    static void write(Path file, String value, String setting) {
        byte[] bytes = value.getBytes(StandardCharsets.UTF_8);
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
            ByteBuffer buf = ByteBuffer.wrap(bytes);
            while (buf.hasRemaining()) {
                ch.write(buf);
            }
        } catch (IOException e) {
            throw new CgroupException(prefix(setting) + "cannot write \"" + value + "\" to " + file + ": " + reason(e), e);
        }
    }

    /** Gives a cgroup directory or interface file to uid:gid (never following a link). */
    static void chown(Path file, long uid, long gid) {
        try {
            Files.setAttribute(file, "unix:uid", (int) uid, java.nio.file.LinkOption.NOFOLLOW_LINKS);
            Files.setAttribute(file, "unix:gid", (int) gid, java.nio.file.LinkOption.NOFOLLOW_LINKS);
        } catch (IOException e) {
            throw new CgroupException("delegating the cgroup: cannot give " + file + " to " + uid + ":" + gid + ": " + reason(e), e);
        }
    }

    static String read(Path file, String setting) {
        try {
            return Files.readString(file, StandardCharsets.UTF_8).strip();
        } catch (IOException e) {
            throw new CgroupException(prefix(setting) + "cannot read " + file + ": " + reason(e), e);
        }
    }

    /** A counter file that not every kernel has. */
    static Optional<Long> readLongIfExists(Path file) {
        return readIfExists(file).map(s -> parseLong(s, file));
    }

    static Optional<String> readIfExists(Path file) {
        try {
            return Optional.of(Files.readString(file, StandardCharsets.UTF_8).strip());
        } catch (NoSuchFileException e) {
            return Optional.empty();
        } catch (IOException e) {
            throw new CgroupException("cannot read " + file + ": " + reason(e), e);
        }
    }

    /** A counter file; "max" (the v2 spelling of no limit) is returned as -1, i.e. 2^64-1 unsigned. */
    static long readLong(Path file, String setting) {
        return parseLong(read(file, setting), file);
    }

    static long parseLong(String s, Path file) {
        if (s.equals("max")) {
            return -1L;
        }
        try {
            return Long.parseUnsignedLong(s);
        } catch (NumberFormatException e) {
            try {
                return Long.parseLong(s);
            } catch (NumberFormatException e2) {
                throw new CgroupException(file + ": expected a number, found \"" + s + "\"");
            }
        }
    }

    /** "key value" lines (memory.stat, cpu.stat, cgroup.events). Lines that are not a key and a number are skipped. */
    static Map<String, Long> keyValues(Path file, String setting) {
        Map<String, Long> out = new LinkedHashMap<>();
        for (String line : read(file, setting).split("\n")) {
            String[] kv = line.strip().split("\\s+");
            if (kv.length == 2) {
                try {
                    out.put(kv[0], kv[1].equals("max") ? -1L : Long.parseUnsignedLong(kv[1]));
                } catch (NumberFormatException e) {
                    // not a counter line; nothing to report
                }
            }
        }
        return out;
    }

    static String reason(IOException e) {
        if (e instanceof NoSuchFileException) {
            return "no such file (the controller is not enabled here or the kernel does not have this file)";
        }
        if (e instanceof FileSystemException f && f.getReason() != null) {
            return f.getReason();
        }
        return e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
    }

    private static String prefix(String setting) {
        return setting.isEmpty() ? "" : setting + ": ";
    }
}
