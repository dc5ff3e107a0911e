/*
 * Test helper for AgentContainerTest, run inside the container: one mount-family call, made
 * with the raw syscall so the kernel's (or the agent's) answer is what is printed: "ok" or
 * "errno N".
 *
 *   mnt setattr-rw PATH          mount_setattr(PATH, clear MOUNT_ATTR_RDONLY)
 *   mnt clone-rw PATH            open_tree(PATH, OPEN_TREE_CLONE), then clear RDONLY on the clone
 *   mnt fspick-rw PATH           fspick(PATH), then fsconfig "rw" + FSCONFIG_CMD_RECONFIGURE
 *   mnt move FROM TO             move_mount(FROM, TO)
 *   mnt umount PATH              umount2(PATH, 0)
 *   mnt remount-rw PATH          mount(MS_REMOUNT|MS_BIND) without MS_RDONLY
 *   mnt hold PATH READY GO       remount-rw PATH, then creates READY and waits until GO exists (a
 *                                caller that lives on after its call)
 *   mnt remount-sb PATH          mount(MS_REMOUNT) without MS_RDONLY: the superblock and the mount
 *   mnt fsmount PATH             a new tmpfs with fsopen/fsconfig/fsmount, attached by move_mount
 *   mnt clone-attach FROM TO     open_tree(FROM, OPEN_TREE_CLONE), attached at TO by move_mount
 *   mnt rclone-rw PATH           clone-rw with AT_RECURSIVE (clearing RDONLY on the clone's root only)
 *   mnt rclone-attach FROM TO    clone-attach with AT_RECURSIVE
 *   mnt rclone-cat PATH REL      open_tree(PATH, OPEN_TREE_CLONE|AT_RECURSIVE), then prints how many
 *                                bytes REL below the (detached) clone reads, or "errno N"
 *   mnt fsopen TYPE              fsopen(TYPE): "ok" or "errno N"
 *   mnt bind FROM TO             mount(FROM, TO, MS_BIND)
 *   mnt tmpfs PATH               mount a new tmpfs
 *   mnt toctou GOOD BAD N [setattr]
 *                                N remounts rw (or mount_setattr clearing MOUNT_ATTR_RDONLY) of a
 *                                path another thread flips between GOOD and BAD;
 *                                prints "ok K denied D bad-writable 0|1"
 *   mnt loop N PATH FLAGS        N calls mount(NULL, PATH, NULL, FLAGS, NULL), or with FLAGS "setattr"
 *                                of mount_setattr(PATH, clear MOUNT_ATTR_RDONLY), "rsetattr" the same
 *                                with AT_RECURSIVE; prints microseconds per call
 *   mnt seq PATH KIND...         in one process, one call on PATH per KIND: remount (remount-rw),
 *                                setattr (setattr-rw), rsetattr (the same with AT_RECURSIVE) or
 *                                rsetro (mount_setattr setting MOUNT_ATTR_RDONLY, AT_RECURSIVE)
 *   mnt as UID PROG ARG...       runs PROG as UID (and GID UID, no groups): no capabilities left
 *   mnt switch uid|ids|userns|ns PATH
 *                                two remounts rw of PATH (three for userns), then in the same
 *                                process either
 *                                becomes uid 1000 (no capabilities left) and remounts PATH rw
 *                                again; or becomes uid and gid 1000 in group 1000 keeping every
 *                                capability, and remounts PATH rw, then clears its read-only
 *                                flag with mount_setattr, then again with AT_RECURSIVE; or
 *                                unshares its user namespace (the same capability sets, in a
 *                                namespace that owns no mount) and remounts PATH rw again; or
 *                                unshares its mount namespace and unmounts PATH there, then says
 *                                whether PATH is "unmounted" or "still-mounted" in the new
 *                                namespace; prints each result (calls after a change of context)
 *   mnt sysinfo N                N calls of sysinfo(2); prints microseconds per call
 *   mnt affinity N               N calls of sched_getaffinity(0, ...); prints microseconds per call
 */
