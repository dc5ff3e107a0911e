/*
 * bulwark-stage: executes a plan that Java computed (see plan.h). It makes no policy decision:
 * every path, flag, mask and mapping comes from the plan. It exists because a JVM is
 * multi-threaded, and the kernel refuses a multi-threaded process unshare(CLONE_NEWUSER),
 * setns() into a user namespace, and per-thread state such as capabilities and seccomp would
 * only apply to one thread.
 *
 * Processes:
 *   P0  this process. Runs SETUP ops, forks C1, applies PARENT ops to C1 (cgroups, rlimits,
 *       oom_score_adj need the host's privileges), writes C2's ID maps, then either waits for the
 *       container and forwards signals (run) or exits once C2 waits on the exec FIFO (create).
 *   C1  joins existing namespaces, then clones C2 with the new ones. CLONE_PARENT makes C2 a child
 *       of P0, so P0 can wait for it and C1 can exit.
 *   C2  the container's init: mounts, pivot_root, credentials, capabilities, seccomp, execve.
 *
 * P0 and the children talk over one SOCK_SEQPACKET pair. The children's end is close-on-exec, so
 * P0 reading EOF means C2's execve succeeded.
 */
#include "plan.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/ioctl.h>
#include <net/if.h>
#include <termios.h>
#include <sys/wait.h>
#include <unistd.h>

/* Kernel ABI the musl headers do not carry (values from the kernel's uapi headers). */
#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U
#endif
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#define RESOLVE_NO_MAGICLINKS 0x02
#define RESOLVE_IN_ROOT 0x10
#define OPEN_TREE_CLONE 1
#define OPEN_TREE_CLOEXEC O_CLOEXEC
#define AT_RECURSIVE 0x8000
#define MOVE_MOUNT_F_EMPTY_PATH 0x04
#define MOVE_MOUNT_T_EMPTY_PATH 0x40
#define FSOPEN_CLOEXEC 0x1
#define FSMOUNT_CLOEXEC 0x1
#define FSCONFIG_SET_STRING 1
#define FSCONFIG_SET_FD 5
#define FSCONFIG_CMD_CREATE 6
#define MOUNT_ATTR_RDONLY 0x1
#define MOUNT_ATTR_NOSUID 0x2
#define MOUNT_ATTR_NODEV 0x4
#define MOUNT_ATTR_NOEXEC 0x8
#define MOUNT_ATTR_IDMAP 0x00100000
#define SECCOMP_SET_MODE_FILTER 1
#define LINUX_CAPABILITY_VERSION_3 0x20080522
#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT 47
#define PR_CAP_AMBIENT_RAISE 2
#define PR_CAP_AMBIENT_CLEAR_ALL 4
#endif
#ifndef SYS_fsmount
#define SYS_fsconfig 431
#define SYS_fsmount 432
#endif

struct open_how {
    uint64_t flags, mode, resolve;
};
struct mount_attr {
    uint64_t attr_set, attr_clr, propagation, userns_fd;
};
struct cap_header {
    uint32_t version;
    int pid;
};
struct cap_data {
    uint32_t effective, permitted, inheritable;
};
struct sock_filter_ {
    uint16_t code;
    uint8_t jt, jf;
    uint32_t k;
};
struct sock_fprog_ {
    unsigned short len;
    struct sock_filter_ *filter;
};

enum role { ROLE_P0, ROLE_CHILD };

static struct plan P;
static enum role role = ROLE_P0;
static int sync_fd = -1;
static const char *error_file;
static pid_t c1_pid = -1, c2_pid = -1;
static int cur_op = -1;

/* In-root state of C2: the root every path of an in-root op is resolved beneath. */
static int root_fd = -1;
static const char *rootfs_path;
static int fifo_fd = -1;
/* The exec FIFO opened (O_PATH) by P0, inherited through fork: the container's user may not be
 * able to reach the state directory by path (a user namespace root is "other" there). */
static int exec_fifo_fd = -1;
/* ID-mapped trees P0 made for C2 (IDMAP_TREE), placed in plan order by ROOTFS_TREE and BIND_TREE. */
static int *trees;
static uint32_t ntrees, next_tree;

static void send_msg(char type, const void *data, size_t len);

/* Ends the stage with a message that names the op and the object. */
static __attribute__((noreturn, format(printf, 1, 2))) void die(const char *fmt, ...) {
    char msg[1024];
    int n = 0;
    if (cur_op >= 0) {
        n = snprintf(msg, sizeof msg, "%s: ", plan_op_name(P.ops[cur_op].code));
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg + n, sizeof msg - (size_t)n, fmt, ap);
    va_end(ap);
    if (role == ROLE_CHILD) {
        send_msg('E', msg, strlen(msg));
        _exit(255);
    }
    if (c2_pid > 0) {
        kill(c2_pid, SIGKILL);
    }
    if (c1_pid > 0) {
        kill(c1_pid, SIGKILL);
    }
    int fd = error_file ? open(error_file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600) : -1;
    if (fd >= 0) {
        dprintf(fd, "%s\n", msg);
        close(fd);
    } else {
        dprintf(2, "bulwark-stage: %s\n", msg);
    }
    if (c2_pid > 0) {
        waitpid(c2_pid, NULL, 0);
    }
    if (c1_pid > 0) {
        waitpid(c1_pid, NULL, 0);
    }
    _exit(255);
}

#define DIE_ERRNO(fmt, ...) die(fmt ": %s", __VA_ARGS__, strerror(errno))

/* ---- messages between P0 and the children ---- */

static void send_msg(char type, const void *data, size_t len) {
    char buf[1100];
    if (len > sizeof buf - 1) {
        len = sizeof buf - 1;
    }
    buf[0] = type;
    memcpy(buf + 1, data, len);
    if (sync_fd >= 0) {
        (void)send(sync_fd, buf, len + 1, MSG_NOSIGNAL);
    }
}

/* Receives one message; returns its length (0 on EOF) and any passed fd in *fd. */
static ssize_t recv_msg(char *buf, size_t len, int *fd) {
    struct iovec iov = {buf, len};
    union {
        char b[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } ctl;
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.b, .msg_controllen = sizeof ctl.b};
    ssize_t n;
    do {
        n = recvmsg(sync_fd, &mh, MSG_CMSG_CLOEXEC);
    } while (n < 0 && errno == EINTR);
    if (fd) {
        *fd = -1;
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
        if (n > 0 && c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
            memcpy(fd, CMSG_DATA(c), sizeof(int));
        }
    }
    return n;
}

/* Sends data with one descriptor attached (SCM_RIGHTS). */
static int send_with_fd(int sock, const void *data, size_t len, int fd) {
    union {
        char b[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } ctl;
    struct iovec iov = {(void *)data, len};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.b, .msg_controllen = sizeof ctl.b};
    struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof(int));
    return sendmsg(sock, &mh, MSG_NOSIGNAL) < 0 ? -1 : 0;
}

static void send_fd(char type, int fd) {
    if (send_with_fd(sync_fd, &type, 1, fd) < 0) {
        DIE_ERRNO("send %s", "listener fd");
    }
}

static void expect_msg(char type) {
    char buf[8];
    ssize_t n = recv_msg(buf, sizeof buf, NULL);
    if (n <= 0 || buf[0] != type) {
        _exit(255); /* P0 went away or failed: it reports the error. */
    }
}

/* ---- CVE-2019-5736: never run from a file a container could rewrite ---- */

static void ensure_sealed(char **argv, char **envp) {
    const int want = F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE;
    int self = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    if (self < 0) {
        DIE_ERRNO("open %s", "/proc/self/exe");
    }
    int seals = fcntl(self, F_GET_SEALS);
    if (seals >= 0 && (seals & want) == want) {
        close(self);
        return;
    }
    int mfd = memfd_create("bulwark-stage", MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC);
    if (mfd < 0 && errno == EINVAL) {
        mfd = memfd_create("bulwark-stage", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    }
    if (mfd < 0) {
        DIE_ERRNO("memfd_create %s", "bulwark-stage");
    }
    struct stat st;
    if (fstat(self, &st) < 0) {
        DIE_ERRNO("fstat %s", "/proc/self/exe");
    }
    for (off_t off = 0; off < st.st_size;) {
        ssize_t n = sendfile(mfd, self, &off, (size_t)(st.st_size - off));
        if (n <= 0) {
            DIE_ERRNO("copy %s into a sealed memfd", "/proc/self/exe");
        }
    }
    if (fcntl(mfd, F_ADD_SEALS, want) < 0) {
        DIE_ERRNO("seal %s", "memfd");
    }
    close(self);
    syscall(SYS_execveat, mfd, "", argv, envp, AT_EMPTY_PATH);
    DIE_ERRNO("re-exec from %s", "sealed memfd");
}

/* ---- helpers ---- */

static void write_file(const char *path, const char *data, size_t len) {
    int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        DIE_ERRNO("open %s", path);
    }
    if (write(fd, data, len) != (ssize_t)len) {
        DIE_ERRNO("write %s", path);
    }
    close(fd);
}

