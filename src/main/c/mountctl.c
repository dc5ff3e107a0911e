/*
 * bulwark-mountctl --serve --board PATH: the agent's resident helper for one supervised notify
 * fd. It performs trapped mount-family syscalls in the trapped caller's user and mount
 * namespaces, root, cwd and credentials, with arguments the agent copied out of the caller's
 * memory (so the caller cannot change them after the agent's check). It makes no decision.
 *
 * Two ways in. Through this process: the agent writes one request at a time on stdin and reads
 * the answer on stdout,
 *
 *   PID KEY CALL ARG...    (KEY: the caller's context, see context_key; strings hex-encoded,
 *                           "-" for NULL, "." for ""; numbers decimal)
 *
 * answered first "context GEN SLOT EXACT PID": the worker's number (a context's mount table stays
 * the same until the kernel flags a change, so the agent keeps one per worker), its slot on the
 * board, 1 when the worker is exactly what KEY says, and its PID. Or straight to a worker, over
 * its slot on the board (PATH, the agent's memfd, struct slot): a check of the caller, then
 * "PID EPOCH CALL ARG...", for the calls board_call names (no descriptor of the caller to take or
 * to hand back, no new mount); the worker answers "slow" when the caller is not in its context or
 * cannot be opened as the caller, and the agent sends the call here instead. EPOCH is "-", or
 * for a remount or a one-mount mount_setattr the policy's epoch (see standing verdicts).
 *
 * Either way the worker then says, for each path argument, what it resolved to,
 *   "path NAME MNT_ID IS_MOUNT_ROOT MAJOR:MINOR WHERE"     (NAME: target, source, from, to;
 *                                                           WHERE for a bind's source alone)
 * and, for the target of a remount, fspick or one-mount mount_setattr, the mount it is on
 * (statmount(2), so the agent needs no mount table for those):
 *   "mount MNT_ID PARENT_ID MAJOR:MINOR RO ROOT"             (RO: 1 if the mount or its superblock is)
 * then "ready"; the agent answers "go" or "no" (on the board, a "no" is answered "done", and a
 * "go" may be "go EPOCH": the verdict stands for that mount); on "go"
 * the call is performed on the resolved fds (never on the paths again) and the answer is
 * "errno N", or "fd N WORKER" for fspick and fsopen (the calls here that return a file
 * descriptor; the agent takes it with pidfd_getfd from WORKER and answers "taken"). Any failure
 * before the call is "errno N" with no "ready". A remount or one-mount mount_setattr whose
 * target's mount has a standing verdict of the request's EPOCH says "standing" instead of the
 * path and mount, and no "ready": it is performed at once. "reap SLOT GEN" ends that worker
 * ("reaped"): the agent saw its latest caller exit.
 *
 * A new mount's last argument is "-", or for a new proc or sysfs the masks to put on it
 * (masked_mount): its mount is made detached, then "guard MAJ:MIN ROOT" for each mount placed on
 * it, "fresh MAJ:MIN ROOT" for the new mount itself and "staged"; the agent records them and
 * says "go" again before the tree is attached at the target.
 *
 * Two kinds of process: this one stays host root in the host's namespaces (it takes the caller's
 * fd arguments with pidfd_getfd and opens its /proc entries), and it forks one worker per caller
 * context: the user, mount, IPC, network, cgroup and PID namespaces, root and credentials of the
 * caller. A worker enters that context once and then serves every call made from it. For a call
 * through this process it gets the caller's cwd, its /proc/PID and its fd arguments over a
 * socketpair and answers on the shared stdout, reading the verdict from the shared stdin; for a
 * call on the board it opens what it needs of the caller through the host's /proc, as the caller,
 * and answers on its slot. Before a board call it checks that the caller's user and mount
 * namespaces, root and credentials are still its own (same_context): a caller may have changed
 * any of them since its last call. Nothing is spawned per call. A context is the identity of all
 * of those, as the host sees it (the worker holds a reference on its namespaces and root, so
 * their inode and mount numbers cannot be reused while it lives); at most MAX_WORKERS are kept,
 * the least recently used is killed first.
 *
 * Lifetime: the helper dies with the agent's thread that started it (PR_SET_PDEATHSIG) and exits
 * when its stdin closes (the agent does that when every task of the filter is gone); each worker
 * dies with the helper (PR_SET_PDEATHSIG, set again once it has the caller's credentials, since
 * that change clears it).
 *
 * A JVM cannot setns() into a user namespace (it is multi-threaded), hence this helper.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/statfs.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
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
#define STATX_MNT_ID_UNIQUE 0x4000U
#define STATMOUNT 457
#define STATMOUNT_SB_BASIC 0x1U
#define STATMOUNT_MNT_BASIC 0x2U
#define STATMOUNT_MNT_ROOT 0x8U
#define STATMOUNT_STR 512 /* offsetof(struct statmount, str) */
#define MOUNT_ATTR_RDONLY_ 0x1ULL
#define SB_RDONLY_ 0x1U
#define STATX_ATTR_MOUNT_ROOT 0x2000
#define PIDFD_GETFD 438
#define PIDFD_OPEN 434
#define CLOSE_RANGE 436
#define MOUNT_SETATTR 442
#define FSPICK 433
#define MOUNT_ATTR_IDMAP_ 0x00100000ULL
#define FSOPEN 430
#define FSCONFIG 431
#define FSMOUNT 432
#define OPEN_TREE 428
#define MOVE_MOUNT 429
#define FSOPEN_CLOEXEC 0x1
#define FSMOUNT_CLOEXEC 0x1
#define OPEN_TREE_CLONE 0x1
#define OPEN_TREE_CLOEXEC 02000000
#define FSCONFIG_SET_FLAG 0
#define FSCONFIG_SET_STRING 1
#define FSCONFIG_CMD_CREATE 6

#define MAX_ARGS 8
#define MAX_FDS 8
#define MAX_WORKERS 16
#define REQ_MAX (MAX_ARGS * 2 * 4096 + 256)

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

/* ---- a request: CALL and its arguments, and which of them are the caller's fds ------------ */

struct req {
    char *call;
    char *a[MAX_ARGS];
    int n;
};

/* Splits "CALL ARG..." in place; 0 if the call is not one of ours or has the wrong arity. */
static int parse(char *line, struct req *r) {
    memset(r, 0, sizeof *r);
    char *save = NULL;
    r->call = strtok_r(line, " \n", &save);
    for (char *t; r->call && r->n < MAX_ARGS && (t = strtok_r(NULL, " \n", &save));) {
        r->a[r->n++] = t;
    }
    if (!r->call || strtok_r(NULL, " \n", &save)) {
        return 0;
    }
    const char *c = r->call;
    return (!strcmp(c, "mount") && r->n == 6) || (!strcmp(c, "fsopen") && r->n == 2) || (!strcmp(c, "umount2") && r->n == 2) || (!strcmp(c, "move_mount") && r->n == 5) ||
           (!strcmp(c, "fspick") && r->n == 3) || (!strcmp(c, "mount_setattr") && r->n == 7);
}

static long num(const char *s) {
    return strtol(s, NULL, 10);
}

/*
 * The argument positions that name a descriptor of the caller, in the order they travel to the
 * worker (after its cwd and /proc/PID). A dirfd of AT_FDCWD is none: the worker uses the cwd.
 */
static int fd_args(const struct req *r, int pos[MAX_FDS]) {
    int k = 0;
    if (!strcmp(r->call, "move_mount")) {
        if (num(r->a[0]) != AT_FDCWD) {
            pos[k++] = 0;
        }
        if (num(r->a[2]) != AT_FDCWD) {
            pos[k++] = 2;
        }
    } else if (!strcmp(r->call, "fspick") || !strcmp(r->call, "mount_setattr")) {
        if (num(r->a[0]) != AT_FDCWD) {
            pos[k++] = 0;
        }
        if (!strcmp(r->call, "mount_setattr") && (strtoull(r->a[3], NULL, 10) & MOUNT_ATTR_IDMAP_)) {
            pos[k++] = 6;
        }
    }
    return k;
}

/* ---- the board: one slot per worker, shared with the agent (memfd, MAP_SHARED) ------------ */

/*
 * A slot's header, then the request the agent (or the helper) wrote, then the worker's answer.
 * To the worker: a request (its text and length, kind, then req_seq bumped), or a check (check_pid,
 * then check_seq bumped; PID 0 withdraws one), and after either the doorbell is bumped. To the
 * agent: an answer (its text and length, then rep_seq bumped). doorbell and rep_seq are futex
 * words, woken only when the other side said it sleeps (worker_sleeping, agent_sleeping). A
 * waiter spins a little first: with the other side on another CPU the word changes within a
 * microsecond, where a wake-up costs 5-12 on this kind of machine. Text is written again only
 * once the worker has answered what was there. The agent's offsets (Board.java): 0 doorbell,
 * 4 req_len, 8 rep_seq, 12 rep_len, 16 worker_sleeping, 20 agent_sleeping, 24 kind,
 * 28 check_pid, 32 gen, 40 req_seq, 44 check_seq.
 */
#define BOARD_SLOT (96 * 1024)
#define SLOT_HDR 64
#define SLOT_TEXT ((BOARD_SLOT - SLOT_HDR) / 2)
#define KIND_AGENT 1  /* the agent's own request, in the slot's text */
#define KIND_HELPER 2 /* the helper's, with its descriptors, on the worker's socket */
#define IDLE_SPIN 50000 /* ns a worker stays on its CPU after a call, for the next one (calls come in runs) */

