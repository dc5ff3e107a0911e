package dev.bulwark.testing;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

/** Facts about the test machine and the build under test. */
public final class TestEnv {
    private TestEnv() {}

    public static boolean isRoot() {
        try {
            return Files.readString(Path.of("/proc/self/status")).lines()
                    .anyMatch(l -> l.startsWith("Uid:") && l.split("\\s+")[1].equals("0"));
        } catch (IOException e) {
            return false;
        }
    }

    public static Path nativeDir() {
        return Path.of(System.getProperty("bulwark.native.dir", "target/native")).toAbsolutePath();
    }

    public static Path classesDir() {
        return Path.of(System.getProperty("bulwark.classes.dir", "target/classes")).toAbsolutePath();
    }

    /**
     * The CLI's class path under test: the classes plus the runtime dependency's jar (the zstd
     * decoder), found where this JVM loaded it from, as target/lib is only made by `package`.
     */
    public static String classPath() {
        try {
            Path dep = Path.of(io.airlift.compress.zstd.ZstdInputStream.class.getProtectionDomain().getCodeSource().getLocation().toURI());
            return classesDir() + ":" + dep;
        } catch (java.net.URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    /** JVM options the launcher also passes (aircompressor 2 reads byte arrays through sun.misc.Unsafe). */
    public static final String UNSAFE_ALLOW = "--sun-misc-unsafe-memory-access=allow";

    public static Path sourceDir() {
        return Path.of(System.getProperty("bulwark.source.dir", ".")).toAbsolutePath();
    }

    public static Path java() {
        return Path.of(System.getProperty("java.home"), "bin", "java");
    }

    /**
     * The runtime an engine under test is given: -Dbulwark.launcher, or a script in dir that runs
     * the classes under test (so `mvn test` tests this build without packaging it).
     */
    public static Path launcher(Path dir) throws IOException {
        String given = System.getProperty("bulwark.launcher", "");
        if (!given.isEmpty()) {
            return Path.of(given).toAbsolutePath();
        }
        Path script = dir.resolve("bulwark");
        Files.writeString(script, """
                #!/bin/sh
                exec '%s' -XX:+UseSerialGC -XX:TieredStopAtLevel=1 %s -Dbulwark.stage='%s' -cp '%s' dev.bulwark.cli.Main "$@"
                """.formatted(java(), UNSAFE_ALLOW, nativeDir().resolve("bulwark-stage"), classPath()));
        Files.setPosixFilePermissions(script, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
        return script;
    }

    public static String readProc(Path p) throws IOException {
        try (InputStream in = Files.newInputStream(p)) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    /** Mount points (field 5 of mountinfo) under a directory: a leak if any remain after a test. */
    public static List<String> mountsUnder(Path dir) throws IOException {
        List<String> out = new ArrayList<>();
        String prefix = dir.toAbsolutePath().toString();
        for (String line : readProc(Path.of("/proc/self/mountinfo")).split("\n")) {
            String[] f = line.split(" ");
            if (f.length > 4 && f[4].startsWith(prefix)) {
                out.add(f[4]);
            }
        }
        return out;
    }

    /** PIDs whose root or cwd is under a directory: container processes that outlived their test. */
    public static List<Long> processesUnder(Path dir) {
        List<Long> out = new ArrayList<>();
        String prefix = dir.toAbsolutePath().toString();
        try (Stream<Path> procs = Files.list(Path.of("/proc"))) {
            for (Path p : (Iterable<Path>) procs::iterator) {
                String name = p.getFileName().toString();
                if (!name.chars().allMatch(Character::isDigit)) {
                    continue;
                }
                for (String link : List.of("root", "cwd")) {
                    try {
                        if (Files.readSymbolicLink(p.resolve(link)).toString().startsWith(prefix)) {
                            out.add(Long.parseLong(name));
                            break;
                        }
                    } catch (IOException | UnsupportedOperationException e) {
                        // gone or not ours to read
                    }
                }
            }
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        return out;
    }

    public static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> w = Files.walk(dir)) {
            for (Path p : (Iterable<Path>) w.sorted(Comparator.reverseOrder())::iterator) {
                Files.deleteIfExists(p);
            }
        }
    }
}