static int resolve(const char *path, uint64_t flags) {
    struct open_how how = {.flags = flags | O_CLOEXEC, .mode = 0, .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS};
    if (root_fd < 0) {
        die("%s: no root opened before this op", path);
    }
    return (int)syscall(SYS_openat2, root_fd, path, &how, sizeof how);
}

static int resolve_or_die(const char *path, uint64_t flags) {
    int fd = resolve(path, flags);
    if (fd < 0) {
        DIE_ERRNO("open %s in the container root", path);
    }
    return fd;
}

/* Splits "a/b/c" into the parent (opened in root) and the leaf name. */
static int open_parent(const char *path, char *leaf, size_t leaflen) {
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) {
        die("%s: path too long", path);
    }
    size_t n = strlen(buf);
    while (n > 1 && buf[n - 1] == '/') {
        buf[--n] = '\0';
    }
    char *slash = strrchr(buf, '/');
    const char *name = slash ? slash + 1 : buf;
    if (!*name || !strcmp(name, ".") || !strcmp(name, "..")) {
        die("%s: not a file name", path);
    }
    size_t nl = strlen(name);
    if (nl >= leaflen) {
        die("%s: file name too long", path);
    }
    memcpy(leaf, name, nl + 1);
    if (slash) {
        *slash = '\0';
    }
    return resolve_or_die(slash ? (buf[0] ? buf : "/") : ".", O_PATH | O_DIRECTORY);
}

static void mkpath(const char *path, uint32_t kind, uint32_t mode) {
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) {
        die("%s: path too long", path);
    }
    size_t len = strlen(buf);
    for (size_t i = 1; i <= len; i++) {
        if (buf[i] != '/' && buf[i] != '\0') {
            continue;
        }
        char saved = buf[i];
        buf[i] = '\0';
        int leaf = saved == '\0' || buf[i + 1] == '\0';
        int fd = resolve(buf, O_PATH);
        if (fd >= 0) {
            close(fd);
        } else if (errno == ENOENT) {
            char name[256];
            int parent = open_parent(buf, name, sizeof name);
            int rc;
            if (leaf && kind == 2) {
                rc = openat(parent, name, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, mode);
                if (rc >= 0) {
                    close(rc);
                }
            } else {
                rc = mkdirat(parent, name, leaf ? mode : 0755);
            }
            if (rc < 0 && errno != EEXIST) {
                DIE_ERRNO("create %s in the container root", buf);
            }
            close(parent);
        } else {
            DIE_ERRNO("open %s in the container root", buf);
        }
        buf[i] = saved;
        if (saved == '\0') {
            break;
        }
    }
}

static void fd_path(int fd, char *buf, size_t len) {
    snprintf(buf, len, "/proc/self/fd/%d", fd);
}

