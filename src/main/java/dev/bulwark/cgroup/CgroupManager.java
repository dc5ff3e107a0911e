package dev.bulwark.cgroup;

import dev.bulwark.spec.Spec.Resources;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The cgroup(s) of one container: created from linux.cgroupsPath, limited by linux.resources,
 * joined by the container's first process (the native stage writes its PID to each of
 * {@link #procsFiles()} before the process runs), frozen for pause, read for stats, and removed
 * on delete.
 *
 * <p>Every limit is either applied or an error: a controller that is missing, a file the kernel
 * does not have, or a value the kernel refuses is a {@link CgroupException} naming the setting,
 * the file and the value. Nothing is skipped silently. Following runc and the Go engines, a zero
 * means "not set" for memory limit/reservation/swap/kernel/kernelTCP, cpu shares/quota/period/
 * realtime values and the pids limit.
 */
public sealed interface CgroupManager permits V1Manager, V2Manager {

    /**
     * The manager for a new container; nothing is touched until {@link #create}.
     *
     * @param cgroupsPath linux.cgroupsPath ("" for the default /bulwark/&lt;id&gt;)
     */
    static CgroupManager of(Cgroups host, String cgroupsPath, String containerId) {
        return open(host, host.resolve(cgroupsPath, containerId));
    }

    /**
     * The manager for cgroup directories resolved earlier ({@link #dirs()}, kept in the
     * container's state), so a later command finds them whatever its own cgroup is.
     */
    static CgroupManager open(Cgroups host, Map<String, Path> dirs) {
        if (host.layout() == Cgroups.Layout.UNIFIED) {
            return new V2Manager(host.unified().orElseThrow().mountPoint(), dirs);
        }
        return new V1Manager(host, dirs);
    }

    /** The container's cgroup directory in each hierarchy, keyed by hierarchy name ("" for cgroup2). */
    Map<String, Path> dirs();

    /**
     * Creates the directories and applies the limits. On failure everything it created is
     * removed again. On cgroup v2 with device rules, the result is the device program the stage
     * must attach before the container starts.
     */
    Optional<DeviceProgram> create(Resources resources);

    /**
     * Hands the container's cgroup to its own root, as a host delegates a subtree (the kernel's
     * cgroup-v2 "Delegation", and Sysbox on v1): each directory and the files that move tasks and
     * enable controllers (cgroup.procs, tasks, cgroup.threads, cgroup.subtree_control) become
     * uid:gid's, so root inside can make child cgroups and move its processes between them, as
     * systemd and dockerd do. The limit files stay the host's: a child's limits can only narrow
     * its parent's, so the container cannot widen its own.
     */
    default void delegate(long uid, long gid) {
        for (Path d : dirs().values()) {
            CgroupFiles.chown(d, uid, gid);
            for (String f : DELEGATED) {
                if (java.nio.file.Files.exists(d.resolve(f))) {
                    CgroupFiles.chown(d.resolve(f), uid, gid);
                }
            }
        }
    }

    /** What {@link #delegate} hands over besides the directory itself. */
    List<String> DELEGATED = List.of("cgroup.procs", "tasks", "cgroup.threads", "cgroup.subtree_control");

    /** The cgroup.procs files the container's first process must be written to, one per hierarchy. */
    List<Path> procsFiles();

    /** Applies the settings present in {@code resources} to the running container; absent ones stay. */
    Optional<DeviceProgram> update(Resources resources);

    CgroupStats stats();

    /** Freezes every task and returns when the kernel reports the cgroup frozen. */
    void freeze();

    void thaw();

    FreezerState freezerState();

    /** Every PID in the container's cgroup and its descendants. */
    List<Long> pids();

    /**
     * Removes the container's cgroup directories (and any cgroups the container made below
     * them), waiting briefly for exiting tasks. Missing directories are not an error, so delete
     * can be repeated. Parents such as /bulwark are left alone.
     */
    void destroy();

    enum FreezerState { THAWED, FREEZING, FROZEN }
}
