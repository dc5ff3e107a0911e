package dev.bulwark.stage;

import java.util.List;

/**
 * One operation of a plan, as src/main/c/plan.h defines it. The opcode and field order of each
 * record must match the stage's schema table; {@link PlanEncoder} writes them in that order.
 * Paths "in root" are resolved by the stage beneath the container's root (openat2
 * RESOLVE_IN_ROOT), so no symlink or ".." in an image can lead out of it.
 */
public sealed interface Op {
    int code();

    /** Phases in plan order: SETUP, PARENT, JOIN, MAP, INIT. */
    int phase();

    int SETUP = 0;
    int PARENT = 1;
    int JOIN = 2;
    int MAP = 3;
    int INIT = 4;

    // SETUP (the stage's main process)
    record ErrorFile(String path) implements Op {
        public int code() { return 1; }
        public int phase() { return SETUP; }
    }

    record PidFile(String path) implements Op {
        public int code() { return 2; }
        public int phase() { return SETUP; }
    }

    record ControlFifo(String path) implements Op {
        public int code() { return 3; }
        public int phase() { return SETUP; }
    }

    /** mode 0: run (wait, forward signals, return the status); 1: create. flags bit 0: subreaper. */
    record Mode(int mode, int flags) implements Op {
        public int code() { return 4; }
        public int phase() { return SETUP; }
    }

    record PreserveFds(int count) implements Op {
        public int code() { return 5; }
        public int phase() { return SETUP; }
    }

    /** The exec FIFO the stage creates (mode 0622); `start` opens it to release the container. */
    record ExecFifo(String path) implements Op {
        public int code() { return 7; }
        public int phase() { return SETUP; }
    }

    /** Where the pty master goes (runc's --console-socket). */
    record ConsoleSocket(String path) implements Op {
        public int code() { return 8; }
        public int phase() { return SETUP; }
    }

    /**
     * A hook and where it runs: kind 0 prestart/createRuntime (the stage's main process, runtime
     * namespace), 1 createContainer (the init, before pivot_root), 2 startContainer (the init,
     * before execve), 3 poststart (the main process, after execve; run only). timeout 0: none.
     */
    record Hook(int kind, String path, List<String> args, List<String> env, int timeout) implements Op {
        public int code() { return 9; }
        public int phase() { return SETUP; }
    }

    /** The state hooks get on stdin, split where the status and the PID go. */
    record HookState(List<String> parts) implements Op {
        public int code() { return 14; }
        public int phase() { return SETUP; }
    }

    /** Where the init stops for the prestart, createRuntime and createContainer hooks. */
    record Hooks() implements Op {
        public int code() { return 68; }
        public int phase() { return INIT; }
    }

    /** Where the seccomp notify fd goes, with the state message split around the PID. */
    record SeccompListener(String path, List<String> messageParts) implements Op {
        public int code() { return 6; }
        public int phase() { return SETUP; }
    }

    // PARENT (applied by the main process to the first child)
    record CgroupJoin(String procsFile) implements Op {
        public int code() { return 10; }
        public int phase() { return PARENT; }
    }

    /** cgroup v2 device control: load a BPF_PROG_TYPE_CGROUP_DEVICE program, attach it to the directory. */
    record CgroupDevices(String cgroupDir, byte[] program, int progType, int attachType, int attachFlags, String license)
            implements Op {
        public int code() { return 13; }
        public int phase() { return PARENT; }
    }

    record OomScoreAdj(int value) implements Op {
        public int code() { return 11; }
        public int phase() { return PARENT; }
    }

    record Rlimit(int resource, long soft, long hard) implements Op {
        public int code() { return 12; }
        public int phase() { return PARENT; }
    }

    // JOIN (the first child)
    record Setns(String path, int nstype) implements Op {
        public int code() { return 20; }
        public int phase() { return JOIN; }
    }

    record Timens(String offsets) implements Op {
        public int code() { return 21; }
        public int phase() { return JOIN; }
    }

    record Clone(long flags) implements Op {
        public int code() { return 22; }
        public int phase() { return JOIN; }
    }

    // MAP (the main process, on the container's init)
    record UidMap(String content) implements Op {
        public int code() { return 30; }
        public int phase() { return MAP; }
    }

    record GidMap(String content) implements Op {
        public int code() { return 31; }
        public int phase() { return MAP; }
    }

    /**
     * The main process clones source (open_tree), ID-maps it to the container's user namespace
     * with the attributes, and passes it to the init, which places the trees in plan order
     * ({@link RootfsTree}, {@link BindTree}).
     */
    record IdmapTree(String source, boolean recursive, long attrSet, long attrClr) implements Op {
        public int code() { return 32; }
        public int phase() { return MAP; }
    }

    /**
     * overlayfs cannot be ID-mapped itself: the main process ID-maps each layer and makes a new
     * overlay of them as uid/gid (the container root's host IDs), passed to the init as the next
     * tree. upper and work may be empty.
     */
    record IdmapOverlay(List<String> lowers, String upper, String work, long uid, long gid) implements Op {
        public int code() { return 33; }
        public int phase() { return MAP; }
    }

    // INIT (the container's init)
    record Setsid() implements Op {
        public int code() { return 40; }
        public int phase() { return INIT; }
    }

    record BecomeRoot() implements Op {
        public int code() { return 41; }
        public int phase() { return INIT; }
    }

    record Hostname(String name) implements Op {
        public int code() { return 42; }
        public int phase() { return INIT; }
    }

    record Domainname(String name) implements Op {
        public int code() { return 43; }
        public int phase() { return INIT; }
    }

    /** Brings "lo" up in a new network namespace, as runc does (its "loopback" network). */
    record LoopbackUp() implements Op {
        public int code() { return 72; }
        public int phase() { return INIT; }
    }

