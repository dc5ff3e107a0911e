package dev.bulwark.runtime;

import dev.bulwark.spec.Spec;
import dev.bulwark.spec.Spec.Device;
import dev.bulwark.spec.Spec.IdMapping;
import dev.bulwark.spec.Spec.Linux;
import dev.bulwark.spec.Spec.Mount;
import dev.bulwark.spec.Spec.Namespace;
import dev.bulwark.spec.Spec.Process;
import dev.bulwark.spec.Spec.Rlimit;
import dev.bulwark.spec.SpecException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Checks the meaning of a config before anything is created: names, paths, and settings that
 * only work together. The first problem is thrown as a {@link SpecException} naming its JSON path.
 * A setting Bulwark cannot honour yet is refused here, never dropped.
 */
public final class Validator {
    public static final List<String> RLIMITS = List.of(
            "RLIMIT_CPU", "RLIMIT_FSIZE", "RLIMIT_DATA", "RLIMIT_STACK", "RLIMIT_CORE", "RLIMIT_RSS",
            "RLIMIT_NPROC", "RLIMIT_NOFILE", "RLIMIT_MEMLOCK", "RLIMIT_AS", "RLIMIT_LOCKS", "RLIMIT_SIGPENDING",
            "RLIMIT_MSGQUEUE", "RLIMIT_NICE", "RLIMIT_RTPRIO", "RLIMIT_RTTIME");

    private static final Set<String> PROPAGATIONS =
            Set.of("", "private", "rprivate", "slave", "rslave", "shared", "rshared", "unbindable", "runbindable");

    /** sysctls that belong to the IPC namespace (runc's list). */
    private static final Set<String> IPC_SYSCTLS = Set.of(
            "kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall", "kernel.shmmax",
            "kernel.shmmni", "kernel.shm_rmid_forced");

    private Validator() {}

    public static void validate(Spec spec, Path bundle) {
        if (!spec.ociVersion().startsWith("1.")) {
            throw new SpecException("ociVersion", "expected a 1.x version, found \"" + spec.ociVersion() + "\"");
        }
        Path root = bundle.resolve(spec.root().path());
        if (spec.root().path().isEmpty()) {
            throw new SpecException("root.path", "must not be empty");
        }
        if (!Files.isDirectory(root)) {
            throw new SpecException("root.path", "\"" + root + "\" is not a directory");
        }
        Process process = spec.process().orElseThrow(() -> new SpecException("process", "required to run a container"));
        Linux linux = spec.linux().orElseThrow(() -> new SpecException("linux", "required on Linux"));
        Set<String> ns = namespaces(linux);
        process(process, ns);
        linux(linux, ns, spec);
        mounts(spec.mounts(), bundle);
        // runc's check: masking and read-only paths need a mount namespace of the container's own
        // (in the host's they would mask the host's /proc and /sys)
        if (!ns.contains("mount")) {
            if (!linux.maskedPaths().isEmpty()) {
                throw new SpecException("linux.maskedPaths", "unable to restrict sys entries without a private mount"
                        + " namespace (linux.namespaces has no \"mount\")");
            }
            if (!linux.readonlyPaths().isEmpty()) {
                throw new SpecException("linux.readonlyPaths", "unable to restrict sys entries without a private mount"
                        + " namespace (linux.namespaces has no \"mount\")");
            }
        }
        if (!spec.hostname().isEmpty() && !ns.contains("uts")) {
            throw new SpecException("hostname", "setting it needs a private UTS namespace (linux.namespaces has no \"uts\")");
        }
        if (!spec.domainname().isEmpty() && !ns.contains("uts")) {
            throw new SpecException("domainname", "setting it needs a private UTS namespace (linux.namespaces has no \"uts\")");
        }
        spec.hooks().ifPresent(Validator::hooks);
    }

