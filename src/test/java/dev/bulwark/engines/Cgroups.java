package dev.bulwark.engines;

import dev.bulwark.testing.TestEnv;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** The host's mounted cgroup hierarchies (v1 controllers and cgroup2), read from mountinfo. */
final class Cgroups {
    private Cgroups() {}

    static List<Path> hierarchies() throws IOException {
        List<Path> out = new ArrayList<>();
        for (String line : TestEnv.readProc(Path.of("/proc/self/mountinfo")).split("\n")) {
            String[] f = line.split(" ");
            int dash = List.of(f).indexOf("-");
            if (dash > 0 && (f[dash + 1].equals("cgroup") || f[dash + 1].equals("cgroup2"))) {
                out.add(Path.of(f[4]));
            }
        }
        return out;
    }

    /** Child cgroups (directories) of {@code cgroup}, none if it does not exist. */
    static List<Path> children(Path cgroup) throws IOException {
        if (!Files.isDirectory(cgroup)) {
            return List.of();
        }
        try (var s = Files.list(cgroup)) {
            return s.filter(Files::isDirectory).toList();
        }
    }

    /** Every cgroup below {@code relative} (e.g. "/parent") in any hierarchy. */
    static List<Path> under(String relative) throws IOException {
        List<Path> out = new ArrayList<>();
        for (Path h : hierarchies()) {
            out.addAll(children(h.resolve(relative.substring(1))));
        }
        return out;
    }
}
