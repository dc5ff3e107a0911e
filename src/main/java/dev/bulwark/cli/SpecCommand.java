package dev.bulwark.cli;

import dev.bulwark.json.Json;
import dev.bulwark.runtime.DefaultSpec;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Set;

/** `bulwark spec [--bundle DIR]`: writes a hardened config.json, refusing to overwrite one. */
final class SpecCommand {
    private SpecCommand() {}

    static int run(Globals g, List<String> argv) throws IOException {
        Args a = Args.parse(argv, Set.of("bundle", "b"), Set.of("rootless"));
        if (a.flag("rootless")) {
            throw new CliException("spec --rootless is not supported yet");
        }
        if (!a.positional().isEmpty()) {
            throw new CliException("usage: bulwark spec [--bundle DIR]");
        }
        Path dir = dev.bulwark.runtime.Invocation.current().resolve(a.get("bundle", a.get("b", ".")));
        Path config = dir.resolve("config.json");
        String text = Json.writePretty(DefaultSpec.build(List.of("sh"), "rootfs"));
        try {
            Files.writeString(config, text, StandardCharsets.UTF_8, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
        } catch (FileAlreadyExistsException e) {
            throw new CliException("File " + config + " exists. Remove it first");
        }
        return 0;
    }
}