    static void hooks(Spec.Hooks h) {
        Map<String, List<Spec.Hook>> all = Map.of("prestart", h.prestart(), "createRuntime", h.createRuntime(),
                "createContainer", h.createContainer(), "startContainer", h.startContainer(), "poststart", h.poststart(),
                "poststop", h.poststop());
        all.forEach((kind, list) -> {
            for (int i = 0; i < list.size(); i++) {
                if (!list.get(i).path().startsWith("/")) {
                    throw new SpecException("hooks." + kind + "[" + i + "].path", "must be an absolute path, found \""
                            + list.get(i).path() + "\"");
                }
            }
        });
    }

    static Set<String> namespaces(Linux linux) {
        Set<String> seen = new HashSet<>();
        for (int i = 0; i < linux.namespaces().size(); i++) {
            Namespace n = linux.namespaces().get(i);
            String p = "linux.namespaces[" + i + "]";
            if (!Namespaces.FLAGS.containsKey(n.type())) {
                throw new SpecException(p + ".type", "unknown namespace type \"" + n.type()
                        + "\" (expected pid, network, mount, ipc, uts, user, cgroup or time)");
            }
            if (!seen.add(n.type())) {
                throw new SpecException(p + ".type", "namespace \"" + n.type() + "\" is listed twice");
            }
            if (!n.path().isEmpty()) {
                if (!n.path().startsWith("/")) {
                    throw new SpecException(p + ".path", "must be absolute, found \"" + n.path() + "\"");
                }
                if (!Files.exists(Path.of(n.path()))) {
                    throw new SpecException(p + ".path", "\"" + n.path() + "\" does not exist");
                }
            }
        }
        return seen;
    }

    static void process(Process p, Set<String> ns) {
        if (p.args().isEmpty()) {
            throw new SpecException("process.args", "must name the program to run");
        }
        if (p.args().get(0).isEmpty()) {
            throw new SpecException("process.args[0]", "must not be empty");
        }
        if (!p.cwd().startsWith("/")) {
            throw new SpecException("process.cwd", "must be an absolute path, found \"" + p.cwd() + "\"");
        }
        for (int i = 0; i < p.env().size(); i++) {
            if (p.env().get(i).indexOf('=') <= 0) {
                throw new SpecException("process.env[" + i + "]", "expected NAME=value, found \"" + p.env().get(i) + "\"");
            }
        }
        p.oomScoreAdj().ifPresent(v -> {
            if (v < -1000 || v > 1000) {
                throw new SpecException("process.oomScoreAdj", "expected a value from -1000 to 1000, found " + v);
            }
        });
        // Unknown names and ambient capabilities the kernel will not raise are dropped with a
        // warning (CapabilitySets), as runc does; what is left here is what the kernel's capset
        // refuses outright, which fails runc too.
        p.capabilities().ifPresent(c -> {
            long bounding = caps(c.bounding());
            long effective = caps(c.effective());
            long permitted = caps(c.permitted());
            long inheritable = caps(c.inheritable());
            checkSubset(effective, permitted, c.effective(), "process.capabilities.effective", "permitted");
            checkSubset(inheritable, bounding, c.inheritable(), "process.capabilities.inheritable", "bounding");
        });
        Set<String> seen = new HashSet<>();
        for (int i = 0; i < p.rlimits().size(); i++) {
            Rlimit r = p.rlimits().get(i);
            String path = "process.rlimits[" + i + "]";
            if (!RLIMITS.contains(r.type())) {
                throw new SpecException(path + ".type", "unknown rlimit \"" + r.type() + "\"");
            }
            if (!seen.add(r.type())) {
                throw new SpecException(path + ".type", "rlimit \"" + r.type() + "\" is set twice");
            }
            if (Long.compareUnsigned(r.soft(), r.hard()) > 0) {
                throw new SpecException(path, "soft limit " + Long.toUnsignedString(r.soft())
                        + " is above the hard limit " + Long.toUnsignedString(r.hard()));
            }
        }
    }

