package dev.bulwark.cli;

import dev.bulwark.image.ContentStore;
import dev.bulwark.image.Descriptor;
import dev.bulwark.image.Exporter;
import dev.bulwark.image.Images;
import dev.bulwark.image.Importer;
import dev.bulwark.image.LayerUnpacker;
import dev.bulwark.image.Platform;
import dev.bulwark.image.Sizes;
import dev.bulwark.image.UnpackOptions;
import dev.bulwark.json.Json;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * The image commands: images, inspect, rmi, import, export, unpack. Each takes
 * {@code --store DIR} (default /var/lib/bulwark), the image store; the global --root is the
 * runtime's state and is not used here.
 */
public final class ImageCommands {
    private ImageCommands() {}

    private static final Set<String> STORE = Set.of("store");

    private static PrintStream out() {
        return System.out;
    }

    private static ContentStore store(Args a) {
        return ContentStore.open(dev.bulwark.runtime.Invocation.current().resolve(a.get("store", ContentStore.DEFAULT_ROOT.toString())));
    }

    private static Platform platform(Args a) {
        return a.has("platform") ? Platform.parse(a.get("platform", "")) : Platform.host();
    }

    private static Set<String> with(Set<String> base, String... more) {
        java.util.HashSet<String> s = new java.util.HashSet<>(base);
        s.addAll(List.of(more));
        return s;
    }

    /** bulwark images [--store DIR] [-q]: reference, digest, size. */
    public static int images(Globals g, List<String> argv) {
        Args a = Args.parse(argv, STORE, Set.of("quiet", "q"));
        if (!a.positional().isEmpty()) {
            throw new CliException("usage: bulwark images [--store DIR] [--quiet]");
        }
        List<Images.Summary> list = new Images(store(a), Platform.host()).list();
        if (a.flag("quiet") || a.flag("q")) {
            list.forEach(s -> out().println(s.name()));
            return 0;
        }
        int w = "REFERENCE".length();
        for (Images.Summary s : list) {
            w = Math.max(w, s.name().length());
        }
        String fmt = "%-" + w + "s  %-71s  %s%n";
        out().printf(fmt, "REFERENCE", "DIGEST", "SIZE");
        for (Images.Summary s : list) {
            out().printf(fmt, s.name(), s.digest(), s.size() < 0 ? "?" : Sizes.human(s.size()));
        }
        return 0;
    }

    /** bulwark inspect [--store DIR] [--platform OS/ARCH] REF: the image config JSON. */
    public static int inspect(Globals g, List<String> argv) {
        Args a = Args.parse(argv, with(STORE, "platform"), Set.of());
        if (a.positional().size() != 1) {
            throw new CliException("usage: bulwark inspect [--store DIR] [--platform OS/ARCH] REF");
        }
        byte[] config = new Images(store(a), platform(a)).config(a.positional().get(0));
        out().print(Json.writePretty(Json.parse(new String(config, StandardCharsets.UTF_8))));
        return 0;
    }

    /** bulwark rmi [--store DIR] REF...: drops the names, then collects unreferenced blobs. */
    public static int rmi(Globals g, List<String> argv) {
        Args a = Args.parse(argv, STORE, Set.of());
        if (a.positional().isEmpty()) {
            throw new CliException("usage: bulwark rmi [--store DIR] REF...");
        }
        Images images = new Images(store(a), Platform.host());
        for (String ref : a.positional()) {
            String name = images.resolve(ref).getKey();
            ContentStore.GcResult r = images.remove(ref);
            out().println("Untagged: " + name);
            if (r.blobs() > 0) {
                out().println("Deleted: " + r.blobs() + " blobs, " + Sizes.human(r.bytes()));
            }
        }
        return 0;
    }

    /** bulwark import [--store DIR] [--name REF] [--platform OS/ARCH] FILE|DIR. */
    public static int importImage(Globals g, List<String> argv) {
        Args a = Args.parse(argv, with(STORE, "name", "platform"), Set.of());
        if (a.positional().size() != 1) {
            throw new CliException("usage: bulwark import [--store DIR] [--name REF] [--platform OS/ARCH] FILE|DIR");
        }
        ContentStore s = store(a);
        List<Importer.Imported> got = new Importer(s, platform(a))
                .importFrom(dev.bulwark.runtime.Invocation.current().resolve(a.positional().get(0)), Optional.ofNullable(a.get("name", null)));
        for (Importer.Imported i : got) {
            out().println(i.name() + " " + i.manifest().digest());
        }
        // Blobs of other platforms in a tarball were stored while it streamed past.
        s.gc();
        return 0;
    }

    /** bulwark export [--store DIR] REF DIR|FILE.tar: an OCI image layout. */
    public static int export(Globals g, List<String> argv) {
        Args a = Args.parse(argv, STORE, Set.of());
        if (a.positional().size() != 2) {
            throw new CliException("usage: bulwark export [--store DIR] REF DIR|FILE.tar");
        }
        ContentStore s = store(a);
        String name = new Images(s, Platform.host()).resolve(a.positional().get(0)).getKey();
        Descriptor d = new Exporter(s).export(name, dev.bulwark.runtime.Invocation.current().resolve(a.positional().get(1)));
        out().println(name + " " + d.digest());
        return 0;
    }

    /**
     * bulwark unpack [--store DIR] [--platform OS/ARCH] [--devices] [--setuid] [--max-bytes N]
     * [--max-ratio N] [--max-entries N] [--max-depth N] [--max-path N] REF DIR.
     */
    public static int unpack(Globals g, List<String> argv) {
        Args a = Args.parse(argv, with(STORE, "platform", "max-bytes", "max-ratio", "max-entries", "max-depth", "max-path"),
                Set.of("devices", "setuid"));
        if (a.positional().size() != 2) {
            throw new CliException("usage: bulwark unpack [--store DIR] [--platform OS/ARCH] [--devices] [--setuid] "
                    + "[--max-bytes N] [--max-ratio N] [--max-entries N] [--max-depth N] [--max-path N] REF DIR");
        }
        UnpackOptions.Limits l = UnpackOptions.Limits.defaults();
        l = l.withMaxBytes(number(a, "max-bytes", l.maxBytes()));
        l = l.withMaxRatio(number(a, "max-ratio", l.maxRatio()));
        l = l.withMaxEntries(number(a, "max-entries", l.maxEntries()));
        l = l.withMaxDepth((int) Math.min(Integer.MAX_VALUE, number(a, "max-depth", l.maxDepth())));
        l = l.withMaxPathLength((int) Math.min(Integer.MAX_VALUE, number(a, "max-path", l.maxPathLength())));
        UnpackOptions o = UnpackOptions.defaults().withDevices(a.flag("devices")).withSetuid(a.flag("setuid")).withLimits(l);
        Path dir = dev.bulwark.runtime.Invocation.current().resolve(a.positional().get(1));
        LayerUnpacker.Report r = new Images(store(a), platform(a)).unpack(a.positional().get(0), dir, o);
        out().println("unpacked " + r.entries() + " entries (" + Sizes.human(r.bytes()) + ") into " + dir);
        if (r.strippedCount() > 0) {
            System.err.println("bulwark: stripped setuid/setgid bits or file capabilities from " + r.strippedCount()
                    + " files (" + String.join(", ", r.strippedSetuid()) + (r.strippedCount() > r.strippedSetuid().size() ? ", ..." : "")
                    + "); keep them with --setuid");
        }
        return 0;
    }

    private static long number(Args a, String flag, long dflt) {
        return a.has(flag) ? Sizes.parse("--" + flag, a.get(flag, "")) : dflt;
    }
}
