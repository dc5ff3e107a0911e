package dev.bulwark.cli;

import dev.bulwark.runtime.Invocation;
import dev.bulwark.runtime.Lifecycle;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * `bulwark __resume KIND [FLAGS] ID STATUS`: the part of a call that comes after its stage,
 * run on the direct path by a client whose planner died once the stage was handed over. The
 * planner names the call in its stage message; the client appends the stage's exit status. Each
 * kind checks that the call's state is this caller's (the owner record of a create, the exec
 * files named by PID), so only the process that began a call can finish it.
 *
 * <ul>
 *   <li>{@code create [--pid-file F] [--start] ID STATUS}: record the init as created (or undo it);
 *   <li>{@code run ID STATUS}: a foreground run's end: poststop hooks, everything removed;
 *   <li>{@code exec --files PREFIX [--detach] [--pid-file F] ID STATUS};
 *   <li>{@code image-run --store S [--rm] ID STATUS}: run's end, then the image container's overlay.
 * </ul>
 */
final class ResumeCommand {
    private ResumeCommand() {}

    static int run(Globals g, List<String> argv) throws Exception {
        if (argv.isEmpty()) {
            throw new CliException("usage: bulwark __resume create|run|exec|image-run [FLAGS] ID STATUS (run by the client)");
        }
        String kind = argv.get(0);
        Args a = Args.parse(argv.subList(1, argv.size()), Set.of("pid-file", "files", "store"), Set.of("start", "detach", "rm"));
        if (a.positional().size() != 2) {
            throw new CliException("usage: bulwark __resume " + kind + " [FLAGS] ID STATUS");
        }
        String id = a.positional().get(0);
        int status;
        try {
            status = Integer.parseInt(a.positional().get(1));
        } catch (NumberFormatException e) {
            throw new CliException("__resume: the stage's status must be a number, not \"" + a.positional().get(1) + "\"");
        }
        Optional<Path> pidFile = a.has("pid-file") ? Optional.of(Invocation.current().resolve(a.get("pid-file", "")))
                : Optional.empty();
        return switch (kind) {
            case "create" -> {
                Lifecycle.resumeCreate(g.root(), id, pidFile, status, a.flag("start"));
                yield 0;
            }
            case "run" -> Lifecycle.resumeRun(g.root(), id, status);
            case "exec" -> Lifecycle.resumeExec(g.root(), id, Invocation.current().resolve(a.get("files", "")),
                    a.flag("detach"), pidFile, status);
            case "image-run" -> ImageRunCommand.resume(g, Invocation.current().resolve(a.get("store", "")), a.flag("rm"),
                    id, status);
            default -> throw new CliException("__resume: unknown kind \"" + kind + "\"");
        };
    }
}