    /** The mask of the names this table knows; unknown ones are CapabilitySets' to warn about. */
    static long caps(List<String> names) {
        long mask = 0;
        for (String name : names) {
            int n = Capabilities.number(name);
            if (n >= 0) {
                mask |= 1L << n;
            }
        }
        return mask;
    }

    private static void checkSubset(long set, long of, List<String> names, String path, String what) {
        long extra = set & ~of;
        if (extra != 0) {
            int bit = Long.numberOfTrailingZeros(extra);
            String name = Capabilities.NAMES.get(bit);
            throw new SpecException(path + "[" + names.indexOf(name) + "]",
                    "capability \"" + name + "\" is not also in the " + what + " set, which the kernel requires");
        }
    }

    static void linux(Linux l, Set<String> ns, Spec spec) {
        boolean newUser = newNamespace(l, "user");
        if (!l.uidMappings().isEmpty() || !l.gidMappings().isEmpty()) {
            if (!newUser) {
                throw new SpecException(l.uidMappings().isEmpty() ? "linux.gidMappings" : "linux.uidMappings",
                        "ID mappings need a new user namespace in linux.namespaces");
            }
        }
        if (newUser) {
            if (l.uidMappings().isEmpty()) {
                throw new SpecException("linux.uidMappings", "a new user namespace needs at least one mapping");
            }
            if (l.gidMappings().isEmpty()) {
                throw new SpecException("linux.gidMappings", "a new user namespace needs at least one mapping");
            }
            mappings(l.uidMappings(), "linux.uidMappings");
            mappings(l.gidMappings(), "linux.gidMappings");
        }
        if (!l.timeOffsets().isEmpty()) {
            if (!newNamespace(l, "time")) {
                throw new SpecException("linux.timeOffsets", "time offsets need a new time namespace in linux.namespaces");
            }
            for (String clock : l.timeOffsets().keySet()) {
                if (!clock.equals("monotonic") && !clock.equals("boottime")) {
                    throw new SpecException("linux.timeOffsets." + clock, "unknown clock (expected monotonic or boottime)");
                }
            }
        }
        if (!PROPAGATIONS.contains(l.rootfsPropagation())) {
            throw new SpecException("linux.rootfsPropagation", "unknown propagation \"" + l.rootfsPropagation() + "\"");
        }
        paths(l.maskedPaths(), "linux.maskedPaths");
        paths(l.readonlyPaths(), "linux.readonlyPaths");
        for (int i = 0; i < l.devices().size(); i++) {
            Device d = l.devices().get(i);
            String p = "linux.devices[" + i + "]";
            if (!Set.of("c", "u", "b", "p").contains(d.type())) {
                throw new SpecException(p + ".type", "expected c, u, b or p, found \"" + d.type() + "\"");
            }
            if (!d.path().startsWith("/dev/") || d.path().contains("/../") || d.path().endsWith("/..")) {
                throw new SpecException(p + ".path", "must be a path under /dev, found \"" + d.path() + "\"");
            }
            if (d.major() < 0 || d.minor() < 0 || d.major() > 0xFFFFF || d.minor() > 0xFFFFF) {
                throw new SpecException(p, "major and minor must be between 0 and 2^20-1");
            }
        }
        for (Map.Entry<String, String> e : l.sysctl().entrySet()) {
            sysctl(e.getKey(), ns, l, spec);
        }
        l.personality().ifPresent(p -> {
            if (!p.domain().equals("LINUX") && !p.domain().equals("LINUX32")) {
                throw new SpecException("linux.personality.domain", "expected LINUX or LINUX32, found \"" + p.domain() + "\"");
            }
            if (!p.flags().isEmpty()) {
                throw new SpecException("linux.personality.flags", "personality flags are not supported");
            }
        });
    }

    static boolean newNamespace(Linux l, String type) {
        return l.namespaces().stream().anyMatch(n -> n.type().equals(type) && n.path().isEmpty());
    }