    /** mount(NULL, path, NULL, flags) with MS_* propagation flags; path is not in root. */
    record Propagation(String path, long flags) implements Op {
        public int code() { return 44; }
        public int phase() { return INIT; }
    }

    record Rootfs(String hostPath) implements Op {
        public int code() { return 45; }
        public int phase() { return INIT; }
    }

    /** The next ID-mapped tree becomes the root, moved onto its host path. */
    record RootfsTree(String hostPath) implements Op {
        public int code() { return 70; }
        public int phase() { return INIT; }
    }

    /** The next ID-mapped tree is moved onto path (in root). */
    record BindTree(String path) implements Op {
        public int code() { return 71; }
        public int phase() { return INIT; }
    }

    /** kind 1: directory, 2: file. */
    record Mkpath(String path, int kind, int mode) implements Op {
        public int code() { return 46; }
        public int phase() { return INIT; }
    }

    /** copyUp: what the directory held is copied into the new mount (runc's tmpcopyup). */
    record Mount(String source, String path, String fstype, long flags, String data, boolean copyUp) implements Op {
        public Mount(String source, String path, String fstype, long flags, String data) {
            this(source, path, fstype, flags, data, false);
        }

        public int code() { return 47; }
        public int phase() { return INIT; }
    }

    record Bind(String source, String path, boolean recursive, long attrSet, long attrClr) implements Op {
        public int code() { return 48; }
        public int phase() { return INIT; }
    }

    record Setattr(String path, boolean recursive, long attrSet, long attrClr, long propagation) implements Op {
        public int code() { return 49; }
        public int phase() { return INIT; }
    }

    record Mknod(String path, int mode, long dev, long uid, long gid) implements Op {
        public int code() { return 50; }
        public int phase() { return INIT; }
    }

    record Symlink(String target, String path) implements Op {
        public int code() { return 51; }
        public int phase() { return INIT; }
    }

    record PivotRoot(boolean noPivot) implements Op {
        public int code() { return 52; }
        public int phase() { return INIT; }
    }

    record Mask(String path) implements Op {
        public int code() { return 53; }
        public int phase() { return INIT; }
    }

    record Readonly(String path) implements Op {
        public int code() { return 54; }
        public int phase() { return INIT; }
    }

    record Write(String path, String content) implements Op {
        public int code() { return 55; }
        public int phase() { return INIT; }
    }

    record Chdir(String path) implements Op {
        public int code() { return 56; }
        public int phase() { return INIT; }
    }

    record Umask(int mask) implements Op {
        public int code() { return 57; }
        public int phase() { return INIT; }
    }

    record NoNewPrivs() implements Op {
        public int code() { return 58; }
        public int phase() { return INIT; }
    }

    record CapsBounding(long keep, int lastCap) implements Op {
        public int code() { return 59; }
        public int phase() { return INIT; }
    }

    record SetUser(long uid, long gid, List<Long> additionalGids) implements Op {
        public int code() { return 60; }
        public int phase() { return INIT; }
    }

    record Caps(long effective, long permitted, long inheritable, long ambient) implements Op {
        public int code() { return 61; }
        public int phase() { return INIT; }
    }

    record Seccomp(int flags, byte[] filter, boolean listener) implements Op {
        public int code() { return 62; }
        public int phase() { return INIT; }
    }

    record Personality(int persona) implements Op {
        public int code() { return 63; }
        public int phase() { return INIT; }
    }

    record Exec(String path, List<String> argv, List<String> envp) implements Op {
        public int code() { return 64; }
        public int phase() { return INIT; }
    }

    /** The container's terminal; rows and cols 0 leave the size to whoever holds the master. */
    record Console(int rows, int cols, boolean bindDevConsole) implements Op {
        public int code() { return 66; }
        public int phase() { return INIT; }
    }

    /** A new session keyring for the container, as runc makes one unless --no-new-keyring. */
    record SessionKeyring(String name) implements Op {
        public int code() { return 69; }
        public int phase() { return INIT; }
    }

    /** After joining a container's mount namespace, "/" is its root (exec). */
    record OpenRoot() implements Op {
        public int code() { return 67; }
        public int phase() { return INIT; }
    }

    /** chroot to a host path, or to the ROOTFS when empty: the root without a mount namespace of its own. */
    record Chroot(String path) implements Op {
        public int code() { return 77; }
        public int phase() { return INIT; }
    }

    /** An LSM attribute under /proc/self/attr ("apparmor/exec", "exec"), applied at execve. */
    record ProcAttr(String attr, String value) implements Op {
        public int code() { return 76; }
        public int phase() { return INIT; }
    }

    record WaitFifo(String hostPath) implements Op {
        public int code() { return 65; }
        public int phase() { return INIT; }
    }

    /** A Landlock ruleset handling these filesystem rights (LANDLOCK_ACCESS_FS_* bits). */
    record LandlockRuleset(long handledAccessFs) implements Op {
        public int code() { return 73; }
        public int phase() { return INIT; }
    }

    /** A path-beneath rule on a path in root: the rights if it is a directory, else fileAccess (0: none). */
    record LandlockRule(String path, long dirAccess, long fileAccess) implements Op {
        public int code() { return 74; }
        public int phase() { return INIT; }
    }

    /**
     * Enforces the ruleset on the process; fifoAccess is granted on the exec FIFO WAIT_FIFO opened,
     * stdioRead and stdioWrite on each of fds 0-2 open for reading and for writing.
     */
    record LandlockRestrict(long fifoAccess, long stdioRead, long stdioWrite) implements Op {
        public int code() { return 75; }
        public int phase() { return INIT; }
    }
}
