package dev.bulwark.runtime;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Reads /proc and /sys files. Files.readString trusts the size the file reports, and procfs
 * reports 0 or a page, so it returns truncated text ("4" for cap_last_cap's "40"); a stream read
 * to EOF is correct.
 */
public final class Procfs {
    private Procfs() {}

    public static String read(Path p) throws IOException {
        try (InputStream in = Files.newInputStream(p)) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    /**
     * The start time of a process (field 22 of /proc/PID/stat, counted after "(comm)", which may
     * hold spaces), if it exists and is not a zombie. PID and start time name a process for good:
     * a reused PID has another start time.
     */
    public static java.util.Optional<Long> startTime(long pid) {
        try {
            String stat = read(Path.of("/proc/" + pid + "/stat"));
            String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
            if (f[0].equals("Z") || f[0].equals("X")) {
                return java.util.Optional.empty();
            }
            return java.util.Optional.of(Long.parseLong(f[19]));
        } catch (IOException | RuntimeException e) {
            return java.util.Optional.empty();
        }
    }
}
