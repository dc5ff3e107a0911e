/*
 * Regenerates src/main/resources/dev/bulwark/seccomp/syscalls.tsv, the per-architecture syscall
 * numbers Bulwark's seccomp compiler uses. It asks libseccomp (the reference runc uses) for every
 * name it knows, so a name libseccomp knows but an architecture lacks gets "-" there: runc ignores
 * such names on that architecture, and so does Bulwark.
 *
 *   gcc -O2 -o /tmp/syscall_table src/test/c/seccomp/syscall_table.c -lseccomp
 *   grep -oP '^#define __SNR_\K\w+' /usr/include/seccomp-syscalls.h | sort -u \
 *     | /tmp/syscall_table > src/main/resources/dev/bulwark/seccomp/syscalls.tsv
 *
 * Syscalls newer than the installed libseccomp are appended from the list below (kernel facts:
 * since 5.1 new syscalls share one number on every architecture except alpha, x32 adds its bit).
 * SyscallTableTest checks the result against the kernel's own unistd_64/32/x32.h.
 */
#include <seccomp.h>
#include <stdio.h>
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

int main(void) {
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
