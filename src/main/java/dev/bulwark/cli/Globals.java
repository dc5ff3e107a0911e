package dev.bulwark.cli;

import dev.bulwark.runtime.SystemMode;
import java.nio.file.Path;

/**
 * runc's global flags, and Bulwark's system-container ones (--system, --allow-immutable-unmounts,
 * --agent-socket, --system-config), which Docker passes through a runtime's "runtimeArgs".
 */
public record Globals(Path root, String log, String logFormat, boolean debug, boolean systemdCgroup, SystemMode.Options system) {
    public static final Path DEFAULT_ROOT = Path.of("/run/bulwark");

    public Globals(Path root, String log, String logFormat, boolean debug, boolean systemdCgroup) {
        this(root, log, logFormat, debug, systemdCgroup, SystemMode.Options.defaults());
    }
}
