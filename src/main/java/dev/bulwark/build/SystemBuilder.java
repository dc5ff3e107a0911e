package dev.bulwark.build;

import dev.bulwark.audit.KernelScore;
import dev.bulwark.audit.Severity;
import dev.bulwark.cgroup.DeviceRules;
import dev.bulwark.image.BundleBuilder;
import dev.bulwark.image.ContentStore;
import dev.bulwark.image.Descriptor;
import dev.bulwark.image.Digest;
import dev.bulwark.image.ImageConfig;
import dev.bulwark.image.ImageException;
import dev.bulwark.image.Images;
import dev.bulwark.image.LayerUnpacker;
import dev.bulwark.image.Manifest;
import dev.bulwark.image.Platform;
import dev.bulwark.image.Reference;
import dev.bulwark.image.TrustPolicy;
import dev.bulwark.image.UnpackOptions;
import dev.bulwark.image.UserDb;
import dev.bulwark.json.Json;
import dev.bulwark.json.JsonTree;
import dev.bulwark.json.JsonValue;
import dev.bulwark.runtime.DeviceAccess;
import dev.bulwark.runtime.HostInfo;
import dev.bulwark.runtime.Planner;
import dev.bulwark.spec.Spec;
import dev.bulwark.spec.SpecException;
import dev.bulwark.spec.SpecReader;
import dev.bulwark.stage.Op;
import dev.bulwark.stage.PlanEncoder;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Consumer;
import java.util.zip.GZIPOutputStream;

/**
 * `bulwark build`: one YAML spec to a kernel and an initramfs (or a rootfs tar).
 *
 * <p>Order, so that a failure writes nothing: parse the spec; resolve every image in the store
 * and decide on it with the trust policy; hash every blob of every image again; only then unpack
 * into a private staging directory, check the kernel config, compute each container's plan; and
 * last write the output files next to their final names and rename them into place.
 *
 * <p>What the built system holds: {@code /init} (bulwark-init), {@code /bulwark/bin/bulwark-stage},
 * {@code /bulwark/plans/NAME.plan} (the plans the Java planner computed here), {@code
 * /bulwark/manifest}, each container's root under {@code /containers/NAME/rootfs}, the init
 * images' contents and the spec's files. No JVM, no engine, no shell unless an image brings one.
 */
public final class SystemBuilder {
    public enum Format { INITRAMFS, TAR }

    /** What to build; {@code nativeDir} holds bulwark-init and bulwark-stage. */
    public record Options(Path spec, Path output, Format format, boolean resolve, Optional<Severity> failOn,
            ContentStore store, TrustPolicy policy, Path nativeDir, Platform platform) {}

    /** One output file and its digest. */
    public record Output(Path file, Digest digest, long size) {}

    public record Result(List<Output> outputs, KernelScore kernel, long rootBytes, int entries,
            List<TrustPolicy.Decision> decisions) {}

    /** The built system's view of the planner's host: cgroup v2 only, every capability. */
    static final HostInfo VM_HOST = new HostInfo(40, (1L << 41) - 1,
            () -> List.of(new HostInfo.CgroupMount("/sys/fs/cgroup", "cgroup2", "rw")), () -> List.of("0::/"));

    private record Verified(String ref, Manifest manifest, ImageConfig config, TrustPolicy.Decision decision) {}

    private final Options o;
    private final Consumer<String> log;

    private SystemBuilder(Options o, Consumer<String> log) {
        this.o = o;
        this.log = log;
    }

    public static Result build(Options o, Consumer<String> log) {
        return new SystemBuilder(o, log).run();
    }

