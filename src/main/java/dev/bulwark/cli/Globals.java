package dev.bulwark.cli;

import java.nio.file.Path;

/** runc's global flags. */
public record Globals(Path root, String log, String logFormat, boolean debug, boolean systemdCgroup) {
    public static final Path DEFAULT_ROOT = Path.of("/run/bulwark");
}
