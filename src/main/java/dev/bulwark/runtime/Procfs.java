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
}
