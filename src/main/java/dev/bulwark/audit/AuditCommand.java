package dev.bulwark.audit;

import java.nio.file.Path;
import java.util.List;

/** `bulwark audit`: placeholder until the audit issue lands. */
public final class AuditCommand {
    private AuditCommand() {}

    /**
     * @param stateRoot the global --root (state directories of containers, one per ID)
     * @param args      the arguments after `audit`
     */
    public static int run(Path stateRoot, List<String> args) {
        throw new UnsupportedOperationException("bulwark audit is not implemented yet");
    }
}