struct slot {
    _Atomic uint32_t doorbell, req_len, rep_seq, rep_len, worker_sleeping, agent_sleeping, kind, check_pid;
    _Atomic uint64_t gen; /* the worker's number while it serves this slot, 0 when none */
    _Atomic uint32_t req_seq, check_seq;
    /* in slot 0 only, for the whole board: the container's filter traps setns and unshare, and
     * the count of those the agent let go on (see same_context) */
    _Atomic uint32_t ns_trapped, ns_epoch;
    char pad2[SLOT_HDR - 56];
    char req[SLOT_TEXT];
    char rep[SLOT_TEXT];
};

static unsigned char *board;

static struct slot *slot_at(int i) {
    return (struct slot *)(void *)(board + (size_t)i * BOARD_SLOT);
}

static uint64_t mono_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000ULL + (uint64_t)t.tv_nsec;
}

/* Waits until *seq is no longer old: spinning up to spin_ns, then on the futex; the new value. */
static uint32_t await_change(_Atomic uint32_t *seq, uint32_t old, _Atomic uint32_t *sleeping, uint64_t spin_ns) {
    uint64_t until = mono_ns() + spin_ns;
    for (unsigned i = 0;; i++) {
        uint32_t v = atomic_load(seq);
        if (v != old) {
            return v;
        }
        if ((i & 7) == 7 && mono_ns() > until) {
            break;
        }
        /* yield, not pause: the agent may be on this very CPU (the scheduler puts a wakee next to its
         * waker), and a spin there would keep the answer from coming */
        sched_yield();
    }
    for (;;) {
        atomic_store(sleeping, 1);
        uint32_t v = atomic_load(seq);
        if (v == old) {
            syscall(SYS_futex, (void *)seq, 0 /* FUTEX_WAIT */, old, NULL, NULL, 0);
            v = atomic_load(seq);
        }
        atomic_store(sleeping, 0);
        if (v != old) {
            return v;
        }
    }
}

static void bump(_Atomic uint32_t *seq, _Atomic uint32_t *sleeping) {
    atomic_fetch_add(seq, 1);
    if (atomic_load(sleeping)) {
        syscall(SYS_futex, (void *)seq, 1 /* FUTEX_WAKE */, 1, NULL, NULL, 0);
    }
}

/* The worker's side of the current call: on the board (the agent's request) or on stdout. */
static int on_board;
static struct slot *myslot;
static uint32_t bell_seen, req_seen, check_seen; /* what the worker has taken */
static char rbuf[SLOT_TEXT];
static size_t rlen;
static jmp_buf call_failed; /* where a failure in the middle of a call goes: "errno N", next call */

/* fmt to stdout, or to the answer being built on the board: -1 when that is full. */
static int vemit(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));
static int vemit(const char *fmt, va_list ap) {
    if (!on_board) {
        vprintf(fmt, ap);
        return 0;
    }
    int n = vsnprintf(rbuf + rlen, sizeof rbuf - rlen, fmt, ap);
    if (n < 0 || (size_t)n >= sizeof rbuf - rlen) {
        return -1;
    }
    rlen += (size_t)n;
    return 0;
}

static void emit(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void emit(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int r = vemit(fmt, ap);
    va_end(ap);
    if (r < 0) {
        rlen = 0;
        longjmp(call_failed, ENAMETOOLONG);
    }
}

/* What was emitted, to the agent. */
static void flush_out(void) {
    if (!on_board) {
        fflush(stdout);
        return;
    }
    memcpy(myslot->rep, rbuf, rlen);
    atomic_store(&myslot->rep_len, (uint32_t)rlen);
    rlen = 0;
    bump(&myslot->rep_seq, &myslot->agent_sleeping);
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    if (vemit(fmt, ap) < 0) {
        rlen = 0; /* an empty answer: the agent stops this helper */
    }
    va_end(ap);
    flush_out();
}

/* A message and up to MAX_FDS descriptors over the worker's socket. */
static int send_fds(int sock, const char *msg, const int *fds, int nfds) {
    union {
        char b[CMSG_SPACE(sizeof(int) * MAX_FDS)];
        struct cmsghdr align;
    } ctl;
    struct iovec iov = {(void *)msg, strlen(msg)};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
    if (nfds > 0) {
        mh.msg_control = ctl.b;
        mh.msg_controllen = (socklen_t)CMSG_SPACE(sizeof(int) * (size_t)nfds);
        struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = (socklen_t)CMSG_LEN(sizeof(int) * (size_t)nfds);
        memcpy(CMSG_DATA(cm), fds, sizeof(int) * nfds);
    }
    return sendmsg(sock, &mh, MSG_NOSIGNAL) < 0 ? -1 : 0;
}

/* Receives one message (NUL-terminated) and its descriptors; the length, 0 on EOF, -1 on error. */
static ssize_t recv_fds(int sock, char *buf, size_t cap, int *fds, int *nfds) {
    union {
        char b[CMSG_SPACE(sizeof(int) * MAX_FDS)];
        struct cmsghdr align;
    } ctl;
    struct iovec iov = {buf, cap - 1};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.b, .msg_controllen = sizeof ctl.b};
    ssize_t n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
    *nfds = 0;
    if (n < 0) {
        return -1;
    }
    buf[n] = 0;
    for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
        if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
            int k = (int)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
            memcpy(fds + *nfds, CMSG_DATA(cm), sizeof(int) * (size_t)k);
            *nfds += k;
        }
    }
    if (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
        errno = EMSGSIZE;
        return -1;
    }
    return n;
}

/* ==== the worker: one caller context, entered once =========================================== */

/*
 * What a worker is: its user and mount namespaces, root and credentials (as the reader's user
 * namespace shows them: the helper reads the host's IDs, a worker those of its own namespace;
 * and the capability sets), then "|" and its IPC, network, cgroup and PID namespaces (for a
 * worker, the PID namespace of its children, which it joined). The agent computes the same for a
 * caller (Context.java) and names the worker it wants by it; a call that makes no new mount
 * depends on the part up to "|" alone. short_key writes that part, from proc (a /proc/PID) and
 * sfd (its status, open); 0, or -1.
 */
/* The inode number of proc's namespace link name ("mnt:[4026531841]": its readlink is cheaper than a stat). */
static long long ns_ino(int proc, const char *name) {
    char b[64];
    ssize_t n = readlinkat(proc, name, b, sizeof b - 1);
    if (n <= 0) {
        return -1;
    }
    b[n] = 0;
    char *o = strchr(b, '[');
    return o ? strtoll(o + 1, NULL, 10) : -1;
}

/* The task at proc's user and mount namespaces ("U M"). */
static int ns_key(int proc, char *key, size_t cap) {
    long long u = ns_ino(proc, "ns/user"), m = ns_ino(proc, "ns/mnt");
    int k = u < 0 || m < 0 ? -1 : snprintf(key, cap, "%lld %lld", u, m);
    return k < 0 || (size_t)k >= cap ? -1 : k;
}

/* The task at proc's root ("MNT:DEV:INO"). */
static int root_key(int proc, char *key, size_t cap) {
    struct statx_ r;
    memset(&r, 0, sizeof r);
    if (syscall(SYS_statx, proc, "root", 0, STATX_MNT_ID, &r) < 0) {
        return -1;
    }
    int k = snprintf(key, cap, "%llu:%u:%llu", (unsigned long long)r.mnt_id, r.dev_major << 20 | r.dev_minor, (unsigned long long)r.ino);
    return k < 0 || (size_t)k >= cap ? -1 : k;
}

/* Where the task at proc is: ns_key and root_key. */
static int places_key(int proc, char *key, size_t cap) {
    int k = ns_key(proc, key, cap);
    if (k < 0 || (size_t)k + 1 >= cap) {
        return -1;
    }
    key[k++] = ' ';
    int r = root_key(proc, key + k, cap - (size_t)k);
    return r < 0 ? -1 : k + r;
}

/* Who the task whose status is open at sfd is: its Uid, Gid, Groups, CapInh, CapPrm and CapEff lines. */
static int ids_key(int sfd, char *key, size_t cap) {
    char st[8192];
    ssize_t n = pread(sfd, st, sizeof st - 1, 0);
    if (n <= 0) {
        return -1;
    }
    st[n] = 0;
    /* in the order status has them: each is looked for after the one before */
    static const char *const want[] = {"\nUid:", "\nGid:", "\nGroups:", "\nCapInh:", "\nCapPrm:", "\nCapEff:"};
    char *from = st;
    int k = 0;
    key[0] = 0;
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        char *s = strstr(from, want[i]);
        char *e = s ? strchr(s + 1, '\n') : NULL;
        if (!e || k + (e - s) + 1 >= (long)cap) {
            return -1;
        }
        memcpy(key + k, s, (size_t)(e - s));
        k += (int)(e - s);
        key[k] = 0;
        from = e;
    }
    return k;
}

/* The task's context as a board call depends on it: places_key, then ids_key. */
static int short_key(int proc, int sfd, char *key, size_t cap) {
    int k = places_key(proc, key, cap);
    int i = k < 0 ? -1 : ids_key(sfd, key + k, cap - (size_t)k);
    return i < 0 ? -1 : k + i;
}

/* The capability sets of the task pid names in our PID namespace (0: ours): effective,
 * permitted, inheritable. */
static int caps_of(int pid, uint64_t c[3]) {
    struct {
        uint32_t version;
        int pid;
    } hdr = {0x20080522, pid};
    struct {
        uint32_t eff, prm, inh;
    } d[2];
    if (syscall(SYS_capget, &hdr, d) < 0) {
        return -1;
    }
    c[0] = d[0].eff | (uint64_t)d[1].eff << 32;
    c[1] = d[0].prm | (uint64_t)d[1].prm << 32;
    c[2] = d[0].inh | (uint64_t)d[1].inh << 32;
    return 0;
}

