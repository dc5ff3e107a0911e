package dev.bulwark.cli;

import dev.bulwark.runtime.Lifecycle;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;

/**
 * `bulwark run [--bundle DIR] ID`: a foreground container; returns its exit status. The image
 * form, `bulwark run IMAGE [CMD...]`, is {@link ImageRunCommand}; {@link ImageRunCommand#isImageForm}
 * says which one the arguments mean.
 */
final class RunCommand {
    private static final Set<String> VALUED = Set.of("bundle", "b", "pid-file", "console-socket", "preserve-fds");
    private static final Set<String> BOOL = Set.of("detach", "d", "no-pivot", "no-new-keyring", "no-subreaper", "keep");

    private RunCommand() {}

    static int run(Globals g, List<String> argv) throws java.io.IOException {
        if (ImageRunCommand.isImageForm(argv)) {
            return ImageRunCommand.run(g, argv);
        }
        Args a = Args.parse(argv, VALUED, BOOL);
        if (a.positional().size() != 1) {
            throw new CliException("usage: bulwark run [--bundle DIR] ID");
        }
        if (a.has("console-socket") && !(a.flag("detach") || a.flag("d"))) {
            throw new CliException("--console-socket needs --detach: a foreground run relays the terminal itself");
        }
        if (a.flag("detach") || a.flag("d")) {
            // runc: create, then start, then return; the container stays with the caller's subreaper
            String id = a.positional().get(0);
            Path bundle = dev.bulwark.runtime.Invocation.current().resolve(a.get("bundle", a.get("b", ".")));
            java.util.Optional<Path> pidFile = a.has("pid-file")
                    ? java.util.Optional.of(dev.bulwark.runtime.Invocation.current().resolve(a.get("pid-file", ""))) : java.util.Optional.empty();
            dev.bulwark.runtime.Lifecycle.create(g.root(), id, bundle, pidFile, LifecycleCommands.preserveFds(a), a.flag("no-pivot"),
                    LifecycleCommands.consoleSocket(a), !a.flag("no-new-keyring"), g.system());
            dev.bulwark.runtime.Lifecycle.start(g.root(), id);
            return 0;
        }
        if (a.has("pid-file")) {
            throw new CliException("run --pid-file needs --detach in this version");
        }
        int preserve;
        try {
            preserve = Integer.parseInt(a.get("preserve-fds", "0"));
        } catch (NumberFormatException e) {
            throw new CliException("--preserve-fds takes a number, not \"" + a.get("preserve-fds", "") + "\"");
        }
        if (preserve < 0 || preserve > 1024) {
            throw new CliException("--preserve-fds must be between 0 and 1024");
        }
        Path bundle = dev.bulwark.runtime.Invocation.current().resolve(a.get("bundle", a.get("b", ".")));
        return Lifecycle.run(g.root(), a.positional().get(0), bundle, preserve, a.flag("no-pivot"),
                ProcessBuilder.Redirect.INHERIT, g.system());
    }
}
