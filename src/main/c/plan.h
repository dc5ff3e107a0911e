/*
 * The Bulwark plan: a linear, versioned list of already-decided operations that Java computed
 * (dev.bulwark.stage.PlanEncoder writes it; this file is the definition both sides follow).
 *
 * The stage has one more entry point, outside plans: `bulwark-stage signal SIG PID[@START]...`
 * sends SIG to each PID through a pidfd, skipping any whose start time (field 22 of
 * /proc/PID/stat) is not START, so a reused PID is never signalled.
 *
 * Binary format, version 1, all integers little-endian:
 *
 *   plan    := magic[8] = "BWPLAN\0\1"  version:u32 = 1  count:u32  op{count}
 *   op      := opcode:u16  reserved:u16 = 0  length:u32  payload[length]
 *
 * Each opcode has a fixed list of fields (plan.c's schema table). Field types:
 *   'u'  u32                     'q'  u64
 *   's'  string: len:u32 then len bytes (len <= PLAN_MAX_STR, no NUL byte inside)
 *   'v'  string vector: n:u32 then n strings (n <= PLAN_MAX_VEC)
 *   'b'  blob: len:u32 bytes     (len <= PLAN_MAX_BLOB)
 * The payload must be consumed exactly. Anything else (bad magic, unknown version or opcode,
 * non-zero reserved, short or long payload, NUL inside a string, counts over the limits, ops out
 * of phase order, a missing or second CLONE or EXEC) makes the whole plan invalid before any
 * operation runs.
 *
 * Who executes what is fixed by the opcode's phase, and phases never go backwards in a plan:
 *   SETUP  the stage's main process (P0), before anything is forked
 *   PARENT P0, applied to the first child (C1) while C1 waits
 *   JOIN   C1: join existing namespaces, then CLONE the container's init (C2) with new ones
 *   MAP    P0, applied to C2 (ID maps) while C2 waits
 *   INIT   C2, in order, ending with EXEC
 */
#ifndef BULWARK_PLAN_H
#define BULWARK_PLAN_H

#include <stddef.h>
#include <stdint.h>

#define PLAN_MAGIC "BWPLAN\0\1"
#define PLAN_VERSION 1u
#define PLAN_MAX_SIZE (8u << 20)
#define PLAN_MAX_OPS 4096u
#define PLAN_MAX_STR 65536u
#define PLAN_MAX_VEC 8192u
#define PLAN_MAX_BLOB (4u << 20)
#define PLAN_MAX_FIELDS 8

enum plan_phase { PH_SETUP = 0, PH_PARENT = 1, PH_JOIN = 2, PH_MAP = 3, PH_INIT = 4 };

enum plan_opcode {
    /* SETUP (P0) */
    OP_ERROR_FILE = 1,      /* s path: P0 writes a failure message here (and exits 255) */
    OP_PID_FILE = 2,        /* s path: P0 writes C2's PID here (write to temp, rename) */
    OP_CONTROL_FIFO = 3,    /* s path: P0 creates a FIFO; bytes read from it are signals to forward */
    OP_MODE = 4,            /* u mode (0 run: wait and return status, 1 create: exit once C2 waits on the exec
                               FIFO, 2 detached exec: exit once C2 has called execve), u flags (1 subreaper) */
    OP_PRESERVE_FDS = 5,    /* u n: fds 3..3+n-1 are passed to the container */
    OP_CONSOLE_SOCKET = 8,  /* s path: the pty master C2 makes goes to this unix socket (SCM_RIGHTS), as runc's --console-socket */
    OP_HOOK = 9,            /* u kind (0 prestart/createRuntime, 1 createContainer, 2 startContainer, 3 poststart),
                               s path, v args, v env, u timeout seconds (0: none) */
    OP_HOOK_STATE = 14,     /* v state JSON in three parts: parts[0] STATUS parts[1] PID parts[2] */
    OP_EXEC_FIFO = 7,       /* s path: P0 creates the exec FIFO (mode 0622) that `start` opens */
    OP_SECCOMP_LISTENER = 6, /* s socket path, v message parts: the notify fd goes there with the parts joined by C2's PID */

