package dev.bulwark.spec;

import dev.bulwark.json.Json;
import dev.bulwark.json.JsonException;
import dev.bulwark.spec.Spec.Capabilities;
import dev.bulwark.spec.Spec.Cpu;
import dev.bulwark.spec.Spec.Device;
import dev.bulwark.spec.Spec.DeviceCgroup;
import dev.bulwark.spec.Spec.Hook;
import dev.bulwark.spec.Spec.Hooks;
import dev.bulwark.spec.Spec.IdMapping;
import dev.bulwark.spec.Spec.Linux;
import dev.bulwark.spec.Spec.Memory;
import dev.bulwark.spec.Spec.Mount;
import dev.bulwark.spec.Spec.Namespace;
import dev.bulwark.spec.Spec.Personality;
import dev.bulwark.spec.Spec.Process;
import dev.bulwark.spec.Spec.Resources;
import dev.bulwark.spec.Spec.Rlimit;
import dev.bulwark.spec.Spec.Root;
import dev.bulwark.spec.Spec.Seccomp;
import dev.bulwark.spec.Spec.SeccompArg;
import dev.bulwark.spec.Spec.SeccompSyscall;
import dev.bulwark.spec.Spec.TimeOffset;
import dev.bulwark.spec.Spec.User;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Reads config.json into {@link Spec}. This checks types and shapes, naming the JSON path of any
 * problem; {@link SpecValidator} checks meaning (known names, absolute paths, consistent sets).
 * Unknown members are ignored, as the runtime-spec requires.
 */
public final class SpecReader {
    private SpecReader() {}

    public static Spec parse(String json) {
        try {
            var tree = Json.parse(json);
            dev.bulwark.runtime.Timing.mark("json parsed");
            return read(Node.root(tree));
        } catch (JsonException e) {
            throw new SpecException("", "config.json is not valid JSON: " + e.getMessage());
        }
    }

    public static Spec read(Node n) {
        n.object();
        return new Spec(
                n.req("ociVersion").string(),
                root(n.req("root")),
                n.opt("process").map(SpecReader::process),
                n.optString("hostname", ""),
                n.optString("domainname", ""),
                n.optList("mounts", SpecReader::mount),
                n.opt("hooks").map(SpecReader::hooks),
                n.optStringMap("annotations"),
                n.opt("linux").map(SpecReader::linux));
    }

    static Root root(Node n) {
        return new Root(n.req("path").string(), n.optBool("readonly", false));
    }

    /** A process.json as `runc exec --process` takes it: the config's "process" object alone. */
    public static Process readProcess(String json) {
        try {
            return process(new Node(Json.parse(json), "process"));
        } catch (JsonException e) {
            throw new SpecException("process", "not valid JSON: " + e.getMessage());
        }
    }

    static Process process(Node n) {
        if (n.opt("commandLine").isPresent()) {
            throw new SpecException(n.path() + ".commandLine", "is for Windows containers; use args");
        }
        return new Process(
                n.optBool("terminal", false),
                user(n.req("user")),
                n.optStrings("args"),
                n.optStrings("env"),
                n.req("cwd").string(),
                n.opt("capabilities").map(SpecReader::capabilities),
                n.optList("rlimits", SpecReader::rlimit),
                n.optBool("noNewPrivileges", false),
                n.optString("apparmorProfile", ""),
                n.opt("oomScoreAdj").map(Node::int32),
                n.optString("selinuxLabel", ""),
                n.opt("landlock").map(SpecReader::landlock));
    }

    /**
     * Strict, unlike the rest of the config: a member this reader does not know inside a
     * security object would be a restriction silently not applied.
     */
    static Spec.Landlock landlock(Node n) {
        only(n, "ruleset", "rules", "disableBestEffort");
        List<String> handled = List.of();
        Optional<Node> ruleset = n.opt("ruleset");
        if (ruleset.isPresent()) {
            unsupported(ruleset.get(), "handledAccessNetwork", "handledAccessNet", "scoped");
            only(ruleset.get(), "handledAccessFS");
            handled = ruleset.get().optStrings("handledAccessFS");
        }
        List<Spec.PathBeneath> rules = List.of();
        Optional<Node> r = n.opt("rules");
        if (r.isPresent()) {
            unsupported(r.get(), "netPort");
            only(r.get(), "pathBeneath");
            rules = r.get().optList("pathBeneath", p -> {
                only(p, "allowedAccess", "paths");
                return new Spec.PathBeneath(p.optStrings("allowedAccess"), p.optStrings("paths"));
            });
        }
        return new Spec.Landlock(handled, rules, n.optBool("disableBestEffort", false));
    }

