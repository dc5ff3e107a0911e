/*
 * seccomp-bench.sh's helper, run on the host: prints the instruction count of each seccomp filter
 * a process has, newest first, as the kernel holds them (PTRACE_SECCOMP_GET_FILTER; needs
 * CAP_SYS_ADMIN and CONFIG_CHECKPOINT_RESTORE). The process is stopped and released again.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>

#define PTRACE_SECCOMP_GET_FILTER_ 0x420c

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: filter-size PID\n");
        return 2;
    }
    pid_t pid = atoi(argv[1]);
    if (ptrace(PTRACE_SEIZE, pid, 0, 0) < 0 || ptrace(PTRACE_INTERRUPT, pid, 0, 0) < 0 || waitpid(pid, NULL, __WALL) < 0) {
        fprintf(stderr, "filter-size: stop %d: %s\n", pid, strerror(errno));
        return 1;
    }
    int rc = 1;
    for (long i = 0;; i++) {
        long n = ptrace(PTRACE_SECCOMP_GET_FILTER_, pid, (void *)i, NULL);
        if (n < 0) {
            if (i == 0) {
                fprintf(stderr, "filter-size: %d: %s\n", pid, strerror(errno));
            }
            break;
        }
        printf("%s%ld", i ? " " : "", n);
        rc = 0;
    }
    printf("\n");
    ptrace(PTRACE_DETACH, pid, 0, 0);
    return rc;
}
