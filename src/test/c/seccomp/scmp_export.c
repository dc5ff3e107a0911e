/*
 * Test helper: builds the libseccomp filter runc would build for a profile and writes it to stdout
 * as raw struct sock_filter[] (seccomp_export_bpf). Used only by Bulwark's differential tests.
 *
 * Input on stdin, one directive per line:
 *   default ACTION ERRNO          ERRNO is a number or "-" (absent)
 *   badarch ACTION                the action for an architecture not in the filter
 *   optimize N                    libseccomp's SCMP_FLTATR_CTL_OPTIMIZE (runc uses 2 for > 32 rules)
 *   arch SCMP_ARCH_...            added to the filter (the native one is always there)
 *   rule ACTION ERRNO NAME N [INDEX OP VALUE VALUETWO]*N
 * It applies runc's rules: a rule with the default action is skipped, a name libseccomp does not
 * know is skipped, and several conditions on one argument become separate rules.
 */
#include <errno.h>
#include <inttypes.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void die(const char *what, const char *detail, int rc) {
    fprintf(stderr, "scmp_export: %s %s: %s\n", what, detail, rc ? strerror(-rc) : "invalid");
    exit(2);
}

static uint32_t action(const char *name, const char *err) {
    int has = strcmp(err, "-") != 0;
    uint16_t e = has ? (uint16_t)strtoul(err, NULL, 10) : EPERM;
    if (!strcmp(name, "SCMP_ACT_KILL") || !strcmp(name, "SCMP_ACT_KILL_THREAD")) return SCMP_ACT_KILL_THREAD;
    if (!strcmp(name, "SCMP_ACT_KILL_PROCESS")) return SCMP_ACT_KILL_PROCESS;
    if (!strcmp(name, "SCMP_ACT_TRAP")) return SCMP_ACT_TRAP;
    if (!strcmp(name, "SCMP_ACT_ERRNO")) return SCMP_ACT_ERRNO(e);
    if (!strcmp(name, "SCMP_ACT_TRACE")) return SCMP_ACT_TRACE(e);
    if (!strcmp(name, "SCMP_ACT_ALLOW")) return SCMP_ACT_ALLOW;
    if (!strcmp(name, "SCMP_ACT_LOG")) return SCMP_ACT_LOG;
    if (!strcmp(name, "SCMP_ACT_NOTIFY")) return SCMP_ACT_NOTIFY;
    die("unknown action", name, 0);
    return 0;
}

static enum scmp_compare op(const char *name) {
    static const char *const names[] = {"", "SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ",
                                        "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ"};
    for (int i = 1; i < 8; i++)
        if (!strcmp(name, names[i])) return (enum scmp_compare)i;
    die("unknown operator", name, 0);
    return 0;
}

static uint32_t arch(const char *oci) {
    if (strncmp(oci, "SCMP_ARCH_", 10)) die("unknown architecture", oci, 0);
    char lower[32];
    size_t i = 0;
    for (const char *p = oci + 10; *p && i < sizeof lower - 1; p++) lower[i++] = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
    lower[i] = 0;
    uint32_t a = seccomp_arch_resolve_name(lower);
    if (!a) die("unknown architecture", oci, 0);
    return a;
}

int main(void) {
    char line[8192];
    scmp_filter_ctx ctx = NULL;
    uint32_t def = 0;
    while (fgets(line, sizeof line, stdin)) {
        char *save = NULL, *w = strtok_r(line, " \n", &save);
        if (!w) continue;
        if (!strcmp(w, "default")) {
            char *a = strtok_r(NULL, " \n", &save), *e = strtok_r(NULL, " \n", &save);
            def = action(a, e);
            ctx = seccomp_init(def);
            if (!ctx) die("seccomp_init", a, 0);
            continue;
        }
        if (!ctx) die("first directive must be", "default", 0);
        if (!strcmp(w, "badarch")) {
            char *a = strtok_r(NULL, " \n", &save);
            int rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, action(a, "-"));
            if (rc) die("badarch", a, rc);
        } else if (!strcmp(w, "optimize")) {
            char *n = strtok_r(NULL, " \n", &save);
            int rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, (uint32_t)atoi(n));
            if (rc) die("optimize", n, rc);
        } else if (!strcmp(w, "arch")) {
            char *a = strtok_r(NULL, " \n", &save);
            int rc = seccomp_arch_add(ctx, arch(a));
            if (rc && rc != -EEXIST) die("seccomp_arch_add", a, rc);
        } else if (!strcmp(w, "rule")) {
            char *a = strtok_r(NULL, " \n", &save), *e = strtok_r(NULL, " \n", &save);
            char *name = strtok_r(NULL, " \n", &save);
            int n = atoi(strtok_r(NULL, " \n", &save));
            struct scmp_arg_cmp cmp[6];
            int per_arg[6] = {0}, split = 0;
            if (n > 6) die("too many conditions for", name, 0);
            for (int i = 0; i < n; i++) {
                cmp[i].arg = (unsigned)atoi(strtok_r(NULL, " \n", &save));
                cmp[i].op = op(strtok_r(NULL, " \n", &save));
                cmp[i].datum_a = strtoull(strtok_r(NULL, " \n", &save), NULL, 10);
                cmp[i].datum_b = strtoull(strtok_r(NULL, " \n", &save), NULL, 10);
                split |= ++per_arg[cmp[i].arg] > 1;
            }
            uint32_t act = action(a, e);
            if (act == def) continue;
            int nr = seccomp_syscall_resolve_name(name);
            if (nr == __NR_SCMP_ERROR) continue;
            int rc = 0;
            if (split)
                for (int i = 0; i < n && !rc; i++) rc = seccomp_rule_add_array(ctx, act, nr, 1, &cmp[i]);
            else
                rc = seccomp_rule_add_array(ctx, act, nr, (unsigned)n, cmp);
            if (rc) die("seccomp_rule_add", name, rc);
        } else {
            die("unknown directive", w, 0);
        }
    }
    if (!ctx) die("empty profile", "", 0);
    int rc = seccomp_export_bpf(ctx, 1);
    if (rc) die("seccomp_export_bpf", "", rc);
    seccomp_release(ctx);
    return 0;
}
