package dev.bulwark.stage;

import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Where the native parts are: -Dbulwark.stage names the stage (its directory holds the rest),
 * else native/ beside the jar (or beside target/classes in a build tree).
 */
public final class Stage {
    private Stage() {}

    public static Path binary() {
        String prop = System.getProperty("bulwark.stage");
        if (prop != null) {
            // the launcher may pass a relative path (./bulwark); everything derived from it must not be
            return Path.of(prop).toAbsolutePath().normalize();
        }
        Path bin = nativeDir().resolve("bulwark-stage");
        if (!Files.isExecutable(bin)) {
            throw new IllegalStateException("the native stage is missing: " + bin + " (build with mvn package)");
        }
        return bin;
    }

    /** The embedded default image's root filesystem: busybox and the probe. */
    public static Path imageRootfs() {
        Path rootfs = nativeDir().resolve("image").resolve("rootfs");
        if (!Files.isExecutable(rootfs.resolve("probe"))) {
            throw new IllegalStateException("the embedded default image is missing: " + rootfs + " (build with mvn package)");
        }
        return rootfs;
    }

    /** A file of the native build beside the stage (the client, its build ID). */
    public static Path nativeFile(String name) {
        return nativeDir().resolve(name);
    }

    private static Path nativeDir() {
        String prop = System.getProperty("bulwark.stage");
        if (prop != null) {
            return Path.of(prop).toAbsolutePath().normalize().getParent();
        }
        // Classes served from an AOT cache may have no code source; the launcher sets the property.
        var source = Stage.class.getProtectionDomain().getCodeSource();
        if (source == null || source.getLocation() == null) {
            throw new IllegalStateException("cannot locate the native stage: set -Dbulwark.stage (the bulwark launcher does)");
        }
        try {
            Path code = Path.of(source.getLocation().toURI());
            return code.getParent().resolve("native");
        } catch (URISyntaxException e) {
            throw new IllegalStateException("cannot locate the native directory: " + e.getMessage(), e);
        }
    }
}