#define _GNU_SOURCE
#include <errno.h>
#include <grp.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define MS_RDONLY 1UL
#define MS_REMOUNT 32UL
#define MS_BIND 4096UL
#define OPEN_TREE_CLONE 1
#define AT_EMPTY_PATH 0x1000
#define AT_RECURSIVE 0x8000
#define MOUNT_ATTR_RDONLY 1ULL
#define FSCONFIG_SET_FLAG 0
#define FSCONFIG_CMD_RECONFIGURE 7

struct mount_attr {
    uint64_t attr_set, attr_clr, propagation, userns_fd;
};

static int report(long r) {
    if (r < 0) {
        printf("errno %d\n", errno);
        return 1;
    }
    printf("ok\n");
    return 0;
}

/* This process's capability sets, read (set 0) or written (set 1). */
struct caps {
    struct {
        uint32_t eff, prm, inh;
    } d[2];
};
static long caps(int set, struct caps *c) {
    struct {
        uint32_t version;
        int pid;
    } hdr = {0x20080522, 0};
    return syscall(set ? SYS_capset : SYS_capget, &hdr, c->d);
}

static long setattr_rw(int dfd, const char *path, int flags) {
    struct mount_attr a = {0, MOUNT_ATTR_RDONLY, 0, 0};
    return syscall(442, dfd, path, flags, &a, sizeof a);
}

/* One call on path by its kind: remount (remount-rw), setattr (setattr-rw), rsetattr (the same
 * with AT_RECURSIVE) or rsetro (mount_setattr setting MOUNT_ATTR_RDONLY, AT_RECURSIVE). */
static long kind_call(const char *kind, const char *path) {
    struct mount_attr ro = {MOUNT_ATTR_RDONLY, 0, 0, 0};
    return !strcmp(kind, "remount")  ? syscall(SYS_mount, NULL, path, NULL, MS_REMOUNT | MS_BIND, NULL)
           : !strcmp(kind, "rsetro") ? syscall(442, AT_FDCWD, path, AT_RECURSIVE, &ro, sizeof ro)
                                     : setattr_rw(AT_FDCWD, path, !strcmp(kind, "rsetattr") ? AT_RECURSIVE : 0);
}

static char buf[4096];
static volatile int stop;
static const char *good, *bad;

