package dev.bulwark.testing;

import dev.bulwark.runtime.IdRanges;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * An ID-range pool of a test's own: subuid and subgid files with a `bulwark` line of COUNT ranges
 * from START, an allocator state directory, and the system.conf (for --system-config) naming them.
 */
public record TestPool(IdRanges.Config ranges, Path conf) {
    public static TestPool create(Path dir, long start, int count) throws IOException {
        String line = "bulwark:" + start + ":" + (count * 65536L) + "\n";
        Files.writeString(dir.resolve("subuid"), line);
        Files.writeString(dir.resolve("subgid"), line);
        IdRanges.Config c = new IdRanges.Config(dir.resolve("idranges"), dir.resolve("subuid"), dir.resolve("subgid"), false);
        Path conf = dir.resolve("system.conf");
        Files.writeString(conf, "id-range-state = " + c.stateDir() + "\nsubuid = " + c.subuid() + "\nsubgid = " + c.subgid() + "\n");
        return new TestPool(c, conf);
    }
}
