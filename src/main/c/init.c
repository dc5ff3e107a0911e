/*
 * bulwark-init: PID 1 of a system that `bulwark build` assembled (docs/build.md).
 *
 * It decides nothing: the builder computed every container's plan (Java, at build time) and
 * wrote /bulwark/manifest, one line per container in order:
 *
 *   onboot|service NAME PIDS_MAX MEMORY_MAX      (0 means no limit)
 *
 * and /bulwark/plans/NAME.plan for each. The init:
 *   1. moves the initramfs onto a bind mount of itself (so containers can pivot_root: the
 *      kernel refuses pivot_root away from the initial rootfs), mounts /proc, /sys, /dev, /run,
 *      /tmp and cgroup2, then makes the root read-only and checks that a write to it fails;
 *   2. loads the kernel modules of the kernel image, in the order of /bulwark/modules.order
 *      (finit_module; one that fails stops the boot);
 *   3. makes each container's cgroup (pids.max, memory.max) and state directory;
 *   4. runs the onboot containers one after another, each to completion; one that fails stops
 *      the boot (no service starts);
 *   5. starts the services, each a bulwark-stage executing its plan, and reports each exit on the
 *      console. Nothing is restarted; once no service is left the machine powers off.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define MANIFEST "/bulwark/manifest"
#define STAGE "/bulwark/bin/bulwark-stage"
#define MAX_CONTAINERS 64

struct container {
    char kind[8];
    char name[64];
    unsigned long long pids, memory;
    pid_t pid;
};

static struct container C[MAX_CONTAINERS];
static int ncontainers;

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...) {
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf - 1, fmt, ap);
    va_end(ap);
    if (n < 0) {
        return;
    }
    if ((size_t)n > sizeof buf - 2) {
        n = (int)sizeof buf - 2;
    }
    buf[n++] = '\n';
    dprintf(2, "bulwark-init: %.*s", n, buf);
}

static void halt(const char *why) {
    say("%s: powering off", why);
    sync();
    reboot(RB_POWER_OFF);
    for (;;) {
        pause();
    }
}

static void must_mount(const char *src, const char *dst, const char *type, unsigned long flags, const char *data) {
    if (mount(src, dst, type, flags, data) < 0) {
        say("mount %s on %s (%s): %s", src ? src : "(none)", dst, type ? type : "bind", strerror(errno));
        halt("cannot set up the root");
    }
}

static int write_file(const char *path, const char *s) {
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
        return -1;
    }
    size_t len = strlen(s);
    ssize_t n = write(fd, s, len);
    int saved = errno;
    close(fd);
    errno = saved;
    return n == (ssize_t)len ? 0 : -1;
}

static void setup_root(void) {
    /* A bind of the initramfs moved onto "/" and entered: the root is then a mount with a parent,
     * which pivot_root (in each container's stage) requires. */
    must_mount("/", "/bulwark/root", NULL, MS_BIND, NULL);
    if (chdir("/bulwark/root") < 0) {
        say("chdir /bulwark/root: %s", strerror(errno));
        halt("cannot set up the root");
    }
    must_mount(".", "/", NULL, MS_MOVE, NULL);
    if (chroot(".") < 0 || chdir("/") < 0) {
        say("chroot: %s", strerror(errno));
        halt("cannot set up the root");
    }
    must_mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
    must_mount("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
    must_mount("devtmpfs", "/dev", "devtmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755");
    must_mount("tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0755");
    must_mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
    must_mount("cgroup2", "/sys/fs/cgroup", "cgroup2", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
    must_mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL);

    int fd = open("/.bulwark-write-probe", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0) {
        close(fd);
        unlink("/.bulwark-write-probe");
        halt("the root is writable after the read-only remount");
    }
    say("root is read-only: a write to / fails: %s", strerror(errno));

    static const char *const ns[] = {"mnt", "pid", "net", "ipc", "uts", "cgroup"};
    char line[512];
    size_t off = 0;
    for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++) {
        char p[64], target[64];
        snprintf(p, sizeof p, "/proc/self/ns/%s", ns[i]);
        ssize_t n = readlink(p, target, sizeof target - 1);
        target[n > 0 ? n : 0] = '\0';
        off += (size_t)snprintf(line + off, sizeof line - off, " %s", target);
    }
    say("init namespaces:%s", line);
}

