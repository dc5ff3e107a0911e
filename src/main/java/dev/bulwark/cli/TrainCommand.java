package dev.bulwark.cli;

import dev.bulwark.json.Json;
import dev.bulwark.runtime.Lifecycle;
import dev.bulwark.runtime.DefaultSpec;
import dev.bulwark.runtime.HostInfo;
import dev.bulwark.runtime.Planner;
import dev.bulwark.runtime.StateDir;
import dev.bulwark.stage.PlanEncoder;
import dev.bulwark.stage.Stage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

/**
 * `bulwark __train`: the workload the build runs to make the AOT cache. It walks the per-container
 * path without starting a container (the build need not be root): read and validate a config,
 * plan it, encode the plan, write state files, spawn a process and parse flags.
 */
final class TrainCommand {
    private TrainCommand() {}

    private static boolean isRoot() {
        try {
            return Files.readString(Path.of("/proc/self/status")).lines()
                    .anyMatch(l -> l.startsWith("Uid:") && l.split("\\s+")[1].equals("0"));
        } catch (IOException e) {
            return false;
        }
    }

    static int run(Globals g, List<String> argv) throws IOException, InterruptedException {
        Path tmp = Files.createTempDirectory("bulwark-train");
        try {
            Path rootfs = Files.createDirectories(tmp.resolve("bundle/rootfs"));
            Path bundle = rootfs.getParent();
            Files.writeString(bundle.resolve("config.json"), Json.writePretty(DefaultSpec.build(List.of("true"), "rootfs")));
            for (int i = 0; i < 3; i++) {
                var spec = Lifecycle.readConfig(bundle);
                var ops = Planner.plan(new Planner.Request(spec, bundle, tmp.resolve("state/x"), Planner.Mode.RUN, 0,
                        false, Planner.CgroupSetup.NONE), HostInfo.read());
                PlanEncoder.encode(ops);
            }
            Args.parse(List.of("--bundle", bundle.toString(), "x"), java.util.Set.of("bundle"), java.util.Set.of());
            StateDir s = StateDir.create(tmp.resolve("state"), "x", StateDir.Owner.of(dev.bulwark.runtime.Invocation.direct()));
            s.writeAtomically("plan", new byte[] {1});
            Files.readAllBytes(tmp.resolve("state/x/plan"));
            s.remove();
            new ProcessBuilder("true").inheritIO().start().waitFor();
            new sun.misc.Signal("INT");
            // As root (the build usually is), run real containers from the embedded image, so
            // the cgroup, spawn and clean-up code is in the cache too.
            if (isRoot()) {
                Path image = Stage.imageRootfs();
                Files.writeString(bundle.resolve("config.json"), Json.writePretty(DefaultSpec.build(List.of("/bin/true"), image.toString())));
                Path state = tmp.resolve("run-state");
                for (int i = 0; i < 3; i++) {
                    String id = "aot-train-" + ProcessHandle.current().pid() + "-" + i;
                    Lifecycle.run(state, id, bundle, 0, false, ProcessBuilder.Redirect.DISCARD);
                    // and the calls an engine makes per container: create, state, start, delete
                    Lifecycle.create(state, id, bundle, java.util.Optional.empty(), 0, false, java.util.Optional.empty());
                    Lifecycle.load(state, id).toJson();
                    Lifecycle.start(state, id);
                    Lifecycle.delete(state, id, true);
                }
            }
            return 0;
        } finally {
            try (Stream<Path> w = Files.walk(tmp)) {
                for (Path p : (Iterable<Path>) w.sorted(Comparator.reverseOrder())::iterator) {
                    Files.deleteIfExists(p);
                }
            }
        }
    }
}