    /* PARENT (P0 on C1) */
    OP_CGROUP_JOIN = 10,    /* s path of a cgroup.procs file */
    OP_OOM_SCORE_ADJ = 11,  /* u value as int32 two's complement */
    OP_RLIMIT = 12,         /* u resource, q soft, q hard */
    OP_CGROUP_DEVICES = 13, /* s cgroup v2 dir, b BPF program, u prog type, u attach type, u attach flags, s license */

    /* JOIN (C1) */
    OP_SETNS = 20,          /* s path, u nstype (CLONE_NEW*) */
    OP_TIMENS = 21,         /* s timens_offsets content: unshare(CLONE_NEWTIME), write offsets */
    OP_CLONE = 22,          /* q clone flags (CLONE_NEW* only) */

    /* MAP (P0 on C2) */
    OP_UID_MAP = 30,        /* s uid_map content */
    OP_GID_MAP = 31,        /* s gid_map content */
    OP_IDMAP_TREE = 32,     /* s source (host path), u recursive, q attr_set, q attr_clr: P0 clones the tree
                               (open_tree), ID-maps it to C2's user namespace (MOUNT_ATTR_IDMAP) and passes it
                               to C2, which places the trees in order with ROOTFS_TREE and BIND_TREE */
    OP_IDMAP_OVERLAY = 33,  /* v lower dirs (uppermost first), s upper dir, s work dir (both may be empty), u uid, u gid
                               (host IDs of the container's root): overlayfs cannot be ID-mapped itself, so P0
                               ID-maps each layer and makes a new overlay of them (fsopen, layers by fd) as that
                               uid/gid, passed to C2 as the next tree */

