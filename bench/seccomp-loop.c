/*
 * seccomp-bench.sh's workload, run inside the container (built static with musl-gcc by the script).
 *   seccomp-loop N    times N raw calls of getppid() and of personality(0xffffffff) (a query that
 *                     changes nothing), best of 5 rounds each; prints "NAME NS-PER-CALL"
 *   seccomp-loop hold prints "ready" and waits (at most 60 s) so the script can read the filter
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static double round_ns(long n, long nr, long arg) {
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (long i = 0; i < n; i++) {
        syscall(nr, arg);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return ((double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec)) / (double)n;
}

static double best(long n, long nr, long arg) {
    round_ns(n / 10 + 1, nr, arg); /* warm-up */
    double b = 1e18;
    for (int r = 0; r < 5; r++) {
        double t = round_ns(n, nr, arg);
        b = t < b ? t : b;
    }
    return b;
}

int main(int argc, char **argv) {
    if (argc == 2 && !strcmp(argv[1], "hold")) {
        printf("ready\n");
        fflush(stdout);
        sleep(60);
        return 0;
    }
    long n = argc == 2 ? atol(argv[1]) : 0;
    if (n <= 0) {
        fprintf(stderr, "usage: seccomp-loop N | hold\n");
        return 2;
    }
    printf("getppid %.1f\n", best(n, SYS_getppid, 0));
    printf("personality %.1f\n", best(n, SYS_personality, 0xffffffffL));
    return 0;
}