    private Result run() {
        String text;
        try {
            text = Files.readString(o.spec());
        } catch (IOException e) {
            throw new BuildException("read " + o.spec() + ": " + e.getMessage(), e);
        }
        String source = o.spec().toString();
        SystemSpec spec = SystemSpec.parse(text, source, o.resolve());
        Images images = new Images(o.store(), o.platform());
        Map<String, String> rewrites = new LinkedHashMap<>();
        if (o.resolve()) {
            for (String ref : spec.images()) {
                Reference r = parseRef(ref);
                if (r.pinned().isEmpty() && !rewrites.containsKey(ref)) {
                    Map.Entry<String, Descriptor> e;
                    try {
                        e = images.resolve(ref);
                    } catch (ImageException x) {
                        throw new BuildException(source + ": --resolve " + ref + ": " + x.getMessage(), x);
                    }
                    rewrites.put(ref, ref + "@" + Images.resolvedDigest(e.getValue()));
                }
            }
            String resolved = rewrite(text, rewrites);
            spec = SystemSpec.parse(resolved, source, false);
            text = resolved;
        }

        // Every image: in the store, accepted by the policy, every blob hashing to its digest.
        Map<String, Verified> verified = new LinkedHashMap<>();
        List<TrustPolicy.Decision> decisions = new ArrayList<>();
        for (String ref : spec.images()) {
            if (!verified.containsKey(ref)) {
                Verified v = verify(images, ref);
                verified.put(ref, v);
                decisions.add(v.decision());
                log.accept("verified " + ref + ": " + v.decision().describe());
            }
        }
        if (!rewrites.isEmpty()) {
            writeAtomically(o.spec(), text.getBytes(StandardCharsets.UTF_8));
            rewrites.forEach((from, to) -> log.accept("resolved " + from + " to " + to + " (" + o.spec() + " rewritten)"));
        }

        Path staging;
        try {
            staging = Files.createTempDirectory("bulwark-build-");
        } catch (IOException e) {
            throw new BuildException("make a staging directory: " + e.getMessage(), e);
        }
        try {
            return assemble(spec, verified, decisions, staging);
        } finally {
            removeTree(staging);
        }
    }

    private static Reference parseRef(String ref) {
        try {
            return Reference.parse(ref);
        } catch (ImageException e) {
            throw new BuildException(e.getMessage(), e);
        }
    }

    /** Replaces each tagged reference where it stands as a whole YAML scalar. */
    static String rewrite(String text, Map<String, String> rewrites) {
        String out = text;
        for (Map.Entry<String, String> e : rewrites.entrySet()) {
            String q = java.util.regex.Pattern.quote(e.getKey());
            out = out.replaceAll("(?m)(^|[\\s:\\-\"'])" + q + "(?=[\"']?\\s*(#.*)?$)",
                    "$1" + java.util.regex.Matcher.quoteReplacement(e.getValue()));
        }
        return out;
    }

    private Verified verify(Images images, String ref) {
        String what = "image " + ref;
        try {
            TrustPolicy.Decision d = o.policy().checkStored(images, ref);
            Map.Entry<String, Descriptor> entry = images.resolve(ref);
            Manifest m = images.manifest(entry.getValue());
            ImageConfig config = ImageConfig.parse(o.store().read(m.config().digest()), "image config " + m.config().digest());
            for (Descriptor l : m.layers()) {
                MessageDigest md = Digest.sha256();
                try (InputStream in = new DigestInputStream(o.store().open(l.digest()), md)) {
                    in.transferTo(OutputStream.nullOutputStream());
                } catch (IOException e) {
                    throw new ImageException("layer " + l.digest() + ": " + e.getMessage(), e);
                }
                Digest actual = Digest.of(md);
                if (!actual.equals(l.digest())) {
                    throw new ImageException("layer " + l.digest() + " is corrupt in the store: it hashes to " + actual);
                }
            }
            return new Verified(ref, m, config, d);
        } catch (ImageException e) {
            throw new BuildException(what + ": " + e.getMessage(), e);
        }
    }

