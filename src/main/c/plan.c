/* The plan reader: rejects anything malformed before a single operation runs (see plan.h). */
#include "plan.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct schema {
    uint16_t code;
    uint8_t phase;
    const char *fields;
    const char *name;
};

static const struct schema SCHEMA[] = {
    {OP_ERROR_FILE, PH_SETUP, "s", "ERROR_FILE"},
    {OP_PID_FILE, PH_SETUP, "s", "PID_FILE"},
    {OP_CONTROL_FIFO, PH_SETUP, "s", "CONTROL_FIFO"},
    {OP_MODE, PH_SETUP, "uu", "MODE"},
    {OP_PRESERVE_FDS, PH_SETUP, "u", "PRESERVE_FDS"},
    {OP_SECCOMP_LISTENER, PH_SETUP, "sv", "SECCOMP_LISTENER"},
    {OP_EXEC_FIFO, PH_SETUP, "s", "EXEC_FIFO"},
    {OP_CONSOLE_SOCKET, PH_SETUP, "s", "CONSOLE_SOCKET"},
    {OP_HOOK, PH_SETUP, "usvvu", "HOOK"},
    {OP_HOOK_STATE, PH_SETUP, "v", "HOOK_STATE"},
    {OP_CGROUP_JOIN, PH_PARENT, "s", "CGROUP_JOIN"},
    {OP_CGROUP_DEVICES, PH_PARENT, "sbuuus", "CGROUP_DEVICES"},
    {OP_OOM_SCORE_ADJ, PH_PARENT, "u", "OOM_SCORE_ADJ"},
    {OP_RLIMIT, PH_PARENT, "uqq", "RLIMIT"},
    {OP_SETNS, PH_JOIN, "su", "SETNS"},
    {OP_TIMENS, PH_JOIN, "s", "TIMENS"},
    {OP_CLONE, PH_JOIN, "q", "CLONE"},
    {OP_UID_MAP, PH_MAP, "s", "UID_MAP"},
    {OP_GID_MAP, PH_MAP, "s", "GID_MAP"},
    {OP_IDMAP_TREE, PH_MAP, "suqq", "IDMAP_TREE"},
    {OP_IDMAP_OVERLAY, PH_MAP, "vssuu", "IDMAP_OVERLAY"},
    {OP_SETSID, PH_INIT, "", "SETSID"},
    {OP_BECOME_ROOT, PH_INIT, "", "BECOME_ROOT"},
    {OP_HOSTNAME, PH_INIT, "s", "HOSTNAME"},
    {OP_DOMAINNAME, PH_INIT, "s", "DOMAINNAME"},
    {OP_PROPAGATION, PH_INIT, "sq", "PROPAGATION"},
    {OP_ROOTFS, PH_INIT, "s", "ROOTFS"},
    {OP_MKPATH, PH_INIT, "suu", "MKPATH"},
    {OP_MOUNT, PH_INIT, "sssqsu", "MOUNT"},
    {OP_BIND, PH_INIT, "ssuqq", "BIND"},
    {OP_SETATTR, PH_INIT, "suqqq", "SETATTR"},
    {OP_MKNOD, PH_INIT, "suquu", "MKNOD"},
    {OP_SYMLINK, PH_INIT, "ss", "SYMLINK"},
    {OP_PIVOT_ROOT, PH_INIT, "u", "PIVOT_ROOT"},
    {OP_MASK, PH_INIT, "s", "MASK"},
    {OP_READONLY, PH_INIT, "s", "READONLY"},
    {OP_WRITE, PH_INIT, "ss", "WRITE"},
    {OP_CHDIR, PH_INIT, "s", "CHDIR"},
    {OP_UMASK, PH_INIT, "u", "UMASK"},
    {OP_NO_NEW_PRIVS, PH_INIT, "", "NO_NEW_PRIVS"},
    {OP_CAPS_BOUNDING, PH_INIT, "qu", "CAPS_BOUNDING"},
    {OP_SET_USER, PH_INIT, "uuv", "SET_USER"},
    {OP_CAPS, PH_INIT, "qqqq", "CAPS"},
    {OP_SECCOMP, PH_INIT, "ubu", "SECCOMP"},
    {OP_PERSONALITY, PH_INIT, "u", "PERSONALITY"},
    {OP_EXEC, PH_INIT, "svv", "EXEC"},
    {OP_WAIT_FIFO, PH_INIT, "s", "WAIT_FIFO"},
    {OP_CONSOLE, PH_INIT, "uuu", "CONSOLE"},
    {OP_OPEN_ROOT, PH_INIT, "", "OPEN_ROOT"},
    {OP_HOOKS, PH_INIT, "", "HOOKS"},
    {OP_SESSION_KEYRING, PH_INIT, "s", "SESSION_KEYRING"},
    {OP_ROOTFS_TREE, PH_INIT, "s", "ROOTFS_TREE"},
    {OP_BIND_TREE, PH_INIT, "s", "BIND_TREE"},
    {OP_LOOPBACK_UP, PH_INIT, "", "LOOPBACK_UP"},
    {OP_LANDLOCK_RULESET, PH_INIT, "q", "LANDLOCK_RULESET"},
    {OP_LANDLOCK_RULE, PH_INIT, "sqq", "LANDLOCK_RULE"},
    {OP_LANDLOCK_RESTRICT, PH_INIT, "qqq", "LANDLOCK_RESTRICT"},
    {OP_PROC_ATTR, PH_INIT, "ss", "PROC_ATTR"},
    {OP_CHROOT, PH_INIT, "s", "CHROOT"},
};

