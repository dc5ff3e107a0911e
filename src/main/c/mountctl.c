/*
 * bulwark-mountctl: performs one trapped mount-family syscall for the agent, in the trapped
 * caller's user and mount namespaces, root, cwd and credentials, with arguments the agent copied
 * out of the caller's memory (so the caller cannot change them after the agent's check).
 *
 *   bulwark-mountctl PID CALL ARG...        (strings hex-encoded, "-" for NULL; numbers decimal)
 *
 * It makes no decision. It resolves each path argument to an O_PATH fd, prints what it resolved
 *   "path NAME MNT_ID IS_MOUNT_ROOT MAJOR:MINOR"     (NAME: target, source, from, to)
 * then "ready", waits for the agent's verdict on stdin ("go" or anything else), performs the call
 * on the resolved fds (never on the paths again) and prints "errno N", or "fd N" for fspick
 * (the one call here that returns a file descriptor) (then it waits for stdin to close, so the agent can take the fd with
 * pidfd_getfd before it goes). Any failure before the call is "errno N" too.
 *
 * A JVM cannot setns() into a user namespace (it is multi-threaded), hence this helper.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#define AT_EMPTY_PATH_ 0x1000
#define AT_SYMLINK_NOFOLLOW_ 0x100
#define AT_RECURSIVE_ 0x8000
#define MOVE_MOUNT_F_SYMLINKS 0x01
#define MOVE_MOUNT_F_EMPTY_PATH 0x04
#define MOVE_MOUNT_T_SYMLINKS 0x10
#define MOVE_MOUNT_T_EMPTY_PATH 0x40
#define FSPICK_CLOEXEC 0x01
#define FSPICK_SYMLINK_NOFOLLOW 0x02
#define FSPICK_EMPTY_PATH 0x08
#define UMOUNT_NOFOLLOW_ 0x8
#define MS_MOVE_ 8192
#define MS_BIND_ 4096
#define STATX_MNT_ID 0x1000U
#define STATX_ATTR_MOUNT_ROOT 0x2000
#define PIDFD_GETFD 438
#define PIDFD_OPEN 434
#define MOUNT_SETATTR 442
#define FSPICK 433

struct statx_ { /* the kernel's struct statx, up to stx_mnt_id */
    uint32_t mask, blksize;
    uint64_t attributes;
    uint32_t nlink, uid, gid;
    uint16_t mode, pad0;
    uint64_t ino, size, blocks, attributes_mask;
    int64_t t[8];
    uint32_t rdev_major, rdev_minor, dev_major, dev_minor;
    uint64_t mnt_id;
    uint64_t spare[14];
};

struct mount_attr_ {
    uint64_t attr_set, attr_clr, propagation, userns_fd;
};

static int caller_pidfd = -1;
static int callerproc = -1; /* the caller's /proc/PID in the host's procfs */
static int selffd = -1; /* our /proc/self/fd, opened before chroot: inside, /proc is the container's */

static void out_errno(int e) {
    printf("errno %d\n", e);
    fflush(stdout);
    exit(0);
}

static void fail(void) {
    out_errno(errno ? errno : EIO);
}

static char *hex(const char *s) {
    if (!strcmp(s, "-")) {
        return NULL;
    }
    size_t n = strlen(s) / 2;
    char *b = calloc(n + 1, 1);
    if (!b) {
        fail();
    }
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        if (sscanf(s + 2 * i, "%2x", &v) != 1) {
            out_errno(EINVAL);
        }
        b[i] = (char)v;
    }
    return b;
}

static long num(const char *s) {
    return strtol(s, NULL, 10);
}

/* The caller's fd (a dirfd argument) as our own; AT_FDCWD stays AT_FDCWD (our cwd is the caller's). */
static int caller_fd(long fd) {
    if (fd == AT_FDCWD) {
        return AT_FDCWD;
    }
    int r = (int)syscall(PIDFD_GETFD, caller_pidfd, (int)fd, 0);
    if (r < 0) {
        fail();
    }
    return r;
}

