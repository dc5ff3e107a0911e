/*
 * Regenerates src/main/resources/dev/bulwark/seccomp/syscalls.tsv, the per-architecture syscall
 * numbers Bulwark's seccomp compiler uses. It asks libseccomp (the reference runc uses) for every
 * name it knows, so a name libseccomp knows but an architecture lacks gets "-" there: runc ignores
 * such names on that architecture, and so does Bulwark.
 *
 *   gcc -O2 -o /tmp/syscall_table src/test/c/seccomp/syscall_table.c -lseccomp
 *   H=/usr/include/x86_64-linux-gnu/asm
 *   grep -oP '^#define __SNR_\K\w+' /usr/include/seccomp-syscalls.h | sort -u \
 *     | /tmp/syscall_table $H/unistd_64.h $H/unistd_32.h $H/unistd_x32.h \
 *     > src/main/resources/dev/bulwark/seccomp/syscalls.tsv
 *
 * The kernel headers given for x86_64, x86 and x32 fill in numbers libseccomp leaves out: on x86
 * it has no number for the socket and IPC calls (it rewrites rules for them onto socketcall(2)
 * and ipc(2) itself), but the kernel has had direct syscalls for most of them since 4.3.
 *
 * Syscalls newer than the installed libseccomp are appended from the list below (kernel facts:
 * since 5.1 new syscalls share one number on every architecture except alpha, x32 adds its bit).
 * SyscallTableTest checks the result against the kernel's own unistd_64/32/x32.h.
 */
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const ARCHES[] = {"x86_64", "x86", "x32", "aarch64", "arm"};
#define NARCH (sizeof ARCHES / sizeof ARCHES[0])
#define X32_SYSCALL_BIT 0x40000000

/* name, number, which columns have it (bit i = ARCHES[i]) */
static const struct { const char *name; int nr; unsigned arches; } NEWER[] = {
    {"cachestat", 451, 0x1f},        {"fchmodat2", 452, 0x1f},
    {"map_shadow_stack", 453, 0x09}, {"futex_wake", 454, 0x1f},
    {"futex_wait", 455, 0x1f},       {"futex_requeue", 456, 0x1f},
    {"statmount", 457, 0x1f},        {"listmount", 458, 0x1f},
    {"lsm_get_self_attr", 459, 0x1f}, {"lsm_set_self_attr", 460, 0x1f},
    {"lsm_list_modules", 461, 0x1f}, {"mseal", 462, 0x1f},
    {"setxattrat", 463, 0x1f},       {"getxattrat", 464, 0x1f},
    {"listxattrat", 465, 0x1f},      {"removexattrat", 466, 0x1f},
    {"open_tree_attr", 467, 0x1f},   {"file_getattr", 468, 0x1f},
    {"file_setattr", 469, 0x1f},
};

/* numbers from "#define __NR_name N" or "#define __NR_name (__X32_SYSCALL_BIT + N)" lines */
static char header_names[3][1024][64];
static int header_numbers[3][1024];
static int header_count[3];

static void read_header(int column, const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) { perror(path); exit(1); }
    char line[256], name[64];
    int nr;
    while (fgets(line, sizeof line, f)) {
        int n = header_count[column];
        if (sscanf(line, "#define __NR_%63s (__X32_SYSCALL_BIT + %d)", name, &nr) == 2) nr |= X32_SYSCALL_BIT;
        else if (sscanf(line, "#define __NR_%63s %d", name, &nr) != 2) continue;
        if (n == 1024) { fprintf(stderr, "%s: too many syscalls\n", path); exit(1); }
        strcpy(header_names[column][n], name);
        header_numbers[column][n] = nr;
        header_count[column]++;
    }
    fclose(f);
}

static int from_header(size_t column, const char *name) {
    if (column > 2) return -1;
    for (int i = 0; i < header_count[column]; i++)
        if (!strcmp(header_names[column][i], name)) return header_numbers[column][i];
    return -1;
}

int main(int argc, char **argv) {
    if (argc != 4) { fprintf(stderr, "usage: %s unistd_64.h unistd_32.h unistd_x32.h < names\n", argv[0]); return 2; }
    for (int i = 0; i < 3; i++) read_header(i, argv[i + 1]);
    uint32_t token[NARCH];
    for (size_t i = 0; i < NARCH; i++) token[i] = seccomp_arch_resolve_name(ARCHES[i]);
    printf("# name");
    for (size_t i = 0; i < NARCH; i++) printf("\t%s", ARCHES[i]);
    printf("\n");
    char name[128];
    while (scanf("%127s", name) == 1) {
        int known = 0;
        for (size_t j = 0; j < sizeof NEWER / sizeof NEWER[0]; j++) known |= !strcmp(NEWER[j].name, name);
        if (known) continue;
        printf("%s", name);
        for (size_t i = 0; i < NARCH; i++) {
            int nr = seccomp_syscall_resolve_name_arch(token[i], name);
            /* negative values are libseccomp's pseudo numbers: the name does not exist there */
            if (nr < 0) nr = from_header(i, name);
            if (nr < 0) printf("\t-"); else printf("\t%d", nr);
        }
        printf("\n");
    }
    for (size_t j = 0; j < sizeof NEWER / sizeof NEWER[0]; j++) {
        printf("%s", NEWER[j].name);
        for (size_t i = 0; i < NARCH; i++) {
            if (!(NEWER[j].arches & (1u << i))) printf("\t-");
            else printf("\t%d", NEWER[j].nr | (i == 2 ? X32_SYSCALL_BIT : 0));
        }
        printf("\n");
    }
    return 0;
}