    private Result assemble(SystemSpec spec, Map<String, Verified> verified, List<TrustPolicy.Decision> decisions,
            Path staging) {
        Path root = staging.resolve("root");
        Path kernelDir = staging.resolve("kernel");
        try {
            Files.createDirectories(root);
            Files.createDirectories(kernelDir);
        } catch (IOException e) {
            throw new BuildException("staging: " + e.getMessage(), e);
        }
        // The kernel image: /kernel and /config, as LinuxKit's kernel images hold them.
        unpack(verified.get(spec.kernel().image()), kernelDir);
        Path kernel = regular(kernelDir.resolve("kernel"), "kernel.image " + spec.kernel().image() + ": /kernel");
        Path config = regular(kernelDir.resolve("config"), "kernel.image " + spec.kernel().image() + ": /config");
        KernelScore score;
        try {
            score = KernelScore.of(spec.kernel().image() + ":/config", Files.readString(config, StandardCharsets.ISO_8859_1));
        } catch (IOException | RuntimeException e) {
            throw new BuildException("kernel.image " + spec.kernel().image() + ": /config: " + e.getMessage(), e);
        }
        log.accept(score.summary());
        if (o.failOn().isPresent()) {
            List<dev.bulwark.audit.Finding> bad = score.failingAt(o.failOn().get());
            if (!bad.isEmpty()) {
                throw new BuildException("kernel.image " + spec.kernel().image() + ": " + bad.size() + " KSPP kernel config checks fail at "
                        + o.failOn().get().label() + " or above (--fail-on), e.g. " + bad.stream().limit(5)
                        .map(f -> f.id() + " (is " + f.actual() + ", expected " + f.expected() + ")").toList());
            }
        }

        for (String ref : spec.init()) {
            unpack(verified.get(ref), root);
        }
        // The spec's files are in the staged root before any plan is made, so binds can name them;
        // the tree below takes them again with owner 0:0 and their modes.
        for (SystemSpec.FileEntry f : spec.files()) {
            Path p = root.resolve(f.path());
            try {
                Files.createDirectories(p.getParent());
                if (f.directory()) {
                    Files.createDirectories(p);
                } else if (f.symlink().isPresent()) {
                    Files.deleteIfExists(p);
                    Files.createSymbolicLink(p, Path.of(f.symlink().get()));
                } else {
                    Files.write(p, f.contents().getBytes(StandardCharsets.UTF_8));
                }
            } catch (IOException e) {
                throw new BuildException(o.spec() + ": files: " + f.path() + ": " + e.getMessage(), e);
            }
        }
        StringBuilder manifest = new StringBuilder();
        Map<String, byte[]> plans = new LinkedHashMap<>();
        List<SystemSpec.Container> all = new ArrayList<>(spec.onboot());
        all.addAll(spec.services());
        for (int i = 0; i < all.size(); i++) {
            SystemSpec.Container c = all.get(i);
            boolean onboot = i < spec.onboot().size();
            String path = (onboot ? "onboot[" + i + "]" : "services[" + (i - spec.onboot().size()) + "]");
            Path rootfs = root.resolve("containers").resolve(c.name()).resolve("rootfs");
            try {
                Files.createDirectories(rootfs);
            } catch (IOException e) {
                throw new BuildException("staging: " + e.getMessage(), e);
            }
            unpack(verified.get(c.image()), rootfs);
            plans.put(c.name(), plan(c, path, verified.get(c.image()).config(), root, rootfs));
            manifest.append(onboot ? "onboot " : "service ").append(c.name()).append(' ').append(c.pids()).append(' ')
                    .append(c.memory()).append('\n');
        }

        RootTree tree = new RootTree();
        try {
            tree.addTree(root, "");
        } catch (IOException e) {
            throw new BuildException("read the staged root: " + e.getMessage(), e);
        }
        for (SystemSpec.FileEntry f : spec.files()) {
            if (f.directory()) {
                tree.dir(f.path(), f.mode());
            } else if (f.symlink().isPresent()) {
                tree.symlink(f.path(), f.symlink().get());
            } else {
                tree.file(f.path(), f.mode(), f.contents().getBytes(StandardCharsets.UTF_8));
            }
        }
        for (String d : List.of("dev", "proc", "sys", "run", "tmp", "bulwark/root", "bulwark/plans", "bulwark/bin")) {
            tree.dir(d, 0755);
        }
        tree.dir("tmp", 01777);
        tree.charDevice("dev/console", 0600, 5, 1);
        modules(tree, kernelDir, spec.kernel().image());
        tree.file("init", 0755, nativeFile("bulwark-init"));
        tree.file("bulwark/bin/bulwark-stage", 0755, nativeFile("bulwark-stage"));
        tree.file("bulwark/manifest", 0644, manifest.toString().getBytes(StandardCharsets.UTF_8));
        plans.forEach((name, bytes) -> tree.file("bulwark/plans/" + name + ".plan", 0644, bytes));

        long rootBytes;
        try {
            rootBytes = tree.totalBytes();
        } catch (IOException e) {
            throw new BuildException("size the root: " + e.getMessage(), e);
        }
        List<Output> outputs = write(tree, kernel, spec.kernel().cmdline());
        return new Result(outputs, score, rootBytes, tree.nodes().size(), decisions);
    }

