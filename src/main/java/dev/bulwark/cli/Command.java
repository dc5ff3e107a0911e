package dev.bulwark.cli;

import java.util.List;

/** One subcommand. Returns the process exit status. */
@FunctionalInterface
public interface Command {
    int run(Globals globals, List<String> args) throws Exception;
}
