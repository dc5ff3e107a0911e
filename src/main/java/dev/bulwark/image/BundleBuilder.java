package dev.bulwark.image;

import dev.bulwark.json.JsonTree;
import dev.bulwark.json.JsonValue;
import dev.bulwark.runtime.Capabilities;
import dev.bulwark.runtime.DefaultSpec;
import dev.bulwark.seccomp.DefaultProfile;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Turns an image config and `bulwark run`'s options into a hardened config.json. The base is
 * what `bulwark spec` writes ({@link DefaultSpec}: Docker's 14 capabilities and its seccomp
 * profile, masked and read-only paths, no-new-privileges, every namespace but user, a pids
 * limit); on top: the image's command, environment, working directory and user, and the flags.
 * It reads no file and touches nothing, so every rule here is unit-tested; errors name the flag
 * or the image config field.
 */
public final class BundleBuilder {
    /** The annotation that selects a system container (DESIGN.md, "System containers"). */
    public static final String SYSTEM_ANNOTATION = "dev.bulwark.system";
    /** Landlock for the container: on, auto or off (dev.bulwark.runtime.Landlock). */
    public static final String LANDLOCK_ANNOTATION = "dev.bulwark.landlock";
    /** The reference as the user wrote it, and the digest it resolved to. */
    public static final String REF_ANNOTATION = "dev.bulwark.image.ref";
    public static final String DIGEST_ANNOTATION = "dev.bulwark.image.digest";
    /** image-spec conversion.md: where a runtime config keeps the image's StopSignal. */
    public static final String STOP_SIGNAL_ANNOTATION = "org.opencontainers.image.stopSignal";

    static final String DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

    private BundleBuilder() {}

    /** {@code -v SRC:DST[:ro|rw]}: a bind mount of a host path. */
    public record Volume(String source, String destination, boolean readOnly) {
        public static Volume parse(String spec) {
            String[] f = spec.split(":", -1);
            if (f.length < 2 || f.length > 3) {
                throw new ImageException("-v \"" + spec + "\": expected SRC:DST or SRC:DST:ro|rw");
            }
            boolean ro = false;
            if (f.length == 3) {
                switch (f[2]) {
                    case "ro" -> ro = true;
                    case "rw" -> ro = false;
                    default -> throw new ImageException("-v \"" + spec + "\": mode \"" + f[2] + "\" must be ro or rw");
                }
            }
            if (!f[0].startsWith("/")) {
                throw new ImageException("-v \"" + spec + "\": source \"" + f[0]
                        + "\" must be an absolute host path (named volumes are not supported)");
            }
            checkContainerPath("-v \"" + spec + "\": destination", f[1]);
            return new Volume(f[0], f[1], ro);
        }
    }

    /**
     * The flags of `bulwark run IMAGE`, already split into values (the parsing helpers below
     * name the flag in their errors).
     *
     * @param hostname    the container's hostname (a short ID)
     * @param cmd         CMD... after the image; empty keeps the image's Cmd
     * @param entrypoint  --entrypoint; "" clears the image's Entrypoint; present also drops the image's Cmd
     * @param env         -e K=V, in order; later wins, and they win over the image's Env
     * @param user        -u USER[:GROUP]; empty keeps the image's User
     * @param workdir     -w DIR; empty keeps the image's WorkingDir
     * @param pidsLimit   --pids-limit; 0 or less means no limit
     * @param memory      --memory in bytes; 0 means no limit
     * @param annotations extra annotations (image reference and digest)
     */
    public record Options(String hostname, List<String> cmd, Optional<String> entrypoint, List<String> env,
            Optional<String> user, Optional<String> workdir, boolean readOnly, List<Volume> volumes, boolean tty,
            long pidsLimit, long memory, List<String> capAdd, List<String> capDrop,
            boolean system, Map<String, String> annotations) {
        public Options {
            cmd = List.copyOf(cmd);
            env = List.copyOf(env);
            volumes = List.copyOf(volumes);
            capAdd = List.copyOf(capAdd);
            capDrop = List.copyOf(capDrop);
            annotations = Map.copyOf(annotations);
        }

        public static Builder builder(String hostname) {
            return new Builder(hostname);
        }
    }