static void *flip(void *arg) {
    (void)arg;
    while (!stop) {
        strcpy(buf, bad);
        strcpy(buf, good);
    }
    return NULL;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: see mnt.c\n");
        return 2;
    }
    const char *c = argv[1];
    if (!strcmp(c, "setattr-rw")) {
        return report(setattr_rw(AT_FDCWD, argv[2], 0));
    }
    if (!strcmp(c, "clone-rw")) {
        long fd = syscall(428, AT_FDCWD, argv[2], OPEN_TREE_CLONE);
        if (fd < 0) {
            return report(fd);
        }
        return report(setattr_rw((int)fd, "", AT_EMPTY_PATH));
    }
    if (!strcmp(c, "fspick-rw")) {
        long fd = syscall(433, AT_FDCWD, argv[2], 0);
        if (fd < 0) {
            return report(fd);
        }
        if (syscall(431, fd, FSCONFIG_SET_FLAG, "rw", NULL, 0) < 0) {
            return report(-1);
        }
        return report(syscall(431, fd, FSCONFIG_CMD_RECONFIGURE, NULL, NULL, 0));
    }
    if (!strcmp(c, "move") && argc == 4) {
        return report(syscall(429, AT_FDCWD, argv[2], AT_FDCWD, argv[3], 0));
    }
    if (!strcmp(c, "umount")) {
        return report(syscall(SYS_umount2, argv[2], 0));
    }
    if (!strcmp(c, "remount-rw")) {
        return report(syscall(SYS_mount, NULL, argv[2], NULL, MS_REMOUNT | MS_BIND, NULL));
    }
    if (!strcmp(c, "hold") && argc == 5) {
        int r = report(syscall(SYS_mount, NULL, argv[2], NULL, MS_REMOUNT | MS_BIND, NULL));
        fflush(stdout);
        int fd = open(argv[3], O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
        if (fd < 0 || close(fd) < 0) {
            return 2;
        }
        while (access(argv[4], F_OK) < 0) {
            usleep(50000);
        }
        return r;
    }
    if (!strcmp(c, "remount-sb")) {
        return report(syscall(SYS_mount, NULL, argv[2], NULL, MS_REMOUNT, NULL));
    }
    if (!strcmp(c, "fsmount")) {
        long fs = syscall(430, "tmpfs", 0);
        if (fs < 0 || syscall(431, fs, 6 /* FSCONFIG_CMD_CREATE */, NULL, NULL, 0) < 0) {
            return report(-1);
        }
        long m = syscall(432, fs, 0, 0);
        if (m < 0) {
            return report(m);
        }
        return report(syscall(429, m, "", AT_FDCWD, argv[2], 4 /* MOVE_MOUNT_F_EMPTY_PATH */));
    }
    if (!strcmp(c, "clone-attach") && argc == 4) {
        long fd = syscall(428, AT_FDCWD, argv[2], OPEN_TREE_CLONE);
        if (fd < 0) {
            return report(fd);
        }
        return report(syscall(429, fd, "", AT_FDCWD, argv[3], 4 /* MOVE_MOUNT_F_EMPTY_PATH */));
    }
    if (!strcmp(c, "rclone-rw")) {
        long fd = syscall(428, AT_FDCWD, argv[2], OPEN_TREE_CLONE | AT_RECURSIVE);
        if (fd < 0) {
            return report(fd);
        }
        return report(setattr_rw((int)fd, "", AT_EMPTY_PATH));
    }
    if (!strcmp(c, "rclone-attach") && argc == 4) {
        long fd = syscall(428, AT_FDCWD, argv[2], OPEN_TREE_CLONE | AT_RECURSIVE);
        if (fd < 0) {
            return report(fd);
        }
        return report(syscall(429, fd, "", AT_FDCWD, argv[3], 4 /* MOVE_MOUNT_F_EMPTY_PATH */));
    }
    if (!strcmp(c, "rclone-cat") && argc == 4) {
        long fd = syscall(428, AT_FDCWD, argv[2], OPEN_TREE_CLONE | AT_RECURSIVE);
        if (fd < 0) {
            return report(fd);
        }
        int f = openat((int)fd, argv[3], O_RDONLY);
        if (f < 0) {
            return report(-1);
        }
        char b[4096];
        long total = 0;
        for (ssize_t n; (n = read(f, b, sizeof b)) > 0;) {
            total += n;
        }
        printf("%ld\n", total);
        return 0;
    }
    if (!strcmp(c, "fsopen") && argc == 3) {
        long fs = syscall(430, argv[2], 0);
        return report(fs < 0 ? fs : 0);
    }
    if (!strcmp(c, "bind") && argc == 4) {
        return report(syscall(SYS_mount, argv[2], argv[3], NULL, MS_BIND, NULL));
    }
    if (!strcmp(c, "tmpfs")) {
        return report(syscall(SYS_mount, "t", argv[2], "tmpfs", 0UL, NULL));
    }
    if (!strcmp(c, "toctou") && (argc == 5 || (argc == 6 && !strcmp(argv[5], "setattr")))) {
        good = argv[2];
        bad = argv[3];
        strcpy(buf, good);
        pthread_t t;
        pthread_create(&t, NULL, flip, NULL);
        int n = atoi(argv[4]), ok = 0, denied = 0;
        const char *kind = argc == 6 ? "setattr" : "remount";
        for (int i = 0; i < n; i++) {
            if (kind_call(kind, buf) == 0) {
                ok++;
            } else if (errno == EPERM) {
                denied++;
            }
        }
        stop = 1;
        pthread_join(t, NULL);
        struct statvfs s;
        statvfs(bad, &s);
        printf("ok %d denied %d bad-writable %d\n", ok, denied, (s.f_flag & ST_RDONLY) ? 0 : 1);
        return 0;
    }
    if (!strcmp(c, "seq") && argc >= 4) {
        for (int i = 3; i < argc; i++) {
            report(kind_call(argv[i], argv[2]));
        }
        return 0;
    }
    if (!strcmp(c, "switch") && argc == 4) {
        const char *p = argv[3];
        report(syscall(SYS_mount, NULL, p, NULL, MS_REMOUNT | MS_BIND, NULL));
        report(syscall(SYS_mount, NULL, p, NULL, MS_REMOUNT | MS_BIND, NULL));
        if (!strcmp(argv[2], "uid")) {
            if (setgroups(0, NULL) < 0 || setresgid(1000, 1000, 1000) < 0 || setresuid(1000, 1000, 1000) < 0) {
                return report(-1);
            }
            report(syscall(SYS_mount, NULL, p, NULL, MS_REMOUNT | MS_BIND, NULL));
        } else if (!strcmp(argv[2], "ids")) {
            gid_t g = 1000;
            struct caps d;
            /* the permitted set survives the change of IDs (PR_SET_KEEPCAPS); the effective is made it again */
            if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0 || setgroups(1, &g) < 0 || setresgid(1000, 1000, 1000) < 0 ||
                setresuid(1000, 1000, 1000) < 0 || caps(0, &d) < 0) {
                return report(-1);
            }
            d.d[0].eff = d.d[0].prm;
            d.d[1].eff = d.d[1].prm;
            if (caps(1, &d) < 0) {
                return report(-1);
            }
            report(syscall(SYS_mount, NULL, p, NULL, MS_REMOUNT | MS_BIND, NULL));
            report(setattr_rw(AT_FDCWD, p, 0));
            report(setattr_rw(AT_FDCWD, p, AT_RECURSIVE));
        } else if (!strcmp(argv[2], "userns")) {
            report(syscall(SYS_mount, NULL, p, NULL, MS_REMOUNT | MS_BIND, NULL));
            /* the new namespace gives every capability: made the very sets it had before */
            struct caps d;
            if (caps(0, &d) < 0 || unshare(CLONE_NEWUSER) < 0 || caps(1, &d) < 0) {
                return report(-1);
            }
            report(syscall(SYS_mount, NULL, p, NULL, MS_REMOUNT | MS_BIND, NULL));
        } else {
            /* unmounted in the new namespace: it must be gone here (and stay in the old one) */
            if (unshare(CLONE_NEWNS) < 0 || report(syscall(SYS_umount2, p, 0))) {
                return 1;
            }
            struct stat a, b;
            char up[4096];
            snprintf(up, sizeof up, "%s/..", p);
            if (stat(p, &a) < 0 || stat(up, &b) < 0) {
                return report(-1);
            }
            printf("%s\n", a.st_dev == b.st_dev ? "unmounted" : "still-mounted");
        }
        fflush(stdout);
        return 0;
    }
    if (!strcmp(c, "as") && argc >= 4) {
        unsigned id = (unsigned)strtoul(argv[2], NULL, 10);
        if (setgroups(0, NULL) < 0 || setresgid(id, id, id) < 0 || setresuid(id, id, id) < 0) {
            return report(-1);
        }
        execvp(argv[3], argv + 3);
        return report(-1);
    }
    if (!strcmp(c, "affinity") && argc == 3) {
        int n = atoi(argv[2]);
        unsigned long mask[16];
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        for (int i = 0; i < n; i++) {
            if (syscall(SYS_sched_getaffinity, 0, sizeof mask, mask) < 0) {
                return report(-1);
            }
        }
        clock_gettime(CLOCK_MONOTONIC, &b);
        printf("%.1f\n", ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / 1e3 / n);
        return 0;
    }
    if (!strcmp(c, "sysinfo") && argc == 3) {
        int n = atoi(argv[2]);
        char si[256];
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        for (int i = 0; i < n; i++) {
            if (syscall(SYS_sysinfo, si) < 0) {
                return report(-1);
            }
        }
        clock_gettime(CLOCK_MONOTONIC, &b);
        printf("%.1f\n", ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / 1e3 / n);
        return 0;
    }
    if (!strcmp(c, "loop") && argc == 5) {
        int n = atoi(argv[2]);
        int setattr = !strcmp(argv[4], "setattr") || !strcmp(argv[4], "rsetattr");
        unsigned long flags = setattr ? 0 : strtoul(argv[4], NULL, 0);
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        for (int i = 0; i < n; i++) {
            if ((setattr ? kind_call(argv[4], argv[3]) : syscall(SYS_mount, NULL, argv[3], NULL, flags, NULL)) < 0) {
                return report(-1);
            }
        }
        clock_gettime(CLOCK_MONOTONIC, &b);
        printf("%.1f\n", ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / 1e3 / n);
        return 0;
    }
    fprintf(stderr, "mnt: unknown command %s\n", c);
    return 2;
}