    private static void only(Node n, String... known) {
        for (var e : n.members().entrySet()) {
            if (!List.of(known).contains(e.getKey())) {
                throw e.getValue().error("unknown member (known here: " + String.join(", ", known) + ")");
            }
        }
    }

    private static void unsupported(Node n, String... names) {
        for (String k : names) {
            n.opt(k).ifPresent(v -> {
                throw v.error("Landlock network and scope rules are not supported by Bulwark; refusing rather than running without them");
            });
        }
    }

    static User user(Node n) {
        return new User(
                n.req("uid").uint32(),
                n.req("gid").uint32(),
                n.opt("umask").map(u -> (int) u.integer(0, 0777, "a umask between 0 and 0777")),
                n.optList("additionalGids", Node::uint32),
                n.optString("username", ""));
    }

    static Capabilities capabilities(Node n) {
        return new Capabilities(
                n.optStrings("bounding"), n.optStrings("effective"), n.optStrings("inheritable"),
                n.optStrings("permitted"), n.optStrings("ambient"));
    }

    static Rlimit rlimit(Node n) {
        return new Rlimit(n.req("type").string(), n.req("hard").uint64(), n.req("soft").uint64());
    }

    static Mount mount(Node n) {
        return new Mount(
                n.req("destination").string(),
                n.optString("type", ""),
                n.optString("source", ""),
                n.optStrings("options"),
                n.optList("uidMappings", SpecReader::idMapping),
                n.optList("gidMappings", SpecReader::idMapping));
    }

    static Hooks hooks(Node n) {
        return new Hooks(
                n.optList("prestart", SpecReader::hook),
                n.optList("createRuntime", SpecReader::hook),
                n.optList("createContainer", SpecReader::hook),
                n.optList("startContainer", SpecReader::hook),
                n.optList("poststart", SpecReader::hook),
                n.optList("poststop", SpecReader::hook));
    }

    static Hook hook(Node n) {
        return new Hook(
                n.req("path").string(),
                n.optStrings("args"),
                n.optStrings("env"),
                n.opt("timeout").map(t -> (int) t.integer(1, Integer.MAX_VALUE, "a positive number of seconds")));
    }

    static Linux linux(Node n) {
        Map<String, TimeOffset> offsets = new LinkedHashMap<>();
        n.opt("timeOffsets").ifPresent(t -> t.members().forEach((k, v) ->
                offsets.put(k, new TimeOffset(v.opt("secs").map(Node::int64).orElse(0L),
                        v.opt("nanosecs").map(x -> x.integer(0, 999_999_999, "nanoseconds below 10^9")).orElse(0L)))));
        return new Linux(
                n.optList("namespaces", SpecReader::namespace),
                n.optList("uidMappings", SpecReader::idMapping),
                n.optList("gidMappings", SpecReader::idMapping),
                Map.copyOf(offsets),
                n.optList("devices", SpecReader::device),
                n.optString("cgroupsPath", ""),
                n.opt("resources").map(SpecReader::resources),
                n.optString("rootfsPropagation", ""),
                n.optStrings("maskedPaths"),
                n.optStrings("readonlyPaths"),
                n.optStringMap("sysctl"),
                n.opt("seccomp").map(SpecReader::seccomp),
                n.optString("mountLabel", ""),
                n.opt("personality").map(p -> new Personality(p.req("domain").string(), p.optStrings("flags"))));
    }

    static Namespace namespace(Node n) {
        return new Namespace(n.req("type").string(), n.optString("path", ""));
    }

    static IdMapping idMapping(Node n) {
        return new IdMapping(n.req("containerID").uint32(), n.req("hostID").uint32(), n.req("size").uint32());
    }

    static Device device(Node n) {
        return new Device(
                n.req("type").string(),
                n.req("path").string(),
                n.opt("major").map(Node::int64).orElse(0L),
                n.opt("minor").map(Node::int64).orElse(0L),
                n.opt("fileMode").map(m -> (int) m.integer(0, 07777, "a file mode between 0 and 07777")),
                n.opt("uid").map(Node::uint32),
                n.opt("gid").map(Node::uint32));
    }