    /** Options with the defaults of `bulwark run IMAGE`: the image's command, a pids limit, host IDs. */
    public static final class Builder {
        private final String hostname;
        private List<String> cmd = List.of();
        private Optional<String> entrypoint = Optional.empty();
        private final List<String> env = new ArrayList<>();
        private Optional<String> user = Optional.empty();
        private Optional<String> workdir = Optional.empty();
        private boolean readOnly;
        private final List<Volume> volumes = new ArrayList<>();
        private boolean tty;
        private long pidsLimit = DefaultSpec.PIDS_LIMIT;
        private long memory;
        private final List<String> capAdd = new ArrayList<>();
        private final List<String> capDrop = new ArrayList<>();
        private boolean system;
        private final Map<String, String> annotations = new LinkedHashMap<>();

        private Builder(String hostname) {
            this.hostname = hostname;
        }

        public Builder cmd(List<String> v) { cmd = List.copyOf(v); return this; }
        public Builder entrypoint(String v) { entrypoint = Optional.of(v); return this; }
        public Builder env(String v) { env.add(v); return this; }
        public Builder user(String v) { user = Optional.of(v); return this; }
        public Builder workdir(String v) { workdir = Optional.of(v); return this; }
        public Builder readOnly(boolean v) { readOnly = v; return this; }
        public Builder volume(Volume v) { volumes.add(v); return this; }
        public Builder tty(boolean v) { tty = v; return this; }
        public Builder pidsLimit(long v) { pidsLimit = v; return this; }
        public Builder memory(long v) { memory = v; return this; }
        public Builder capAdd(String v) { capAdd.add(v); return this; }
        public Builder capDrop(String v) { capDrop.add(v); return this; }
        public Builder system(boolean v) { system = v; return this; }
        public Builder annotation(String k, String v) { annotations.put(k, v); return this; }

        public Options build() {
            return new Options(hostname, cmd, entrypoint, env, user, workdir, readOnly, volumes, tty, pidsLimit, memory,
                    capAdd, capDrop, system, annotations);
        }
    }

    /**
     * The config.json of one container.
     *
     * @param rootfs root.path: "rootfs" (relative to the bundle) in a real bundle
     * @param users  the image's passwd and group, for names in -u or the image's User
     */
    @SuppressWarnings("unchecked")
    public static JsonValue build(ImageConfig image, Options o, UserDb users, String rootfs) {
        List<String> args = args(image, o);
        Map<String, Object> c = (Map<String, Object>) JsonTree.mutable(DefaultSpec.build(args, rootfs));
        Map<String, Object> process = (Map<String, Object>) c.get("process");
        Map<String, Object> linux = (Map<String, Object>) c.get("linux");

        String userSpec = o.user().orElse(image.user());
        UserDb.User u = users.resolve(userSpec, o.user().isPresent() ? "-u" : "image config User");
        Map<String, Object> user = new LinkedHashMap<>();
        user.put("uid", u.uid());
        user.put("gid", u.gid());
        if (!u.additionalGids().isEmpty()) {
            user.put("additionalGids", new ArrayList<>(u.additionalGids()));
        }
        process.put("user", user);
        process.put("env", new ArrayList<>(env(image, o, u)));
        String cwd = o.workdir().orElse(image.workingDir());
        if (cwd.isEmpty()) {
            cwd = "/";
        }
        checkContainerPath(o.workdir().isPresent() ? "-w" : "image config WorkingDir", cwd);
        process.put("cwd", cwd);
        process.put("terminal", o.tty());

        Set<String> caps = capabilities(o);
        List<String> capList = new ArrayList<>(caps);
        Map<String, Object> capObj = new LinkedHashMap<>();
        for (String set : List.of("bounding", "effective", "permitted")) {
            capObj.put(set, new ArrayList<>(capList));
        }
        process.put("capabilities", capObj);
        // Docker's profile opens syscalls by capability (CAP_SYS_ADMIN allows mount, ...).
        linux.put("seccomp", JsonTree.mutable(DefaultSpec.seccomp(DefaultProfile.oci(caps))));

        c.put("hostname", o.hostname());
        ((Map<String, Object>) c.get("root")).put("readonly", o.readOnly());

        List<Object> mounts = (List<Object>) c.get("mounts");
        for (Volume v : o.volumes()) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("destination", v.destination());
            m.put("type", "bind");
            m.put("source", v.source());
            List<Object> opts = new ArrayList<>(List.of("rbind", "rprivate"));
            if (v.readOnly()) {
                opts.add("ro");
            }
            m.put("options", opts);
            mounts.add(m);
        }

        Map<String, Object> resources = (Map<String, Object>) linux.get("resources");
        if (o.pidsLimit() > 0) {
            resources.put("pids", new LinkedHashMap<>(Map.of("limit", o.pidsLimit())));
        } else {
            resources.remove("pids");
        }
        if (o.memory() > 0) {
            resources.put("memory", new LinkedHashMap<>(Map.of("limit", o.memory())));
        }