static const struct schema *find_schema(uint16_t code) {
    for (size_t i = 0; i < sizeof SCHEMA / sizeof SCHEMA[0]; i++) {
        if (SCHEMA[i].code == code) {
            return &SCHEMA[i];
        }
    }
    return NULL;
}

const char *plan_op_name(uint16_t code) {
    const struct schema *s = find_schema(code);
    return s ? s->name : "?";
}

struct reader {
    const uint8_t *p;
    size_t left;
};

static int rd_u32(struct reader *r, uint32_t *v) {
    if (r->left < 4) {
        return -1;
    }
    *v = (uint32_t)r->p[0] | (uint32_t)r->p[1] << 8 | (uint32_t)r->p[2] << 16 | (uint32_t)r->p[3] << 24;
    r->p += 4;
    r->left -= 4;
    return 0;
}

static int rd_u16(struct reader *r, uint16_t *v) {
    if (r->left < 2) {
        return -1;
    }
    *v = (uint16_t)(r->p[0] | r->p[1] << 8);
    r->p += 2;
    r->left -= 2;
    return 0;
}

static int rd_u64(struct reader *r, uint64_t *v) {
    uint32_t lo, hi;
    if (rd_u32(r, &lo) || rd_u32(r, &hi)) {
        return -1;
    }
    *v = (uint64_t)hi << 32 | lo;
    return 0;
}

/* A bump allocator over one block sized from the plan length, so a plan is one allocation. */
struct arena {
    uint8_t *base;
    size_t used, cap;
};

static void *arena_alloc(struct arena *a, size_t n) {
    size_t aligned = (a->used + 7u) & ~(size_t)7u;
    if (aligned > a->cap || n > a->cap - aligned) {
        return NULL;
    }
    a->used = aligned + n;
    return a->base + aligned;
}