    /**
     * The kernel image's /modules (NAME.ko, and /modules/order naming them in load order) into
     * /bulwark/modules, which bulwark-init loads before any container. A listed module that is
     * missing, or a .ko the order does not list, is an error: nothing is loaded by guess.
     */
    private static void modules(RootTree tree, Path kernelDir, String image) {
        Path dir = kernelDir.resolve("modules");
        if (!Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        String what = "kernel.image " + image + ": /modules";
        List<String> order;
        try {
            order = Files.readAllLines(regular(dir.resolve("order"), what + "/order")).stream().map(String::strip)
                    .filter(l -> !l.isEmpty()).toList();
        } catch (IOException e) {
            throw new BuildException(what + "/order: " + e.getMessage(), e);
        }
        java.util.Set<String> listed = new java.util.HashSet<>();
        for (int i = 0; i < order.size(); i++) {
            String m = order.get(i);
            if (!m.matches("[A-Za-z0-9_-]{1,64}") || !listed.add(m)) {
                throw new BuildException(what + "/order: line " + (i + 1) + ": \"" + m + "\" is not a module name, or is given twice");
            }
            tree.file("bulwark/modules/" + m + ".ko", 0644, regular(dir.resolve(m + ".ko"), what + "/" + m + ".ko"));
        }
        try (java.util.stream.Stream<Path> s = Files.list(dir)) {
            for (Path p : s.toList()) {
                String n = p.getFileName().toString();
                if (!n.equals("order") && !(n.endsWith(".ko") && listed.contains(n.substring(0, n.length() - 3)))) {
                    throw new BuildException(what + "/" + n + " is not listed in /modules/order");
                }
            }
        } catch (IOException e) {
            throw new BuildException(what + ": " + e.getMessage(), e);
        }
        tree.file("bulwark/modules.order", 0644, (String.join("\n", order) + (order.isEmpty() ? "" : "\n")).getBytes(StandardCharsets.UTF_8));
    }

    private Path nativeFile(String name) {
        Path p = o.nativeDir().resolve(name);
        if (!Files.isRegularFile(p) || !Files.isExecutable(p)) {
            throw new BuildException(p + " is missing (build with scripts/build.sh)");
        }
        return p;
    }

    private static Path regular(Path p, String what) {
        if (!Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)) {
            throw new BuildException(what + " is missing or not a regular file (a kernel image holds /kernel and /config)");
        }
        return p;
    }

    /** Applies an image's layers onto dir, each hashed again as it is read. */
    private void unpack(Verified v, Path dir) {
        LayerUnpacker u = new LayerUnpacker(dir, UnpackOptions.defaults());
        for (Descriptor l : v.manifest().layers()) {
            MessageDigest md = Digest.sha256();
            try (InputStream in = new DigestInputStream(o.store().open(l.digest()), md)) {
                u.apply(in, l.mediaType(), l.digest().toString());
                in.transferTo(OutputStream.nullOutputStream());
            } catch (IOException | ImageException e) {
                throw new BuildException("image " + v.ref() + ": layer " + l.digest() + ": " + e.getMessage(), e);
            }
            Digest actual = Digest.of(md);
            if (!actual.equals(l.digest())) {
                throw new BuildException("image " + v.ref() + ": layer " + l.digest() + " is corrupt in the store: it hashes to " + actual);
            }
        }
    }