        Map<String, Object> annotations = new LinkedHashMap<>(o.annotations());
        if (o.system()) {
            annotations.put(SYSTEM_ANNOTATION, "true");
        }
        if (!image.stopSignal().isEmpty()) {
            annotations.put(STOP_SIGNAL_ANNOTATION, image.stopSignal());
        }
        // Landlock by default where the kernel has the ABI the mount-derived ruleset needs; not for
        // system containers, whose own mounts Landlock would refuse (docs/landlock.md)
        if (!o.system()) {
            annotations.putIfAbsent(LANDLOCK_ANNOTATION, "auto");
        }
        if (!annotations.isEmpty()) {
            c.put("annotations", annotations);
        }
        return JsonTree.value(c);
    }

    /** Docker's rule: --entrypoint replaces the image's Entrypoint and drops its Cmd; CMD... replaces Cmd. */
    static List<String> args(ImageConfig image, Options o) {
        List<String> args = new ArrayList<>();
        if (o.entrypoint().isPresent()) {
            if (!o.entrypoint().get().isEmpty()) {
                args.add(o.entrypoint().get());
            }
            args.addAll(o.cmd());
        } else {
            args.addAll(image.entrypoint());
            args.addAll(o.cmd().isEmpty() ? image.cmd() : o.cmd());
        }
        if (args.isEmpty()) {
            throw new ImageException("no command: the image has neither Entrypoint nor Cmd; give one after the image");
        }
        if (args.get(0).isEmpty()) {
            throw new ImageException("the command's first word is empty");
        }
        return args;
    }

    static List<String> env(ImageConfig image, Options o, UserDb.User u) {
        Map<String, String> m = new LinkedHashMap<>();
        for (int i = 0; i < image.env().size(); i++) {
            put(m, image.env().get(i), "image config Env[" + i + "]");
        }
        for (String e : o.env()) {
            put(m, e, "-e");
        }
        m.putIfAbsent("PATH", DEFAULT_PATH.substring(5));
        m.putIfAbsent("HOSTNAME", o.hostname());
        if (o.tty()) {
            m.putIfAbsent("TERM", "xterm");
        }
        m.putIfAbsent("HOME", u.home().orElse("/"));
        List<String> out = new ArrayList<>();
        m.forEach((k, v) -> out.add(k + "=" + v));
        return out;
    }

    private static void put(Map<String, String> m, String kv, String what) {
        int eq = kv.indexOf('=');
        if (eq <= 0) {
            throw new ImageException(what + " \"" + kv + "\": expected NAME=VALUE");
        }
        String k = kv.substring(0, eq);
        if (k.indexOf('\0') >= 0 || kv.indexOf('\0') >= 0) {
            throw new ImageException(what + " \"" + k + "\": NUL in an environment variable");
        }
        m.put(k, kv.substring(eq + 1));
    }

    static Set<String> capabilities(Options o) {
        Set<String> caps = new LinkedHashSet<>(Capabilities.DOCKER_DEFAULT);
        for (String d : o.capDrop()) {
            String n = capName("--cap-drop", d);
            if (n.equals("ALL")) {
                caps.clear();
            } else {
                caps.remove(n);
            }
        }
        for (String a : o.capAdd()) {
            String n = capName("--cap-add", a);
            if (n.equals("ALL")) {
                caps.addAll(Capabilities.NAMES);
            } else {
                caps.add(n);
            }
        }
        return caps;
    }

    private static String capName(String flag, String v) {
        String n = v.toUpperCase(Locale.ROOT);
        if (n.equals("ALL")) {
            return n;
        }
        if (!n.startsWith("CAP_")) {
            n = "CAP_" + n;
        }
        if (Capabilities.number(n) < 0) {
            throw new ImageException(flag + " \"" + v + "\": unknown capability");
        }
        return n;
    }

    /** An absolute path inside the container, without . or .. components (they are refused, not cleaned). */
    static void checkContainerPath(String what, String p) {
        if (!p.startsWith("/")) {
            throw new ImageException(what + " \"" + p + "\" must be an absolute path");
        }
        for (String comp : p.split("/")) {
            if (comp.equals("..") || comp.equals(".")) {
                throw new ImageException(what + " \"" + p + "\" must not contain . or .. components");
            }
        }
        if (p.indexOf('\0') >= 0) {
            throw new ImageException(what + ": NUL in the path");
        }
    }
}
