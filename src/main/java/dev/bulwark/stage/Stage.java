package dev.bulwark.stage;

import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Where the native stage binary is: -Dbulwark.stage, else native/bulwark-stage beside the jar. */
public final class Stage {
    private Stage() {}

    public static Path binary() {
        String prop = System.getProperty("bulwark.stage");
        if (prop != null) {
            return Path.of(prop);
        }
        try {
            Path code = Path.of(Stage.class.getProtectionDomain().getCodeSource().getLocation().toURI());
            Path bin = code.getParent().resolve("native").resolve("bulwark-stage");
            if (!Files.isExecutable(bin)) {
                throw new IllegalStateException("the native stage is missing: " + bin + " (build with mvn package)");
            }
            return bin;
        } catch (URISyntaxException e) {
            throw new IllegalStateException("cannot locate the native stage: " + e.getMessage(), e);
        }
    }
}