    /**
     * The container's config (Bulwark's hardened defaults, as `bulwark run IMAGE` makes them,
     * with the entry's settings), checked, and planned for its place in the built system. Mount
     * targets the plan would create are made here, since the root is read-only when it runs.
     */
    @SuppressWarnings("unchecked")
    private byte[] plan(SystemSpec.Container c, String path, ImageConfig image, Path root, Path rootfs) {
        BundleBuilder.Builder b = BundleBuilder.Options.builder(c.name()).readOnly(c.readonly()).pidsLimit(c.pids())
                .memory(c.memory());
        c.command().ifPresent(cmd -> {
            b.entrypoint(cmd.get(0));
            b.cmd(cmd.subList(1, cmd.size()));
        });
        c.env().forEach(b::env);
        c.capabilities().ifPresent(caps -> {
            b.capDrop("ALL");
            caps.forEach(b::capAdd);
        });
        Path bundle = rootfs.getParent();
        String vmBundle = "/containers/" + c.name();
        Spec spec;
        try {
            JsonValue json = BundleBuilder.build(image, b.build(), UserDb.read(rootfs), "rootfs");
            Map<String, Object> m = (Map<String, Object>) JsonTree.mutable(json);
            Map<String, Object> linux = (Map<String, Object>) m.get("linux");
            List<Object> namespaces = (List<Object>) linux.get("namespaces");
            Map<String, String> choice = Map.of("network", c.net(), "pid", c.pid(), "ipc", c.ipc());
            namespaces.removeIf(n -> "host".equals(choice.get((String) ((Map<String, Object>) n).get("type"))));
            List<Object> mounts = (List<Object>) m.get("mounts");
            for (int i = 0; i < c.binds().size(); i++) {
                String[] f = c.binds().get(i).split(":", -1);
                Path src = root.resolve(f[0].substring(1)).normalize();
                if (!src.startsWith(root) || !Files.exists(src, LinkOption.NOFOLLOW_LINKS)) {
                    throw new BuildException(o.spec() + ": " + path + ".binds[" + i + "]: source " + f[0]
                            + " is not in the built system's root (it must come from an init image or files)");
                }
                Map<String, Object> mount = new LinkedHashMap<>();
                mount.put("destination", f[1]);
                mount.put("type", "bind");
                mount.put("source", bundle.relativize(src).toString());
                List<Object> opts = new ArrayList<>(List.of("rbind", "rprivate"));
                if (f.length == 3 && f[2].equals("ro")) {
                    opts.add("ro");
                }
                mount.put("options", opts);
                mounts.add(mount);
            }
            spec = SpecReader.parse(Json.write(JsonTree.value(m)));
        } catch (ImageException | SpecException e) {
            throw new BuildException(o.spec() + ": " + path + " (" + c.name() + "): " + e.getMessage(), e);
        }
        Path cgroup = Path.of("/sys/fs/cgroup", c.name());
        List<Op> ops;
        try {
            Planner.Checked checked = Planner.check(spec, bundle, VM_HOST);
            Spec.Resources res = DeviceAccess.resources(spec);
            Optional<dev.bulwark.cgroup.DeviceProgram> devices = res.devices().isEmpty() ? Optional.empty()
                    : Optional.of(DeviceRules.of(res.devices()).v2Program(cgroup));
            Planner.CgroupSetup cg = new Planner.CgroupSetup(List.of(cgroup.resolve("cgroup.procs")), List.of(cgroup), devices);
            ops = Planner.plan(new Planner.Request(spec, bundle, Path.of("/run/bulwark", c.name()), Planner.Mode.RUN, 0,
                    false, cg, Optional.empty(), true, false), checked, VM_HOST);
        } catch (SpecException | dev.bulwark.cgroup.CgroupException e) {
            throw new BuildException(o.spec() + ": " + path + " (" + c.name() + "): " + e.getMessage(), e);
        }
        List<Op> out = new ArrayList<>();
        for (Op op : ops) {
            // Host paths of the staging root become the built system's.
            if (op instanceof Op.Rootfs r) {
                op = new Op.Rootfs(vmPath(root, r.hostPath()));
            } else if (op instanceof Op.Bind bd) {
                op = new Op.Bind(vmPath(root, bd.source()), bd.path(), bd.recursive(), bd.attrSet(), bd.attrClr());
            } else if (op instanceof Op.Mkpath mk) {
                precreate(rootfs, mk, c.name());
            }
            out.add(op);
        }
        for (Op op : out) {
            String s = op.toString();
            if (s.contains(root.toString())) {
                throw new BuildException("internal: the plan of " + c.name() + " names the staging directory: " + s);
            }
        }
        return PlanEncoder.encode(out);
    }

    private static String vmPath(Path root, String hostPath) {
        Path p = Path.of(hostPath);
        if (!p.startsWith(root)) {
            throw new BuildException("internal: plan path " + hostPath + " is outside the staged root");
        }
        return "/" + root.relativize(p);
    }

