package dev.bulwark.cli;

import java.util.List;

final class RunCommand {
    private RunCommand() {}

    static int run(Globals g, List<String> args) {
        throw new UnsupportedOperationException("not implemented yet");
    }
}