static int resolve(const char *name, int dfd, const char *path, int follow, int empty_ok) {
    int fd;
    if (path && path[0] == 0 && empty_ok) {
        fd = dfd == AT_FDCWD ? open(".", O_PATH | O_CLOEXEC) : fcntl(dfd, F_DUPFD_CLOEXEC, 0);
    } else if (!path) {
        errno = EFAULT;
        fd = -1;
    } else if (path[0] == '/' && !strncmp(path, "/proc/self", 10) && (path[10] == '/' || path[10] == 0)) {
        /* We are not in the caller's PID namespace, so its /proc/self is not ours to follow: the
         * caller's own entry in the host's procfs leads to the same objects (runc's
         * /proc/self/fd/N mount sources and targets). */
        fd = path[10] ? openat(callerproc, path + 11, O_PATH | O_CLOEXEC | (follow ? 0 : O_NOFOLLOW)) : fcntl(callerproc, F_DUPFD_CLOEXEC, 0);
    } else {
        fd = openat(dfd, path, O_PATH | O_CLOEXEC | (follow ? 0 : O_NOFOLLOW));
    }
    if (fd < 0) {
        fail();
    }
    struct statx_ st;
    memset(&st, 0, sizeof st);
    if (syscall(SYS_statx, fd, "", AT_EMPTY_PATH_ | AT_SYMLINK_NOFOLLOW_, STATX_MNT_ID, &st) < 0) {
        fail();
    }
    if (!(st.mask & STATX_MNT_ID)) {
        out_errno(ENOSYS);
    }
    char link[16], where[4096];
    snprintf(link, sizeof link, "%d", fd);
    ssize_t n = syscall(SYS_readlinkat, selffd, link, where, sizeof where - 1);
    printf("path %s %llu %d %u:%u ", name, (unsigned long long)st.mnt_id, (st.attributes & STATX_ATTR_MOUNT_ROOT) ? 1 : 0,
           st.dev_major, st.dev_minor);
    for (ssize_t i = 0; i < n; i++) { /* where it is, as the caller sees it (hex) */
        printf("%02x", (unsigned char)where[i]);
    }
    printf("\n");
    return fd;
}

/* Enter the caller's namespaces, root, cwd and credentials (in that order: chroot needs our caps). */
static void become_caller(const char *pid) {
    char p[64];
    snprintf(p, sizeof p, "/proc/%s", pid);
    int proc = open(p, O_DIRECTORY | O_CLOEXEC);
    if (proc < 0) {
        fail();
    }
    int userns = openat(proc, "ns/user", O_RDONLY | O_CLOEXEC), mntns = openat(proc, "ns/mnt", O_RDONLY | O_CLOEXEC);
    int root = openat(proc, "root", O_PATH | O_DIRECTORY | O_CLOEXEC), cwd = openat(proc, "cwd", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (userns < 0 || mntns < 0 || root < 0 || cwd < 0) {
        fail();
    }
    /* Joining our own user namespace is EINVAL: the caller may be in the host's (a test). */
    int selfns = open("/proc/self/ns/user", O_RDONLY | O_CLOEXEC);
    struct statx_ a, b;
    if (syscall(SYS_statx, selfns, "", AT_EMPTY_PATH_, 0, &a) < 0 || syscall(SYS_statx, userns, "", AT_EMPTY_PATH_, 0, &b) < 0) {
        fail();
    }
    if (a.ino != b.ino && setns(userns, CLONE_NEWUSER) < 0) {
        fail();
    }
    if (setns(mntns, CLONE_NEWNS) < 0 || fchdir(root) < 0 || chroot(".") < 0 || fchdir(cwd) < 0) {
        fail();
    }
    /* Opened after setns(user): the kernel shows the IDs as that namespace sees them. */
    int sfd = openat(proc, "status", O_RDONLY | O_CLOEXEC);
    FILE *f = sfd < 0 ? NULL : fdopen(sfd, "r");
    if (!f) {
        fail();
    }
    char line[4096];
    unsigned ruid = 0, euid = 0, suid = 0, rgid = 0, egid = 0, sgid = 0, ngroups = 0;
    gid_t groups[256];
    unsigned long long inh = 0, prm = 0, eff = 0;
    int have = 0;
    while (fgets(line, sizeof line, f)) {
        if (sscanf(line, "Uid: %u %u %u", &ruid, &euid, &suid) == 3) {
            have |= 1;
        } else if (sscanf(line, "Gid: %u %u %u", &rgid, &egid, &sgid) == 3) {
            have |= 2;
        } else if (!strncmp(line, "Groups:", 7)) {
            char *s = line + 7, *e;
            for (unsigned long g = strtoul(s, &e, 10); e != s && ngroups < 256; g = strtoul(s, &e, 10)) {
                groups[ngroups++] = (gid_t)g;
                s = e;
            }
            have |= 4;
        } else if (sscanf(line, "CapInh: %llx", &inh) == 1) {
            have |= 8;
        } else if (sscanf(line, "CapPrm: %llx", &prm) == 1) {
            have |= 16;
        } else if (sscanf(line, "CapEff: %llx", &eff) == 1) {
            have |= 32;
        }
    }
    fclose(f);
    if (have != 63) {
        out_errno(EIO);
    }
    if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0 || setgroups(ngroups, groups) < 0 || setresgid(rgid, egid, sgid) < 0 ||
        setresuid(ruid, euid, suid) < 0) {
        fail();
    }
    struct {
        uint32_t version;
        int pid;
    } hdr = {0x20080522, 0};
    struct {
        uint32_t eff, prm, inh;
    } data[2] = {{(uint32_t)eff, (uint32_t)prm, (uint32_t)inh}, {(uint32_t)(eff >> 32), (uint32_t)(prm >> 32), (uint32_t)(inh >> 32)}};
    if (syscall(SYS_capset, &hdr, data) < 0) {
        fail();
    }
    callerproc = proc;
    close(userns);
    close(mntns);
    close(root);
    close(cwd);
}

