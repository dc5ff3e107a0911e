package dev.bulwark.cli;

import dev.bulwark.image.BundleBuilder;
import dev.bulwark.image.ContentStore;
import dev.bulwark.image.Descriptor;
import dev.bulwark.image.ImageConfig;
import dev.bulwark.image.ImageException;
import dev.bulwark.image.Images;
import dev.bulwark.image.Manifest;
import dev.bulwark.image.Platform;
import dev.bulwark.image.Progress;
import dev.bulwark.image.Puller;
import dev.bulwark.image.Reference;
import dev.bulwark.image.RegistryClient;
import dev.bulwark.image.RootfsCache;
import dev.bulwark.image.Sizes;
import dev.bulwark.image.TrustPolicy;
import dev.bulwark.image.UnpackOptions;
import dev.bulwark.image.UserDb;
import dev.bulwark.json.Json;
import dev.bulwark.json.JsonValue;
import dev.bulwark.runtime.Lifecycle;
import dev.bulwark.runtime.StateDir;
import dev.bulwark.runtime.SystemMode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * `bulwark run [FLAGS] IMAGE [CMD...]`: a container from a stored image, as `docker run` makes
 * one, hardened as `bulwark spec` is. The image is unpacked once into the store's rootfs cache;
 * each container gets an overlay over it (upper and work in STORE/containers/ID), mounted at
 * the bundle's rootfs, and runs in the foreground through {@link Lifecycle#run}. On --rm, and on
 * any error, the overlay, the container directory and the runtime state are all removed.
 *
 * <p>Which `run` is meant (runc's or this one) is decided by {@link #isImageForm}.
 */
public final class ImageRunCommand {
    static final Set<String> VALUED = Set.of("store", "name", "v", "volume", "e", "env", "env-file", "u", "user", "w",
            "workdir", "entrypoint", "pids-limit", "memory", "m", "cap-add", "cap-drop", "userns", "platform", "hostname", "policy", "pull",
            "landlock");
    static final Set<String> BOOL = Set.of("read-only", "rm", "i", "interactive", "t", "tty", "it", "system");
    /** runc's flags of `run`: any of them selects the OCI form. */
    static final Set<String> RUNC_VALUED = Set.of("bundle", "b", "pid-file", "console-socket", "preserve-fds");
    static final Set<String> RUNC_BOOL = Set.of("detach", "d", "no-pivot", "no-new-keyring", "no-subreaper", "keep");


    private ImageRunCommand() {}

    /**
     * The dispatch rule of `bulwark run`: the OCI form (runc's: a bundle and an ID) when any of
     * runc's run flags is given (--bundle/-b, --detach/-d, --pid-file, --console-socket,
     * --preserve-fds, --no-pivot, --no-new-keyring, --no-subreaper, --keep), or when there is
     * exactly one argument, no image flag, ./config.json exists and the argument is not an image
     * in the default store. Everything else is the image form. Engines (containerd, Docker,
     * Podman) never call `run`; they use create and start.
     */
    static boolean isImageForm(List<String> argv) {
        int i = 0;
        boolean imageFlag = false;
        while (i < argv.size()) {
            String s = argv.get(i);
            if (s.equals("--")) {
                i++;
                break;
            }
            if (!s.startsWith("-") || s.equals("-")) {
                break;
            }
            String name = s.startsWith("--") ? s.substring(2) : s.substring(1);
            boolean inline = name.contains("=");
            if (inline) {
                name = name.substring(0, name.indexOf('='));
            }
            if (RUNC_VALUED.contains(name) || RUNC_BOOL.contains(name)) {
                return false;
            }
            if (VALUED.contains(name) || BOOL.contains(name)) {
                imageFlag = true;
            } else {
                return false; // unknown: let runc's parser name it
            }
            i += VALUED.contains(name) && !inline ? 2 : 1;
        }
        int positional = Math.max(0, argv.size() - i);
        if (imageFlag || positional != 1) {
            return true;
        }
        if (!Files.exists(dev.bulwark.runtime.Invocation.current().resolve("config.json"))) {
            return true;
        }
        return isStoredImage(argv.get(i));
    }

    private static boolean isStoredImage(String ref) {
        if (!Files.exists(ContentStore.DEFAULT_ROOT.resolve("index.json"))) {
            return false; // do not create a store just to answer this
        }
        try {
            new Images(ContentStore.open(ContentStore.DEFAULT_ROOT), Platform.host()).resolve(ref);
            return true;
        } catch (ImageException e) {
            return false;
        }
    }

    public static int run(Globals g, List<String> argv) throws IOException {
        return run(g, argv, ProcessBuilder.Redirect.INHERIT);
    }

    /** The whole command; stdout may be redirected (the demo reads the probe's output). */
    static int run(Globals g, List<String> argv, ProcessBuilder.Redirect stdout) throws IOException {
        Args a = Args.parse(argv, VALUED, BOOL);
        if (a.positional().isEmpty()) {
            throw new CliException("usage: bulwark run [--rm] [--name ID] [-it] [-e K=V] [-v SRC:DST[:ro]] [-u USER[:GROUP]] "
                    + "[-w DIR] [--read-only] [--entrypoint CMD] [--pids-limit N] [--memory SIZE] [--cap-add CAP] "
                    + "[--cap-drop CAP] [--userns=host] [--system] [--policy FILE] [--pull missing|never|always] [--landlock on|auto|off] [--store DIR] IMAGE [CMD...]");
        }
        String ref = a.positional().get(0);
        List<String> cmd = a.positional().subList(1, a.positional().size());
        boolean rm = a.flag("rm");
        boolean tty = a.flag("t") || a.flag("tty") || a.flag("it");
        boolean interactive = a.flag("i") || a.flag("interactive") || a.flag("it");
        boolean system = a.flag("system");
        String userns = a.get("userns", "");
        if (!userns.isEmpty() && !userns.equals("host")) {
            throw new CliException("--userns takes only \"host\" (the default is a user namespace chosen per container), not \""
                    + userns + "\"");
        }
        if (system && userns.equals("host")) {
            throw new CliException("--system and --userns=host contradict each other: a system container always has its own user namespace");
        }

        ContentStore store = ContentStore.open(dev.bulwark.runtime.Invocation.current().resolve(a.get("store", ContentStore.DEFAULT_ROOT.toString())));
        Platform platform = a.has("platform") ? Platform.parse(a.get("platform", "")) : Platform.host();
        Images images = new Images(store, platform);
        TrustPolicy trust = a.has("policy") ? TrustPolicy.load(dev.bulwark.runtime.Invocation.current().resolve(a.get("policy", ""))) : TrustPolicy.loadDefault();
        String pull = a.get("pull", "missing");
        if (!List.of("missing", "never", "always").contains(pull)) {
            throw new CliException("--pull takes missing, never or always, not \"" + pull + "\"");
        }
        Map.Entry<String, Descriptor> resolved;
        try {
            if (pull.equals("always")) {
                throw new ImageException("--pull=always");
            }
            resolved = images.resolve(ref);
        } catch (ImageException missing) {
            if (pull.equals("never")) {
                throw missing;
            }
            // as Docker does: an image not in the store is pulled, under the same trust policy
            new Puller(store, RegistryClient.Config.defaults(), platform, Progress.onStderr(false), trust)
                    .pull(Reference.parse(ref));
            resolved = images.resolve(ref);
        }
        // The trust policy is checked again here, on what the store holds, not only at pull:
        // an image imported or pulled under another policy must still satisfy this one.
        trust.checkStored(images, ref);
        Manifest manifest = images.manifest(resolved.getValue());
        ImageConfig image = ImageConfig.parse(store.read(manifest.config().digest()), "image config " + manifest.config().digest());

        String hostname = randomHex();
        String id = a.get("name", hostname);
        StateDir.checkId(id);
        BundleBuilder.Builder b = BundleBuilder.Options.builder(hostname)
                .cmd(cmd).readOnly(a.flag("read-only")).tty(tty).system(system)
                .annotation(BundleBuilder.REF_ANNOTATION, ref)
                .annotation(BundleBuilder.DIGEST_ANNOTATION, resolved.getValue().digest().toString());
        for (String f : List.of("env-file")) {
            for (String file : a.all(f)) {
                envFile(dev.bulwark.runtime.Invocation.current().resolve(file)).forEach(b::env);
            }
        }
        for (String f : List.of("e", "env")) {
            for (String e : a.all(f)) {
                hostEnv(e).ifPresent(b::env);
            }
        }
        for (String f : List.of("v", "volume")) {
            for (String v : a.all(f)) {
                BundleBuilder.Volume vol = BundleBuilder.Volume.parse(v);
                if (!Files.exists(Path.of(vol.source()))) {
                    throw new CliException("-v " + v + ": the host path " + vol.source() + " does not exist");
                }
                b.volume(vol);
            }
        }
        last(a, "u", "user").ifPresent(b::user);
        last(a, "w", "workdir").ifPresent(b::workdir);
        if (a.has("entrypoint")) {
            b.entrypoint(a.get("entrypoint", ""));
        }
        if (a.has("pids-limit")) {
            b.pidsLimit(number("--pids-limit", a.get("pids-limit", "")));
        }
        last(a, "memory", "m").ifPresent(m -> b.memory(Sizes.parse("--memory", m)));
        a.all("cap-add").forEach(b::capAdd);
        a.all("cap-drop").forEach(b::capDrop);
        if (a.has("landlock")) {
            String ll = a.get("landlock", "");
            if (!List.of("on", "auto", "off").contains(ll)) {
                throw new CliException("--landlock takes on, auto or off, not \"" + ll + "\"");
            }
            b.annotation(BundleBuilder.LANDLOCK_ANNOTATION, ll);
        }

        Path containers = store.root().resolve("containers");
        Path dir = containers.resolve(id);
        if (Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) {
            throw new CliException("a container named " + id + " exists: " + dir + " (remove it, or choose another --name)");
        }
        Path lower = RootfsCache.of(store).get(images, resolved.getKey(), manifest.config().digest(), UnpackOptions.defaults());
        UserDb users = UserDb.read(lower);

        if (!system && !userns.equals("host")) {
            // its own user namespace and exclusive ID range, the image's files ID-mapped to it:
            // the runtime allocates the range when it creates the container and frees it on delete
            b.annotation(SystemMode.USERNS, "private");
        }
        boolean ok = false;
        boolean created = false;
        boolean mounted = false;
        Path rootfs = dir.resolve("rootfs");
        try {
            JsonValue config = BundleBuilder.build(image, b.build(), users, "rootfs");
            Files.createDirectories(containers);
            Files.createDirectory(dir);
            created = true;
            Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx--x--x"));
            for (String d : List.of("rootfs", "upper", "work")) {
                Files.createDirectory(dir.resolve(d));
            }
            Files.writeString(dir.resolve("config.json"), Json.writePretty(config), StandardCharsets.UTF_8);
            mountOverlay(lower, dir);
            mounted = true;
            makeWorkdir(rootfs, cwd(config));
            if (a.flag("read-only")) {
                // after the working directory exists, as Docker makes it before the root goes read-only
                exec(List.of("mount", "-o", "remount,ro", rootfs.toString()), "make the overlay at " + rootfs + " read-only");
            }
            ProcessBuilder.Redirect stdin = interactive ? ProcessBuilder.Redirect.INHERIT
                    : ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile());
            List<String> resume = new ArrayList<>(List.of("image-run", "--store", store.root().toString()));
            if (rm) {
                resume.add("--rm");
            }
            resume.add(id);
            int code = Lifecycle.run(g.root(), id, dir, 0, false, stdin, stdout, g.system(), resume);
            ok = true;
            return code;
        } finally {
            finish(dir, mounted, created, ok, rm);
        }
    }

    /**
     * `__resume image-run --store S [--rm] ID STATUS`: finishes a run of an image on the direct
     * path when the planner that began it died while the container ran.
     */
    static int resume(Globals g, Path store, boolean rm, String id, int status) throws IOException {
        StateDir.checkId(id);
        Path dir = store.resolve("containers").resolve(id);
        boolean ok = false;
        try {
            int code = Lifecycle.resumeRun(g.root(), id, status);
            ok = true;
            return code;
        } finally {
            finish(dir, true, true, ok, rm);
        }
    }

    /** The overlay unmounted; the container's directory removed with --rm or on an error, else its changes kept. */
    private static void finish(Path dir, boolean mounted, boolean created, boolean ok, boolean rm) throws IOException {
        Path rootfs = dir.resolve("rootfs");
        boolean unmounted = !mounted || unmount(rootfs);
        if ((rm || !ok) && unmounted) {
            if (created) {
                RootfsCache.Trees.remove(dir);
            }
        } else if (!rm && ok) {
            // Kept, as Docker keeps a stopped container: its config and its changes (upper).
            Files.deleteIfExists(rootfs);
        }
    }

    private static Optional<String> last(Args a, String shortName, String longName) {
        if (a.has(longName)) {
            return Optional.of(a.get(longName, ""));
        }
        return a.has(shortName) ? Optional.of(a.get(shortName, "")) : Optional.empty();
    }

    private static long number(String flag, String v) {
        try {
            return Long.parseLong(v);
        } catch (NumberFormatException e) {
            throw new CliException(flag + " takes a number (0 or less: no limit), not \"" + v + "\"");
        }
    }

    /** -e K=V as given; -e K takes K from this environment, and is dropped if unset (Docker's rule). */
    private static Optional<String> hostEnv(String e) {
        if (e.contains("=")) {
            return Optional.of(e);
        }
        if (e.isEmpty()) {
            throw new CliException("-e needs NAME=VALUE or NAME, not an empty string");
        }
        return dev.bulwark.runtime.Invocation.current().getenv(e).map(v -> e + "=" + v);
    }

    private static List<String> envFile(Path file) {
        List<String> out = new ArrayList<>();
        try {
            for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
                String l = line.strip();
                if (!l.isEmpty() && !l.startsWith("#")) {
                    hostEnv(l).ifPresent(out::add);
                }
            }
        } catch (IOException e) {
            throw new CliException("--env-file " + file + ": " + e.getMessage());
        }
        return out;
    }

    private static String randomHex() {
        byte[] b = new byte[6];
        new SecureRandom().nextBytes(b);
        return HexFormat.of().formatHex(b);
    }

    private static String cwd(JsonValue config) {
        if (config instanceof JsonValue.JsonObject o && o.members().get("process") instanceof JsonValue.JsonObject p
                && p.members().get("cwd") instanceof JsonValue.JsonString s) {
            return s.value();
        }
        return "/";
    }

    /**
     * The overlay: lower = the cached image, upper and work in the container's directory. The
     * paths are ours (store root, hex digest, checked ID); a comma or colon would split the
     * option string, so they are refused rather than escaped.
     */
    private static void mountOverlay(Path lower, Path dir) {
        for (Path p : List.of(lower, dir)) {
            String s = p.toString();
            if (s.contains(",") || s.contains(":") || s.contains("\\")) {
                throw new CliException("overlay path " + s + " contains , : or \\, which mount options cannot carry");
            }
        }
        String opts = "lowerdir=" + lower + ",upperdir=" + dir.resolve("upper") + ",workdir="
                + dir.resolve("work");
        exec(List.of("mount", "-t", "overlay", "-o", opts, "overlay", dir.resolve("rootfs").toString()),
                "mount the overlay at " + dir.resolve("rootfs"));
    }

    private static boolean unmount(Path rootfs) {
        try {
            exec(List.of("umount", rootfs.toString()), "unmount " + rootfs);
            return true;
        } catch (RuntimeException e) {
            System.err.println("bulwark: " + e.getMessage() + "; " + rootfs.getParent() + " is kept");
            return false;
        }
    }

    private static void exec(List<String> cmd, String what) {
        try {
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectInput(ProcessBuilder.Redirect.from(
                    Path.of("/dev/null").toFile())).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
            if (p.waitFor() != 0) {
                throw new CliException(what + ": " + String.join(" ", cmd.subList(0, 1)) + " exited with " + p.exitValue()
                        + (out.isEmpty() ? "" : ": " + out));
            }
        } catch (IOException e) {
            throw new CliException(what + ": " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CliException(what + ": interrupted");
        }
    }

    /**
     * Docker creates a missing working directory. Made inside the overlay (so in upper) one
     * component at a time without following symlinks: an existing symlink stops the walk and the
     * rest is left to the container's own chdir, which resolves it inside the container's root.
     */
    private static void makeWorkdir(Path rootfs, String cwd) throws IOException {
        Path p = rootfs;
        for (String c : cwd.split("/")) {
            if (c.isEmpty()) {
                continue;
            }
            p = p.resolve(c);
            try {
                BasicFileAttributes at = Files.readAttributes(p, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
                if (!at.isDirectory()) {
                    return;
                }
            } catch (NoSuchFileException e) {
                Files.createDirectory(p);
                Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rwxr-xr-x"));
            }
        }
    }
}
