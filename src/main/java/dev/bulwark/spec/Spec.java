package dev.bulwark.spec;

import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The OCI runtime-spec config.json model (runtime-spec 1.2). Field names are the spec's, so each
 * can be looked up there. Absent optional objects are empty Optionals; absent lists are empty.
 */
public record Spec(
        String ociVersion,
        Root root,
        Optional<Process> process,
        String hostname,
        String domainname,
        List<Mount> mounts,
        Optional<Hooks> hooks,
        Map<String, String> annotations,
        Optional<Linux> linux) {

    public record Root(String path, boolean readonly) {}

    public record Process(
            boolean terminal,
            User user,
            List<String> args,
            List<String> env,
            String cwd,
            Optional<Capabilities> capabilities,
            List<Rlimit> rlimits,
            boolean noNewPrivileges,
            String apparmorProfile,
            Optional<Integer> oomScoreAdj,
            String selinuxLabel) {}

    public record User(long uid, long gid, Optional<Integer> umask, List<Long> additionalGids, String username) {}

    /** The five capability sets, each a list of names such as "CAP_CHOWN". */
    public record Capabilities(
            List<String> bounding, List<String> effective, List<String> inheritable, List<String> permitted,
            List<String> ambient) {}

    /** hard and soft are unsigned 64-bit values (-1 is RLIM_INFINITY). */
    public record Rlimit(String type, long hard, long soft) {}

    public record Mount(
            String destination, String type, String source, List<String> options,
            List<IdMapping> uidMappings, List<IdMapping> gidMappings) {}

    public record Hook(String path, List<String> args, List<String> env, Optional<Integer> timeout) {}

    public record Hooks(
            List<Hook> prestart, List<Hook> createRuntime, List<Hook> createContainer, List<Hook> startContainer,
            List<Hook> poststart, List<Hook> poststop) {
        public boolean isEmpty() {
            return prestart.isEmpty() && createRuntime.isEmpty() && createContainer.isEmpty()
                    && startContainer.isEmpty() && poststart.isEmpty() && poststop.isEmpty();
        }
    }

    public record Linux(
            List<Namespace> namespaces,
            List<IdMapping> uidMappings,
            List<IdMapping> gidMappings,
            Map<String, TimeOffset> timeOffsets,
            List<Device> devices,
            String cgroupsPath,
            Optional<Resources> resources,
            String rootfsPropagation,
            List<String> maskedPaths,
            List<String> readonlyPaths,
            Map<String, String> sysctl,
            Optional<Seccomp> seccomp,
            String mountLabel,
            Optional<Personality> personality) {}

    /** type is one of the runtime-spec namespace names; path is empty for a new namespace. */
    public record Namespace(String type, String path) {}

    public record IdMapping(long containerID, long hostID, long size) {}

    public record TimeOffset(long secs, long nanosecs) {}

    /** type is "c", "u", "b" or "p". */
    public record Device(
            String type, String path, long major, long minor, Optional<Integer> fileMode, Optional<Long> uid,
            Optional<Long> gid) {}

    public record Personality(String domain, List<String> flags) {}

    /**
     * linux.resources. Bulwark parses the whole object so a setting it cannot honour is refused by
     * name rather than dropped.
     */
    public record Resources(
            List<DeviceCgroup> devices,
            Optional<Memory> memory,
            Optional<Cpu> cpu,
            Optional<Long> pidsLimit,
            dev.bulwark.json.JsonValue.JsonObject raw) {}

    public record DeviceCgroup(boolean allow, String type, Optional<Long> major, Optional<Long> minor, String access) {}

    public record Memory(
            Optional<Long> limit, Optional<Long> reservation, Optional<Long> swap, Optional<Long> kernel,
            Optional<Long> kernelTCP, Optional<Long> swappiness, Optional<Boolean> disableOOMKiller) {}

    public record Cpu(
            Optional<Long> shares, Optional<Long> quota, Optional<Long> period, Optional<Long> realtimeRuntime,
            Optional<Long> realtimePeriod, String cpus, String mems, Optional<Long> idle) {}

    public record Seccomp(
            String defaultAction,
            Optional<Integer> defaultErrnoRet,
            List<String> architectures,
            List<String> flags,
            String listenerPath,
            String listenerMetadata,
            List<SeccompSyscall> syscalls) {}

    public record SeccompSyscall(List<String> names, String action, Optional<Integer> errnoRet, List<SeccompArg> args) {}

    /** value and valueTwo are unsigned 64-bit values held in a long. */
    public record SeccompArg(int index, long value, long valueTwo, String op) {}
}