static void load_modules(void) {
    FILE *f = fopen("/bulwark/modules.order", "re");
    if (!f) {
        if (errno == ENOENT) {
            return;
        }
        say("open /bulwark/modules.order: %s", strerror(errno));
        halt("cannot read the module list");
    }
    char name[80];
    while (fgets(name, sizeof name, f)) {
        name[strcspn(name, "\n")] = '\0';
        if (!name[0]) {
            continue;
        }
        char p[128];
        snprintf(p, sizeof p, "/bulwark/modules/%s.ko", name);
        int fd = open(p, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || syscall(SYS_finit_module, fd, "", 0) < 0) {
            if (errno != EEXIST) {
                say("module %s: %s", name, strerror(errno));
                halt("a kernel module failed to load");
            }
        }
        if (fd >= 0) {
            close(fd);
        }
        say("module %s: loaded", name);
    }
    fclose(f);
}

static void read_manifest(void) {
    FILE *f = fopen(MANIFEST, "re");
    if (!f) {
        say("open %s: %s", MANIFEST, strerror(errno));
        halt("no manifest");
    }
    char line[256];
    while (fgets(line, sizeof line, f)) {
        if (ncontainers == MAX_CONTAINERS) {
            halt("more than 64 containers in the manifest");
        }
        struct container *c = &C[ncontainers];
        if (sscanf(line, "%7s %63s %llu %llu", c->kind, c->name, &c->pids, &c->memory) != 4
                || (strcmp(c->kind, "onboot") && strcmp(c->kind, "service"))) {
            say("manifest line %d is malformed: %s", ncontainers + 1, line);
            halt("bad manifest");
        }
        ncontainers++;
    }
    fclose(f);
}

static void prepare(const struct container *c) {
    char p[160], v[32];
    snprintf(p, sizeof p, "/sys/fs/cgroup/%s", c->name);
    if (mkdir(p, 0755) < 0 && errno != EEXIST) {
        say("%s %s: mkdir %s: %s", c->kind, c->name, p, strerror(errno));
        halt("cannot make a container's cgroup");
    }
    snprintf(p, sizeof p, "/sys/fs/cgroup/%s/pids.max", c->name);
    snprintf(v, sizeof v, c->pids ? "%llu" : "max", c->pids);
    if (write_file(p, v) < 0) {
        say("%s %s: write %s to %s: %s", c->kind, c->name, v, p, strerror(errno));
        halt("cannot set a container's pids limit");
    }
    if (c->memory) {
        snprintf(p, sizeof p, "/sys/fs/cgroup/%s/memory.max", c->name);
        snprintf(v, sizeof v, "%llu", c->memory);
        if (write_file(p, v) < 0) {
            say("%s %s: write %s to %s: %s", c->kind, c->name, v, p, strerror(errno));
            halt("cannot set a container's memory limit");
        }
    }
    snprintf(p, sizeof p, "/run/bulwark/%s", c->name);
    if (mkdir(p, 0700) < 0) {
        say("mkdir %s: %s", p, strerror(errno));
        halt("cannot make a container's state directory");
    }
}

