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
            String selinuxLabel,
            Optional<Landlock> landlock) {
        public Process(boolean terminal, User user, List<String> args, List<String> env, String cwd,
                Optional<Capabilities> capabilities, List<Rlimit> rlimits, boolean noNewPrivileges, String apparmorProfile,
                Optional<Integer> oomScoreAdj, String selinuxLabel) {
            this(terminal, user, args, env, cwd, capabilities, rlimits, noNewPrivileges, apparmorProfile, oomScoreAdj,
                    selinuxLabel, Optional.empty());
        }
    }

    /**
     * process.landlock as the runtime-spec's Landlock proposal (opencontainers/runtime-spec PRs
     * 1111 and 1241) writes it: ruleset.handledAccessFS, rules.pathBeneath[] and
     * disableBestEffort. Access rights are the kernel's LANDLOCK_ACCESS_FS_* names, lower case
     * and without the prefix ("write_file").
     */
    public record Landlock(List<String> handledAccessFS, List<PathBeneath> pathBeneath, boolean disableBestEffort) {}

    public record PathBeneath(List<String> allowedAccess, List<String> paths) {}

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
     * name rather than dropped. Memory values are bytes; -1 means unlimited where the spec allows it.
     */
    public record Resources(
            List<DeviceCgroup> devices,
            Optional<Memory> memory,
            Optional<Cpu> cpu,
            Optional<Pids> pids,
            Optional<BlockIO> blockIO,
            List<HugepageLimit> hugepageLimits,
            Optional<Network> network,
            Map<String, Rdma> rdma,
            Map<String, String> unified,
            dev.bulwark.json.JsonValue.JsonObject raw) {

        /** Resources with nothing set, for callers that build an update field by field. */
        public static Resources none() {
            return new Resources(List.of(), Optional.empty(), Optional.empty(), Optional.empty(), Optional.empty(),
                    List.of(), Optional.empty(), Map.of(), Map.of(),
                    new dev.bulwark.json.JsonValue.JsonObject(Map.of()));
        }

        public Optional<Long> pidsLimit() {
            return pids.map(Pids::limit);
        }
    }

    /** type is "a", "c" or "b"; access is a subset of "rwm". An absent major or minor is a wildcard. */
    public record DeviceCgroup(boolean allow, String type, Optional<Long> major, Optional<Long> minor, String access) {}

    /** swap is the memory+swap limit, as on cgroup v1. */
    public record Memory(
            Optional<Long> limit, Optional<Long> reservation, Optional<Long> swap, Optional<Long> kernel,
            Optional<Long> kernelTCP, Optional<Long> swappiness, Optional<Boolean> disableOOMKiller,
            Optional<Boolean> useHierarchy, Optional<Boolean> checkBeforeUpdate) {
        public static Memory none() {
            return new Memory(Optional.empty(), Optional.empty(), Optional.empty(), Optional.empty(), Optional.empty(),
                    Optional.empty(), Optional.empty(), Optional.empty(), Optional.empty());
        }
    }

    /** cpus and mems are kernel list strings ("0-3,5"); empty means not set. */
    public record Cpu(
            Optional<Long> shares, Optional<Long> quota, Optional<Long> burst, Optional<Long> period,
            Optional<Long> realtimeRuntime, Optional<Long> realtimePeriod, String cpus, String mems,
            Optional<Long> idle) {
        public static Cpu none() {
            return new Cpu(Optional.empty(), Optional.empty(), Optional.empty(), Optional.empty(), Optional.empty(),
                    Optional.empty(), "", "", Optional.empty());
        }
    }

    /** limit above 0 is a number of tasks; 0 or -1 means unlimited. */
    public record Pids(long limit) {}

    public record BlockIO(
            Optional<Integer> weight, Optional<Integer> leafWeight, List<WeightDevice> weightDevice,
            List<ThrottleDevice> throttleReadBpsDevice, List<ThrottleDevice> throttleWriteBpsDevice,
            List<ThrottleDevice> throttleReadIOPSDevice, List<ThrottleDevice> throttleWriteIOPSDevice) {}

    public record WeightDevice(long major, long minor, Optional<Integer> weight, Optional<Integer> leafWeight) {}

    /** rate is bytes or operations per second, an unsigned 64-bit value. */
    public record ThrottleDevice(long major, long minor, long rate) {}

    /** pageSize as the kernel names it in hugetlb file names ("2MB", "1GB"); limit in bytes. */
    public record HugepageLimit(String pageSize, long limit) {}

    public record Network(Optional<Long> classID, List<InterfacePriority> priorities) {}

    public record InterfacePriority(String name, long priority) {}

    public record Rdma(Optional<Long> hcaHandles, Optional<Long> hcaObjects) {}

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
