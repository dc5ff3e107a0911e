package dev.bulwark.seccomp;

import dev.bulwark.json.Json;
import dev.bulwark.json.JsonException;
import dev.bulwark.spec.Node;
import dev.bulwark.spec.Spec.Seccomp;
import dev.bulwark.spec.Spec.SeccompArg;
import dev.bulwark.spec.Spec.SeccompSyscall;
import dev.bulwark.spec.SpecException;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * A seccomp profile in Docker's format (moby profiles/seccomp): an OCI-like profile whose rules
 * carry conditions on the container (includes/excludes by capabilities, architecture and kernel
 * version) and whose architectures come from an archMap keyed by the host architecture.
 * {@link #evaluate} turns it into the OCI {@code linux.seccomp} that Docker writes to config.json.
 * Fields Docker ignores (such as "comment") are ignored here too, so its files load unchanged.
 */
public record DockerProfile(
        String defaultAction,
        Optional<Integer> defaultErrnoRet,
        List<String> architectures,
        List<ArchMap> archMap,
        List<String> flags,
        String listenerPath,
        String listenerMetadata,
        List<Rule> syscalls) {

    public record ArchMap(String architecture, List<String> subArchitectures) {}

    /** caps and arches are matched exactly; arches use libseccomp's short names ("amd64", "x32"). */
    public record Filter(List<String> caps, List<String> arches, Optional<KernelVersion> minKernel) {
        static final Filter NONE = new Filter(List.of(), List.of(), Optional.empty());
    }

    public record Rule(
            List<String> names, String action, Optional<Integer> errnoRet, List<SeccompArg> args, Filter includes,
            Filter excludes) {}

    /** "kernel.major" as Docker compares it: minor versions and distribution suffixes are ignored. */
    public record KernelVersion(int kernel, int major) implements Comparable<KernelVersion> {
        @Override
        public int compareTo(KernelVersion o) {
            return kernel != o.kernel ? Integer.compare(kernel, o.kernel) : Integer.compare(major, o.major);
        }

        /** Parses the leading "N.M" of a kernel release such as "6.1.0-18-amd64". */
        public static KernelVersion ofRelease(String release) {
            int dot = release.indexOf('.');
            int end = dot + 1;
            while (end < release.length() && Character.isDigit(release.charAt(end))) {
                end++;
            }
            try {
                return new KernelVersion(Integer.parseInt(release.substring(0, dot)),
                        Integer.parseInt(release.substring(dot + 1, end)));
            } catch (RuntimeException e) {
                throw new SeccompException("", "cannot parse kernel release \"" + release + "\", expected \"N.M...\"");
            }
        }

        /** The running kernel (the JVM reports uname's release as os.version on Linux). */
        public static KernelVersion host() {
            return ofRelease(System.getProperty("os.version", ""));
        }
    }

    /** Parses a profile; source names the file in error messages. */
    public static DockerProfile parse(String json, String source) {
        try {
            return read(Node.root(Json.parse(json)));
        } catch (SpecException e) {
            String problem = e.getMessage().substring(e.path().isEmpty() ? 0 : e.path().length() + 2);
            throw new SeccompException(source + (e.path().isEmpty() ? "" : ": " + e.path()), problem);
        } catch (JsonException e) {
            throw new SeccompException(source, e.getMessage());
        }
    }

    private static DockerProfile read(Node n) {
        List<String> architectures = n.optStrings("architectures");
        List<ArchMap> archMap = n.optList("archMap", a -> new ArchMap(a.req("architecture").string(),
                a.optStrings("subArchitectures")));
        if (!architectures.isEmpty() && !archMap.isEmpty()) {
            throw new SpecException("", "'architectures' and 'archMap' were both given, expected only one of them");
        }
        return new DockerProfile(
                n.optString("defaultAction", ""),
                n.opt("defaultErrnoRet").map(e -> (int) e.uint32()),
                architectures,
                archMap,
                n.optStrings("flags"),
                n.optString("listenerPath", ""),
                n.optString("listenerMetadata", ""),
                n.optList("syscalls", DockerProfile::rule));
    }

    private static Rule rule(Node n) {
        Optional<String> name = n.opt("name").map(Node::string).filter(s -> !s.isEmpty());
        List<String> names = n.optStrings("names");
        if (name.isPresent() && !names.isEmpty()) {
            throw n.error("'name' and 'names' were both given, expected only one of them");
        }
        return new Rule(
                name.map(List::of).orElse(names),
                n.req("action").string(),
                n.opt("errnoRet").map(e -> (int) e.uint32()),
                n.optList("args", a -> new SeccompArg(
                        (int) a.req("index").integer(0, 5, "an argument index from 0 to 5"),
                        a.opt("value").map(Node::uint64).orElse(0L),
                        a.opt("valueTwo").map(Node::uint64).orElse(0L),
                        a.req("op").string())),
                n.opt("includes").map(DockerProfile::filter).orElse(Filter.NONE),
                n.opt("excludes").map(DockerProfile::filter).orElse(Filter.NONE));
    }

    private static Filter filter(Node n) {
        return new Filter(n.optStrings("caps"), n.optStrings("arches"), n.opt("minKernel").flatMap(DockerProfile::kernel));
    }

    /** Docker's format: "<kernel>.<major>", each 0..255, not "0.0"; "" means absent. */
    private static Optional<KernelVersion> kernel(Node n) {
        String v = n.string();
        if (v.isEmpty()) {
            return Optional.empty();
        }
        String[] parts = v.split("\\.", -1);
        if (parts.length != 2) {
            throw n.error("invalid kernel version \"" + v + "\", expected \"<kernel>.<major>\"");
        }
        int[] p = new int[2];
        for (int i = 0; i < 2; i++) {
            if (!parts[i].matches("[0-9]{1,3}") || Integer.parseInt(parts[i]) > 255) {
                throw n.error("invalid kernel version \"" + v + "\", expected \"<kernel>.<major>\" with numbers up to 255");
            }
            p[i] = Integer.parseInt(parts[i]);
        }
        if (p[0] == 0 && p[1] == 0) {
            throw n.error("invalid kernel version \"" + v + "\": version cannot be 0.0");
        }
        return Optional.of(new KernelVersion(p[0], p[1]));
    }

    /**
     * The OCI profile Docker would generate for a container whose bounding capability set is caps,
     * on a host of architecture arch running kernel. Empty when the profile is empty (no default
     * action and no rules), which Docker takes as "no seccomp".
     */
    public Optional<Seccomp> evaluate(Set<String> caps, Arch arch, KernelVersion kernel) {
        if (defaultAction.isEmpty() && syscalls.isEmpty()) {
            return Optional.empty();
        }
        List<String> arches = new ArrayList<>(architectures);
        for (ArchMap m : archMap) {
            if (m.architecture().equals(arch.ociName())) {
                arches.add(m.architecture());
                arches.addAll(m.subArchitectures());
                break;
            }
        }
        String native_ = arch.dockerName();
        List<SeccompSyscall> out = new ArrayList<>(syscalls.size());
        for (Rule r : syscalls) {
            if (applies(r, caps, native_, kernel)) {
                out.add(new SeccompSyscall(r.names(), r.action(), r.errnoRet(), r.args()));
            }
        }
        return Optional.of(new Seccomp(defaultAction, defaultErrnoRet, List.copyOf(arches), flags, listenerPath,
                listenerMetadata, List.copyOf(out)));
    }

    /**
     * Docker's filter, in its order: excluded if the host arch is listed, if any listed cap is in
     * the bounding set, or if the kernel is at least minKernel; then included only if the arch is
     * listed, all listed caps are held, and the kernel is at least minKernel.
     */
    private static boolean applies(Rule r, Set<String> caps, String arch, KernelVersion kernel) {
        Filter ex = r.excludes();
        if (ex.arches().contains(arch)) {
            return false;
        }
        for (String c : ex.caps()) {
            if (caps.contains(c)) {
                return false;
            }
        }
        if (ex.minKernel().isPresent() && kernel.compareTo(ex.minKernel().get()) >= 0) {
            return false;
        }
        Filter in = r.includes();
        if (!in.arches().isEmpty() && !in.arches().contains(arch)) {
            return false;
        }
        if (!caps.containsAll(in.caps())) {
            return false;
        }
        return in.minKernel().isEmpty() || kernel.compareTo(in.minKernel().get()) >= 0;
    }
}