static void move_onto(int tree, int target, const char *what) {
    if (syscall(SYS_move_mount, tree, "", target, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0) {
        DIE_ERRNO("move mount onto %s", what);
    }
}

/* ---- hooks ---- */

static pid_t hook_pid; /* the container's PID as the host sees it, for hook state */

static const char *hook_status(uint32_t kind) {
    return kind == 3 ? "running" : kind == 2 ? "created" : "creating";
}

/*
 * Runs every hook of one kind in plan order: the runtime-spec state on stdin, the hook's own
 * args and env, killed at its timeout. Any failure ends the stage.
 */
static void run_hooks(uint32_t kind) {
    const struct plan_op *state = NULL;
    for (uint32_t i = 0; i < P.count; i++) {
        if (P.ops[i].code == OP_HOOK_STATE) {
            state = &P.ops[i];
        }
    }
    for (uint32_t i = 0; i < P.count; i++) {
        const struct plan_op *op = &P.ops[i];
        if (op->code != OP_HOOK || op->u[0] != kind) {
            continue;
        }
        char json[16384];
        int n = 0;
        if (state && state->v[0].n == 3) {
            n = snprintf(json, sizeof json, "%s%s%s%d%s", state->v[0].items[0], hook_status(kind), state->v[0].items[1],
                         (int)hook_pid, state->v[0].items[2]);
        }
        if (n < 0 || n >= (int)sizeof json) {
            die("hook %s: state too large", op->s[0]);
        }
        int in[2];
        if (pipe2(in, O_CLOEXEC) < 0) {
            DIE_ERRNO("hook %s: pipe", op->s[0]);
        }
        pid_t pid = fork();
        if (pid < 0) {
            DIE_ERRNO("hook %s: fork", op->s[0]);
        }
        if (pid == 0) {
            dup2(in[0], 0);
            char *none[] = {NULL};
            execve(op->s[0], op->v[0].n ? op->v[0].items : (char *[]){op->s[0], NULL}, op->v[1].n ? op->v[1].items : none);
            _exit(127);
        }
        close(in[0]);
        /* A hook that does not read its stdin must not kill us; the disposition is put back
         * because an ignored signal would stay ignored in the container's process after execve. */
        void (*old)(int) = signal(SIGPIPE, SIG_IGN);
        (void)!write(in[1], json, (size_t)n);
        close(in[1]);
        signal(SIGPIPE, old);
        int st = 0;
        for (long waited_ms = 0;; waited_ms += 10) {
            pid_t w = waitpid(pid, &st, WNOHANG);
            if (w == pid) {
                break;
            }
            if (op->u[1] && waited_ms >= (long)op->u[1] * 1000) {
                kill(pid, SIGKILL);
                waitpid(pid, NULL, 0);
                die("hook %s timed out after %u s", op->s[0], (unsigned)op->u[1]);
            }
            usleep(10000);
        }
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            die("hook %s failed with %s %d", op->s[0], WIFEXITED(st) ? "status" : "signal",
                WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
        }
    }
}

/* ---- INIT ops ---- */

/*
 * Copies a directory tree between two directory fds, never following a symlink: entries are
 * opened with O_NOFOLLOW relative to their parent, symlinks are copied as symlinks, device nodes
 * and sockets are skipped. Owners and modes are kept.
 */
static void copy_tree(int from, int to, const char *what, int depth) {
    if (depth > 64) {
        die("copy up %s: deeper than 64 levels", what);
    }
    int dup_from = openat(from, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = dup_from >= 0 ? fdopendir(dup_from) : NULL;
    if (!d) {
        DIE_ERRNO("copy up %s: read directory", what);
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) {
            continue;
        }
        struct stat st;
        if (fstatat(from, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
            DIE_ERRNO("copy up %s/%s", what, e->d_name);
        }
        if (S_ISDIR(st.st_mode)) {
            if (mkdirat(to, e->d_name, st.st_mode & 07777) < 0 && errno != EEXIST) {
                DIE_ERRNO("copy up %s/%s", what, e->d_name);
            }
            int f = openat(from, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            int t = openat(to, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (f < 0 || t < 0) {
                DIE_ERRNO("copy up %s/%s", what, e->d_name);
            }
            copy_tree(f, t, what, depth + 1);
            close(f);
            close(t);
        } else if (S_ISREG(st.st_mode)) {
            int f = openat(from, e->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
            int t = openat(to, e->d_name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, st.st_mode & 07777);
            if (f < 0 || t < 0) {
                DIE_ERRNO("copy up %s/%s", what, e->d_name);
            }
            for (off_t off = 0; off < st.st_size;) {
                ssize_t n = sendfile(t, f, &off, (size_t)(st.st_size - off));
                if (n <= 0) {
                    DIE_ERRNO("copy up %s/%s", what, e->d_name);
                }
            }
            close(f);
            close(t);
        } else if (S_ISLNK(st.st_mode)) {
            char target[4096];
            ssize_t n = readlinkat(from, e->d_name, target, sizeof target - 1);
            if (n < 0) {
                DIE_ERRNO("copy up %s/%s", what, e->d_name);
            }
            target[n] = '\0';
            if (symlinkat(target, to, e->d_name) < 0) {
                DIE_ERRNO("copy up %s/%s", what, e->d_name);
            }
        } else {
            continue;
        }
        if (fchownat(to, e->d_name, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) < 0 && errno != EINVAL) {
            DIE_ERRNO("copy up %s/%s: chown", what, e->d_name);
        }
    }
    closedir(d);
}

static void op_mount(const struct plan_op *op) {
    const char *src = op->s[0], *dst = op->s[1], *type = op->s[2], *data = op->s[3];
    int fd = resolve_or_die(dst, O_PATH);
    /* tmpcopyup: hold the directory as it is before the new mount hides it. */
    int below = op->u[1] ? resolve_or_die(dst, O_RDONLY | O_DIRECTORY) : -1;
    char target[64];
    fd_path(fd, target, sizeof target);
    if (mount(src, target, type[0] ? type : NULL, (unsigned long)op->u[0], data[0] ? data : NULL) < 0) {
        DIE_ERRNO("mount %s (%s) on %s, data \"%s\"", src, type, dst, data);
    }
    close(fd);
    if (below >= 0) {
        int above = resolve_or_die(dst, O_RDONLY | O_DIRECTORY);
        copy_tree(below, above, dst, 0);
        close(above);
        close(below);
    }
}

static void op_bind(const struct plan_op *op) {
    const char *src = op->s[0], *dst = op->s[1];
    unsigned rec = op->u[0] ? AT_RECURSIVE : 0;
    int tree = (int)syscall(SYS_open_tree, AT_FDCWD, src, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | rec);
    if (tree < 0) {
        DIE_ERRNO("bind %s: open_tree", src);
    }
    if (op->u[1] || op->u[2]) {
        struct mount_attr a = {.attr_set = op->u[1], .attr_clr = op->u[2]};
        if (syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH | rec, &a, sizeof a) < 0) {
            DIE_ERRNO("bind %s: set mount attributes", src);
        }
    }
    int fd = resolve_or_die(dst, O_PATH);
    move_onto(tree, fd, dst);
    close(fd);
    close(tree);
}

static void op_setattr(const struct plan_op *op) {
    int fd = resolve_or_die(op->s[0], O_PATH);
    struct mount_attr a = {.attr_set = op->u[1], .attr_clr = op->u[2], .propagation = op->u[3]};
    if (syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH | (op->u[0] ? AT_RECURSIVE : 0), &a, sizeof a) < 0) {
        DIE_ERRNO("set mount attributes of %s", op->s[0]);
    }
    close(fd);
}

static void op_mknod(const struct plan_op *op) {
    char name[256];
    int parent = open_parent(op->s[0], name, sizeof name);
    if (mknodat(parent, name, (mode_t)op->u[0], (dev_t)op->u[1]) < 0 && errno != EEXIST) {
        DIE_ERRNO("mknod %s", op->s[0]);
    }
    /* mknod's mode is cut by the umask; the plan's mode is the one the node must have. */
    if (fchmodat(parent, name, (mode_t)op->u[0] & 07777, 0) < 0) {
        DIE_ERRNO("chmod %s", op->s[0]);
    }
    if (fchownat(parent, name, (uid_t)op->u[2], (gid_t)op->u[3], AT_SYMLINK_NOFOLLOW) < 0) {
        DIE_ERRNO("chown %s", op->s[0]);
    }
    close(parent);
}

static void op_symlink(const struct plan_op *op) {
    char name[256];
    int parent = open_parent(op->s[1], name, sizeof name);
    if (symlinkat(op->s[0], parent, name) < 0 && errno != EEXIST) {
        DIE_ERRNO("symlink %s -> %s", op->s[1], op->s[0]);
    }
    close(parent);
}

static void op_rootfs(const struct plan_op *op) {
    rootfs_path = op->s[0];
    /* pivot_root needs the new root to be a mount point. */
    if (mount(rootfs_path, rootfs_path, NULL, MS_BIND | MS_REC, NULL) < 0) {
        DIE_ERRNO("bind %s onto itself", rootfs_path);
    }
    root_fd = open(rootfs_path, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (root_fd < 0) {
        DIE_ERRNO("open %s", rootfs_path);
    }
}

static int take_tree(const char *what) {
    if (next_tree >= ntrees) {
        die("no ID-mapped tree left for %s", what);
    }
    return trees[next_tree++];
}

/*
 * The root as an ID-mapped tree, moved onto its host path instead of bound onto itself. The
 * container's root (a host ID nobody owns) may not be allowed to walk that path (Docker's data
 * root is 0710): C1 made it the working directory before the clone, which the new mount
 * namespace inherits as its own copy, so no walk is needed. The working directory then moves
 * into the tree, which follows the tree when it moves: it is the new root, whatever hides it.
 */
static void op_rootfs_tree(const struct plan_op *op) {
    rootfs_path = op->s[0];
    int tree = take_tree(rootfs_path);
    int target = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (target < 0) {
        DIE_ERRNO("open %s", rootfs_path);
    }
    if (fchdir(tree) < 0) {
        DIE_ERRNO("enter the ID-mapped root of %s", rootfs_path);
    }
    move_onto(tree, target, rootfs_path);
    close(target);
    close(tree);
    root_fd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (root_fd < 0) {
        DIE_ERRNO("open the ID-mapped root of %s", rootfs_path);
    }
}

static void op_bind_tree(const struct plan_op *op) {
    int tree = take_tree(op->s[0]);
    int fd = resolve_or_die(op->s[0], O_PATH);
    move_onto(tree, fd, op->s[0]);
    close(fd);
    close(tree);
}

/* Until P0's 'M' (maps written) C2 collects the ID-mapped trees P0 sends, in plan order. */
static void receive_trees(void) {
    trees = calloc(P.count, sizeof(int));
    if (!trees) {
        die("out of memory");
    }
    for (;;) {
        char buf[8];
        int fd;
        ssize_t n = recv_msg(buf, sizeof buf, &fd);
        if (n <= 0) {
            _exit(255); /* P0 went away or failed: it reports the error. */
        }
        if (buf[0] == 'M') {
            return;
        }
        if (buf[0] != 'I' || fd < 0 || ntrees >= P.count) {
            _exit(255);
        }
        trees[ntrees++] = fd;
    }
}

static void op_pivot_root(const struct plan_op *op) {
    if (!rootfs_path) {
        die("no ROOTFS before PIVOT_ROOT");
    }
    if (op->u[0]) {
        /* --no-pivot: for ramfs roots where pivot_root is impossible. */
        if (chdir(rootfs_path) < 0 || mount(rootfs_path, "/", NULL, MS_MOVE, NULL) < 0 || chroot(".") < 0) {
            DIE_ERRNO("move %s to / and chroot", rootfs_path);
        }
    } else {
        int oldroot = open("/", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
        /* Through root_fd, not the path: the path may not be walkable (see op_rootfs_tree). */
        char self[64];
        fd_path(root_fd, self, sizeof self);
        int newroot = open(self, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
        if (oldroot < 0 || newroot < 0 || fchdir(newroot) < 0) {
            DIE_ERRNO("open %s", rootfs_path);
        }
        /* pivot_root(".", ".") stacks the old root under the new one; no put_old dir is needed. */
        if (syscall(SYS_pivot_root, ".", ".") < 0) {
            DIE_ERRNO("pivot_root to %s", rootfs_path);
        }
        if (fchdir(oldroot) < 0) {
            DIE_ERRNO("fchdir %s", "old root");
        }
        /* Make the old root a slave first, so detaching it does not propagate to the host. */
        if (mount("", ".", "", MS_SLAVE | MS_REC, NULL) < 0) {
            DIE_ERRNO("make %s rslave", "old root");
        }
        if (umount2(".", MNT_DETACH) < 0) {
            DIE_ERRNO("detach %s", "old root");
        }
        close(oldroot);
        close(newroot);
    }
    if (chdir("/") < 0) {
        DIE_ERRNO("chdir %s", "/");
    }
    close(root_fd);
    root_fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (root_fd < 0) {
        DIE_ERRNO("open %s", "/");
    }
}

/*
 * The root without a mount namespace of the container's own, as runc does then: pivot_root
 * would move the root of every process on the host, so the process chroots into the ROOTFS
 * (create) or into its container's root, /proc/INIT/root (exec).
 */
static void op_chroot(const struct plan_op *op) {
    const char *path = op->s[0];
    if (!path[0] && root_fd < 0) {
        die("no ROOTFS before CHROOT");
    }
    if ((path[0] ? chdir(path) : fchdir(root_fd)) < 0 || chroot(".") < 0 || chdir("/") < 0) {
        DIE_ERRNO("chroot to %s", path[0] ? path : rootfs_path);
    }
    if (root_fd >= 0) {
        close(root_fd);
    }
    root_fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (root_fd < 0) {
        DIE_ERRNO("open %s", "/");
    }
}

static void op_mask(const struct plan_op *op) {
    int fd = resolve(op->s[0], O_PATH);
    if (fd < 0) {
        if (errno == ENOENT) {
            return;
        }
        DIE_ERRNO("open %s", op->s[0]);
    }
    struct stat st;
    if (fstat(fd, &st) < 0) {
        DIE_ERRNO("stat %s", op->s[0]);
    }
    int tree;
    if (S_ISDIR(st.st_mode)) {
        int fs = (int)syscall(SYS_fsopen, "tmpfs", FSOPEN_CLOEXEC);
        if (fs < 0 || syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0) {
            DIE_ERRNO("mask %s: create tmpfs", op->s[0]);
        }
        tree = (int)syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
        close(fs);
    } else {
        tree = (int)syscall(SYS_open_tree, root_fd, "dev/null", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
    }
    if (tree < 0) {
        DIE_ERRNO("mask %s", op->s[0]);
    }
    move_onto(tree, fd, op->s[0]);
    close(tree);
    close(fd);
}

static void op_readonly(const struct plan_op *op) {
    int fd = resolve(op->s[0], O_PATH);
    if (fd < 0) {
        if (errno == ENOENT) {
            return;
        }
        DIE_ERRNO("open %s", op->s[0]);
    }
    int tree = (int)syscall(SYS_open_tree, fd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE | AT_EMPTY_PATH);
    if (tree < 0) {
        DIE_ERRNO("make %s read-only: open_tree", op->s[0]);
    }
    struct mount_attr a = {.attr_set = MOUNT_ATTR_RDONLY};
    if (syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH | AT_RECURSIVE, &a, sizeof a) < 0) {
        DIE_ERRNO("make %s read-only", op->s[0]);
    }
    move_onto(tree, fd, op->s[0]);
    close(tree);
    close(fd);
}

static void op_write(const struct plan_op *op) {
    int fd = resolve(op->s[0], O_WRONLY);
    if (fd < 0) {
        DIE_ERRNO("open %s", op->s[0]);
    }
    size_t len = strlen(op->s[1]);
    if (write(fd, op->s[1], len) != (ssize_t)len) {
        DIE_ERRNO("write %s", op->s[0]);
    }
    close(fd);
}

/*
 * An LSM attribute of this process, e.g. AppArmor's "exec PROFILE" or an SELinux exec label,
 * which the kernel applies at the next execve. The file must be procfs's own: a rootfs that puts
 * a plain file at /proc/self/attr/exec would otherwise take the write and leave the process
 * unconfined. A kernel without the LSM refuses the write (EINVAL), and so does the stage.
 */
static void op_proc_attr(const struct plan_op *op) {
    char path[256];
    if (snprintf(path, sizeof path, "proc/self/attr/%s", op->s[0]) >= (int)sizeof path) {
        die("%s: attribute name too long", op->s[0]);
    }
    int fd = resolve(path, O_WRONLY);
    if (fd < 0) {
        DIE_ERRNO("open /%s", path);
    }
    struct statfs fs;
    if (fstatfs(fd, &fs) < 0 || fs.f_type != 0x9fa0 /* PROC_SUPER_MAGIC */) {
        die("/%s is not on procfs: refusing to set the process's security label there", path);
    }
    size_t len = strlen(op->s[1]);
    if (write(fd, op->s[1], len) != (ssize_t)len) {
        DIE_ERRNO("write \"%s\" to /%s", op->s[1], path);
    }
    close(fd);
}

/*
 * The container's terminal: a pty from its own devpts instance (so the container sees its own
 * /dev/pts), the slave bound over /dev/console and made the controlling terminal and stdio of
 * init; the master goes to P0. Needs a new session first (SETSID).
 */
static void op_console(const struct plan_op *op) {
    int master = resolve("dev/pts/ptmx", O_RDWR | O_NOCTTY);
    if (master < 0) {
        DIE_ERRNO("open %s", "/dev/pts/ptmx (a devpts mount is needed for a terminal)");
    }
    int unlock = 0;
    unsigned int n;
    if (ioctl(master, TIOCSPTLCK, &unlock) < 0 || ioctl(master, TIOCGPTN, &n) < 0) {
        DIE_ERRNO("%s", "set up the pty master");
    }
    if (op->u[0] && op->u[1]) {
        struct winsize ws = {.ws_row = (unsigned short)op->u[0], .ws_col = (unsigned short)op->u[1]};
        ioctl(master, TIOCSWINSZ, &ws);
    }
    char name[64];
    snprintf(name, sizeof name, "dev/pts/%u", n);
    int slave = resolve(name, O_RDWR | O_NOCTTY);
    if (slave < 0) {
        DIE_ERRNO("open /%s", name);
    }
    int console = op->u[2] ? resolve("dev/console", O_PATH) : -1;
    if (console >= 0) {
        int tree = (int)syscall(SYS_open_tree, root_fd, name, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
        if (tree < 0) {
            DIE_ERRNO("bind /%s", name);
        }
        move_onto(tree, console, "/dev/console");
        close(tree);
        close(console);
    }
    if (ioctl(slave, TIOCSCTTY, 0) < 0) {
        DIE_ERRNO("make /%s the controlling terminal", name);
    }
    for (int fd = 0; fd < 3; fd++) {
        if (dup2(slave, fd) < 0) {
            DIE_ERRNO("dup2 the terminal to fd %d", fd);
        }
    }
    if (slave > 2) {
        close(slave);
    }
    send_fd('T', master);
    close(master);
}

static void op_set_user(const struct plan_op *op) {
    const struct plan_vec *g = &op->v[0];
    gid_t gids[PLAN_MAX_VEC];
    for (uint32_t i = 0; i < g->n; i++) {
        char *end;
        unsigned long v = strtoul(g->items[i], &end, 10);
        if (*end || end == g->items[i] || v > 0xFFFFFFFFul) {
            die("bad group id \"%s\"", g->items[i]);
        }
        gids[i] = (gid_t)v;
    }
    if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0) {
        DIE_ERRNO("%s", "prctl(PR_SET_KEEPCAPS)");
    }
    if (setgroups(g->n, gids) < 0) {
        DIE_ERRNO("setgroups (%u groups)", g->n);
    }
    if (setresgid((gid_t)op->u[1], (gid_t)op->u[1], (gid_t)op->u[1]) < 0) {
        DIE_ERRNO("setresgid %u", (unsigned)op->u[1]);
    }
    if (setresuid((uid_t)op->u[0], (uid_t)op->u[0], (uid_t)op->u[0]) < 0) {
        DIE_ERRNO("setresuid %u", (unsigned)op->u[0]);
    }
    if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0) {
        DIE_ERRNO("%s", "prctl(PR_SET_KEEPCAPS)");
    }
}

static void op_caps(const struct plan_op *op) {
    struct cap_header h = {LINUX_CAPABILITY_VERSION_3, 0};
    struct cap_data d[2];
    for (int i = 0; i < 2; i++) {
        d[i].effective = (uint32_t)(op->u[0] >> (32 * i));
        d[i].permitted = (uint32_t)(op->u[1] >> (32 * i));
        d[i].inheritable = (uint32_t)(op->u[2] >> (32 * i));
    }
    if (syscall(SYS_capset, &h, d) < 0) {
        DIE_ERRNO("capset (effective %#llx, permitted %#llx, inheritable %#llx)", (unsigned long long)op->u[0],
                  (unsigned long long)op->u[1], (unsigned long long)op->u[2]);
    }
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0) {
        DIE_ERRNO("%s", "clear ambient capabilities");
    }
    for (unsigned cap = 0; cap < 64; cap++) {
        if ((op->u[3] >> cap) & 1 && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0) {
            DIE_ERRNO("raise ambient capability %u", cap);
        }
    }
}

static void op_seccomp(const struct plan_op *op) {
    if (op->blob_len == 0 || op->blob_len % 8 != 0 || op->blob_len / 8 > 0xFFFF) {
        die("filter of %u bytes is not a whole number of instructions (max 65535)", op->blob_len);
    }
    /* The blob sits unaligned inside the plan; the kernel wants aligned sock_filters. */
    struct sock_filter_ *f = malloc(op->blob_len);
    if (!f) {
        die("out of memory");
    }
    memcpy(f, op->blob, op->blob_len);
    struct sock_fprog_ prog = {(unsigned short)(op->blob_len / 8), f};
    long fd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, (unsigned)op->u[0], &prog);
    if (fd < 0) {
        DIE_ERRNO("load seccomp filter (%u instructions, flags %#x)", prog.len, (unsigned)op->u[0]);
    }
    free(f);
    if (op->u[1]) {
        send_fd('N', (int)fd);
        close((int)fd);
        /* The program must not start before its listener holds the fd: if the hand-off fails,
         * P0 ends the container here, before anything of the container's own has run. */
        expect_msg('A');
    }
}

/* Landlock: the kernel's uapi (linux/landlock.h) layouts; every access mask comes from the plan. */
#define LANDLOCK_CREATE_RULESET_VERSION (1U << 0)
#define LANDLOCK_RULE_PATH_BENEATH 1
struct landlock_ruleset_attr_ {
    uint64_t handled_access_fs;
};
struct __attribute__((packed)) landlock_path_beneath_attr_ {
    uint64_t allowed_access;
    int32_t parent_fd;
};
static int landlock_fd = -1;

static void landlock_rule(int fd, uint64_t access, const char *what) {
    struct landlock_path_beneath_attr_ a = {access, fd};
    if (syscall(SYS_landlock_add_rule, landlock_fd, LANDLOCK_RULE_PATH_BENEATH, &a, 0) < 0) {
        DIE_ERRNO("landlock_add_rule %s (access %#llx)", what, (unsigned long long)access);
    }
}

static void op_landlock_ruleset(const struct plan_op *op) {
    /* Only the filesystem field: a smaller struct is what every ABI version accepts. */
    struct landlock_ruleset_attr_ attr = {op->u[0]};
    long fd = syscall(SYS_landlock_create_ruleset, &attr, sizeof attr, 0);
    if (fd < 0) {
        DIE_ERRNO("landlock_create_ruleset (handled access %#llx)", (unsigned long long)op->u[0]);
    }
    landlock_fd = (int)fd; /* the kernel makes it close-on-exec */
}

static void op_landlock_rule(const struct plan_op *op) {
    if (landlock_fd < 0) {
        die("%s: no ruleset before this rule", op->s[0]);
    }
    int fd = resolve_or_die(op->s[0], O_PATH);
    struct stat st;
    if (fstat(fd, &st) < 0) {
        DIE_ERRNO("stat %s", op->s[0]);
    }
    /* Directory rights are refused (EINVAL) on anything else, so the plan gives both masks. */
    uint64_t access = S_ISDIR(st.st_mode) ? op->u[0] : op->u[1];
    if (access) {
        landlock_rule(fd, access, op->s[0]);
    }
    close(fd);
}

static void op_landlock_restrict(const struct plan_op *op) {
    if (landlock_fd < 0) {
        die("no ruleset to enforce");
    }
    /* create/start: execve comes after the FIFO write, which the ruleset would otherwise refuse
     * (the FIFO is in the state directory, outside every rule). */
    if (fifo_fd >= 0 && op->u[0]) {
        landlock_rule(fifo_fd, op->u[0], "exec fifo");
    }
    /* stdio: reopening a file the container already holds (/dev/stdout to a host file or tty) is
     * allowed with the modes it holds it in. */
    for (int fd = 0; fd <= 2; fd++) {
        int fl = fcntl(fd, F_GETFL);
        if (fl < 0) {
            continue;
        }
        int acc = fl & O_ACCMODE;
        uint64_t access = (acc != O_WRONLY ? op->u[1] : 0) | (acc != O_RDONLY ? op->u[2] : 0);
        struct landlock_path_beneath_attr_ a = {access, fd};
        if (access && syscall(SYS_landlock_add_rule, landlock_fd, LANDLOCK_RULE_PATH_BENEATH, &a, 0) < 0 && errno != EBADFD) {
            DIE_ERRNO("landlock_add_rule fd %d (access %#llx)", fd, (unsigned long long)access);
        }
    }
    if (syscall(SYS_landlock_restrict_self, landlock_fd, 0) < 0) {
        DIE_ERRNO("%s", "landlock_restrict_self");
    }
    close(landlock_fd);
    landlock_fd = -1;
}

static void op_exec(const struct plan_op *op) {
    char **argv = op->v[0].items, **envp = op->v[1].items;
    if (op->v[0].n == 0) {
        die("process.args is empty");
    }
    if (fifo_fd >= 0) {
        /* create/start: tell P0 we are waiting, then block until `start` opens the FIFO. */
        send_msg('W', "", 0);
        char p[64];
        fd_path(fifo_fd, p, sizeof p);
        int w = open(p, O_WRONLY | O_CLOEXEC);
        if (w < 0 || write(w, "0", 1) != 1) {
            DIE_ERRNO("write exec fifo %s", p);
        }
        close(w);
        close(fifo_fd);
    }
    run_hooks(2);
    const char *name = argv[0];
    if (strchr(name, '/')) {
        execve(name, argv, envp);
        DIE_ERRNO("exec \"%s\"", name);
    }
    const char *path = op->s[0][0] ? op->s[0] : "/usr/local/bin:/usr/bin:/bin";
    int saved = ENOENT;
    char full[4096];
    for (const char *p = path;; p++) {
        const char *end = strchr(p, ':');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (snprintf(full, sizeof full, "%.*s%s%s", (int)n, n ? p : ".", "/", name) < (int)sizeof full) {
            execve(full, argv, envp);
            if (errno == EACCES) {
                saved = EACCES;
            } else if (errno != ENOENT && errno != ENOTDIR) {
                DIE_ERRNO("exec \"%s\"", full);
            }
        }
        if (!end) {
            break;
        }
        p = end;
    }
    errno = saved;
    if (saved == ENOENT) {
        die("exec \"%s\": executable file not found in $PATH", name);
    }
    DIE_ERRNO("exec \"%s\"", name);
}

static void run_init(void) {
    /* Not dumpable until execve: no container process may ptrace or open /proc of this one. */
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    receive_trees();
    for (uint32_t i = 0; i < P.count; i++) {
        const struct plan_op *op = &P.ops[i];
        if (op->phase != PH_INIT) {
            continue;
        }
        cur_op = (int)i;
        switch (op->code) {
        case OP_SETSID:
            if (setsid() < 0) {
                DIE_ERRNO("%s", "setsid");
            }
            break;
        case OP_BECOME_ROOT:
            if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0) {
                DIE_ERRNO("%s", "become root in the user namespace");
            }
            break;
        case OP_HOSTNAME:
            if (sethostname(op->s[0], strlen(op->s[0])) < 0) {
                DIE_ERRNO("sethostname \"%s\"", op->s[0]);
            }
            break;
        case OP_DOMAINNAME:
            if (setdomainname(op->s[0], strlen(op->s[0])) < 0) {
                DIE_ERRNO("setdomainname \"%s\"", op->s[0]);
            }
            break;
        case OP_LOOPBACK_UP: {
            struct ifreq ifr = {0};
            int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
            if (s < 0) {
                DIE_ERRNO("socket for %s", "lo");
            }
            strcpy(ifr.ifr_name, "lo");
            if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0) {
                DIE_ERRNO("SIOCGIFFLAGS %s", "lo");
            }
            ifr.ifr_flags |= IFF_UP;
            if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0) {
                DIE_ERRNO("SIOCSIFFLAGS %s up", "lo");
            }
            close(s);
            break;
        }
        case OP_PROPAGATION:
            if (mount(NULL, op->s[0], NULL, (unsigned long)op->u[0], NULL) < 0) {
                DIE_ERRNO("set propagation %#llx on %s", (unsigned long long)op->u[0], op->s[0]);
            }
            break;
        case OP_ROOTFS:
            op_rootfs(op);
            break;
        case OP_ROOTFS_TREE:
            op_rootfs_tree(op);
            break;
        case OP_BIND_TREE:
            op_bind_tree(op);
            break;
        case OP_MKPATH:
            mkpath(op->s[0], (uint32_t)op->u[0], (uint32_t)op->u[1]);
            break;
        case OP_MOUNT:
            op_mount(op);
            break;
        case OP_BIND:
            op_bind(op);
            break;
        case OP_SETATTR:
            op_setattr(op);
            break;
        case OP_MKNOD:
            op_mknod(op);
            break;
        case OP_SYMLINK:
            op_symlink(op);
            break;
        case OP_PIVOT_ROOT:
            op_pivot_root(op);
            break;
        case OP_MASK:
            op_mask(op);
            break;
        case OP_READONLY:
            op_readonly(op);
            break;
        case OP_CHROOT:
            op_chroot(op);
            break;
        case OP_PROC_ATTR:
            op_proc_attr(op);
            break;
        case OP_WRITE:
            op_write(op);
            break;
        case OP_CHDIR: {
            int fd = resolve_or_die(op->s[0], O_PATH | O_DIRECTORY);
            if (fchdir(fd) < 0) {
                DIE_ERRNO("chdir %s", op->s[0]);
            }
            close(fd);
            break;
        }
        case OP_UMASK:
            umask((mode_t)op->u[0]);
            break;
        case OP_NO_NEW_PRIVS:
            if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
                DIE_ERRNO("%s", "prctl(PR_SET_NO_NEW_PRIVS)");
            }
            break;
        case OP_CAPS_BOUNDING:
            for (unsigned cap = 0; cap <= op->u[1] && cap < 64; cap++) {
                if (!((op->u[0] >> cap) & 1) && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0) {
                    DIE_ERRNO("drop capability %u from the bounding set", cap);
                }
            }
            break;
        case OP_SET_USER:
            op_set_user(op);
            break;
        case OP_CAPS:
            op_caps(op);
            break;
        case OP_SECCOMP:
            op_seccomp(op);
            break;
        case OP_PERSONALITY:
            if (personality((unsigned long)op->u[0]) < 0) {
                DIE_ERRNO("personality %#x", (unsigned)op->u[0]);
            }
            break;
        case OP_CONSOLE:
            op_console(op);
            break;
        case OP_HOOKS: {
            /* P0 runs the runtime-namespace hooks while we wait, then sends our host PID. */
            send_msg('H', "", 0);
            char m[16];
            ssize_t r = recv_msg(m, sizeof m, NULL);
            if (r != 5 || m[0] != 'h') {
                _exit(255);
            }
            int32_t hp;
            memcpy(&hp, m + 1, sizeof hp);
            hook_pid = hp;
            run_hooks(1);
            break;
        }
        case OP_SESSION_KEYRING: {
            /* KEYCTL_JOIN_SESSION_KEYRING, then possessor-all and user view/read/write/search/link/
             * setattr, as runc sets it. ENOSYS/EACCES: keyrings unavailable; nothing to share then. */
            long key = syscall(SYS_keyctl, 1, op->s[0]);
            if (key < 0) {
                if (errno != ENOSYS && errno != EACCES) {
                    DIE_ERRNO("join session keyring %s", op->s[0]);
                }
            } else if (syscall(SYS_keyctl, 5 /* KEYCTL_SETPERM */, key, 0x3f3f0000) < 0) {
                DIE_ERRNO("set permissions of session keyring %s", op->s[0]);
            }
            break;
        }
        case OP_OPEN_ROOT:
            root_fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
            if (root_fd < 0) {
                DIE_ERRNO("open %s", "/");
            }
            break;
        case OP_WAIT_FIFO:
            fifo_fd = exec_fifo_fd >= 0 ? exec_fifo_fd : open(op->s[0], O_PATH | O_CLOEXEC);
            if (fifo_fd < 0) {
                DIE_ERRNO("open exec fifo %s", op->s[0]);
            }
            break;
        case OP_LANDLOCK_RULESET:
            op_landlock_ruleset(op);
            break;
        case OP_LANDLOCK_RULE:
            op_landlock_rule(op);
            break;
        case OP_LANDLOCK_RESTRICT:
            op_landlock_restrict(op);
            break;
        case OP_EXEC:
            op_exec(op);
            break;
        default:
            die("op %u not valid in the container", op->code);
        }
    }
    die("plan ended without EXEC");
}

