package dev.bulwark.cli;

import java.util.List;

final class SpecCommand {
    private SpecCommand() {}

    static int run(Globals g, List<String> args) {
        throw new UnsupportedOperationException("not implemented yet");
    }
}