static void await_go(void) {
    printf("ready\n");
    fflush(stdout);
    char v[16] = {0};
    if (!fgets(v, sizeof v, stdin) || strcmp(v, "go\n") != 0) {
        exit(0);
    }
}

/* mount(2) takes paths only: name the resolved fd through our own /proc/self/fd (cwd there). */
static char *fd_name(int fd, char *buf, size_t n) {
    snprintf(buf, n, "%d", fd);
    return buf;
}

/*
 * umount2 has no fd form, and an fd on the mount would make it busy (EBUSY). So: hold the
 * directory that contains the mountpoint, check that its entry still leads to the mount that was
 * resolved (a mountpoint cannot be renamed or replaced while mounted), drop our hold on the mount
 * and unmount the entry by name, relative to that directory.
 */
static long umount_fd(int t, int flags) {
    char link[16], path[4096];
    snprintf(link, sizeof link, "%d", t);
    struct statx_ want, got;
    if (syscall(SYS_statx, t, "", AT_EMPTY_PATH_ | AT_SYMLINK_NOFOLLOW_, STATX_MNT_ID, &want) < 0) {
        return -1;
    }
    ssize_t n = syscall(SYS_readlinkat, selffd, link, path, sizeof path - 1);
    if (n <= 0 || path[0] != '/') {
        errno = EINVAL;
        return -1;
    }
    path[n] = 0;
    close(t);
    if (!strcmp(path, "/")) {
        return umount2("/", flags); /* our root is the caller's and cannot move under us */
    }
    char *slash = strrchr(path, '/'), *base = slash + 1;
    *slash = 0;
    int dir = open(path[0] ? path : "/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0 || syscall(SYS_statx, dir, base, AT_SYMLINK_NOFOLLOW_, STATX_MNT_ID, &got) < 0) {
        return -1;
    }
    if (got.mnt_id != want.mnt_id || !(got.attributes & STATX_ATTR_MOUNT_ROOT)) {
        errno = EBUSY; /* the path changed under us: the caller may retry */
        return -1;
    }
    if (fchdir(dir) < 0) {
        return -1;
    }
    close(dir);
    return umount2(base, flags | UMOUNT_NOFOLLOW_);
}