/* ---- C1: join, then clone the container's init ---- */

static void run_c1(void) {
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    expect_msg('G');
    /* Open every namespace first: after joining a mount namespace the host paths are gone. */
    int *nsfd = calloc(P.count, sizeof(int));
    if (!nsfd) {
        die("out of memory");
    }
    for (uint32_t i = 0; i < P.count; i++) {
        if (P.ops[i].code == OP_SETNS) {
            cur_op = (int)i;
            nsfd[i] = open(P.ops[i].s[0], O_RDONLY | O_CLOEXEC);
            if (nsfd[i] < 0) {
                DIE_ERRNO("open namespace %s", P.ops[i].s[0]);
            }
        }
    }
    for (uint32_t i = 0; i < P.count; i++) {
        const struct plan_op *op = &P.ops[i];
        if (op->phase != PH_JOIN) {
            continue;
        }
        cur_op = (int)i;
        if (op->code == OP_SETNS) {
            int fd = nsfd[i];
            if (setns(fd, (int)op->u[0]) < 0) {
                DIE_ERRNO("setns %s", op->s[0]);
            }
            close(fd);
        } else if (op->code == OP_TIMENS) {
            if (unshare(0x80 /* CLONE_NEWTIME */) < 0) {
                DIE_ERRNO("%s", "unshare time namespace");
            }
            if (op->s[0][0]) {
                write_file("/proc/self/timens_offsets", op->s[0], strlen(op->s[0]));
            }
        } else if (op->code == OP_CLONE) {
            /* The init's new mount namespace gets its own copy of this working directory. */
            for (uint32_t k = i + 1; k < P.count; k++) {
                if (P.ops[k].code == OP_ROOTFS_TREE && chdir(P.ops[k].s[0]) < 0) {
                    DIE_ERRNO("chdir %s", P.ops[k].s[0]);
                }
            }
            /* A fork with new namespaces. CLONE_PARENT: C2 becomes P0's child, so P0 can wait for
             * it (and its exit signal) while C1 exits. */
            long pid = syscall(SYS_clone, (unsigned long)op->u[0] | CLONE_PARENT | SIGCHLD, NULL, NULL, NULL, NULL);
            if (pid < 0) {
                DIE_ERRNO("clone with flags %#llx", (unsigned long long)op->u[0]);
            }
            if (pid == 0) {
                cur_op = -1;
                run_init();
            }
            int32_t p = (int32_t)pid;
            send_msg('P', &p, sizeof p);
            _exit(0);
        }
    }
    die("plan has no CLONE");
}