    /* INIT (C2) */
    OP_SETSID = 40,
    OP_BECOME_ROOT = 41,    /* setresgid/setresuid(0) in a new user namespace */
    OP_HOSTNAME = 42,       /* s */
    OP_DOMAINNAME = 43,     /* s */
    OP_PROPAGATION = 44,    /* s path (absolute, not in root), q MS_* propagation flags */
    OP_ROOTFS = 45,         /* s host path: bind it onto itself (rec) and open it as the root of later in-root ops */
    OP_MKPATH = 46,         /* s path in root, u kind (1 dir, 2 file), u mode: create missing parents and leaf */
    OP_MOUNT = 47,          /* s source, s path in root, s fstype, q MS_* flags, s data, u copy up (1: copy what
                               the directory held into the new mount, as runc's tmpcopyup) */
    OP_BIND = 48,           /* s source (host path), s path in root, u recursive, q attr_set, q attr_clr */
    OP_SETATTR = 49,        /* s path in root, u recursive, q attr_set, q attr_clr, q propagation (MS_* or 0) */
    OP_MKNOD = 50,          /* s path in root, u mode (with S_IFCHR/S_IFBLK/S_IFIFO), q dev, u uid, u gid */
    OP_SYMLINK = 51,        /* s link target, s path in root */
    OP_PIVOT_ROOT = 52,     /* u no_pivot: make the root the process's root; later in-root ops resolve in "/" */
    OP_MASK = 53,           /* s path in root: read-only tmpfs over a directory, /dev/null over anything else; ENOENT skipped */
    OP_READONLY = 54,       /* s path in root: recursive read-only bind of itself; ENOENT skipped */
    OP_WRITE = 55,          /* s path in root, s content (sysctls through /proc/sys) */
    OP_CHDIR = 56,          /* s path in root (creation is the planner's MKPATH) */
    OP_UMASK = 57,          /* u mask */
    OP_NO_NEW_PRIVS = 58,
    OP_CAPS_BOUNDING = 59,  /* q keep mask, u last_cap: drop every capability not in keep */
    OP_SET_USER = 60,       /* u uid, u gid, v additional gids (decimal strings): setgroups, setresgid, setresuid keeping caps */
    OP_CAPS = 61,           /* q effective, q permitted, q inheritable, q ambient */
    OP_SECCOMP = 62,        /* u flags, b filter (struct sock_filter[]), u listener (1: send notify fd to P0) */
    OP_PERSONALITY = 63,    /* u persona */
    OP_EXEC = 64,           /* s PATH for lookup, v argv, v envp */
    OP_CONSOLE = 66,        /* u rows, u cols, u bind /dev/console: open a pty from the container's devpts, bind the slave on /dev/console,
                               make it the controlling terminal and stdio, hand the master to P0 (which gives it to
                               the console socket, or relays it to its own stdio in run mode) */
    OP_OPEN_ROOT = 67,
    OP_SESSION_KEYRING = 69, /* s name: join a new session keyring (keys are not shared with the host's session) */
    OP_HOOKS = 68,          /* here (before pivot_root) P0 runs kind 0 hooks, then C2 runs kind 1 hooks */      /* the current root is the container's (exec after joining its mount namespace) */
    OP_ROOTFS_TREE = 70,    /* s host path: move the next ID-mapped tree onto it; then as ROOTFS */
    OP_BIND_TREE = 71,      /* s path in root: move the next ID-mapped tree onto it */
    OP_LOOPBACK_UP = 72,    /* bring "lo" up in the (new) network namespace, as runc does */
    OP_CHROOT = 77,         /* s host path, or "" for the ROOTFS: chroot there (no mount namespace of its own); later in-root ops resolve in "/" */
    OP_PROC_ATTR = 76,      /* s attribute under /proc/self/attr (in root, checked to be procfs), s value: an LSM's exec label */
    OP_WAIT_FIFO = 65,      /* s host path of the exec FIFO, opened O_PATH before pivot; written before EXEC (create/start) */
    OP_LANDLOCK_RULESET = 73, /* q handled_access_fs: landlock_create_ruleset; the rules and RESTRICT that follow use it */
    OP_LANDLOCK_RULE = 74,  /* s path in root, q access if a directory, q access otherwise (0: no rule): a path-beneath rule */
    OP_LANDLOCK_RESTRICT = 75, /* q access on the exec FIFO (a rule on the FIFO opened by WAIT_FIFO, if any),
                               q access on each of fds 0-2 open for reading, q access on each open for writing (rules on
                               those files, so /dev/stdout can be reopened; pipes and sockets need none, EBADFD), then
                               landlock_restrict_self (the plan puts it after NO_NEW_PRIVS, or while caps are held) */
};

enum plan_field_type { F_U32 = 'u', F_U64 = 'q', F_STR = 's', F_VEC = 'v', F_BLOB = 'b' };

struct plan_vec {
    uint32_t n;
    char **items; /* NUL-terminated, items[n] == NULL */
};

struct plan_op {
    uint16_t code;
    uint8_t phase;
    /* Fields in schema order; each kind counted separately: u[0] is the first 'u' or 'q'. */
    uint64_t u[PLAN_MAX_FIELDS];
    char *s[PLAN_MAX_FIELDS];
    struct plan_vec v[2];
    const uint8_t *blob;
    uint32_t blob_len;
};

struct plan {
    uint32_t count;
    struct plan_op *ops;
    /* Storage the ops point into, freed by plan_free. */
    void *arena;
};

/*
 * Parses and validates a plan. Returns 0 on success; on failure returns -1 and writes a message
 * naming the op index and the problem into err.
 */
int plan_parse(const uint8_t *buf, size_t len, struct plan *out, char *err, size_t errlen);
void plan_free(struct plan *p);
const char *plan_op_name(uint16_t code);

#endif