static void done_fd(int fd) {
    if (fd < 0) {
        fail();
    }
    printf("fd %d\n", fd);
    fflush(stdout);
    char b[16];
    while (fgets(b, sizeof b, stdin)) {
    }
    exit(0);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: bulwark-mountctl PID CALL ARG...\n");
        return 2;
    }
    /* Nothing of the container may ptrace us or open our /proc entries once we are inside it. */
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) {
        fail();
    }
    /* Opened before the namespaces change: our own fd table, for mount(2)'s path arguments. */
    selffd = open("/proc/self/fd", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (selffd < 0) {
        fail();
    }
    const char *call = argv[2];
    int n = argc - 3;
    char **a = argv + 3;
    /* The caller's fd arguments are taken while we are still root in the host's user namespace. */
    caller_pidfd = (int)syscall(PIDFD_OPEN, (pid_t)num(argv[1]), 0);
    if (caller_pidfd < 0) {
        fail();
    }
    long dfd1 = AT_FDCWD, dfd2 = AT_FDCWD, userns = -1;
    if (!strcmp(call, "move_mount") && n == 5) {
        dfd1 = caller_fd(num(a[0]));
        dfd2 = caller_fd(num(a[2]));
    } else if (!strcmp(call, "fspick") && n == 3) {
        dfd1 = caller_fd(num(a[0]));
    } else if (!strcmp(call, "mount_setattr") && n == 7) {
        dfd1 = caller_fd(num(a[0]));
        if (strtoull(a[3], NULL, 10) & 0x00100000 /* MOUNT_ATTR_IDMAP */) {
            userns = caller_fd(num(a[6]));
        }
    } else if (!((!strcmp(call, "mount") && n == 5) || (!strcmp(call, "umount2") && n == 2))) {
        out_errno(EINVAL);
    }
    become_caller(argv[1]);
    char b1[16], b2[16];
    long r;
    if (!strcmp(call, "mount")) {
        char *src = hex(a[0]), *tgt = hex(a[1]), *type = hex(a[2]), *data = hex(a[4]);
        unsigned long flags = (unsigned long)strtoul(a[3], NULL, 10);
        int t = resolve("target", AT_FDCWD, tgt, 1, 0);
        int s = -1;
        if ((flags & MS_MOVE_) || ((flags & MS_BIND_) && !(flags & MS_REMOUNT))) {
            s = resolve("source", AT_FDCWD, src, 1, 0);
        }
        await_go();
        if (fchdir(selffd) < 0) {
            fail();
        }
        r = mount(s >= 0 ? fd_name(s, b1, sizeof b1) : src, fd_name(t, b2, sizeof b2), type, flags, data);
    } else if (!strcmp(call, "umount2")) {
        long flags = num(a[1]);
        int t = resolve("target", AT_FDCWD, hex(a[0]), !(flags & UMOUNT_NOFOLLOW_), 0);
        await_go();
        r = umount_fd(t, (int)(flags & ~UMOUNT_NOFOLLOW_));
    } else if (!strcmp(call, "move_mount")) {
        long flags = num(a[4]);
        int f = resolve("from", (int)dfd1, hex(a[1]), flags & MOVE_MOUNT_F_SYMLINKS, flags & MOVE_MOUNT_F_EMPTY_PATH);
        int t = resolve("to", (int)dfd2, hex(a[3]), flags & MOVE_MOUNT_T_SYMLINKS, flags & MOVE_MOUNT_T_EMPTY_PATH);
        await_go();
        r = syscall(SYS_move_mount, f, "", t, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH | (flags & ~0x77L));
    } else if (!strcmp(call, "fspick")) {
        long flags = num(a[2]);
        int t = resolve("target", (int)dfd1, hex(a[1]), !(flags & FSPICK_SYMLINK_NOFOLLOW), flags & FSPICK_EMPTY_PATH);
        await_go();
        done_fd((int)syscall(FSPICK, t, "", FSPICK_EMPTY_PATH | (flags & FSPICK_CLOEXEC)));
        return 0;
    } else {
        long flags = num(a[2]);
        int t = resolve("target", (int)dfd1, hex(a[1]), !(flags & AT_SYMLINK_NOFOLLOW_), flags & AT_EMPTY_PATH_);
        struct mount_attr_ attr = {(uint64_t)strtoull(a[3], NULL, 10), (uint64_t)strtoull(a[4], NULL, 10),
                                   (uint64_t)strtoull(a[5], NULL, 10), 0};
        attr.userns_fd = (uint64_t)userns;
        await_go();
        r = syscall(MOUNT_SETATTR, t, "", AT_EMPTY_PATH_ | (flags & AT_RECURSIVE_), &attr, sizeof attr);
    }
    out_errno(r < 0 ? errno : 0);
    return 0;
}