/* ---- P0 ---- */

/* cgroup v2 has no devices files: access is decided by a BPF program attached to the cgroup. */
static void load_device_program(const struct plan_op *op) {
    union {
        struct {
            uint32_t prog_type, insn_cnt;
            uint64_t insns, license;
            uint32_t log_level, log_size;
            uint64_t log_buf;
        } load;
        struct {
            uint32_t target_fd, attach_bpf_fd, attach_type, attach_flags;
        } attach;
        uint8_t pad[128];
    } a;
    if (op->blob_len == 0 || op->blob_len % 8 != 0) {
        die("device program of %u bytes is not a whole number of instructions", op->blob_len);
    }
    memset(&a, 0, sizeof a);
    a.load.prog_type = (uint32_t)op->u[0];
    a.load.insn_cnt = op->blob_len / 8;
    a.load.insns = (uint64_t)(uintptr_t)op->blob;
    a.load.license = (uint64_t)(uintptr_t)op->s[1];
    int prog = (int)syscall(SYS_bpf, 5 /* BPF_PROG_LOAD */, &a, sizeof a);
    if (prog < 0) {
        DIE_ERRNO("load the device program for %s", op->s[0]);
    }
    int dir = open(op->s[0], O_DIRECTORY | O_RDONLY | O_CLOEXEC);
    if (dir < 0) {
        DIE_ERRNO("open cgroup %s", op->s[0]);
    }
    memset(&a, 0, sizeof a);
    a.attach.target_fd = (uint32_t)dir;
    a.attach.attach_bpf_fd = (uint32_t)prog;
    a.attach.attach_type = (uint32_t)op->u[1];
    a.attach.attach_flags = (uint32_t)op->u[2];
    if (syscall(SYS_bpf, 8 /* BPF_PROG_ATTACH */, &a, sizeof a) < 0) {
        DIE_ERRNO("attach the device program to %s", op->s[0]);
    }
    close(dir);
    close(prog);
}