/* The whole key (see short_key) of the task at proc. */
static int context_key(int proc, int is_worker, char *key, size_t cap) {
    int sfd = openat(proc, "status", O_RDONLY | O_CLOEXEC);
    if (sfd < 0) {
        return -1;
    }
    int k = short_key(proc, sfd, key, cap);
    close(sfd);
    if (k < 0) {
        return -1;
    }
    const char *const ns[] = {"ns/ipc", "ns/net", "ns/cgroup", is_worker ? "ns/pid_for_children" : "ns/pid"};
    for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++) {
        long long x = ns_ino(proc, ns[i]);
        if (x < 0) {
            return -1;
        }
        k += snprintf(key + k, cap - (size_t)k, "%s%lld", i ? " " : "|", x);
        if ((size_t)k >= cap) {
            return -1;
        }
    }
    return 0;
}



static int held[2 * MAX_FDS + 8], nheld;
static int selffd = -1;     /* our /proc/self/fd, opened before chroot: inside, /proc is the container's */
static int callerproc = -1; /* this call's caller's /proc/PID in the host's procfs */
static int cwdfd = -1;      /* this call's caller's cwd */
static int want_mount;                /* this call's target is reported with its mount */
static int cwd_is_self;               /* our cwd is selffd (mount(2) names fds relative to it) */

/*
 * Standing verdicts. The agent decides a remount, or a mount_setattr of one mount (not
 * AT_RECURSIVE), on its target's mount alone (its number, device and root, which never change
 * while it exists) and the policy's guards: the one question it asks of such a call is whether
 * that mount may be made writable. With its "go" to that question it may give the policy's epoch
 * ("go EPOCH"), and the worker keeps that mount's 64-bit unique ID (never reused) with it. A
 * later board request of either kind that carries the same epoch (the agent has checked that the
 * notification is still pending after copying it, and the policy has not changed since) is
 * performed on that mount at once: no "ready", no verdict to wait for. Only allowing verdicts
 * stand.
 */
static struct {
    uint64_t mnt;
    long long epoch;
} standing[16];
static unsigned standing_next;
static long long request_epoch = -1; /* the board request's epoch; -1: none, ask */
static uint64_t target_unique;      /* this call's target's unique mount ID, 0 when unknown */
static int standing_hit;            /* this call's target has a standing go */
static int ids_confirm(void);

static int has_standing(uint64_t mnt, long long epoch) {
    for (size_t i = 0; i < sizeof standing / sizeof standing[0]; i++) {
        if (standing[i].mnt == mnt && standing[i].epoch == epoch) {
            return 1;
        }
    }
    return 0;
}

static void grant(long long epoch) {
    if (!target_unique || epoch < 0) {
        return;
    }
    for (size_t i = 0; i < sizeof standing / sizeof standing[0]; i++) {
        if (standing[i].mnt == target_unique) {
            standing[i].epoch = epoch;
            return;
        }
    }
    unsigned i = standing_next++ % (sizeof standing / sizeof standing[0]);
    standing[i].mnt = target_unique;
    standing[i].epoch = epoch;
}

/* "mount ..." for the mount of unique ID mnt; its old (mountinfo) ID, 0 when statmount cannot say
 * (nothing is said then, and the agent reads the table). */
static uint32_t report_mount(uint64_t mnt) {
    struct {
        uint32_t size, spare;
        uint64_t mnt_id, param;
    } req = {24, 0, mnt, STATMOUNT_SB_BASIC | STATMOUNT_MNT_BASIC | STATMOUNT_MNT_ROOT};
    static union {
        unsigned char b[STATMOUNT_STR + 8192];
        uint64_t align;
    } sm;
    if (syscall(STATMOUNT, &req, sm.b, sizeof sm.b, 0) < 0) {
        return 0;
    }
    uint32_t size, major, minor, sb_flags, id, parent, root;
    uint64_t mask, attr;
    memcpy(&size, sm.b, 4);
    memcpy(&mask, sm.b + 8, 8);
    memcpy(&major, sm.b + 16, 4);
    memcpy(&minor, sm.b + 20, 4);
    memcpy(&sb_flags, sm.b + 32, 4);
    memcpy(&id, sm.b + 56, 4);
    memcpy(&parent, sm.b + 60, 4);
    memcpy(&attr, sm.b + 64, 8);
    memcpy(&root, sm.b + 104, 4);
    uint32_t want = STATMOUNT_SB_BASIC | STATMOUNT_MNT_BASIC | STATMOUNT_MNT_ROOT;
    if ((mask & want) != want || id == 0 || size > sizeof sm.b || STATMOUNT_STR + root >= size) {
        return 0;
    }
    const char *r = (const char *)sm.b + STATMOUNT_STR + root;
    size_t len = strnlen(r, size - STATMOUNT_STR - root);
    if (len == 0 || r[0] != '/') {
        return 0;
    }
    emit("mount %u %u %u:%u %d ", id, parent, major, minor, ((attr & MOUNT_ATTR_RDONLY_) || (sb_flags & SB_RDONLY_)) ? 1 : 0);
    for (size_t i = 0; i < len; i++) {
        emit("%02x", (unsigned char)r[i]);
    }
    emit("\n");
    return id;
}

static void out_errno(int e) {
    longjmp(call_failed, e ? e : EIO);
}

static void fail(void) {
    out_errno(errno);
}

/* Closed when the call is over. */
static int hold(int fd) {
    if (fd >= 0 && nheld < (int)(sizeof held / sizeof held[0])) {
        held[nheld++] = fd;
    }
    return fd;
}

