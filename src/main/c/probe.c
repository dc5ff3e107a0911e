/*
 * bulwark-probe: prints what isolation the calling process has, one "key=value" per line, so
 * `bulwark demo` can show the same facts for the host and for a container side by side.
 * It only reads and tries harmless operations; it changes nothing that outlives it.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static void ns(const char *name) {
    char path[64], link[128];
    snprintf(path, sizeof path, "/proc/self/ns/%s", name);
    ssize_t n = readlink(path, link, sizeof link - 1);
    link[n > 0 ? n : 0] = '\0';
    printf("ns.%s=%s\n", name, n > 0 ? link : "absent");
}

/* The first line of a file, spaces squeezed. */
static void first_line(const char *key, const char *path) {
    char buf[256] = "", out[256];
    FILE *f = fopen(path, "re");
    if (!f || !fgets(buf, sizeof buf, f)) {
        printf("%s=absent\n", key);
        if (f) {
            fclose(f);
        }
        return;
    }
    fclose(f);
    size_t o = 0;
    int space = 1;
    for (char *c = buf; *c && *c != '\n' && o < sizeof out - 1; c++) {
        if (*c == ' ' || *c == '\t') {
            if (!space) {
                out[o++] = ' ';
            }
            space = 1;
        } else {
            out[o++] = *c;
            space = 0;
        }
    }
    while (o > 0 && out[o - 1] == ' ') {
        o--;
    }
    out[o] = '\0';
    printf("%s=%s\n", key, out);
}

static void status_fields(void) {
    static const char *keys[] = {"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs", "Seccomp"};
    char line[256];
    FILE *f = fopen("/proc/self/status", "re");
    if (!f) {
        return;
    }
    while (fgets(line, sizeof line, f)) {
        for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
            size_t k = strlen(keys[i]);
            if (!strncmp(line, keys[i], k) && line[k] == ':') {
                char *v = line + k + 1;
                while (*v == '\t' || *v == ' ') {
                    v++;
                }
                v[strcspn(v, "\n")] = '\0';
                printf("status.%s=%s\n", keys[i], v);
            }
        }
    }
    fclose(f);
}

/* What a sensitive path shows: its size or entry count, "empty", or "absent". */
static void masked(const char *path) {
    struct stat st;
    if (stat(path, &st) < 0) {
        printf("masked.%s=absent\n", path);
        return;
    }
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        int n = 0;
        struct dirent *e;
        while (d && (e = readdir(d))) {
            n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
        }
        if (d) {
            closedir(d);
        }
        printf(n ? "masked.%s=%d entries\n" : "masked.%s=empty\n", path, n);
        return;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        printf("masked.%s=unreadable (%s)\n", path, strerror(errno));
        return;
    }
    char buf[4096];
    long total = 0;
    ssize_t r;
    while ((r = read(fd, buf, sizeof buf)) > 0 && total < (1 << 20)) {
        total += r;
    }
    close(fd);
    printf(total ? "masked.%s=%ld bytes readable\n" : "masked.%s=empty\n", path, total);
}

static void writable(const char *key, const char *path) {
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    printf("%s=%s\n", key, fd >= 0 ? "writable" : strerror(errno));
    if (fd >= 0) {
        close(fd);
    }
}

/* Attempts run in a child so nothing they achieve outlives the probe. */
static void attempt(const char *key, int what) {
    pid_t pid = fork();
    if (pid == 0) {
        int rc = -1;
        if (what == 0) {
            rc = unshare(CLONE_NEWUSER);
        } else if (what == 1) {
            rc = unshare(CLONE_NEWNS) == 0 ? mount("none", "/tmp", "tmpfs", 0, NULL) : -1;
        } else if (what == 2) {
            rc = unshare(CLONE_NEWNS) == 0 ? mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND, NULL) : -1;
        }
        _exit(rc == 0 ? 0 : errno & 0xff);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    int code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    printf("%s=%s\n", key, code == 0 ? "allowed" : code > 0 ? strerror(code) : "killed");
}

int main(void) {
    static const char *spaces[] = {"cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts"};
    for (size_t i = 0; i < sizeof spaces / sizeof spaces[0]; i++) {
        ns(spaces[i]);
    }
    first_line("uid_map", "/proc/self/uid_map");
    first_line("gid_map", "/proc/self/gid_map");
    printf("ids=uid %d gid %d pid %d\n", (int)getuid(), (int)getgid(), (int)getpid());
    status_fields();
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    printf("hostname=%s\n", host);
    static const char *paths[] = {"/proc/kcore", "/proc/keys", "/proc/timer_list", "/proc/sched_debug",
                                  "/proc/acpi", "/sys/firmware"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        masked(paths[i]);
    }
    writable("write./proc/sys/kernel/hostname", "/proc/sys/kernel/hostname");
    writable("write./proc/sysrq-trigger", "/proc/sysrq-trigger");
    int fd = open("/.bulwark-probe", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    printf("write./=%s\n", fd >= 0 ? "writable" : strerror(errno));
    if (fd >= 0) {
        close(fd);
        unlink("/.bulwark-probe");
    }
    first_line("pids.max", access("/sys/fs/cgroup/pids/pids.max", R_OK) == 0 ? "/sys/fs/cgroup/pids/pids.max"
                                                                             : "/sys/fs/cgroup/pids.max");
    attempt("try.unshare(user)", 0);
    attempt("try.mount(tmpfs)", 1);
    attempt("try.remount(/)", 2);
    return 0;
}
