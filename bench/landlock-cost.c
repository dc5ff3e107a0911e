/*
 * What Landlock costs a container, measured the way the stage pays it: in a fresh child,
 * landlock_create_ruleset, then for each rule an O_PATH open, fstat and landlock_add_rule,
 * then landlock_restrict_self (LANDLOCK_RULESET, LANDLOCK_RULE..., LANDLOCK_RESTRICT). Also the
 * cost per open(2) afterwards, confined and not (Landlock checks each path walk).
 *
 *   landlock-cost N HANDLED PATH:ro|rw...
 *
 * Prints the median and mean of N runs of the setup in microseconds, and ns per open.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

struct ruleset_attr {
    uint64_t handled;
};
struct __attribute__((packed)) path_beneath {
    uint64_t allowed;
    int32_t fd;
};

static uint64_t now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static int cmp(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

#define OPENS 20000

/* In a child: the setup (if confine), then OPENS opens of /etc/passwd; writes both times to fd. */
static void child(int out, int confine, uint64_t handled, int nrules, char **rules) {
    uint64_t t0 = now();
    if (confine) {
        prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
        struct ruleset_attr attr = {handled};
        int rs = (int)syscall(SYS_landlock_create_ruleset, &attr, sizeof attr, 0);
        if (rs < 0) {
            perror("landlock_create_ruleset");
            _exit(1);
        }
        for (int i = 0; i < nrules; i++) {
            char path[4096];
            snprintf(path, sizeof path, "%s", rules[i]);
            char *colon = strrchr(path, ':');
            int ro = colon && !strcmp(colon + 1, "ro");
            if (colon) {
                *colon = '\0';
            }
            int fd = open(path, O_PATH | O_CLOEXEC);
            struct stat st;
            if (fd < 0 || fstat(fd, &st) < 0) {
                perror(path);
                _exit(1);
            }
            uint64_t access = ro ? 0xdULL : handled; /* execute, read_file, read_dir */
            if (!S_ISDIR(st.st_mode)) {
                access &= 0xc007ULL;
            }
            struct path_beneath pb = {access, fd};
            if (syscall(SYS_landlock_add_rule, rs, 1, &pb, 0) < 0) {
                perror("landlock_add_rule");
                _exit(1);
            }
            close(fd);
        }
        if (syscall(SYS_landlock_restrict_self, rs, 0) < 0) {
            perror("landlock_restrict_self");
            _exit(1);
        }
        close(rs);
    }
    uint64_t t1 = now();
    for (int i = 0; i < OPENS; i++) {
        int fd = open("/etc/passwd", O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            perror("open /etc/passwd");
            _exit(1);
        }
        close(fd);
    }
    uint64_t t2 = now();
    uint64_t r[2] = {t1 - t0, (t2 - t1) / OPENS};
    if (write(out, r, sizeof r) != sizeof r) {
        _exit(1);
    }
    _exit(0);
}

static void measure(int confine, int n, uint64_t handled, int nrules, char **rules, uint64_t *setup, uint64_t *open_ns) {
    for (int i = 0; i < n; i++) {
        int p[2];
        if (pipe(p) < 0) {
            exit(1);
        }
        pid_t pid = fork();
        if (pid == 0) {
            close(p[0]);
            child(p[1], confine, handled, nrules, rules);
        }
        close(p[1]);
        uint64_t r[2];
        int st;
        if (read(p[0], r, sizeof r) != sizeof r || waitpid(pid, &st, 0) < 0 || st != 0) {
            fprintf(stderr, "landlock-cost: child failed\n");
            exit(1);
        }
        close(p[0]);
        setup[i] = r[0];
        open_ns[i] = r[1];
    }
    qsort(setup, (size_t)n, sizeof *setup, cmp);
    qsort(open_ns, (size_t)n, sizeof *open_ns, cmp);
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: landlock-cost N HANDLED PATH:ro|rw...\n");
        return 2;
    }
    int n = atoi(argv[1]);
    uint64_t handled = strtoull(argv[2], NULL, 0);
    int nrules = argc - 3;
    uint64_t *setup = calloc((size_t)n, sizeof *setup), *opens = calloc((size_t)n, sizeof *opens);
    uint64_t *setup0 = calloc((size_t)n, sizeof *setup0), *opens0 = calloc((size_t)n, sizeof *opens0);
    measure(1, n, handled, nrules, argv + 3, setup, opens);
    measure(0, n, handled, nrules, argv + 3, setup0, opens0);
    double mean = 0;
    for (int i = 0; i < n; i++) {
        mean += (double)setup[i];
    }
    mean /= n;
    printf("ruleset of %d rules, created, filled and enforced: median %.1f us, mean %.1f us, max %.1f us (%d runs)\n",
           nrules, setup[n / 2] / 1000.0, mean / 1000.0, setup[n - 1] / 1000.0, n);
    printf("open+close of /etc/passwd afterwards: %llu ns confined, %llu ns not (medians)\n",
           (unsigned long long)opens[n / 2], (unsigned long long)opens0[n / 2]);
    return 0;
}
