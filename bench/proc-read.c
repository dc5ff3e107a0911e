/*
 * system-bench.sh's /proc read workload (built static with musl-gcc by the script).
 *   proc-read N FILE...   for each FILE: N rounds of open, read to the end, close, best of 5;
 *                         prints "FILE MICROSECONDS-PER-READ BYTES"
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static char buf[1 << 16];

static long read_all(const char *path) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        perror(path);
        exit(1);
    }
    long total = 0;
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) {
        total += n;
    }
    if (n < 0) {
        perror(path);
        exit(1);
    }
    close(fd);
    return total;
}

static double round_us(long n, const char *path) {
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (long i = 0; i < n; i++) {
        read_all(path);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return ((double)(t1.tv_sec - t0.tv_sec) * 1e6 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e3) / (double)n;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: proc-read N FILE...\n");
        return 2;
    }
    long n = atol(argv[1]);
    for (int i = 2; i < argc; i++) {
        round_us(n / 10 + 1, argv[i]); /* warm-up */
        double best = 1e18;
        for (int r = 0; r < 5; r++) {
            double t = round_us(n, argv[i]);
            best = t < best ? t : best;
        }
        printf("%s %.1f %ld\n", argv[i], best, read_all(argv[i]));
    }
    return 0;
}