/* runtime-spec: the listener gets the seccomp fd and the container's state over SCM_RIGHTS. */
static void send_to_listener(const struct plan_op *op, int fd) {
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (strlen(op->s[0]) >= sizeof addr.sun_path) {
        die("seccomp listener path %s is too long", op->s[0]);
    }
    strcpy(addr.sun_path, op->s[0]);
    if (s < 0 || connect(s, (struct sockaddr *)&addr, sizeof addr) < 0) {
        DIE_ERRNO("connect to seccomp listener %s", op->s[0]);
    }
    size_t len = 0;
    for (uint32_t i = 0; i < op->v[0].n; i++) {
        len += strlen(op->v[0].items[i]) + 16;
    }
    char *msg = malloc(len + 1), *p = msg;
    if (!msg) {
        die("out of memory");
    }
    for (uint32_t i = 0; i < op->v[0].n; i++) {
        if (i > 0) {
            p += sprintf(p, "%d", c2_pid);
        }
        p += sprintf(p, "%s", op->v[0].items[i]);
    }
    if (send_with_fd(s, msg, (size_t)(p - msg), fd) < 0) {
        DIE_ERRNO("send the seccomp fd to %s", op->s[0]);
    }
    free(msg);
    close(s);
}

/*
 * An ID-mapped mount can only be made on a detached tree (open_tree's clone, never attached) by a
 * process privileged over the filesystem's own user namespace (the host's): so P0 makes it, with
 * C2's user namespace (its maps written just before), and passes it to C2 to place.
 */
static int idmapped(const char *src, int recursive, uint64_t attr_set, uint64_t attr_clr) {
    static int userns = -1;
    if (userns < 0) {
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/ns/user", c2_pid);
        userns = open(path, O_RDONLY | O_CLOEXEC);
        if (userns < 0) {
            DIE_ERRNO("open %s", path);
        }
    }
    unsigned rec = recursive ? AT_RECURSIVE : 0;
    int tree = (int)syscall(SYS_open_tree, AT_FDCWD, src, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | rec);
    if (tree < 0) {
        DIE_ERRNO("ID-map %s: open_tree", src);
    }
    struct mount_attr a = {.attr_set = attr_set | MOUNT_ATTR_IDMAP, .attr_clr = attr_clr, .userns_fd = (uint64_t)userns};
    if (syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH | rec, &a, sizeof a) < 0) {
        if (errno == EINVAL) {
            die("ID-map %s: mount_setattr(MOUNT_ATTR_IDMAP): %s (the filesystem mounted there, or one mounted "
                "beneath it, cannot be ID-mapped)", src, strerror(errno));
        }
        DIE_ERRNO("ID-map %s: mount_setattr(MOUNT_ATTR_IDMAP)", src);
    }
    return tree;
}

static void pass_tree(int tree, const char *what) {
    if (send_with_fd(sync_fd, "I", 1, tree) < 0) {
        DIE_ERRNO("pass the ID-mapped %s to the container", what);
    }
    close(tree);
}

static void idmap_tree(const struct plan_op *op) {
    pass_tree(idmapped(op->s[0], (int)op->u[0], op->u[1], op->u[2]), op->s[0]);
}

/* Layer fds stay open until the overlay exists: closing a detached tree's last fd unmounts it,
 * and overlayfs clones its layers' mounts only at FSCONFIG_CMD_CREATE. */
static int *layer_fds;
static uint32_t nlayer_fds;

static void overlay_layer(int fs, const char *key, int layer, const char *dir) {
    layer_fds[nlayer_fds++] = layer;
    if (syscall(SYS_fsconfig, fs, FSCONFIG_SET_FD, key, NULL, layer) < 0) {
        DIE_ERRNO("overlay %s %s", key, dir);
    }
}

/* The leaf of dir opened beneath tree, an ID-mapped clone of dir's parent. */
static int layer_in(int tree, const char *dir) {
    const char *leaf = strrchr(dir, '/');
    int fd = openat(tree, leaf ? leaf + 1 : dir, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        DIE_ERRNO("open overlay layer %s", dir);
    }
    return fd;
}

