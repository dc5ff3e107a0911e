package dev.bulwark.audit;

import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;
import java.util.stream.Collectors;

/** Test fixtures under src/test/resources/audit. */
final class Fixtures {
    private Fixtures() {}

    static Path path(String name) {
        try {
            return Path.of(Fixtures.class.getResource("/audit/" + name).toURI());
        } catch (URISyntaxException | NullPointerException e) {
            throw new IllegalStateException("missing fixture audit/" + name, e);
        }
    }

    static String text(String name) {
        try {
            return Files.readString(path(name));
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Host facts from the three fixture files of one flavour (hardened, distro, weak). */
    static HostFacts facts(String flavour) {
        KernelConfig c = KernelConfig.parse(flavour + ".config", text(flavour + ".config"));
        Cmdline l = Cmdline.parse(flavour + ".cmdline", text(flavour + ".cmdline"));
        Sysctls s = Sysctls.parse(flavour + ".sysctl", text(flavour + ".sysctl"));
        return new HostFacts(Optional.of(c), Optional.of(l), Optional.of(s), c.version(), c.version(),
                c.arch().orElseThrow(), List.of());
    }

    static Map<String, Finding> byId(List<Finding> findings) {
        return findings.stream().collect(Collectors.toMap(Finding::id, Function.identity()));
    }

    static Status status(Map<String, Finding> m, String id) {
        Finding f = m.get(id);
        if (f == null) {
            throw new AssertionError("no finding " + id);
        }
        return f.status();
    }

    /** Writes files under a temporary host root: name to content. */
    static Host fakeHost(Path root, Map<String, String> files) throws IOException {
        for (var e : files.entrySet()) {
            Path p = root.resolve(e.getKey().substring(1));
            Files.createDirectories(p.getParent());
            Files.writeString(p, e.getValue());
        }
        return new Host(root);
    }
}