    /** A resources document as `runc update --resources` takes it: linux.resources alone. */
    public static Resources readResources(String json) {
        try {
            return resources(new Node(Json.parse(json), "linux.resources"));
        } catch (JsonException e) {
            throw new SpecException("linux.resources", "not valid JSON: " + e.getMessage());
        }
    }

    static Resources resources(Node n) {
        Map<String, Spec.Rdma> rdma = new LinkedHashMap<>();
        n.opt("rdma").ifPresent(r -> r.members().forEach((k, v) -> rdma.put(k, new Spec.Rdma(
                v.opt("hcaHandles").map(Node::uint32), v.opt("hcaObjects").map(Node::uint32)))));
        return new Resources(
                n.optList("devices", d -> new DeviceCgroup(
                        d.req("allow").bool(), d.optString("type", "a"), d.opt("major").map(Node::int64),
                        d.opt("minor").map(Node::int64), d.optString("access", "rwm"))),
                n.opt("memory").map(m -> new Memory(
                        m.opt("limit").map(Node::int64), m.opt("reservation").map(Node::int64),
                        m.opt("swap").map(Node::int64), m.opt("kernel").map(Node::int64),
                        m.opt("kernelTCP").map(Node::int64), m.opt("swappiness").map(Node::uint64),
                        m.opt("disableOOMKiller").map(Node::bool), m.opt("useHierarchy").map(Node::bool),
                        m.opt("checkBeforeUpdate").map(Node::bool))),
                n.opt("cpu").map(c -> new Cpu(
                        c.opt("shares").map(Node::uint64), c.opt("quota").map(Node::int64),
                        c.opt("burst").map(Node::uint64), c.opt("period").map(Node::uint64),
                        c.opt("realtimeRuntime").map(Node::int64), c.opt("realtimePeriod").map(Node::uint64),
                        c.optString("cpus", ""), c.optString("mems", ""), c.opt("idle").map(Node::int64))),
                n.opt("pids").map(p -> new Spec.Pids(p.req("limit").int64())),
                n.opt("blockIO").map(b -> new Spec.BlockIO(
                        b.opt("weight").map(SpecReader::uint16), b.opt("leafWeight").map(SpecReader::uint16),
                        b.optList("weightDevice", w -> new Spec.WeightDevice(
                                w.req("major").int64(), w.req("minor").int64(),
                                w.opt("weight").map(SpecReader::uint16), w.opt("leafWeight").map(SpecReader::uint16))),
                        b.optList("throttleReadBpsDevice", SpecReader::throttle),
                        b.optList("throttleWriteBpsDevice", SpecReader::throttle),
                        b.optList("throttleReadIOPSDevice", SpecReader::throttle),
                        b.optList("throttleWriteIOPSDevice", SpecReader::throttle))),
                n.optList("hugepageLimits", h -> new Spec.HugepageLimit(
                        h.req("pageSize").string(), h.req("limit").uint64())),
                n.opt("network").map(w -> new Spec.Network(
                        w.opt("classID").map(Node::uint32),
                        w.optList("priorities", p -> new Spec.InterfacePriority(
                                p.req("name").string(), p.req("priority").uint32())))),
                java.util.Collections.unmodifiableMap(rdma),
                n.optStringMap("unified"),
                n.object());
    }

    private static int uint16(Node n) {
        return (int) n.integer(0, 0xFFFF, "an unsigned 16-bit integer");
    }

    private static Spec.ThrottleDevice throttle(Node n) {
        return new Spec.ThrottleDevice(n.req("major").int64(), n.req("minor").int64(), n.req("rate").uint64());
    }

    static Seccomp seccomp(Node n) {
        return new Seccomp(
                n.req("defaultAction").string(),
                n.opt("defaultErrnoRet").map(e -> (int) e.uint32()),
                n.optStrings("architectures"),
                n.optStrings("flags"),
                n.optString("listenerPath", ""),
                n.optString("listenerMetadata", ""),
                n.optList("syscalls", SpecReader::seccompSyscall));
    }

    static SeccompSyscall seccompSyscall(Node n) {
        List<String> names = n.req("names").list(Node::string);
        return new SeccompSyscall(
                names,
                n.req("action").string(),
                n.opt("errnoRet").map(e -> (int) e.uint32()),
                n.optList("args", a -> new SeccompArg(
                        (int) a.req("index").integer(0, 5, "an argument index from 0 to 5"),
                        a.req("value").uint64(),
                        a.opt("valueTwo").map(Node::uint64).orElse(0L),
                        a.req("op").string())));
    }

}