static void idmap_overlay(const struct plan_op *op) {
    layer_fds = calloc(op->v[0].n + 3, sizeof(int));
    if (!layer_fds) {
        die("out of memory");
    }
    int fs = (int)syscall(SYS_fsopen, "overlay", FSOPEN_CLOEXEC);
    if (fs < 0) {
        DIE_ERRNO("%s", "fsopen overlay");
    }
    for (uint32_t i = 0; i < op->v[0].n; i++) {
        overlay_layer(fs, "lowerdir+", idmapped(op->v[0].items[i], 0, 0, 0), op->v[0].items[i]);
    }
    if (op->s[0][0]) {
        /* upper and work must be on one mount: one ID-mapped clone of their common parent. */
        char parent[4096];
        snprintf(parent, sizeof parent, "%s", op->s[0]);
        char *slash = strrchr(parent, '/');
        if (!slash || slash == parent) {
            die("overlay upper dir %s has no parent", op->s[0]);
        }
        *slash = '\0';
        int tree = idmapped(parent, 0, 0, 0);
        layer_fds[nlayer_fds++] = tree;
        overlay_layer(fs, "upperdir", layer_in(tree, op->s[0]), op->s[0]);
        overlay_layer(fs, "workdir", layer_in(tree, op->s[1]), op->s[1]);
    }
    /* overlayfs acts with its creator's credentials (copy-up, the work dir): they must be the
     * container root's, which the layers' ID map can represent (host root it cannot: EOVERFLOW). */
    setfsgid((gid_t)op->u[1]);
    setfsuid((uid_t)op->u[0]);
    /* A non-zero fsuid drops the file capabilities from the effective set; overlayfs needs
     * CAP_DAC_OVERRIDE for its work dir (mode 0): raise them again from the permitted set. */
    struct cap_header h = {LINUX_CAPABILITY_VERSION_3, 0};
    struct cap_data d[2];
    if (syscall(SYS_capget, &h, d) < 0) {
        DIE_ERRNO("%s", "capget");
    }
    d[0].effective = d[0].permitted;
    d[1].effective = d[1].permitted;
    if (syscall(SYS_capset, &h, d) < 0) {
        DIE_ERRNO("%s", "capset");
    }
    long r = syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0);
    int err = errno;
    setfsuid(0);
    setfsgid(0);
    if (r < 0) {
        errno = err;
        DIE_ERRNO("create the ID-mapped overlay of %s", op->s[0][0] ? op->s[0] : op->v[0].items[0]);
    }
    int mnt = (int)syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC, 0);
    if (mnt < 0) {
        DIE_ERRNO("%s", "fsmount overlay");
    }
    close(fs);
    for (uint32_t i = 0; i < nlayer_fds; i++) {
        close(layer_fds[i]);
    }
    free(layer_fds);
    pass_tree(mnt, "overlay");
}

static void write_pid_file(const char *path, pid_t pid) {
    char tmp[4096], num[32];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) {
        die("%s: path too long", path);
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
    int n = snprintf(num, sizeof num, "%d", pid);
    if (fd < 0 || write(fd, num, (size_t)n) != n || close(fd) < 0 || rename(tmp, path) < 0) {
        DIE_ERRNO("write pid file %s", path);
    }
}

static int wait_status(int st) {
    if (WIFEXITED(st)) {
        return WEXITSTATUS(st);
    }
    if (WIFSIGNALED(st)) {
        return 128 + WTERMSIG(st);
    }
    return 255;
}

/* The start time of a process (field 22 of /proc/PID/stat), or 0 if it cannot be read. */
static unsigned long long start_time(int pid) {
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return 0;
    }
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) {
        return 0;
    }
    buf[n] = '\0';
    /* comm (field 2) may hold spaces and parentheses: count fields after the last ')'. */
    char *p = strrchr(buf, ')');
    for (int field = 2; p && field < 22; field++) {
        p = strchr(p + 1, ' ');
    }
    return p ? strtoull(p + 1, NULL, 10) : 0;
}

/* `signal SIG PID[@START]...`: exit 0 if every live target was signalled, 1 if one was gone. */
static int signal_mode(int argc, char **argv) {
    char *end;
    long sig = strtol(argv[2], &end, 10);
    if (*end || sig < 0 || sig > 64) {
        dprintf(2, "bulwark-stage: bad signal %s\n", argv[2]);
        return 2;
    }
    int gone = 0;
    for (int i = 3; i < argc; i++) {
        long pid = strtol(argv[i], &end, 10);
        unsigned long long want = *end == '@' ? strtoull(end + 1, &end, 10) : 0;
        if (*end || pid <= 0) {
            dprintf(2, "bulwark-stage: bad process %s\n", argv[i]);
            return 2;
        }
        /* pidfd first, then the start time: the pidfd pins the process the check was about. */
        int pfd = (int)syscall(SYS_pidfd_open, (int)pid, 0);
        if (pfd < 0 || (want && start_time((int)pid) != want)) {
            gone = 1;
        } else if (syscall(SYS_pidfd_send_signal, pfd, (int)sig, NULL, 0) < 0) {
            if (errno != ESRCH) {
                dprintf(2, "bulwark-stage: signal %ld to %ld: %s\n", sig, pid, strerror(errno));
                return 2;
            }
            gone = 1;
        }
        if (pfd >= 0) {
            close(pfd);
        }
    }
    return gone;
}

/* run with a terminal and no console socket: P0 relays between its stdio and the pty master. */
static int term_master = -1;
static struct termios term_saved;
static int term_raw;

static void send_console(const char *path, int master) {
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof addr.sun_path) {
        die("console socket path %s is too long", path);
    }
    strcpy(addr.sun_path, path);
    if (s < 0 || connect(s, (struct sockaddr *)&addr, sizeof addr) < 0) {
        DIE_ERRNO("connect to console socket %s", path);
    }
    /* runc sends the pty master with the name of the file it came from. */
    if (send_with_fd(s, "/dev/ptmx", 9, master) < 0) {
        DIE_ERRNO("send the terminal to %s", path);
    }
    close(s);
}

static void term_restore(void) {
    if (term_raw) {
        tcsetattr(0, TCSANOW, &term_saved);
        term_raw = 0;
    }
}

static void term_resize(void) {
    struct winsize ws;
    if (term_master >= 0 && ioctl(0, TIOCGWINSZ, &ws) == 0) {
        ioctl(term_master, TIOCSWINSZ, &ws);
    }
}

/* Copies what is readable from one fd to another; returns 0 at EOF or error, 1 otherwise. */
static int pump(int from, int to) {
    char buf[4096];
    ssize_t n = read(from, buf, sizeof buf);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        return 1;
    }
    if (n <= 0) {
        return 0;
    }
    for (ssize_t off = 0; off < n;) {
        ssize_t w = write(to, buf + off, (size_t)(n - off));
        if (w < 0) {
            if (errno == EINTR || errno == EAGAIN) {
                continue;
            }
            return 0;
        }
        off += w;
    }
    return 1;
}

static const int FORWARDED[] = {SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGALRM, SIGWINCH};

