package dev.bulwark.audit;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.zip.GZIPInputStream;

/**
 * The host's files, read under a root directory: "/" on a live host, a prepared tree in tests
 * (so /proc, /sys and /boot can be faked without root).
 */
record Host(Path root) {
    static final Host LIVE = new Host(Path.of("/"));

    Path path(String absolute) {
        return root.resolve(absolute.startsWith("/") ? absolute.substring(1) : absolute);
    }

    boolean exists(String absolute) {
        return Files.exists(path(absolute));
    }

    /**
     * The file's text, or empty when it does not exist or cannot be read. Reading /proc and /sys
     * fails in ordinary ways (EPERM on write-only sysctls, EACCES on securityfs): those mean "not
     * available here", not a broken input.
     */
    Optional<String> read(String absolute) {
        Path p = path(absolute);
        try {
            return Optional.of(new String(bytes(p), StandardCharsets.UTF_8));
        } catch (IOException | SecurityException e) {
            return Optional.empty();
        }
    }

    /** Reads a file that may be gzip-compressed (/proc/config.gz, or a --config FILE.gz). */
    static String readMaybeGzip(Path p) throws IOException {
        byte[] raw = bytes(p);
        if (raw.length >= 2 && (raw[0] & 0xff) == 0x1f && (raw[1] & 0xff) == 0x8b) {
            try (InputStream in = new GZIPInputStream(new java.io.ByteArrayInputStream(raw))) {
                return new String(in.readAllBytes(), StandardCharsets.UTF_8);
            }
        }
        return new String(raw, StandardCharsets.UTF_8);
    }

    /**
     * Not Files.readAllBytes or readString: they trust the file size, which procfs reports as 0,
     * and then start with a 1-byte read; the kernel's integer sysctl handlers do not continue a
     * partial read, so /proc/sys/vm/mmap_min_addr read that way gives "4" instead of "4096".
     * A stream read asks for a full buffer at once.
     */
    static byte[] bytes(Path p) throws IOException {
        try (InputStream in = Files.newInputStream(p)) {
            return in.readAllBytes();
        }
    }

    /** The running kernel's release (uname -r). */
    Optional<String> release() {
        return read("/proc/sys/kernel/osrelease").map(String::strip).filter(s -> !s.isEmpty());
    }
}