    private static void mappings(List<IdMapping> maps, String path) {
        if (maps.size() > 340) {
            throw new SpecException(path, "the kernel allows at most 340 mappings, found " + maps.size());
        }
        for (int i = 0; i < maps.size(); i++) {
            IdMapping m = maps.get(i);
            if (m.size() == 0) {
                throw new SpecException(path + "[" + i + "].size", "must be at least 1");
            }
            if (m.containerID() + m.size() > 0x1_0000_0000L || m.hostID() + m.size() > 0x1_0000_0000L) {
                throw new SpecException(path + "[" + i + "]", "range goes past 2^32");
            }
            for (int j = 0; j < i; j++) {
                IdMapping o = maps.get(j);
                if (m.containerID() < o.containerID() + o.size() && o.containerID() < m.containerID() + m.size()) {
                    throw new SpecException(path + "[" + i + "].containerID", "overlaps " + path + "[" + j + "]");
                }
                if (m.hostID() < o.hostID() + o.size() && o.hostID() < m.hostID() + m.size()) {
                    throw new SpecException(path + "[" + i + "].hostID", "overlaps " + path + "[" + j + "]");
                }
            }
        }
    }

    private static void paths(List<String> paths, String path) {
        for (int i = 0; i < paths.size(); i++) {
            if (!paths.get(i).startsWith("/")) {
                throw new SpecException(path + "[" + i + "]", "must be an absolute path, found \"" + paths.get(i) + "\"");
            }
        }
    }

    /** runc's rule: a sysctl may only be set when it belongs to a namespace the container owns. */
    private static void sysctl(String key, Set<String> ns, Linux l, Spec spec) {
        String p = "linux.sysctl." + key;
        if (key.isEmpty() || key.contains("..") || key.contains("/") && key.contains(".")) {
            throw new SpecException(p, "not a sysctl name");
        }
        String k = key.replace('/', '.');
        if (IPC_SYSCTLS.contains(k) || k.startsWith("fs.mqueue.")) {
            if (!newNamespace(l, "ipc")) {
                throw new SpecException(p, "needs a new IPC namespace");
            }
            return;
        }
        if (k.startsWith("net.")) {
            if (!ns.contains("network")) {
                throw new SpecException(p, "needs a network namespace");
            }
            return;
        }
        if (k.equals("kernel.hostname") || k.equals("kernel.domainname")) {
            if (!newNamespace(l, "uts")) {
                throw new SpecException(p, "needs a new UTS namespace");
            }
            return;
        }
        throw new SpecException(p, "is not in a namespace the container owns; setting it would change the host");
    }

    static void mounts(List<Mount> mounts, Path bundle) {
        for (int i = 0; i < mounts.size(); i++) {
            Mount m = mounts.get(i);
            String p = "mounts[" + i + "]";
            if (!m.destination().startsWith("/")) {
                throw new SpecException(p + ".destination", "must be an absolute path, found \"" + m.destination() + "\"");
            }
            if (m.destination().contains("\0")) {
                throw new SpecException(p + ".destination", "contains a NUL byte");
            }
            MountOptions o = MountOptions.parse(m.options(), p + ".options");
            if (!m.uidMappings().isEmpty() || !m.gidMappings().isEmpty()) {
                throw new SpecException(p + ".uidMappings", "ID-mapped mounts are not supported in this version");
            }
            boolean bind = o.bind() || m.type().equals("bind");
            if (o.copyUp() && !m.type().equals("tmpfs")) {
                throw new SpecException(p + ".options", "\"tmpcopyup\" is only for tmpfs mounts");
            }
            if (bind) {
                if (m.source().isEmpty()) {
                    throw new SpecException(p + ".source", "a bind mount needs a source");
                }
                Path src = bundle.resolve(m.source());
                if (!Files.exists(src)) {
                    throw new SpecException(p + ".source", "\"" + src + "\" does not exist");
                }
            } else if (m.type().isEmpty()) {
                throw new SpecException(p + ".type", "a mount that is not a bind mount needs a filesystem type");
            }
        }
    }
}