int main(int argc, char **argv, char **envp) {
    if (argc >= 4 && !strcmp(argv[1], "signal")) {
        return signal_mode(argc, argv);
    }
    if (argc == 2 && !strcmp(argv[1], "landlock-abi")) {
        /* The planner's probe: the ABI version, or 0 and why there is none. */
        long v = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
        if (v < 0) {
            printf("0 %s\n", strerror(errno));
        } else {
            printf("%ld\n", v);
        }
        return 0;
    }
    if (argc != 2) {
        dprintf(2, "usage: bulwark-stage PLAN-FILE (run by bulwark, not by hand)\n");
        return 255;
    }
    ensure_sealed(argv, envp);

    int pf = open(argv[1], O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    struct stat st;
    if (pf < 0 || fstat(pf, &st) < 0) {
        DIE_ERRNO("open plan %s", argv[1]);
    }
    if (st.st_size > PLAN_MAX_SIZE) {
        die("plan %s is too large", argv[1]);
    }
    uint8_t *buf = malloc((size_t)st.st_size + 1);
    if (!buf) {
        die("out of memory");
    }
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t n = read(pf, buf + got, (size_t)st.st_size - got);
        if (n <= 0) {
            DIE_ERRNO("read plan %s", argv[1]);
        }
        got += (size_t)n;
    }
    close(pf);
    char err[512];
    if (plan_parse(buf, got, &P, err, sizeof err) < 0) {
        die("%s", err);
    }

    uint32_t mode = 0, flags = 0, preserve = 0;
    const char *pid_file = NULL, *control = NULL, *exec_fifo = NULL, *console_socket = NULL;
    const struct plan_op *listener = NULL;
    for (uint32_t i = 0; i < P.count; i++) {
        const struct plan_op *op = &P.ops[i];
        switch (op->code) {
        case OP_ERROR_FILE: error_file = op->s[0]; break;
        case OP_PID_FILE: pid_file = op->s[0]; break;
        case OP_CONTROL_FIFO: control = op->s[0]; break;
        case OP_MODE: mode = (uint32_t)op->u[0]; flags = (uint32_t)op->u[1]; break;
        case OP_PRESERVE_FDS: preserve = (uint32_t)op->u[0]; break;
        case OP_SECCOMP_LISTENER: listener = op; break;
        case OP_EXEC_FIFO: exec_fifo = op->s[0]; break;
        case OP_CONSOLE_SOCKET: console_socket = op->s[0]; break;
        default: break;
        }
    }
    /* No host descriptor reaches the container except stdio and --preserve-fds (CVE-2024-21626). */
    if (syscall(SYS_close_range, 3 + preserve, ~0U, CLOSE_RANGE_CLOEXEC) < 0) {
        DIE_ERRNO("%s", "close_range");
    }

    sigset_t fwd, old;
    sigemptyset(&fwd);
    for (size_t i = 0; i < sizeof FORWARDED / sizeof FORWARDED[0]; i++) {
        sigaddset(&fwd, FORWARDED[i]);
    }
    sigaddset(&fwd, SIGCHLD);
    sigprocmask(SIG_BLOCK, &fwd, &old);
    int sfd = signalfd(-1, &fwd, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sfd < 0) {
        DIE_ERRNO("%s", "signalfd");
    }
    if (flags & 1) {
        prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    }
    int ctl = -1;
    if (control) {
        if (mkfifo(control, 0600) < 0) {
            DIE_ERRNO("mkfifo %s", control);
        }
        /* O_RDWR: the FIFO never reads EOF when a writer closes, and open never blocks. */
        ctl = open(control, O_RDWR | O_NONBLOCK | O_CLOEXEC);
        if (ctl < 0) {
            DIE_ERRNO("open %s", control);
        }
    }

    if (exec_fifo) {
        /* 0622: the container's user, whoever it is, must be able to open it for writing. */
        if (mkfifo(exec_fifo, 0622) < 0 || chmod(exec_fifo, 0622) < 0) {
            DIE_ERRNO("mkfifo %s", exec_fifo);
        }
        exec_fifo_fd = open(exec_fifo, O_PATH | O_CLOEXEC);
        if (exec_fifo_fd < 0) {
            DIE_ERRNO("open %s", exec_fifo);
        }
    }

    int sp[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0) {
        DIE_ERRNO("%s", "socketpair");
    }
    c1_pid = fork();
    if (c1_pid < 0) {
        DIE_ERRNO("%s", "fork");
    }
    if (c1_pid == 0) {
        role = ROLE_CHILD;
        close(sp[0]);
        close(sfd);
        if (ctl >= 0) {
            close(ctl);
        }
        sync_fd = sp[1];
        sigprocmask(SIG_SETMASK, &old, NULL);
        run_c1();
    }
    close(sp[1]);
    sync_fd = sp[0];

    char path[64], num[32];
    for (uint32_t i = 0; i < P.count; i++) {
        const struct plan_op *op = &P.ops[i];
        if (op->phase != PH_PARENT) {
            continue;
        }
        cur_op = (int)i;
        if (op->code == OP_CGROUP_JOIN) {
            int n = snprintf(num, sizeof num, "%d", c1_pid);
            write_file(op->s[0], num, (size_t)n);
        } else if (op->code == OP_OOM_SCORE_ADJ) {
            snprintf(path, sizeof path, "/proc/%d/oom_score_adj", c1_pid);
            int n = snprintf(num, sizeof num, "%d", (int32_t)(uint32_t)op->u[0]);
            write_file(path, num, (size_t)n);
        } else if (op->code == OP_CGROUP_DEVICES) {
            load_device_program(op);
        } else if (op->code == OP_RLIMIT) {
            struct rlimit rl = {(rlim_t)op->u[1], (rlim_t)op->u[2]};
            if (prlimit(c1_pid, (int)op->u[0], &rl, NULL) < 0) {
                DIE_ERRNO("set rlimit %u to %llu/%llu", (unsigned)op->u[0], (unsigned long long)op->u[1],
                          (unsigned long long)op->u[2]);
            }
        }
    }
    cur_op = -1;
    send_msg('G', "", 0);

    char msg[1100];
    ssize_t n = recv_msg(msg, sizeof msg - 1, NULL);
    if (n <= 0) {
        die("the namespace stage exited without a result");
    }
    msg[n] = '\0';
    if (msg[0] == 'E') {
        die("%s", msg + 1);
    }
    if (msg[0] != 'P' || n != 5) {
        die("unexpected message from the namespace stage");
    }
    int32_t p;
    memcpy(&p, msg + 1, sizeof p);
    c2_pid = p;
    int c1st;
    waitpid(c1_pid, &c1st, 0);
    c1_pid = -1;

    for (uint32_t i = 0; i < P.count; i++) {
        const struct plan_op *op = &P.ops[i];
        if (op->phase != PH_MAP) {
            continue;
        }
        cur_op = (int)i;
        if (op->code == OP_IDMAP_TREE) {
            idmap_tree(op);
            continue;
        }
        if (op->code == OP_IDMAP_OVERLAY) {
            idmap_overlay(op);
            continue;
        }
        snprintf(path, sizeof path, "/proc/%d/%s", c2_pid, op->code == OP_UID_MAP ? "uid_map" : "gid_map");
        write_file(path, op->s[0], strlen(op->s[0]));
    }
    cur_op = -1;
    send_msg('M', "", 0);

    /* Until EOF (execve closed the children's end) C2 may report an error or a listener fd. */
    for (;;) {
        int fd;
        n = recv_msg(msg, sizeof msg - 1, &fd);
        if (n <= 0) {
            break;
        }
        msg[n] = '\0';
        if (msg[0] == 'E') {
            die("%s", msg + 1);
        } else if (msg[0] == 'N') {
            if (fd < 0 || !listener) {
                die("the container sent a seccomp fd but the plan has no listener");
            }
            send_to_listener(listener, fd);
            close(fd);
            send_msg('A', "", 0);
        } else if (msg[0] == 'H') {
            hook_pid = c2_pid;
            run_hooks(0);
            char m[5] = {'h'};
            int32_t hp = c2_pid;
            memcpy(m + 1, &hp, sizeof hp);
            if (send(sync_fd, m, sizeof m, MSG_NOSIGNAL) < 0) {
                DIE_ERRNO("%s", "release the container after its hooks");
            }
        } else if (msg[0] == 'T') {
            if (fd < 0) {
                die("the container sent no terminal");
            }
            if (console_socket) {
                send_console(console_socket, fd);
                close(fd);
            } else {
                term_master = fd;
            }
        } else if (msg[0] == 'W') {
            if (pid_file) {
                write_pid_file(pid_file, c2_pid);
            }
            if (mode == 1) {
                return 0;
            }
        }
    }
    if (mode == 1) {
        die("the container started without waiting for `start`");
    }
    if (pid_file) {
        write_pid_file(pid_file, c2_pid);
    }
    if (mode == 2) {
        return 0; /* exec --detach: the process runs on, adopted by the caller's subreaper */
    }
    hook_pid = c2_pid;
    run_hooks(3);

    /* run: wait for the container, forwarding signals to it (and relaying its terminal). */
    int in_open = term_master >= 0;
    if (term_master >= 0) {
        fcntl(term_master, F_SETFL, O_NONBLOCK);
        if (isatty(0) && tcgetattr(0, &term_saved) == 0) {
            struct termios raw = term_saved;
            cfmakeraw(&raw);
            term_raw = tcsetattr(0, TCSANOW, &raw) == 0;
            atexit(term_restore);
        }
        term_resize();
    }
    struct pollfd pfd[4] = {{sfd, POLLIN, 0}, {ctl, POLLIN, 0}, {term_master, POLLIN, 0}, {0, POLLIN, 0}};
    for (;;) {
        pfd[1].fd = ctl;
        pfd[2].fd = term_master;
        pfd[3].fd = in_open ? 0 : -1;
        if (poll(pfd, 4, -1) < 0 && errno != EINTR) {
            DIE_ERRNO("%s", "poll");
        }
        if (term_master >= 0 && (pfd[2].revents & (POLLIN | POLLHUP | POLLERR)) && !pump(term_master, 1)) {
            close(term_master);
            term_master = -1;
        }
        if (in_open && (pfd[3].revents & (POLLIN | POLLHUP | POLLERR)) && !pump(0, term_master)) {
            in_open = 0;
        }
        struct signalfd_siginfo si;
        while (read(sfd, &si, sizeof si) == sizeof si) {
            if (si.ssi_signo == SIGCHLD) {
                int status;
                pid_t w;
                while ((w = waitpid(-1, &status, WNOHANG)) > 0) {
                    if (w == c2_pid) {
                        /* what the container wrote last is still in the pty */
                        while (term_master >= 0 && pump(term_master, 1)) {
                        }
                        term_restore();
                        return wait_status(status);
                    }
                }
            } else if (si.ssi_signo == SIGWINCH && term_master >= 0) {
                term_resize();
            } else if (si.ssi_code != SI_KERNEL) {
                /* Signals a terminal raised (SI_KERNEL) reach the runtime through its Java
                 * parent's forwarding; sending them again would deliver them twice. */
                kill(c2_pid, (int)si.ssi_signo);
            }
        }
        if (ctl >= 0) {
            unsigned char sig[64];
            ssize_t r;
            while ((r = read(ctl, sig, sizeof sig)) > 0) {
                for (ssize_t k = 0; k < r; k++) {
                    if (sig[k] >= 1 && sig[k] <= 64) {
                        kill(c2_pid, sig[k]);
                    }
                }
            }
        }
    }
}
