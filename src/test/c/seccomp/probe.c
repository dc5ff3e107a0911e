/*
 * Test helper, run inside containers by SeccompContainerTest: makes one raw system call and says
 * what the kernel answered, so a test can tell a seccomp verdict from a libc's or busybox's
 * wrapper behaviour. Built at test time with musl-gcc -static into the test rootfs.
 *
 *   probe NR [ARG...]        syscall(NR, ARG...); prints "ok RET" or "errno N"
 *   probe -s NR [ARG...]     the same with a SIGSYS handler: SCMP_ACT_TRAP prints "sigsys NR"
 *   probe -i NR [ARG...]     the same through int $0x80, the i386 ABI of an x86_64 kernel
 *   probe -t NR [ARG...]     a traced child makes the call: SCMP_ACT_TRACE stops it and the
 *                            tracer prints "traced NR msg MSG" (the rule's errnoRet)
 * An argument is a number in C syntax (0x.. for hex), or else a string passed by its address.
 * A clone that succeeds is waited for.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define PTRACE_O_TRACESECCOMP_ 0x80
#define PTRACE_EVENT_SECCOMP_ 7

static void on_sigsys(int sig, siginfo_t *si, void *ctx) {
    (void)sig;
    (void)ctx;
    printf("sigsys %d\n", si->si_syscall);
    fflush(stdout);
    _exit(0);
}

static long call(int i386, long nr, const long *a) {
    if (!i386) {
        return syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
    }
#if defined(__x86_64__)
    long r;
    __asm__ volatile("int $0x80"
                     : "=a"(r)
                     : "a"(nr), "b"(a[0]), "c"(a[1]), "d"(a[2]), "S"(a[3]), "D"(a[4])
                     : "memory", "r8", "r9", "r10", "r11");
    if (r < 0 && r > -4096) {
        errno = (int)-r;
        return -1;
    }
    return r;
#else
    errno = ENOSYS;
    return -1;
#endif
}

static int traced(long nr, const long *a) {
    pid_t child = fork();
    if (child == 0) {
        if (ptrace(PTRACE_TRACEME, 0, 0, 0) < 0) {
            _exit(100);
        }
        raise(SIGSTOP);
        syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
        _exit(0);
    }
    int st;
    if (child < 0 || waitpid(child, &st, 0) < 0 || !WIFSTOPPED(st)) {
        printf("trace setup failed\n");
        return 1;
    }
    ptrace(PTRACE_SETOPTIONS, child, 0, PTRACE_O_TRACESECCOMP_ | PTRACE_O_EXITKILL);
    ptrace(PTRACE_CONT, child, 0, 0);
    while (waitpid(child, &st, 0) == child && WIFSTOPPED(st)) {
        if (st >> 8 == (SIGTRAP | (PTRACE_EVENT_SECCOMP_ << 8))) {
            unsigned long msg = 0;
            ptrace(PTRACE_GETEVENTMSG, child, 0, &msg);
            printf("traced %ld msg %lu\n", nr, msg);
        }
        ptrace(PTRACE_CONT, child, 0, 0);
    }
    return 0;
}

int main(int argc, char **argv) {
    int i386 = 0, trace = 0, i = 1;
    if (i < argc && !strcmp(argv[i], "-s")) {
        struct sigaction sa = {.sa_sigaction = on_sigsys, .sa_flags = SA_SIGINFO};
        sigaction(SIGSYS, &sa, NULL);
        i++;
    } else if (i < argc && !strcmp(argv[i], "-i")) {
        i386 = 1;
        i++;
    } else if (i < argc && !strcmp(argv[i], "-t")) {
        trace = 1;
        i++;
    }
    if (i >= argc || argc - i > 7) {
        fprintf(stderr, "usage: probe [-s|-i|-t] NR [ARG...] (at most 6 arguments)\n");
        return 2;
    }
    long nr = strtol(argv[i++], NULL, 0), a[6] = {0};
    for (int k = 0; i < argc; k++) {
        const char *s = argv[i++];
        a[k] = isdigit((unsigned char)s[0]) ? (long)strtoull(s, NULL, 0) : (long)s;
    }
    if (trace) {
        return traced(nr, a);
    }
    pid_t self = getpid();
    long r = call(i386, nr, a);
    if (r == 0 && getpid() != self) {
        _exit(0); /* the child of a clone that succeeded */
    }
    if (r < 0) {
        printf("errno %d\n", errno);
        return 1;
    }
    if (nr == SYS_clone) {
        waitpid((pid_t)r, NULL, __WALL);
    }
    printf("ok %ld\n", r);
    return 0;
}