    /** Creates a MKPATH target in the staged rootfs, resolving symlinks inside it (never outside). */
    private static void precreate(Path rootfs, Op.Mkpath mk, String name) {
        Path cur = rootfs;
        List<String> parts = new ArrayList<>(List.of(mk.path().split("/")));
        parts.removeIf(String::isEmpty);
        int hops = 0;
        try {
            for (int i = 0; i < parts.size(); i++) {
                String comp = parts.get(i);
                if (comp.equals("..")) {
                    cur = cur.equals(rootfs) ? rootfs : cur.getParent();
                    continue;
                }
                Path next = cur.resolve(comp);
                boolean leaf = i == parts.size() - 1;
                if (Files.isSymbolicLink(next)) {
                    if (++hops > 40) {
                        throw new BuildException("container " + name + ": " + mk.path() + ": too many symlinks");
                    }
                    String target = Files.readSymbolicLink(next).toString();
                    List<String> rest = new ArrayList<>(List.of(target.split("/")));
                    rest.removeIf(String::isEmpty);
                    rest.addAll(parts.subList(i + 1, parts.size()));
                    parts = rest;
                    i = -1;
                    if (target.startsWith("/")) {
                        cur = rootfs;
                    }
                    continue;
                }
                if (!Files.exists(next, LinkOption.NOFOLLOW_LINKS)) {
                    if (leaf && mk.kind() == 2) {
                        Files.createFile(next);
                        Files.setAttribute(next, "unix:mode", mk.mode(), LinkOption.NOFOLLOW_LINKS);
                    } else {
                        Files.createDirectory(next);
                        Files.setAttribute(next, "unix:mode", leaf ? mk.mode() : 0755, LinkOption.NOFOLLOW_LINKS);
                    }
                }
                cur = next;
            }
        } catch (IOException e) {
            throw new BuildException("container " + name + ": make mount target " + mk.path() + ": " + e.getMessage(), e);
        }
    }

    private List<Output> write(RootTree tree, Path kernel, String cmdline) {
        Path dir = o.output();
        List<Output> outputs = new ArrayList<>();
        List<Path> temps = new ArrayList<>();
        boolean made = !Files.exists(dir);
        boolean ok = false;
        try {
            Files.createDirectories(dir);
            if (o.format() == Format.TAR) {
                outputs.add(writeFile(dir, "rootfs.tar", temps, out -> tree.writeTar(out)));
            } else {
                outputs.add(writeFile(dir, "kernel", temps, out -> {
                    try (InputStream in = Files.newInputStream(kernel)) {
                        in.transferTo(out);
                    }
                }));
                outputs.add(writeFile(dir, "initrd.img", temps, out -> {
                    // GZIPOutputStream writes a fixed header: mtime 0, no name, OS 0.
                    GZIPOutputStream gz = new GZIPOutputStream(out, 1 << 16);
                    tree.writeCpio(gz);
                    gz.finish();
                }));
                outputs.add(writeFile(dir, "cmdline", temps, out -> out.write((cmdline + "\n").getBytes(StandardCharsets.UTF_8))));
            }
            for (int i = 0; i < outputs.size(); i++) {
                Files.move(temps.get(i), outputs.get(i).file(), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            }
            ok = true;
            return outputs;
        } catch (IOException e) {
            throw new BuildException("write " + dir + ": " + e.getMessage(), e);
        } finally {
            if (!ok) {
                for (Path t : temps) {
                    try {
                        Files.deleteIfExists(t);
                    } catch (IOException e) {
                        // the first error matters more
                    }
                }
                if (made) {
                    try {
                        Files.deleteIfExists(dir);
                    } catch (IOException e) {
                        // not empty: left as it is
                    }
                }
            }
        }
    }

    private interface Body {
        void write(OutputStream out) throws IOException;
    }

    private static Output writeFile(Path dir, String name, List<Path> temps, Body body) throws IOException {
        Path tmp = dir.resolve("." + name + ".tmp");
        temps.add(tmp);
        MessageDigest md = Digest.sha256();
        try (OutputStream f = Files.newOutputStream(tmp);
                OutputStream out = new BufferedOutputStream(new java.security.DigestOutputStream(f, md), 1 << 16)) {
            body.write(out);
        }
        return new Output(dir.resolve(name), Digest.of(md), Files.size(tmp));
    }

    private static void writeAtomically(Path file, byte[] data) {
        Path tmp = file.resolveSibling("." + file.getFileName() + ".tmp");
        try {
            Files.write(tmp, data);
            Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            throw new BuildException("rewrite " + file + ": " + e.getMessage(), e);
        }
    }

    static void removeTree(Path p) {
        try {
            BasicFileAttributes a = Files.readAttributes(p, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
            if (a.isDirectory()) {
                Files.setAttribute(p, "unix:mode", 0700, LinkOption.NOFOLLOW_LINKS);
                try (DirectoryStream<Path> ds = Files.newDirectoryStream(p)) {
                    for (Path c : ds) {
                        removeTree(c);
                    }
                }
            }
            Files.delete(p);
        } catch (java.nio.file.NoSuchFileException e) {
            // gone already
        } catch (IOException e) {
            throw new BuildException("remove " + p + ": " + e.getMessage(), e);
        }
    }
}