static pid_t spawn(const struct container *c) {
    char plan[160];
    snprintf(plan, sizeof plan, "/bulwark/plans/%s.plan", c->name);
    pid_t pid = fork();
    if (pid < 0) {
        say("%s %s: fork: %s", c->kind, c->name, strerror(errno));
        return -1;
    }
    if (pid == 0) {
        char *argv[] = {(char *)STAGE, plan, NULL};
        char *envp[] = {(char *)"PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL};
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        execve(STAGE, argv, envp);
        dprintf(2, "bulwark-init: exec %s: %s\n", STAGE, strerror(errno));
        _exit(127);
    }
    return pid;
}

static void describe(const struct container *c, int status, char *buf, size_t len) {
    if (WIFEXITED(status)) {
        snprintf(buf, len, "exited with status %d", WEXITSTATUS(status));
    } else if (WIFSIGNALED(status)) {
        snprintf(buf, len, "killed by signal %d", WTERMSIG(status));
    } else {
        snprintf(buf, len, "ended (wait status %d)", status);
    }
    /* The stage writes why it failed here (its plan's error file). */
    char p[160], msg[512];
    snprintf(p, sizeof p, "/run/bulwark/%s/stage-error", c->name);
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        ssize_t n = read(fd, msg, sizeof msg - 1);
        close(fd);
        if (n > 0) {
            msg[n] = '\0';
            msg[strcspn(msg, "\n")] = '\0';
            size_t used = strlen(buf);
            snprintf(buf + used, len - used, " (stage: %s)", msg);
        }
    }
}

static struct container *by_pid(pid_t pid) {
    for (int i = 0; i < ncontainers; i++) {
        if (C[i].pid == pid) {
            return &C[i];
        }
    }
    return NULL;
}

int main(void) {
    if (getpid() != 1) {
        dprintf(2, "bulwark-init: must run as PID 1 of a built system\n");
        return 1;
    }
    if (fcntl(2, F_GETFD) < 0) {
        int fd = open("/dev/console", O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (fd >= 0) {
            dup2(fd, 0);
            dup2(fd, 1);
            dup2(fd, 2);
        }
    }
    setup_root();
    load_modules();
    read_manifest();
    if (write_file("/sys/fs/cgroup/cgroup.subtree_control", "+pids") < 0) {
        say("enable the pids controller: %s", strerror(errno));
        halt("no pids controller");
    }
    if (write_file("/sys/fs/cgroup/cgroup.subtree_control", "+memory") < 0) {
        say("enable the memory controller: %s (memory limits cannot be set)", strerror(errno));
    }
    if (mkdir("/run/bulwark", 0700) < 0) {
        say("mkdir /run/bulwark: %s", strerror(errno));
        halt("cannot make the state directory");
    }
    for (int i = 0; i < ncontainers; i++) {
        prepare(&C[i]);
    }

    char what[768];
    for (int i = 0; i < ncontainers; i++) {
        struct container *c = &C[i];
        if (strcmp(c->kind, "onboot")) {
            continue;
        }
        say("onboot %s: starting", c->name);
        c->pid = spawn(c);
        int status = -1;
        pid_t got;
        while (c->pid > 0 && (got = wait(&status)) != c->pid) {
            if (got < 0 && errno != EINTR) {
                break;
            }
        }
        describe(c, status, what, sizeof what);
        c->pid = 0;
        say("onboot %s: %s", c->name, what);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            halt("an onboot container failed, no service is started");
        }
    }

    int running = 0;
    for (int i = 0; i < ncontainers; i++) {
        struct container *c = &C[i];
        if (strcmp(c->kind, "service")) {
            continue;
        }
        c->pid = spawn(c);
        if (c->pid > 0) {
            running++;
            say("service %s: started (stage PID %d)", c->name, (int)c->pid);
        }
    }
    say("boot complete: %d service(s) running", running);
    while (running > 0) {
        int status;
        pid_t pid = wait(&status);
        if (pid < 0) {
            if (errno == EINTR) {
                continue;
            }
            break;
        }
        struct container *c = by_pid(pid);
        if (c) {
            describe(c, status, what, sizeof what);
            say("service %s: %s; not restarted", c->name, what);
            c->pid = 0;
            running--;
        }
    }
    halt("no service is left running");
}
