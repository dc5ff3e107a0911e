package dev.bulwark.build;

import dev.bulwark.image.ImageException;
import dev.bulwark.image.Reference;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Pattern;
import org.snakeyaml.engine.v2.api.Load;
import org.snakeyaml.engine.v2.api.LoadSettings;
import org.snakeyaml.engine.v2.exceptions.YamlEngineException;

/**
 * A system to build, in LinuxKit's shape: {@code kernel}, {@code init}, {@code onboot},
 * {@code services}, {@code files}. Every image is pinned by digest (a tag is an error unless the
 * caller resolves tags, as {@code --resolve} does). Unknown keys, wrong types and bad values are
 * errors naming their YAML path ({@code services[1].capabilities[0]}).
 */
public record SystemSpec(Kernel kernel, List<String> init, List<Container> onboot, List<Container> services,
        List<FileEntry> files) {

    /** The kernel image (holding /kernel and /config) and the kernel command line. */
    public record Kernel(String image, String cmdline) {}

    /**
     * One container of the built system.
     *
     * @param command      replaces the image's Entrypoint and Cmd when present
     * @param capabilities the exact capability set when present (else Docker's 14)
     * @param binds        SRC:DST[:ro|rw], SRC a path in the built system's root
     * @param net          "new" or "host" (likewise pid, ipc)
     * @param pids         pids.max (0: no limit)
     * @param memory       memory.max in bytes (0: no limit)
     */
    public record Container(String name, String image, Optional<List<String>> command, List<String> env,
            Optional<List<String>> capabilities, List<String> binds, boolean readonly, String net, String pid,
            String ipc, long pids, long memory) {}

    /** A file, directory or symlink added to the root (path relative to it). */
    public record FileEntry(String path, String contents, boolean directory, Optional<String> symlink, int mode) {}

    private static final Set<String> TOP = Set.of("kernel", "init", "onboot", "services", "files");
    private static final Set<String> KERNEL = Set.of("image", "cmdline");
    private static final Set<String> CONTAINER = Set.of("name", "image", "command", "env", "capabilities", "binds",
            "readonly", "net", "pid", "ipc", "resources");
    private static final Set<String> RESOURCES = Set.of("pids", "memory");
    private static final Set<String> FILE = Set.of("path", "contents", "directory", "symlink", "mode");
    private static final Pattern NAME = Pattern.compile("[a-z0-9][a-z0-9_.-]{0,62}");
    private static final Pattern ENV = Pattern.compile("[A-Za-z_][A-Za-z0-9_]*=[^\\x00]*");
    static final long DEFAULT_PIDS = 2048;

    /**
     * Parses a spec.
     *
     * @param source    the file name, for messages
     * @param allowTags true when tags are to be resolved afterwards (--resolve)
     */
    public static SystemSpec parse(String yaml, String source, boolean allowTags) {
        Object doc;
        try {
            LoadSettings settings = LoadSettings.builder().setAllowDuplicateKeys(false).setMaxAliasesForCollections(10)
                    .setCodePointLimit(4 << 20).setLabel(source).build();
            doc = new Load(settings).loadFromString(yaml);
        } catch (YamlEngineException e) {
            throw new BuildException(source + ": not valid YAML: " + e.getMessage().replace('\n', ' ').strip(), e);
        }
        Reader r = new Reader(source, allowTags);
        if (doc == null) {
            throw r.error("", "the spec is empty (expected kernel, onboot, services, ...)");
        }
        Map<String, Object> top = r.map(doc, "");
        r.known(top, "", TOP);
        Object k = top.get("kernel");
        if (k == null) {
            throw r.error("kernel", "required: the kernel image (image: NAME@sha256:...)");
        }
        Map<String, Object> km = r.map(k, "kernel");
        r.known(km, "kernel", KERNEL);
        String kimg = r.image(km.get("image"), "kernel.image");
        String cmdline = km.containsKey("cmdline") ? r.string(km.get("cmdline"), "kernel.cmdline") : "console=ttyS0";
        if (cmdline.indexOf('\n') >= 0) {
            throw r.error("kernel.cmdline", "must be one line");
        }
        List<String> init = new ArrayList<>();
        List<Object> il = r.list(top.get("init"), "init");
        for (int i = 0; i < il.size(); i++) {
            init.add(r.image(il.get(i), "init[" + i + "]"));
        }
        Set<String> names = new HashSet<>();
        List<Container> onboot = r.containers(top.get("onboot"), "onboot", names);
        List<Container> services = r.containers(top.get("services"), "services", names);
        List<FileEntry> files = new ArrayList<>();
        List<Object> fl = r.list(top.get("files"), "files");
        Set<String> paths = new HashSet<>();
        for (int i = 0; i < fl.size(); i++) {
            FileEntry f = r.file(fl.get(i), "files[" + i + "]");
            if (!paths.add(f.path())) {
                throw r.error("files[" + i + "].path", "\"" + f.path() + "\" is given twice");
            }
            files.add(f);
        }
        return new SystemSpec(new Kernel(kimg, cmdline), List.copyOf(init), onboot, services, List.copyOf(files));
    }

    /** Every image reference, in spec order: kernel, init, onboot, services. */
    public List<String> images() {
        List<String> out = new ArrayList<>();
        out.add(kernel.image());
        out.addAll(init);
        onboot.forEach(c -> out.add(c.image()));
        services.forEach(c -> out.add(c.image()));
        return out;
    }

    private record Reader(String source, boolean allowTags) {
        BuildException error(String path, String problem) {
            return new BuildException(source + ": " + (path.isEmpty() ? "" : path + ": ") + problem);
        }

        static String typeName(Object o) {
            if (o == null) {
                return "null";
            }
            if (o instanceof Map) {
                return "a mapping";
            }
            if (o instanceof List) {
                return "a list";
            }
            if (o instanceof String) {
                return "a string";
            }
            if (o instanceof Boolean) {
                return "a boolean";
            }
            if (o instanceof Number) {
                return "a number";
            }
            return o.getClass().getSimpleName();
        }

        @SuppressWarnings("unchecked")
        Map<String, Object> map(Object o, String path) {
            if (o instanceof Map<?, ?> m) {
                for (Object key : m.keySet()) {
                    if (!(key instanceof String)) {
                        throw error(path, "key " + key + " is " + typeName(key) + ", expected a string");
                    }
                }
                return (Map<String, Object>) m;
            }
            throw error(path, "expected a mapping, found " + typeName(o));
        }

        /** A list; absent (or null) is empty. */
        @SuppressWarnings("unchecked")
        List<Object> list(Object o, String path) {
            if (o == null) {
                return List.of();
            }
            if (o instanceof List<?> l) {
                return (List<Object>) l;
            }
            throw error(path, "expected a list, found " + typeName(o));
        }

        String string(Object o, String path) {
            if (o instanceof String s) {
                if (s.indexOf('\0') >= 0) {
                    throw error(path, "NUL in a string");
                }
                return s;
            }
            throw error(path, "expected a string, found " + typeName(o));
        }

        boolean bool(Object o, String path) {
            if (o instanceof Boolean b) {
                return b;
            }
            throw error(path, "expected true or false, found " + typeName(o));
        }

        List<String> strings(Object o, String path) {
            List<Object> l = list(o, path);
            List<String> out = new ArrayList<>();
            for (int i = 0; i < l.size(); i++) {
                out.add(string(l.get(i), path + "[" + i + "]"));
            }
            return List.copyOf(out);
        }

        void known(Map<String, Object> m, String path, Set<String> keys) {
            for (String k : m.keySet()) {
                if (!keys.contains(k)) {
                    throw error(path.isEmpty() ? k : path + "." + k,
                            "unknown key (expected one of " + String.join(", ", new TreeSet<>(keys)) + ")");
                }
            }
        }

        String image(Object o, String path) {
            if (o == null) {
                throw error(path, "required: an image reference NAME@sha256:DIGEST");
            }
            String s = string(o, path);
            Reference ref;
            try {
                ref = Reference.parse(s);
            } catch (ImageException e) {
                throw error(path, e.getMessage());
            }
            if (ref.pinned().isEmpty() && !allowTags) {
                throw error(path, "\"" + s + "\" is not pinned by digest: write NAME@sha256:DIGEST, "
                        + "or run bulwark build --resolve to rewrite the file with the digests the store resolves");
            }
            return s;
        }

        List<Container> containers(Object o, String path, Set<String> names) {
            List<Object> l = list(o, path);
            List<Container> out = new ArrayList<>();
            for (int i = 0; i < l.size(); i++) {
                out.add(container(l.get(i), path + "[" + i + "]", names));
            }
            return List.copyOf(out);
        }

        Container container(Object o, String path, Set<String> names) {
            Map<String, Object> m = map(o, path);
            known(m, path, CONTAINER);
            if (!m.containsKey("name")) {
                throw error(path + ".name", "required");
            }
            String name = string(m.get("name"), path + ".name");
            if (!NAME.matcher(name).matches()) {
                throw error(path + ".name", "\"" + name + "\" must be 1-63 of [a-z0-9_.-], starting with a letter or digit");
            }
            if (!names.add(name)) {
                throw error(path + ".name", "\"" + name + "\" is used by another container");
            }
            String image = image(m.get("image"), path + ".image");
            Optional<List<String>> command = Optional.empty();
            if (m.containsKey("command")) {
                List<String> c = strings(m.get("command"), path + ".command");
                if (c.isEmpty() || c.get(0).isEmpty()) {
                    throw error(path + ".command", "must name a program first");
                }
                command = Optional.of(c);
            }
            List<String> env = strings(m.get("env"), path + ".env");
            for (int i = 0; i < env.size(); i++) {
                if (!ENV.matcher(env.get(i)).matches()) {
                    throw error(path + ".env[" + i + "]", "\"" + env.get(i) + "\": expected NAME=VALUE");
                }
            }
            Optional<List<String>> caps = Optional.empty();
            if (m.containsKey("capabilities")) {
                List<String> c = strings(m.get("capabilities"), path + ".capabilities");
                List<String> norm = new ArrayList<>();
                for (int i = 0; i < c.size(); i++) {
                    String n = c.get(i).toUpperCase(java.util.Locale.ROOT);
                    if (!n.equals("ALL") && !n.startsWith("CAP_")) {
                        n = "CAP_" + n;
                    }
                    if (!n.equals("ALL") && dev.bulwark.runtime.Capabilities.number(n) < 0) {
                        throw error(path + ".capabilities[" + i + "]", "unknown capability \"" + c.get(i) + "\"");
                    }
                    norm.add(n);
                }
                caps = Optional.of(List.copyOf(norm));
            }
            List<String> binds = strings(m.get("binds"), path + ".binds");
            for (int i = 0; i < binds.size(); i++) {
                bind(binds.get(i), path + ".binds[" + i + "]");
            }
            boolean readonly = !m.containsKey("readonly") || bool(m.get("readonly"), path + ".readonly");
            String net = namespace(m, "net", path);
            String pid = namespace(m, "pid", path);
            String ipc = namespace(m, "ipc", path);
            long pids = DEFAULT_PIDS;
            long memory = 0;
            if (m.containsKey("resources")) {
                Map<String, Object> r = map(m.get("resources"), path + ".resources");
                known(r, path + ".resources", RESOURCES);
                if (r.containsKey("pids")) {
                    pids = positive(r.get("pids"), path + ".resources.pids");
                }
                if (r.containsKey("memory")) {
                    Object v = r.get("memory");
                    String rp = path + ".resources.memory";
                    if (v instanceof String s) {
                        try {
                            memory = dev.bulwark.image.Sizes.parse(rp, s);
                        } catch (ImageException e) {
                            throw error(rp, "\"" + s + "\": expected a positive size such as 64m or 1g");
                        }
                    } else {
                        memory = positive(v, rp);
                    }
                    if (memory < 4L << 20) {
                        throw error(rp, "at least 4m, not " + memory + " bytes");
                    }
                }
            }
            return new Container(name, image, command, env, caps, binds, readonly, net, pid, ipc, pids, memory);
        }

        long positive(Object o, String path) {
            if (o instanceof Integer || o instanceof Long) {
                long v = ((Number) o).longValue();
                if (v > 0) {
                    return v;
                }
                throw error(path, "must be positive, not " + v);
            }
            throw error(path, "expected a whole number, found " + typeName(o));
        }

        String namespace(Map<String, Object> m, String key, String path) {
            if (!m.containsKey(key)) {
                return "new";
            }
            String v = string(m.get(key), path + "." + key);
            if (!v.equals("new") && !v.equals("host")) {
                throw error(path + "." + key, "\"" + v + "\" must be new or host");
            }
            return v;
        }

        void bind(String b, String path) {
            String[] f = b.split(":", -1);
            if (f.length < 2 || f.length > 3) {
                throw error(path, "\"" + b + "\": expected SRC:DST or SRC:DST:ro|rw");
            }
            if (f.length == 3 && !f[2].equals("ro") && !f[2].equals("rw")) {
                throw error(path, "\"" + b + "\": mode \"" + f[2] + "\" must be ro or rw");
            }
            for (String p : List.of(f[0], f[1])) {
                if (!p.startsWith("/") || List.of(p.split("/")).contains("..")) {
                    throw error(path, "\"" + b + "\": \"" + p + "\" must be an absolute path without ..");
                }
            }
        }

        FileEntry file(Object o, String path) {
            Map<String, Object> m = map(o, path);
            known(m, path, FILE);
            if (!m.containsKey("path")) {
                throw error(path + ".path", "required");
            }
            String p = string(m.get("path"), path + ".path");
            while (p.startsWith("/")) {
                p = p.substring(1);
            }
            if (p.isEmpty() || p.endsWith("/") || List.of(p.split("/")).stream().anyMatch(c -> c.isEmpty() || c.equals(".") || c.equals(".."))) {
                throw error(path + ".path", "\"" + m.get("path") + "\" must be a path in the root without ., .. or //");
            }
            if (p.equals("init") || p.startsWith("bulwark/") || p.equals("bulwark") || p.startsWith("containers/")
                    || p.equals("containers")) {
                throw error(path + ".path", "\"" + p + "\" belongs to the builder (init, bulwark/, containers/)");
            }
            boolean dir = m.containsKey("directory") && bool(m.get("directory"), path + ".directory");
            Optional<String> link = m.containsKey("symlink") ? Optional.of(string(m.get("symlink"), path + ".symlink"))
                    : Optional.empty();
            String contents = m.containsKey("contents") ? string(m.get("contents"), path + ".contents") : "";
            int kinds = (dir ? 1 : 0) + (link.isPresent() ? 1 : 0) + (m.containsKey("contents") ? 1 : 0);
            if (kinds > 1) {
                throw error(path, "give one of contents, directory or symlink");
            }
            int mode = dir ? 0755 : 0644;
            if (m.containsKey("mode")) {
                Object mv = m.get("mode");
                String ms = mv instanceof String s ? s : null;
                if (ms == null || !ms.matches("0?[0-7]{3,4}")) {
                    throw error(path + ".mode", "expected an octal string such as \"0644\", found "
                            + (ms == null ? typeName(mv) : "\"" + ms + "\""));
                }
                mode = Integer.parseInt(ms, 8);
                if (mode > 07777) {
                    throw error(path + ".mode", "\"" + ms + "\" is more than 07777");
                }
            }
            return new FileEntry(p, contents, dir, link, mode);
        }
    }
}