static int hex_digit(char c) {
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

static char *hex(const char *s, char *b, size_t cap) {
    if (!strcmp(s, "-")) {
        return NULL;
    }
    size_t len = strlen(s), n = len / 2;
    if (!strcmp(s, ".")) {
        n = 0; /* "" */
    } else if (len % 2) {
        out_errno(EINVAL);
    }
    if (n >= cap) {
        out_errno(ENAMETOOLONG);
    }
    for (size_t i = 0; i < n; i++) {
        int hi = hex_digit(s[2 * i]), lo = hex_digit(s[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            out_errno(EINVAL);
        }
        b[i] = (char)(hi << 4 | lo);
    }
    b[n] = 0;
    return b;
}

static int resolve(const char *name, int dfd, const char *path, int follow, int empty_ok) {
    int fd;
    if (path && path[0] == 0 && empty_ok) {
        fd = fcntl(dfd, F_DUPFD_CLOEXEC, 0);
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
    hold(fd);
    struct statx_ st;
    memset(&st, 0, sizeof st);
    /* the target of a remount or fspick by its unique ID (statmount takes that, and says the old
     * one); without it (before Linux 6.8) the kernel gives the old one, and the agent the table */
    int whole = want_mount && !strcmp(name, "target");
    if (syscall(SYS_statx, fd, "", AT_EMPTY_PATH_ | AT_SYMLINK_NOFOLLOW_, whole ? STATX_MNT_ID_UNIQUE : STATX_MNT_ID, &st) < 0) {
        fail();
    }
    if (whole && (st.mask & STATX_MNT_ID_UNIQUE)) {
        target_unique = st.mnt_id;
        if (request_epoch >= 0 && has_standing(target_unique, request_epoch)) {
            standing_hit = 1;
            emit("standing\n");
            return fd;
        }
        st.mnt_id = report_mount(target_unique);
        if (!st.mnt_id && syscall(SYS_statx, fd, "", AT_EMPTY_PATH_ | AT_SYMLINK_NOFOLLOW_, STATX_MNT_ID, &st) < 0) {
            fail();
        }
    } else if (!(st.mask & STATX_MNT_ID)) {
        out_errno(ENOSYS);
    }
    char link[16], where[4096], line[2 * 4096 + 128];
    snprintf(link, sizeof link, "%d", fd);
    /* where it is matters to the agent for a bind's source alone (what a plain bind leaves out) */
    ssize_t n = strcmp(name, "source") ? 0 : syscall(SYS_readlinkat, selffd, link, where, sizeof where - 1);
    int k = snprintf(line, sizeof line, "path %s %llu %d %u:%u ", name, (unsigned long long)st.mnt_id,
                     (st.attributes & STATX_ATTR_MOUNT_ROOT) ? 1 : 0, st.dev_major, st.dev_minor);
    for (ssize_t i = 0; i < n; i++) { /* where it is, as the caller sees it (hex) */
        k += snprintf(line + k, sizeof line - (size_t)k, "%02x", (unsigned char)where[i]);
    }
    emit("%s\n", line);
    return fd;
}

/* Enter the caller's namespaces, root and credentials (in that order: chroot needs our caps). */
static int become_caller(pid_t pid) {
    char p[64];
    snprintf(p, sizeof p, "/proc/%d", (int)pid);
    int proc = open(p, O_DIRECTORY | O_CLOEXEC);
    if (proc < 0) {
        return -1;
    }
    int userns = openat(proc, "ns/user", O_RDONLY | O_CLOEXEC), mntns = openat(proc, "ns/mnt", O_RDONLY | O_CLOEXEC);
    int root = openat(proc, "root", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (userns < 0 || mntns < 0 || root < 0) {
        return -1;
    }
    /* Joining our own user namespace is EINVAL: the caller may be in the host's (a test). */
    int selfns = open("/proc/self/ns/user", O_RDONLY | O_CLOEXEC);
    struct statx_ a, b;
    if (syscall(SYS_statx, selfns, "", AT_EMPTY_PATH_, 0, &a) < 0 || syscall(SYS_statx, userns, "", AT_EMPTY_PATH_, 0, &b) < 0) {
        return -1;
    }
    close(selfns);
    /* The namespaces a new mount takes its owner from (mqueue: ipc, sysfs: net, cgroup: cgroup,
     * proc: the PID namespace, for the child that mounts it), joined while we are host root: the
     * caller's may belong to an ancestor of its user namespace (a shared host network). */
    static const struct {
        const char *name;
        int type;
    } other[] = {{"ns/ipc", CLONE_NEWIPC}, {"ns/net", CLONE_NEWNET}, {"ns/cgroup", CLONE_NEWCGROUP}, {"ns/pid", CLONE_NEWPID}};
    for (size_t i = 0; i < sizeof other / sizeof other[0]; i++) {
        int nsfd = openat(proc, other[i].name, O_RDONLY | O_CLOEXEC);
        if (nsfd < 0 || setns(nsfd, other[i].type) < 0) {
            return -1;
        }
        close(nsfd);
    }
    if (a.ino != b.ino && setns(userns, CLONE_NEWUSER) < 0) {
        return -1;
    }
    if (setns(mntns, CLONE_NEWNS) < 0 || fchdir(root) < 0 || chroot(".") < 0 || chdir("/") < 0) {
        return -1;
    }
    /* Opened after setns(user): the kernel shows the IDs as that namespace sees them. */
    int sfd = openat(proc, "status", O_RDONLY | O_CLOEXEC);
    FILE *f = sfd < 0 ? NULL : fdopen(sfd, "r");
    if (!f) {
        return -1;
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
        errno = EIO;
        return -1;
    }
    if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0 || setgroups(ngroups, groups) < 0 || setresgid(rgid, egid, sgid) < 0 ||
        setresuid(ruid, euid, suid) < 0) {
        return -1;
    }
    struct {
        uint32_t version;
        int pid;
    } hdr = {0x20080522, 0};
    struct {
        uint32_t eff, prm, inh;
    } data[2] = {{(uint32_t)eff, (uint32_t)prm, (uint32_t)inh}, {(uint32_t)(eff >> 32), (uint32_t)(prm >> 32), (uint32_t)(inh >> 32)}};
    if (syscall(SYS_capset, &hdr, data) < 0) {
        return -1;
    }
    /* setresuid may have made us dumpable again: nothing of the container may ptrace us */
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) {
        return -1;
    }
    close(userns);
    close(mntns);
    close(root);
    close(proc);
    return 0;
}

/* The agent's word on stdin ("go", "no", "taken"), read byte by byte so that nothing after it
 * (the next request) is consumed: 1 for go. */
static int read_verdict(void) {
    char v[32];
    size_t n = 0;
    if (on_board) {
        /* the agent waits for this worker alone: it answers within microseconds, so spin longer */
        while (atomic_load(&myslot->req_seq) == req_seen) {
            bell_seen = await_change(&myslot->doorbell, bell_seen, &myslot->worker_sleeping, 200000);
        }
        req_seen = atomic_load(&myslot->req_seq);
        n = atomic_load(&myslot->req_len);
        if (n > sizeof v - 1) {
            n = 0;
        }
        memcpy(v, myslot->req, n);
        v[n] = 0;
        if (!strncmp(v, "go ", 3)) {
            grant(strtoll(v + 3, NULL, 10)); /* "go EPOCH": it stands for this mount */
            return 1;
        }
        return !strcmp(v, "go");
    }
    while (n < sizeof v - 1 && read(0, v + n, 1) == 1 && v[n] != '\n') {
        n++;
    }
    v[n] = 0;
    return !strcmp(v, "go");
}

/* "ready", then the verdict. On the board a "no" is answered "done": the agent writes its next
 * request only once the worker has read what was there. */
static int await_go(void) {
    emit("ready\n");
    flush_out();
    int go = read_verdict();
    if (!go && on_board) {
        say("done\n");
    }
    return go;
}

/* Whether a call that may stand (its target resolved, its IDs maybe not compared yet) is to be
 * performed: at once on a standing verdict, else once the caller's IDs are found ours ("slow"
 * if not) and the agent says go. */
static int cleared(void) {
    if (standing_hit) {
        return 1;
    }
    if (!ids_confirm()) {
        rlen = 0; /* what was said of the target is not the caller's to know */
        say("slow\n");
        return 0;
    }
    return await_go();
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
    if (!(want.attributes & STATX_ATTR_MOUNT_ROOT)) {
        /* not a mount point: the kernel's answer, which containerd's unmount-until-EINVAL loop
         * (and umount -R) waits for; EBUSY here made an inner shim retry for seconds */
        errno = EINVAL;
        return -1;
    }
    ssize_t n = syscall(SYS_readlinkat, selffd, link, path, sizeof path - 1);
    if (n <= 0 || path[0] != '/') {
        errno = EINVAL;
        return -1;
    }
    path[n] = 0;
    for (int i = 0; i < nheld; i++) { /* every hold on the mount: ours would keep it busy */
        if (held[i] == t) {
            held[i] = -1;
        }
    }
    close(t);
    if (!strcmp(path, "/")) {
        return umount2("/", flags); /* our root is the caller's and cannot move under us */
    }
    char *slash = strrchr(path, '/'), *base = slash + 1;
    *slash = 0;
    int dir = hold(open(path[0] ? path : "/", O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (dir < 0 || syscall(SYS_statx, dir, base, AT_SYMLINK_NOFOLLOW_, STATX_MNT_ID, &got) < 0) {
        return -1;
    }
    if (got.mnt_id != want.mnt_id || !(got.attributes & STATX_ATTR_MOUNT_ROOT)) {
        errno = EBUSY; /* the path changed under us: the caller may retry */
        return -1;
    }
    cwd_is_self = 0;
    if (fchdir(dir) < 0) {
        return -1;
    }
    return umount2(base, flags | UMOUNT_NOFOLLOW_);
}

/* The caller's dirfd argument at position pos: the fd that came with the call, or its cwd. */
static int dirfd_of(const struct req *r, int pos, const int *fds, int nfds) {
    int p[MAX_FDS], k = fd_args(r, p);
    for (int i = 0, j = 2; i < k; i++, j++) {
        if (p[i] == pos) {
            if (j >= nfds) {
                out_errno(EBADF);
            }
            return fds[j];
        }
    }
    return cwdfd;
}

static char b0[4097], b1[4097], b2[4097], b3[4097], b4[4097];

/* mount(2)'s per-mount flags as mount attributes (fsmount, mount_setattr). */
static uint64_t mount_attrs(unsigned long flags) {
    uint64_t a = 0;
    a |= (flags & MS_RDONLY) ? 0x1 : 0;
    a |= (flags & MS_NOSUID) ? 0x2 : 0;
    a |= (flags & MS_NODEV) ? 0x4 : 0;
    a |= (flags & MS_NOEXEC) ? 0x8 : 0;
    a |= (flags & MS_NOATIME) ? 0x10 : (flags & MS_STRICTATIME) ? 0x20 : 0;
    a |= (flags & MS_NODIRATIME) ? 0x80 : 0;
    return a;
}

/* Where mount(2)'s data names a descriptor of the caller (FUSE's fd=N): N, or -1. */
static int fuse_fd(const char *type, const char *data) {
    if (!type || !data || (strcmp(type, "fuse") && strcmp(type, "fuseblk") && strncmp(type, "fuse.", 5) && strncmp(type, "fuseblk.", 8))) {
        return -1;
    }
    for (const char *o = data; o; o = strchr(o, ',') ? strchr(o, ',') + 1 : NULL) {
        if (!strncmp(o, "fd=", 3)) {
            char *e;
            long n = strtol(o + 3, &e, 10);
            return (e != o + 3 && (*e == ',' || !*e) && n >= 0 && n < 1 << 20) ? (int)n : -1;
        }
    }
    return -1;
}

/* data with its fd=N replaced by fd=FD (the caller's descriptor, now ours). */
static char *fuse_data(const char *data, int fd, char *out, size_t cap) {
    const char *o = strstr(data, "fd=");
    while (o && o != data && o[-1] != ',') {
        o = strstr(o + 1, "fd=");
    }
    if (!o) {
        out_errno(EINVAL);
    }
    const char *end = strchr(o, ',');
    int n = snprintf(out, cap, "%.*sfd=%d%s", (int)(o - data), data, fd, end ? end : "");
    if (n < 0 || (size_t)n >= cap) {
        out_errno(ENAMETOOLONG);
    }
    return out;
}

/* "WORD MAJ:MIN ROOT" (ROOT hex): "guard" for a mount placed over a masked or read-only path,
 * "fresh" for the new mount itself. */
static int say_guard(const char *word, int fd, const char *root) {
    struct statx_ st;
    memset(&st, 0, sizeof st);
    if (syscall(SYS_statx, fd, "", AT_EMPTY_PATH_ | AT_SYMLINK_NOFOLLOW_, 0, &st) < 0) {
        return -1;
    }
    emit("%s %u:%u ", word, st.dev_major, st.dev_minor);
    for (const char *c = root; *c; c++) {
        emit("%02x", (unsigned char)*c);
    }
    emit("\n");
    return 0;
}

/*
 * A new proc or sysfs mount with the container's masks, in the child the worker forks (in the
 * caller's PID namespace, which proc takes its own from). The mount is made detached; an empty
 * read-only tmpfs masks each masked path (its empty file over a file, its empty directory over a
 * directory), a read-only bind covers each read-only path, all on the detached tree; the agent
 * learns what was placed ("guard" lines, "staged") and says go before the tree is attached at
 * the target. So no process sees the new mount unmasked. spec: "ro" or "rw" (whether the
 * container's own is read-only), then "m PATH" and "r PATH" lines, paths relative to its root.
 * Returns 0 or an errno.
 */
static int masked_mount(const char *type, const char *src, unsigned long flags, const char *data, char *spec, int target) {
    int fs = (int)syscall(FSOPEN, type, FSOPEN_CLOEXEC);
    if (fs < 0) {
        return errno;
    }
    if (src && syscall(FSCONFIG, fs, FSCONFIG_SET_STRING, "source", src, 0) < 0) {
        return errno;
    }
    char opts[4097];
    snprintf(opts, sizeof opts, "%s", data ? data : "");
    char *save = NULL;
    for (char *o = strtok_r(opts, ",", &save); o; o = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(o, '=');
        if (eq) {
            *eq = 0;
        }
        if (syscall(FSCONFIG, fs, eq ? FSCONFIG_SET_STRING : FSCONFIG_SET_FLAG, o, eq ? eq + 1 : NULL, 0) < 0) {
            return errno;
        }
    }
    if (syscall(FSCONFIG, fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0) {
        return errno;
    }
    char *line = strtok_r(spec, "\n", &save);
    uint64_t attrs = mount_attrs(flags) | (line && !strcmp(line, "ro") ? 0x1 : 0);
    int m = (int)syscall(FSMOUNT, fs, FSMOUNT_CLOEXEC, attrs);
    if (m < 0) {
        return errno;
    }
    int mat = -1; /* the masks' tmpfs: an empty file f and an empty directory d, read-only */
    for (line = strtok_r(NULL, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (strlen(line) < 3 || (line[0] != 'm' && line[0] != 'r' && line[0] != 'v') || line[1] != ' ') {
            return EINVAL;
        }
        const char *rel = line + 2;
        struct statx_ st;
        if (syscall(SYS_statx, m, rel, AT_SYMLINK_NOFOLLOW_, 0, &st) < 0) {
            if (errno == ENOENT) {
                continue; /* as runc does for a masked or read-only path that is not there */
            }
            return errno;
        }
        int c;
        if (line[0] == 'v') {
            /* The agent's view of this file, as the caller's own /proc (or /sys) has it bound: a
             * clone of that bind, when it is a FUSE mount. Anything else there (the caller's own
             * doing) is not copied, and the new mount keeps the kernel's file. Not a guard: it
             * hides nothing, and the container may unmount it as it may its /proc's. */
            char own[4200];
            snprintf(own, sizeof own, "%s/%s", !strcmp(type, "proc") ? "/proc" : "/sys", rel);
            c = (int)syscall(OPEN_TREE, AT_FDCWD, own, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_SYMLINK_NOFOLLOW_);
            struct statfs fs_;
            if (c < 0 || fstatfs(c, &fs_) < 0 || fs_.f_type != 0x65735546 /* FUSE_SUPER_MAGIC */) {
                if (c >= 0) {
                    close(c);
                }
                continue;
            }
            if (syscall(MOVE_MOUNT, c, "", m, rel, MOVE_MOUNT_F_EMPTY_PATH) < 0) {
                return errno;
            }
            close(c);
            continue;
        }
        char root[4097];
        if (line[0] == 'r') {
            c = (int)syscall(OPEN_TREE, m, rel, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_SYMLINK_NOFOLLOW_);
            struct mount_attr_ ro = {0x1, 0, 0, 0};
            if (c < 0 || syscall(MOUNT_SETATTR, c, "", AT_EMPTY_PATH_, &ro, sizeof ro) < 0) {
                return errno;
            }
            snprintf(root, sizeof root, "/%s", rel);
        } else {
            if (mat < 0) {
                int t = (int)syscall(FSOPEN, "tmpfs", FSOPEN_CLOEXEC);
                if (t < 0 || syscall(FSCONFIG, t, FSCONFIG_SET_STRING, "mode", "0555", 0) < 0 ||
                    syscall(FSCONFIG, t, FSCONFIG_SET_STRING, "size", "4k", 0) < 0 ||
                    syscall(FSCONFIG, t, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0 ||
                    (mat = (int)syscall(FSMOUNT, t, FSMOUNT_CLOEXEC, 0x2 | 0x4 | 0x8)) < 0) {
                    return errno;
                }
                /* detached and ours alone until it is read-only: nothing else can write to it */
                int f = openat(mat, "f", O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0444);
                if (f < 0 || close(f) < 0 || mkdirat(mat, "d", 0555) < 0) {
                    return errno;
                }
                struct mount_attr_ ro = {0x1, 0, 0, 0};
                if (syscall(MOUNT_SETATTR, mat, "", AT_EMPTY_PATH_, &ro, sizeof ro) < 0) {
                    return errno;
                }
                close(t);
            }
            const char *what = (st.mode & S_IFMT) == S_IFDIR ? "d" : "f";
            c = (int)syscall(OPEN_TREE, mat, what, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_SYMLINK_NOFOLLOW_);
            if (c < 0) {
                return errno;
            }
            snprintf(root, sizeof root, "/%s", what);
        }
        if (syscall(MOVE_MOUNT, c, "", m, rel, MOVE_MOUNT_F_EMPTY_PATH) < 0 || say_guard("guard", c, root) < 0) {
            return errno;
        }
        close(c);
    }
    if (say_guard("fresh", m, "/") < 0) {
        return errno;
    }
    say("staged\n");
    if (!read_verdict()) {
        return EPERM;
    }
    return syscall(MOVE_MOUNT, m, "", target, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0 ? errno : 0;
}

/* One call, in this worker's context; prints the answer. fds: cwd, /proc/PID, then fd_args. */
static void perform(struct req *r, const int *fds, int nfds) {
    const char *call = r->call;
    char **a = r->a;
    char n1[16], n2[16];
    long res;
    want_mount = (!strcmp(call, "mount") && (strtoul(a[3], NULL, 10) & MS_REMOUNT)) || !strcmp(call, "fspick") ||
                 (!strcmp(call, "mount_setattr") && !(num(a[2]) & AT_RECURSIVE_));
    if (!strcmp(call, "mount")) {
        char *src = hex(a[0], b0, sizeof b0), *tgt = hex(a[1], b1, sizeof b1), *type = hex(a[2], b2, sizeof b2), *data = hex(a[4], b3, sizeof b3);
        char *spec = hex(a[5], b4, sizeof b4);
        unsigned long flags = (unsigned long)strtoul(a[3], NULL, 10);
        int t = resolve("target", cwdfd, tgt, 1, 0);
        int s = -1;
        if ((flags & MS_MOVE_) || ((flags & MS_BIND_) && !(flags & MS_REMOUNT))) {
            s = resolve("source", cwdfd, src, 1, 0);
        }
        if (!cleared()) {
            return;
        }
        if (!cwd_is_self && fchdir(selffd) < 0) {
            fail();
        }
        cwd_is_self = 1;
        if (spec) {
            /* the child is in the caller's PID namespace: it says staged and reads the verdict itself */
            fflush(stdout);
            pid_t c = fork();
            if (c < 0) {
                fail();
            }
            if (c == 0) {
                if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0) {
                    _exit(EIO);
                }
                /* It is visible in the caller's PID namespace, and its memory, like ours, belongs to
                 * the host's user namespace (fork keeps it), so nothing there can ptrace it; it
                 * keeps no descriptor of ours it does not need all the same. */
                close(selffd);
                close(callerproc);
                close(cwdfd);
                close(3); /* the socket to the helper */
                int e = masked_mount(type, src, flags, data, spec, t);
                fflush(stdout);
                _exit(e > 0 && e < 256 ? e : e ? EIO : 0);
            }
            int st;
            while (waitpid(c, &st, 0) < 0) {
                if (errno != EINTR) {
                    fail();
                }
            }
            errno = WIFEXITED(st) ? WEXITSTATUS(st) : EIO;
            res = errno ? -1 : 0;
        } else {
            if (fuse_fd(type, data) >= 0) {
                if (nfds < 3) {
                    out_errno(EBADF);
                }
                data = fuse_data(data, fds[2], b4, sizeof b4);
            }
            res = mount(s >= 0 ? fd_name(s, n1, sizeof n1) : src, fd_name(t, n2, sizeof n2), type, flags, data);
        }
    } else if (!strcmp(call, "fsopen")) {
        char *name = hex(a[0], b0, sizeof b0);
        long flags = num(a[1]);
        if (!name) {
            out_errno(EFAULT);
        }
        if (!await_go()) {
            return;
        }
        int fd = (int)syscall(FSOPEN, name, flags & FSOPEN_CLOEXEC);
        if (fd < 0) {
            fail();
        }
        hold(fd);
        say("fd %d %d\n", fd, (int)getpid());
        read_verdict(); /* "taken": the agent has it */
        return;
    } else if (!strcmp(call, "umount2")) {
        long flags = num(a[1]);
        int t = resolve("target", cwdfd, hex(a[0], b0, sizeof b0), !(flags & UMOUNT_NOFOLLOW_), 0);
        if (!await_go()) {
            return;
        }
        res = umount_fd(t, (int)(flags & ~UMOUNT_NOFOLLOW_));
    } else if (!strcmp(call, "move_mount")) {
        long flags = num(a[4]);
        int f = resolve("from", dirfd_of(r, 0, fds, nfds), hex(a[1], b0, sizeof b0), flags & MOVE_MOUNT_F_SYMLINKS, flags & MOVE_MOUNT_F_EMPTY_PATH);
        int t = resolve("to", dirfd_of(r, 2, fds, nfds), hex(a[3], b1, sizeof b1), flags & MOVE_MOUNT_T_SYMLINKS, flags & MOVE_MOUNT_T_EMPTY_PATH);
        if (!await_go()) {
            return;
        }
        res = syscall(SYS_move_mount, f, "", t, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH | (flags & ~0x77L));
    } else if (!strcmp(call, "fspick")) {
        long flags = num(a[2]);
        int t = resolve("target", dirfd_of(r, 0, fds, nfds), hex(a[1], b0, sizeof b0), !(flags & FSPICK_SYMLINK_NOFOLLOW), flags & FSPICK_EMPTY_PATH);
        if (!await_go()) {
            return;
        }
        int fd = (int)syscall(FSPICK, t, "", FSPICK_EMPTY_PATH | (flags & FSPICK_CLOEXEC));
        if (fd < 0) {
            fail();
        }
        hold(fd);
        say("fd %d %d\n", fd, (int)getpid());
        read_verdict(); /* "taken": the agent has it */
        return;
    } else {
        long flags = num(a[2]);
        int t = resolve("target", dirfd_of(r, 0, fds, nfds), hex(a[1], b0, sizeof b0), !(flags & AT_SYMLINK_NOFOLLOW_), flags & AT_EMPTY_PATH_);
        struct mount_attr_ attr = {(uint64_t)strtoull(a[3], NULL, 10), (uint64_t)strtoull(a[4], NULL, 10),
                                   (uint64_t)strtoull(a[5], NULL, 10), 0};
        if (attr.attr_set & MOUNT_ATTR_IDMAP_) {
            attr.userns_fd = (uint64_t)dirfd_of(r, 6, fds, nfds);
        }
        if (!cleared()) {
            return;
        }
        res = syscall(MOUNT_SETATTR, t, "", AT_EMPTY_PATH_ | (flags & AT_RECURSIVE_), &attr, sizeof attr);
    }
    say("errno %d\n", res < 0 ? errno : 0);
}

static char wbuf[REQ_MAX];
static int hostproc = -1; /* the host's /proc, opened before we entered the caller's context */

/* hex s names an absolute path (its first byte is '/'); "-" (NULL) is none of ours. */
static int hex_absolute(const char *s) {
    return !strncmp(s, "2f", 2);
}

/* hex s is "/proc/self" or below it. */
static int hex_proc_self(const char *s) {
    static const char ps[] = "2f70726f632f73656c66"; /* "/proc/self" */
    return !strncmp(s, ps, sizeof ps - 1) && (s[sizeof ps - 1] == 0 || !strncmp(s + sizeof ps - 1, "2f", 2));
}

/*
 * The calls the agent sends straight to a worker over the board: those with no descriptor of the
 * caller to take (no dirfd but AT_FDCWD, no user namespace fd, no FUSE fd) and none handed back
 * (fsopen, fspick), and no new mount (which may need masks, and which depends on namespaces a
 * worker's key for these calls leaves out). The rest goes through the helper.
 */
static int board_call(const struct req *r) {
    int pos[MAX_FDS];
    if (fd_args(r, pos) > 0) {
        return 0;
    }
    if (!strcmp(r->call, "mount")) {
        unsigned long f = strtoul(r->a[3], NULL, 10);
        /* a FUSE type's data may name the caller's /dev/fuse (fd=N): the helper takes that */
        return (f & (MS_REMOUNT | MS_BIND_ | MS_MOVE_)) && !strcmp(r->a[5], "-") && strncmp(r->a[2], "66757365", 8);
    }
    return !strcmp(r->call, "umount2") || !strcmp(r->call, "move_mount") || !strcmp(r->call, "mount_setattr");
}

/* The path arguments of a board call, as hex (NULL where there is none). */
static void board_paths(const struct req *r, const char *p[2]) {
    p[0] = p[1] = NULL;
    if (!strcmp(r->call, "mount")) {
        unsigned long f = strtoul(r->a[3], NULL, 10);
        p[0] = r->a[1];
        p[1] = (f & (MS_MOVE_ | MS_BIND_)) && !(f & MS_REMOUNT) ? r->a[0] : NULL;
    } else if (!strcmp(r->call, "umount2")) {
        p[0] = r->a[0];
    } else if (!strcmp(r->call, "move_mount")) {
        p[0] = r->a[1];
        p[1] = r->a[3];
    } else {
        p[0] = r->a[1];
    }
}

/*
 * The agent's own request on the board, "PID CALL ARG...": what the helper would add (the
 * caller's cwd and /proc/PID) is opened here, through the host's /proc, and only when a path
 * needs it. Anything this worker cannot open as the caller (a caller that is not dumpable, say)
 * is "slow": the agent sends the call through the helper, which opens them as host root.
 */
/* This worker as it sees itself: its ns_key, root_key and ids_key, its capability sets, and
 * whether those let it take any IDs and groups of its user namespace and pass its DAC checks. */
static char own_ns[128], own_root[128], own_ids[4096];
static uint64_t own_caps[3];
static int own_all_caps;

/*
 * The callers this worker checked lately: their /proc/PID and status, kept open (see
 * Context.java), and ns_ok: 1 + the board's ns_epoch at the start of a check that found the
 * task's namespaces ours, during a call of its that was served (0: none).
 */
static struct {
    int pid, proc, status;
    uint32_t ns_ok;
} seen_tasks[8];
static unsigned seen_next;
static uint32_t checked_ns_ok; /* what the latest check found, for its seen_tasks entry if its call is served */

/*
 * Whether pid is in this worker's context as far as a standing remount depends on it: its
 * capability sets, namespaces and root are ours. Its seen_tasks entry + 1, or 0. Its IDs and
 * groups (the status read, the dearest part) are compared by ids_match, before any call but a
 * remount on a standing verdict (see ids_confirm).
 *
 * Where the container's filter traps setns and unshare (the board's ns_trapped), the agent bumps
 * the board's ns_epoch before it lets one go on, and a task's namespaces change through nothing
 * else (a clone's new ones are the child's, under a new PID; CLONE_THREAD takes no new user
 * namespace, and a thread's new mount namespace comes with a root of its own, which is compared
 * each time). A task found in ours during one of its calls, read after the epoch then, is in ours
 * still while the epoch is the same: it made no call that could change that since.
 */
static int same_context(int pid) {
    char key[4096], at[32];
    uint32_t epoch = atomic_load(&slot_at(0)->ns_epoch);
    int trapped = (int)atomic_load(&slot_at(0)->ns_trapped);
    checked_ns_ok = 0;
    for (int pass = 0; pass < 2; pass++) {
        int i = 0;
        while (i < 8 && seen_tasks[i].pid != pid) {
            i++;
        }
        if (i == 8 && pass == 0) {
            i = (int)(seen_next++ % 8);
            if (seen_tasks[i].pid) {
                close(seen_tasks[i].proc);
                close(seen_tasks[i].status);
            }
            snprintf(at, sizeof at, "%d", pid);
            int proc = openat(hostproc, at, O_PATH | O_DIRECTORY | O_CLOEXEC);
            int sfd = proc < 0 ? -1 : openat(proc, "status", O_RDONLY | O_CLOEXEC);
            if (sfd < 0) {
                if (proc >= 0) {
                    close(proc);
                }
                seen_tasks[i].pid = 0;
                return 0;
            }
            seen_tasks[i].pid = pid;
            seen_tasks[i].proc = proc;
            seen_tasks[i].status = sfd;
            seen_tasks[i].ns_ok = 0;
        } else if (i == 8) {
            return 0;
        }
        /* capget names the task by its number; what is read after it through the descriptor bound
         * to the task says that the task was there still (a PID is taken again only after) */
        uint64_t c[3];
        int known = trapped && seen_tasks[i].ns_ok == epoch + 1;
        if (caps_of(pid, c) == 0 && (known || ns_key(seen_tasks[i].proc, key, sizeof key) >= 0)) {
            int ns = known || !strcmp(key, own_ns);
            if (root_key(seen_tasks[i].proc, key, sizeof key) >= 0) {
                if (memcmp(c, own_caps, sizeof c) || !ns || strcmp(key, own_root)) {
                    return 0;
                }
                checked_ns_ok = epoch + 1;
                return i + 1;
            }
        }
        /* that task is gone (a /proc descriptor is bound to its task): a new one may have the PID */
        close(seen_tasks[i].proc);
        close(seen_tasks[i].status);
        seen_tasks[i].pid = 0;
    }
    return 0;
}

/* Whether the task same_context found at seen has our IDs and groups. */
static int ids_match(int seen) {
    char key[4096];
    return seen > 0 && ids_key(seen_tasks[seen - 1].status, key, sizeof key) >= 0 && !strcmp(key, own_ids);
}

static int checked_pid;  /* the PID the agent's "check PID" named, if same_context found it */
static int checked_seen; /* what same_context returned for it */
static int call_seen;    /* the same, for the board call being served */
static int ids_pending;  /* that call's caller's IDs and groups are not compared yet */

/*
 * A board call's caller's IDs and groups: 1 once they were found ours. A call that may stand (a
 * remount, a one-mount mount_setattr) waits with them until its target is known: one on a
 * standing verdict is performed without them. The caller then has our very capability sets,
 * which let it take our IDs and groups itself (CAP_SETUID, CAP_SETGID) and make a DAC check no
 * obstacle, and those calls' own checks are of the capability alone: what it would get as itself
 * is what it gets from us. Every other answer waits for the comparison, and is "slow" when it
 * fails.
 */
static int ids_confirm(void) {
    if (!ids_pending) {
        return 1;
    }
    ids_pending = 0;
    return ids_match(call_seen);
}

static void serve_board(void) {
    static struct req r; /* static: kept over the longjmp */
    size_t n = atomic_load(&myslot->req_len);
    if (n >= sizeof wbuf) {
        say("errno %d\n", EINVAL);
        return;
    }
    memcpy(wbuf, myslot->req, n);
    wbuf[n] = 0;
    char *sp = strchr(wbuf, ' ');
    char *ep = sp ? strchr(sp + 1, ' ') : NULL;
    if (!ep || !parse(ep + 1, &r)) {
        say("errno %d\n", EINVAL);
        return;
    }
    *sp = *ep = 0;
    int pid = (int)num(wbuf);
    long long epoch = strcmp(sp + 1, "-") ? strtoll(sp + 1, NULL, 10) : -1;
    int checked = checked_pid;
    checked_pid = 0;
    call_seen = checked_seen;
    if (pid <= 0 || pid != checked || !board_call(&r)) {
        say("slow\n");
        return;
    }
    /* the check ran while this call's caller was trapped in it: what it found holds from then on */
    seen_tasks[call_seen - 1].ns_ok = checked_ns_ok;
    const char *p[2];
    board_paths(&r, p);
    int want_cwd = 0, want_proc = 0;
    for (int i = 0; i < 2; i++) {
        if (p[i] && strcmp(p[i], "-")) {
            want_cwd |= !hex_absolute(p[i]);
            want_proc |= hex_proc_self(p[i]);
        }
    }
    /* a standing verdict only for a remount or a one-mount mount_setattr (never an ID-mapping one,
     * which takes a descriptor and is not a board call) that opens nothing of the caller's: what
     * the worker opened by PID was the trapped task's only if the agent checks after it */
    int standable = !strcmp(r.call, "mount") ? (strtoul(r.a[3], NULL, 10) & MS_REMOUNT) != 0
                                             : !strcmp(r.call, "mount_setattr") && !(num(r.a[2]) & AT_RECURSIVE_);
    request_epoch = standable && !want_cwd && !want_proc ? epoch : -1;
    ids_pending = 1;
    if ((request_epoch < 0 || !own_all_caps) && !ids_confirm()) {
        say("slow\n");
        return;
    }
    char at[32];
    cwdfd = callerproc = -1;
    if (want_proc) {
        snprintf(at, sizeof at, "%d", pid);
        callerproc = hold(openat(hostproc, at, O_PATH | O_DIRECTORY | O_CLOEXEC));
    }
    if (want_cwd) {
        snprintf(at, sizeof at, "%d/cwd", pid);
        cwdfd = hold(openat(hostproc, at, O_PATH | O_DIRECTORY | O_CLOEXEC));
    }
    if ((want_proc && callerproc < 0) || (want_cwd && cwdfd < 0)) {
        say("slow\n");
        return;
    }
    int fds[2] = {cwdfd, callerproc};
    perform(&r, fds, 2);
}

/*
 * The worker's life: enter the context of pid, say "up" (or "errno N") to the helper, then serve
 * what comes on its slot: the agent's requests there, and the helper's on the socket.
 */
static void worker(int sv, pid_t pid, pid_t helper, int idx) {
    const int sock = 3;
    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 || getppid() != helper) {
        _exit(1);
    }
    /* only our socket and the agent's pipes: nothing of the helper's other calls or workers */
    if (dup2(sv, sock) < 0 || syscall(CLOSE_RANGE, 4U, ~0U, 0U) < 0) {
        _exit(1);
    }
    myslot = slot_at(idx);
    bell_seen = atomic_load(&myslot->doorbell);
    req_seen = atomic_load(&myslot->req_seq);
    check_seen = atomic_load(&myslot->check_seq);
    selffd = open("/proc/self/fd", O_PATH | O_DIRECTORY | O_CLOEXEC);
    hostproc = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (selffd < 0 || hostproc < 0 || become_caller(pid) < 0) {
        char m[32];
        snprintf(m, sizeof m, "errno %d", errno ? errno : EIO);
        send_fds(sock, m, NULL, 0);
        _exit(0);
    }
    /* taking the caller's credentials cleared the parent-death signal (commit_creds does): set
     * again, or a worker waiting on its slot would outlive a helper killed with the agent */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 || getppid() != helper) {
        _exit(1);
    }
    char me[32];
    snprintf(me, sizeof me, "%d", (int)getpid());
    int self = openat(hostproc, me, O_PATH | O_DIRECTORY | O_CLOEXEC);
    int sfd = self < 0 ? -1 : openat(self, "status", O_RDONLY | O_CLOEXEC);
    if (sfd < 0 || ns_key(self, own_ns, sizeof own_ns) < 0 || root_key(self, own_root, sizeof own_root) < 0 ||
        ids_key(sfd, own_ids, sizeof own_ids) < 0 || caps_of(0, own_caps) < 0) {
        own_ns[0] = 0; /* no caller matches: every board call is "slow" */
    }
    /* CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER, CAP_SETGID, CAP_SETUID, CAP_SYS_ADMIN */
    const uint64_t all = 1ULL << 1 | 1ULL << 2 | 1ULL << 3 | 1ULL << 6 | 1ULL << 7 | 1ULL << 21;
    own_all_caps = own_ns[0] && (own_caps[0] & all) == all;
    if (self >= 0) {
        close(self);
    }
    if (sfd >= 0) {
        close(sfd);
    }
    if (send_fds(sock, "up", NULL, 0) < 0) {
        _exit(0);
    }
    for (;;) {
        /* calls come in bursts (a container starting): stay on the core a little after each */
        bell_seen = await_change(&myslot->doorbell, bell_seen, &myslot->worker_sleeping, IDLE_SPIN);
        /* a check of the caller, then its call: the check runs while the agent copies the call's
         * arguments, and nothing of the call is looked up unless it passed */
        uint32_t rs;
        for (;;) {
            uint32_t cs = atomic_load(&myslot->check_seq);
            if (cs != check_seen) {
                check_seen = cs;
                int who = (int)atomic_load(&myslot->check_pid);
                checked_seen = who > 0 ? same_context(who) : 0;
                checked_pid = checked_seen ? who : 0;
            }
            rs = atomic_load(&myslot->req_seq);
            /* a request's check is posted before it: one that came between the two reads goes
             * first, or the request would be served on the check of its caller's call before */
            if (rs == req_seen || atomic_load(&myslot->check_seq) == check_seen) {
                break;
            }
        }
        if (rs == req_seen) {
            continue;
        }
        req_seen = rs;
        nheld = 0;
        rlen = 0;
        request_epoch = -1;
        target_unique = 0;
        standing_hit = 0;
        ids_pending = 0;
        if (atomic_load(&myslot->kind) == KIND_AGENT) {
            on_board = 1;
            int e = setjmp(call_failed);
            if (e) {
                rlen = 0;
                /* a failure is the caller's to know only if it is in this context */
                if (ids_confirm()) {
                    say("errno %d\n", e);
                } else {
                    say("slow\n");
                }
            } else {
                serve_board();
            }
            on_board = 0;
            for (int i = 0; i < nheld; i++) {
                if (held[i] >= 0) {
                    close(held[i]);
                }
            }
            continue;
        }
        int fds[MAX_FDS], nfds;
        ssize_t n = recv_fds(sock, wbuf, sizeof wbuf, fds, &nfds);
        if (n <= 0) {
            _exit(0); /* the helper is gone */
        }
        for (int i = 0; i < nfds; i++) {
            hold(fds[i]);
        }
        static struct req r; /* static: kept over the longjmp */
        int e = setjmp(call_failed);
        if (e) {
            say("errno %d\n", e);
        } else if (nfds < 2 || !parse(wbuf, &r)) {
            say("errno %d\n", EINVAL);
        } else {
            cwdfd = fds[0];
            callerproc = fds[1];
            perform(&r, fds, nfds);
        }
        for (int i = 0; i < nheld; i++) {
            if (held[i] >= 0) {
                close(held[i]);
            }
        }
        if (send_fds(sock, "done", NULL, 0) < 0) {
            _exit(0);
        }
    }
}

/* ==== the helper: host root, one worker per caller context =================================== */

struct wk {
    pid_t pid;
    unsigned long long gen;
    int sock;
    unsigned long long used;
    char key[4096]; /* what the worker is, as context_key gives it */
};

static struct wk workers[MAX_WORKERS];
static unsigned long long clock_, generations;

static void kill_worker(struct wk *w) {
    if (w->pid > 0) {
        atomic_store(&slot_at((int)(w - workers))->gen, 0);
        kill(w->pid, SIGKILL);
        waitpid(w->pid, NULL, 0);
        close(w->sock);
    }
    memset(w, 0, sizeof *w);
}

static struct wk *spawn_worker(pid_t pid, int *err) {
    struct wk *w = NULL;
    for (int i = 0; i < MAX_WORKERS; i++) {
        if (!workers[i].pid) {
            w = &workers[i];
            break;
        }
        if (!w || workers[i].used < w->used) {
            w = &workers[i];
        }
    }
    kill_worker(w); /* a free slot, or the least recently used worker's */
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
        *err = errno;
        return NULL;
    }
    fflush(stdout);
    pid_t helper = getpid(), c = fork();
    if (c < 0) {
        *err = errno;
        close(sv[0]);
        close(sv[1]);
        return NULL;
    }
    if (c == 0) {
        close(sv[0]);
        worker(sv[1], pid, helper, (int)(w - workers));
        _exit(0);
    }
    close(sv[1]);
    char m[64], p[32];
    int fds[MAX_FDS], nfds;
    ssize_t n = recv_fds(sv[0], m, sizeof m, fds, &nfds);
    snprintf(p, sizeof p, "/proc/%d", (int)c);
    int proc = n > 0 && !strcmp(m, "up") ? open(p, O_PATH | O_DIRECTORY | O_CLOEXEC) : -1;
    /* what the worker became, read from the host's side: the key it is found by */
    if (proc < 0 || context_key(proc, 1, w->key, sizeof w->key) < 0) {
        *err = n > 0 && !strncmp(m, "errno ", 6) ? (int)num(m + 6) : EIO;
        if (proc >= 0) {
            close(proc);
        }
        kill(c, SIGKILL);
        waitpid(c, NULL, 0);
        close(sv[0]);
        memset(w, 0, sizeof *w);
        return NULL;
    }
    close(proc);
    w->pid = c;
    w->gen = ++generations; /* never reused by this helper */
    w->sock = sv[0];
    atomic_store(&slot_at((int)(w - workers))->gen, w->gen);
    return w;
}

static char line[REQ_MAX];

/* One request line from the agent; NULL at EOF. More than one line at once is a protocol error. */
static char *read_request(void) {
    size_t n = 0;
    for (;;) {
        ssize_t r = read(0, line + n, sizeof line - 1 - n);
        if (r <= 0) {
            return NULL;
        }
        n += (size_t)r;
        line[n] = 0;
        char *nl = memchr(line, '\n', n);
        if (nl) {
            return nl + 1 == line + n ? line : NULL;
        }
        if (n == sizeof line - 1) {
            return NULL;
        }
    }
}

/* Like hex(), for the helper (no call to fail): 0, or -1 when s is not a string that fits. */
static int unhex(const char *s, char *b, size_t cap) {
    size_t n = strlen(s) / 2;
    if (!strcmp(s, "-") || n >= cap) {
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        if (sscanf(s + 2 * i, "%2x", &v) != 1) {
            return -1;
        }
        b[i] = (char)v;
    }
    b[n] = 0;
    return 0;
}

/* A request and its descriptors to worker w: on its socket, then its slot says so. */
static int post_helper(struct wk *w, const char *req, const int *fds, int nfds) {
    if (send_fds(w->sock, req, fds, nfds) < 0) {
        return -1;
    }
    struct slot *sl = slot_at((int)(w - workers));
    atomic_store(&sl->kind, KIND_HELPER);
    atomic_fetch_add(&sl->req_seq, 1);
    bump(&sl->doorbell, &sl->worker_sleeping);
    return 0;
}

/*
 * Forwards one request, "PID KEY CALL ARG..." (KEY hex, as context_key has it, computed by the
 * agent for the caller), to the worker of that context, started first if there is none; it
 * answers the agent itself.
 */
static void dispatch(char *req) {
    /* "reap SLOT GEN": the agent saw the latest caller of that worker exit */
    unsigned long long gen;
    int at;
    if (sscanf(req, "reap %d %llu", &at, &gen) == 2) {
        if (at >= 0 && at < MAX_WORKERS && workers[at].pid && workers[at].gen == gen) {
            kill_worker(&workers[at]);
        }
        say("reaped\n");
        return;
    }
    char *sp = strchr(req, ' '), *sp2 = sp ? strchr(sp + 1, ' ') : NULL;
    static char key[4096];
    if (!sp2) {
        say("errno %d\n", EINVAL);
        return;
    }
    *sp = *sp2 = 0;
    pid_t pid = (pid_t)num(req);
    if (unhex(sp + 1, key, sizeof key) < 0) {
        say("errno %d\n", EINVAL);
        return;
    }
    char *rest = sp2 + 1;
    char copy[REQ_MAX];
    snprintf(copy, sizeof copy, "%s", rest);
    struct req r;
    if (!parse(copy, &r)) {
        say("errno %d\n", EINVAL);
        return;
    }
    int fds[MAX_FDS], nfds = 0, e = 0;
    char p[64];
    snprintf(p, sizeof p, "/proc/%d", (int)pid);
    int pos[MAX_FDS], k = fd_args(&r, pos);
    int pidfd = k > 0 ? (int)syscall(PIDFD_OPEN, pid, 0) : -2; /* only to take fd arguments */
    int proc = open(p, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (pidfd == -1 || proc < 0) {
        e = errno ? errno : ESRCH;
    }
    int cwd = e ? -1 : openat(proc, "cwd", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (!e && cwd < 0) {
        e = errno;
    }
    if (!e) {
        fds[nfds++] = cwd;
        fds[nfds++] = proc;
        /* the caller's fd arguments are taken here, as root in the host's user namespace */
        for (int i = 0; i < k && !e; i++) {
            int fd = (int)syscall(PIDFD_GETFD, pidfd, (int)num(r.a[pos[i]]), 0);
            if (fd < 0) {
                e = errno;
            } else {
                fds[nfds++] = fd;
            }
        }
    }
    /* FUSE's fd=N in a new mount's data: the caller's /dev/fuse travels after the fd arguments */
    char ty[256], da[4097];
    if (!e && !strcmp(r.call, "mount") && !strcmp(r.a[5], "-") && unhex(r.a[2], ty, sizeof ty) == 0 &&
        unhex(r.a[4], da, sizeof da) == 0 && fuse_fd(ty, da) >= 0) {
        int fd = pidfd >= 0 ? pidfd : (int)syscall(PIDFD_OPEN, pid, 0);
        int got = fd < 0 ? -1 : (int)syscall(PIDFD_GETFD, fd, fuse_fd(ty, da), 0);
        if (got < 0) {
            e = errno;
        } else {
            fds[nfds++] = got;
        }
        if (fd >= 0 && fd != pidfd) {
            close(fd);
        }
    }
    struct wk *w = NULL;
    for (int i = 0; !e && i < MAX_WORKERS; i++) {
        if (workers[i].pid && !strcmp(workers[i].key, key)) {
            w = &workers[i];
        }
    }
    if (!e && !w) {
        w = spawn_worker(pid, &e);
    }
    /* "context GEN SLOT EXACT PID": EXACT when the worker is what the agent's key says (so the
     * agent may send it the next such call on the board itself) */
    if (!e) {
        say("context %llu %d %d %d\n", w->gen, (int)(w - workers), !strcmp(w->key, key), (int)w->pid);
    }
    if (!e && post_helper(w, rest, fds, nfds) < 0) {
        /* the worker is gone (killed from outside) and has said nothing: a new one takes the call */
        kill_worker(w);
        w = spawn_worker(pid, &e);
        if (!e) {
            say("context %llu %d %d %d\n", w->gen, (int)(w - workers), !strcmp(w->key, key), (int)w->pid);
        }
        if (!e && post_helper(w, rest, fds, nfds) < 0) {
            e = errno ? errno : EIO;
        }
    }
    if (!e) {
        w->used = ++clock_;
        char m[16];
        int mf[MAX_FDS], mn;
        if (recv_fds(w->sock, m, sizeof m, mf, &mn) <= 0 || strcmp(m, "done") != 0) {
            /* the worker died in the middle of a call: what it said is unknown, so the agent
             * must not go on with this helper (it fails the call closed and starts another) */
            say("lost\n");
            exit(1);
        }
    } else {
        say("errno %d\n", e);
    }
    for (int i = 0; i < nfds; i++) {
        close(fds[i]);
    }
    if (pidfd >= 0) {
        close(pidfd);
    }
    if (proc >= 0 && (nfds == 0 || fds[1] != proc)) {
        close(proc);
    }
    if (cwd >= 0 && (nfds == 0 || fds[0] != cwd)) {
        close(cwd);
    }
}

int main(int argc, char **argv) {
    if (argc != 4 || strcmp(argv[1], "--serve") != 0 || strcmp(argv[2], "--board") != 0) {
        fprintf(stderr, "usage: bulwark-mountctl --serve --board PATH   (the agent's helper; see mountctl.c)\n");
        return 2;
    }
    /* dies with the agent's thread that started it; nothing of a container may ptrace it */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 || prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) {
        return 1;
    }
    /* the agent's memfd (/proc/AGENT/fd/N), one slot per worker */
    int bfd = open(argv[3], O_RDWR | O_CLOEXEC);
    struct stat bst;
    if (bfd < 0 || fstat(bfd, &bst) < 0 || bst.st_size < (off_t)MAX_WORKERS * BOARD_SLOT) {
        fprintf(stderr, "bulwark-mountctl: board %s: %s\n", argv[3], bfd < 0 ? strerror(errno) : "too small");
        return 1;
    }
    void *b = mmap(NULL, (size_t)MAX_WORKERS * BOARD_SLOT, PROT_READ | PROT_WRITE, MAP_SHARED, bfd, 0);
    if (b == MAP_FAILED) {
        fprintf(stderr, "bulwark-mountctl: mmap %s: %s\n", argv[3], strerror(errno));
        return 1;
    }
    close(bfd);
    board = b;
    signal(SIGPIPE, SIG_DFL);
    for (char *req; (req = read_request());) {
        errno = 0;
        dispatch(req);
    }
    for (int i = 0; i < MAX_WORKERS; i++) {
        kill_worker(&workers[i]);
    }
    return 0;
}