static int fail(char *err, size_t errlen, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

static char *rd_str(struct reader *r, struct arena *a) {
    uint32_t n;
    if (rd_u32(r, &n) || n > PLAN_MAX_STR || n > r->left) {
        return NULL;
    }
    if (memchr(r->p, 0, n) != NULL) {
        return NULL;
    }
    char *s = arena_alloc(a, (size_t)n + 1);
    if (s == NULL) {
        return NULL;
    }
    memcpy(s, r->p, n);
    s[n] = '\0';
    r->p += n;
    r->left -= n;
    return s;
}

int plan_parse(const uint8_t *buf, size_t len, struct plan *out, char *err, size_t errlen) {
    memset(out, 0, sizeof *out);
    if (len > PLAN_MAX_SIZE) {
        return fail(err, errlen, "plan: %zu bytes is over the limit of %u", len, PLAN_MAX_SIZE);
    }
    if (len < 16 || memcmp(buf, PLAN_MAGIC, 8) != 0) {
        return fail(err, errlen, "plan: bad magic");
    }
    struct reader r = {buf + 8, len - 8};
    uint32_t version, count;
    rd_u32(&r, &version);
    rd_u32(&r, &count);
    if (version != PLAN_VERSION) {
        return fail(err, errlen, "plan: version %u is not supported (expected %u)", version, PLAN_VERSION);
    }
    if (count > PLAN_MAX_OPS) {
        return fail(err, errlen, "plan: %u ops is over the limit of %u", count, PLAN_MAX_OPS);
    }
    /* Every string costs at least 4 input bytes and at most len+1 arena bytes plus alignment;
     * every vector item costs 4 input bytes and a pointer (8). 4*len + op storage bounds it. */
    struct arena a = {NULL, 0, 4 * len + 64 + (size_t)(count + 1) * sizeof(struct plan_op)};
    a.base = calloc(1, a.cap);
    if (a.base == NULL) {
        return fail(err, errlen, "plan: out of memory");
    }
    out->arena = a.base;
    out->ops = arena_alloc(&a, (size_t)(count + 1) * sizeof(struct plan_op));
    out->count = count;
    int phase = PH_SETUP, clones = 0, execs = 0;
    for (uint32_t i = 0; i < count; i++) {
        uint16_t code, reserved;
        uint32_t plen;
        if (rd_u16(&r, &code) || rd_u16(&r, &reserved) || rd_u32(&r, &plen)) {
            goto truncated;
        }
        const struct schema *sc = find_schema(code);
        if (sc == NULL) {
            fail(err, errlen, "plan: op %u: unknown opcode %u", i, code);
            goto bad;
        }
        if (reserved != 0) {
            fail(err, errlen, "plan: op %u (%s): reserved field is %u, not 0", i, sc->name, reserved);
            goto bad;
        }
        if (plen > r.left) {
            goto truncated;
        }
        if (sc->phase < phase) {
            fail(err, errlen, "plan: op %u (%s): out of phase order", i, sc->name);
            goto bad;
        }
        if (execs > 0) {
            fail(err, errlen, "plan: op %u (%s): after EXEC", i, sc->name);
            goto bad;
        }
        phase = sc->phase;
        struct plan_op *op = &out->ops[i];
        op->code = code;
        op->phase = sc->phase;
        struct reader pr = {r.p, plen};
        int nu = 0, ns = 0, nv = 0;
        for (const char *f = sc->fields; *f; f++) {
            switch (*f) {
            case F_U32: {
                uint32_t v;
                if (rd_u32(&pr, &v)) {
                    goto short_payload;
                }
                op->u[nu++] = v;
                break;
            }
            case F_U64:
                if (rd_u64(&pr, &op->u[nu++])) {
                    goto short_payload;
                }
                break;
            case F_STR:
                if ((op->s[ns++] = rd_str(&pr, &a)) == NULL) {
                    fail(err, errlen, "plan: op %u (%s): bad string field %d", i, sc->name, ns - 1);
                    goto bad;
                }
                break;
            case F_VEC: {
                uint32_t n;
                if (rd_u32(&pr, &n) || n > PLAN_MAX_VEC || n > pr.left / 4) {
                    fail(err, errlen, "plan: op %u (%s): bad vector length", i, sc->name);
                    goto bad;
                }
                char **items = arena_alloc(&a, ((size_t)n + 1) * sizeof(char *));
                if (items == NULL) {
                    goto short_payload;
                }
                for (uint32_t k = 0; k < n; k++) {
                    if ((items[k] = rd_str(&pr, &a)) == NULL) {
                        fail(err, errlen, "plan: op %u (%s): bad string %u in vector", i, sc->name, k);
                        goto bad;
                    }
                }
                items[n] = NULL;
                op->v[nv].n = n;
                op->v[nv].items = items;
                nv++;
                break;
            }
            case F_BLOB: {
                uint32_t n;
                if (rd_u32(&pr, &n) || n > PLAN_MAX_BLOB || n > pr.left) {
                    fail(err, errlen, "plan: op %u (%s): bad blob length", i, sc->name);
                    goto bad;
                }
                op->blob = pr.p;
                op->blob_len = n;
                pr.p += n;
                pr.left -= n;
                break;
            }
            default:
                goto bad;
            }
        }
        if (pr.left != 0) {
            fail(err, errlen, "plan: op %u (%s): %zu unread payload bytes", i, sc->name, pr.left);
            goto bad;
        }
        r.p += plen;
        r.left -= plen;
        if (code == OP_CLONE) {
            clones++;
        }
        if (code == OP_EXEC) {
            execs++;
        }
        continue;
    short_payload:
        fail(err, errlen, "plan: op %u (%s): payload too short", i, sc->name);
        goto bad;
    }
    if (r.left != 0) {
        fail(err, errlen, "plan: %zu bytes after the last op", r.left);
        goto bad;
    }
    if (clones != 1 || execs != 1) {
        fail(err, errlen, "plan: needs exactly one CLONE and one EXEC (found %d and %d)", clones, execs);
        goto bad;
    }
    return 0;
truncated:
    fail(err, errlen, "plan: truncated");
bad:
    plan_free(out);
    return -1;
}

void plan_free(struct plan *p) {
    free(p->arena);
    p->arena = NULL;
    p->ops = NULL;
    p->count = 0;
}
