package dev.bulwark.cli;

import dev.bulwark.audit.Severity;
import dev.bulwark.build.SystemBuilder;
import dev.bulwark.image.ContentStore;
import dev.bulwark.image.Platform;
import dev.bulwark.image.TrustPolicy;
import dev.bulwark.runtime.Invocation;
import dev.bulwark.stage.Stage;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * `bulwark build [--store DIR] [--policy FILE] [--format initramfs|tar] [--resolve] [--fail-on SEV]
 * [-o DIR] SPEC.yml`: a system from one YAML file (docs/build.md). Loaded only for this command,
 * so the YAML library never reaches the runtime's path.
 */
final class BuildCommand {
    private BuildCommand() {}

    static final String USAGE = "usage: bulwark build [--store DIR] [--policy FILE] [--format initramfs|tar] [--resolve] "
            + "[--fail-on low|medium|high] [--platform OS/ARCH] [-o|--output DIR] SPEC.yml";

    static int run(Globals g, List<String> argv) {
        Args a = Args.parse(argv, Set.of("store", "policy", "format", "fail-on", "output", "o", "platform"),
                Set.of("resolve"));
        if (a.positional().size() != 1) {
            throw new CliException(USAGE);
        }
        Invocation inv = Invocation.current();
        Path spec = inv.resolve(a.positional().get(0));
        SystemBuilder.Format format = switch (a.get("format", "initramfs")) {
            case "initramfs", "kernel+initrd" -> SystemBuilder.Format.INITRAMFS;
            case "tar" -> SystemBuilder.Format.TAR;
            default -> throw new CliException("--format must be initramfs or tar, not \"" + a.get("format", "") + "\"");
        };
        String name = spec.getFileName().toString().replaceFirst("\\.ya?ml$", "");
        Path output = inv.resolve(a.get("output", a.get("o", name)));
        Optional<Severity> failOn = a.has("fail-on") ? Optional.of(Severity.parse(a.get("fail-on", ""), "--fail-on"))
                : Optional.empty();
        ContentStore store = ContentStore.open(inv.resolve(a.get("store", ContentStore.DEFAULT_ROOT.toString())));
        TrustPolicy policy = a.has("policy") ? TrustPolicy.load(inv.resolve(a.get("policy", ""))) : TrustPolicy.loadDefault();
        Platform platform = a.has("platform") ? Platform.parse(a.get("platform", "")) : Platform.host();
        Path nativeDir = Stage.binary().getParent();
        long t0 = System.nanoTime();
        SystemBuilder.Result r = SystemBuilder.build(new SystemBuilder.Options(spec, output, format, a.flag("resolve"),
                failOn, store, policy, nativeDir, platform), msg -> System.err.println("build: " + msg));
        for (SystemBuilder.Output o : r.outputs()) {
            System.out.println(o.digest() + "  " + o.file() + "  " + o.size() + " bytes");
        }
        System.err.printf(java.util.Locale.ROOT, "build: %d entries, %d bytes in the root, %.1f s%n", r.entries(), r.rootBytes(),
                (System.nanoTime() - t0) / 1e9);
        return 0;
    }
}
