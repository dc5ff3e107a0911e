package dev.bulwark.cli;

import dev.bulwark.json.Json;
import dev.bulwark.json.JsonTree;
import dev.bulwark.json.JsonValue;
import dev.bulwark.runtime.Lifecycle;
import dev.bulwark.runtime.SystemMode;
import dev.bulwark.runtime.DefaultSpec;
import dev.bulwark.stage.Stage;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * `bulwark demo`: Bulwark's main job as one command. It runs the probe of the embedded default
 * image on the host and in a hardened container (the config `bulwark spec` writes, plus a user
 * namespace) and prints both, side by side, as Sysbox's security quick-start walks through them.
 * `bulwark demo -- CMD...` runs CMD in the same container instead (for example `sh`).
 */
final class DemoCommand {
    private DemoCommand() {}

    static int run(Globals g, List<String> argv) throws IOException, InterruptedException {
        Args a = Args.parse(argv, Set.of("image", "store"), Set.of("no-userns"));
        if (a.has("image")) {
            return image(g, a);
        }
        Path rootfs = Stage.imageRootfs();
        List<String> cmd = a.positional().isEmpty() ? List.of("/probe") : a.positional();
        Path dir = Files.createTempDirectory("bulwark-demo");
        try {
            Files.writeString(dir.resolve("config.json"), Json.writePretty(config(cmd, rootfs, !a.flag("no-userns"))));
            String id = "demo-" + ProcessHandle.current().pid();
            if (!a.positional().isEmpty()) {
                return Lifecycle.run(g.root(), id, dir, 0, false);
            }
            Path out = dir.resolve("container.txt");
            int code = Lifecycle.run(g.root(), id, dir, 0, false, ProcessBuilder.Redirect.to(out.toFile()));
            if (code != 0) {
                System.err.println("bulwark: the probe exited with status " + code);
                return code;
            }
            Map<String, String> inside = parse(Files.readString(out, StandardCharsets.UTF_8));
            Map<String, String> host = parse(hostProbe(rootfs.resolve("probe")));
            print(host, inside, "");
            return 0;
        } finally {
            for (String f : List.of("config.json", "container.txt")) {
                Files.deleteIfExists(dir.resolve(f));
            }
            Files.deleteIfExists(dir);
        }
    }

    /**
     * `demo --image REF [--store DIR] [-- CMD...]`: the same probe, in a container of a stored
     * image, made as `bulwark run --rm IMAGE` makes it (the static probe is bind-mounted
     * read-only at /.bulwark-probe); with CMD, runs CMD in that container instead.
     */
    private static int image(Globals g, Args a) throws IOException, InterruptedException {
        List<String> run = new ArrayList<>(List.of("--rm"));
        if (a.has("store")) {
            run.addAll(List.of("--store", a.get("store", "")));
        }
        if (a.flag("no-userns")) {
            run.add("--userns=host");
        }
        Path probe = Stage.imageRootfs().resolve("probe");
        if (!a.positional().isEmpty()) {
            run.add(a.get("image", ""));
            run.addAll(a.positional());
            return ImageRunCommand.run(g, run);
        }
        run.addAll(List.of("-v", probe + ":/.bulwark-probe:ro", "--entrypoint", "/.bulwark-probe", a.get("image", "")));
        Path out = Files.createTempFile("bulwark-demo", ".txt");
        try {
            int code = ImageRunCommand.run(g, run, ProcessBuilder.Redirect.to(out.toFile()));
            if (code != 0) {
                System.err.println("bulwark: the probe exited with status " + code);
                return code;
            }
            print(parse(hostProbe(probe)), parse(Files.readString(out, StandardCharsets.UTF_8)),
                    "image " + a.get("image", "") + " (as bulwark run makes it)");
            return 0;
        } finally {
            Files.deleteIfExists(out);
        }
    }

    @SuppressWarnings("unchecked")
    static JsonValue config(List<String> args, Path rootfs, boolean userns) {
        Map<String, Object> c = (Map<String, Object>) JsonTree.mutable(DefaultSpec.build(args, rootfs.toString()));
        c.put("hostname", "bulwark-demo");
        Map<String, Object> linux = (Map<String, Object>) c.get("linux");
        ((List<Object>) linux.get("namespaces")).add(Map.of("type", "time"));
        if (userns) {
            // its own user namespace with an exclusive range from the allocator, the root ID-mapped
            // to it: no ID inside is an ID on the host or in another container
            c.put("annotations", Map.of(SystemMode.USERNS, "private"));
        }
        return JsonTree.value(c);
    }

    private static String hostProbe(Path probe) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(probe.toString()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        p.waitFor();
        return out;
    }

    static Map<String, String> parse(String text) {
        Map<String, String> m = new LinkedHashMap<>();
        for (String line : text.split("\n")) {
            int eq = line.indexOf('=');
            if (eq > 0) {
                m.put(line.substring(0, eq), line.substring(eq + 1));
            }
        }
        return m;
    }

    private static void print(Map<String, String> host, Map<String, String> inside, String image) {
        List<String[]> rows = new ArrayList<>();
        for (String key : inside.keySet()) {
            rows.add(new String[] {label(key), host.getOrDefault(key, "-"), inside.get(key)});
        }
        int w0 = 4;
        int w1 = 4;
        for (String[] r : rows) {
            w0 = Math.max(w0, r[0].length());
            w1 = Math.max(w1, r[1].length());
        }
        if (image.isEmpty()) {
            System.out.println("Bulwark demo: the embedded image's probe, on the host and in a hardened container");
            System.out.println("(Docker's default capabilities and seccomp profile, masked and read-only paths,");
            System.out.println(" no-new-privileges, a read-only root, a pids limit, every namespace, and a user");
            System.out.println(" namespace with its own 65536-ID range, the root ID-mapped to it)");
        } else {
            System.out.println("Bulwark demo: the probe on the host and in a container of " + image);
        }
        System.out.println();
        String fmt = "%-" + w0 + "s  %-" + w1 + "s  %s%n";
        System.out.printf(fmt, "", "host", "container");
        for (String[] r : rows) {
            System.out.printf(fmt, r[0], r[1], r[2]);
        }
    }

    private static String label(String key) {
        if (key.startsWith("ns.")) {
            return key.substring(3) + " namespace";
        }
        if (key.startsWith("status.")) {
            return key.substring(7);
        }
        if (key.startsWith("masked.")) {
            return key.substring(7);
        }
        if (key.startsWith("write.")) {
            return "write " + key.substring(6);
        }
        if (key.startsWith("try.")) {
            return key.substring(4);
        }
        return key;
    }
}
