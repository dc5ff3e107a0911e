/*
 * bulwark: the command. A small static client of the warm Java planner (docs/planner.md).
 *
 * For each call it connects to the planner's socket, sends argv, the working directory, the
 * environment and its PID, and gets back output to print and an exit status, or a stage to run.
 * It runs the stage itself, so a container's init stays its descendant and the caller's
 * subreaper (containerd's shim, conmon) adopts it, and it forwards SIGINT, SIGTERM and SIGHUP
 * to the stage's control FIFO while a foreground container runs.
 *
 * Without a planner, or with one that refuses the call, dies or hangs, it runs the call on the
 * direct path: it becomes the JVM (execv, so its PID and start time stay the same, which lets
 * the Java side recognise a create this very call began). A call whose stage it already ran is
 * finished there with the planner's `__resume` arguments and the stage's status. It makes no
 * decision about containers; the planner and the direct path are the same Java code.
 *
 * The first call that finds no planner starts one, detached, and runs on the direct path itself.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef BUILD_ID
#error "BUILD_ID must be defined (the Makefile passes the build's ID)"
#endif

#define MAGIC "bulwark-planner/1"
#define PLANNER_DIR "/run/bulwark-planner"
#define MAX_FRAME (1u << 20)
#define HEARTBEAT_TIMEOUT_MS 10000

extern char **environ;

static char dir[PATH_MAX];       /* where this executable, the stage and the build are */
static char stage_path[PATH_MAX + 32];
static int planner_fd = -1;
static pid_t planner_pid = -1;

static __attribute__((noreturn, format(printf, 1, 2))) void fail(const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    dprintf(2, "bulwark: %s\n", msg);
    exit(1);
}

static int debug(void) {
    const char *d = getenv("BULWARK_CLIENT_DEBUG");
    return d && *d;
}

/* ---- the direct path: this process becomes the JVM ---- */

/* KEY='value' from the build's launcher.env, or the environment's KEY when set (tests). */
static char *launcher_value(const char *key) {
    const char *env = getenv(key);
    if (env) {
        return strdup(env);
    }
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/../launcher.env", dir);
    FILE *f = fopen(path, "re");
    if (!f) {
        fail("cannot read %s: %s (build with scripts/build.sh)", path, strerror(errno));
    }
    char line[8192];
    size_t klen = strlen(key);
    char *out = NULL;
    while (!out && fgets(line, sizeof line, f)) {
        if (!strncmp(line, key, klen) && line[klen] == '=' && line[klen + 1] == '\'') {
            char *v = line + klen + 2, *end = strrchr(v, '\'');
            if (end) {
                *end = '\0';
                out = strdup(v);
            }
        }
    }
    fclose(f);
    if (!out) {
        fail("%s has no %s", path, key);
    }
    return out;
}

/*
 * Appends the words of opts (space-separated). The planner leaves out C1-only and the AOT cache
 * (trained without native access, which the planner's FFM needs, so the JVM would refuse it);
 * pulls and image commands leave out C1-only.
 */
static int add_words(char **argv, int n, char *opts, int c2, int planner) {
    for (char *w = strtok(opts, " "); w; w = strtok(NULL, " ")) {
        if ((c2 && !strcmp(w, "-XX:TieredStopAtLevel=1")) || (planner && !strncmp(w, "-XX:AOTCache=", 13))) {
            continue;
        }
        argv[n++] = w;
    }
    return n;
}

/* True for the commands whose work is hashing and unpacking: they want the optimising compiler. */
static int wants_c2(char **args, int nargs) {
    for (int i = 0; i < nargs; i++) {
        const char *a = args[i];
        if (a[0] == '-') {
            continue;
        }
        return !strcmp(a, "import") || !strcmp(a, "export") || !strcmp(a, "unpack") || !strcmp(a, "pull") ||
               !strcmp(a, "push") || !strcmp(a, "__planner");
    }
    return 0;
}

/* exec the JVM: `java OPTS -Dbulwark.stage=... -cp CP dev.bulwark.cli.Main ARGS...`. */
static __attribute__((noreturn)) void exec_java(char **args, int nargs, const char *extra_opt) {
    char *java = launcher_value("BULWARK_JAVA");
    char *opts = launcher_value("BULWARK_JAVA_OPTS");
    char *cp = getenv("BULWARK_CLASSPATH");
    char jar[PATH_MAX + 32], stage_prop[PATH_MAX + 64];
    if (!cp) {
        snprintf(jar, sizeof jar, "%s/../bulwark.jar", dir);
        cp = jar;
    }
    snprintf(stage_prop, sizeof stage_prop, "-Dbulwark.stage=%s", stage_path);
    char **argv = calloc((size_t)nargs + 64 + strlen(opts) / 2, sizeof *argv);
    if (!argv) {
        fail("out of memory");
    }
    int n = 0;
    argv[n++] = java;
    n = add_words(argv, n, opts, wants_c2(args, nargs), extra_opt != NULL);
    if (extra_opt) {
        argv[n++] = (char *)extra_opt;
    }
    argv[n++] = stage_prop;
    argv[n++] = "-cp";
    argv[n++] = cp;
    argv[n++] = "dev.bulwark.cli.Main";
    for (int i = 0; i < nargs; i++) {
        argv[n++] = args[i];
    }
    argv[n] = NULL;
    /* File names in images are UTF-8; the JVM takes its file-name encoding from the locale. */
    setenv("LC_ALL", "C.UTF-8", 1);
    if (planner_fd >= 0) {
        close(planner_fd);
    }
    execv(java, argv);
    fail("cannot run the JVM %s: %s", java, strerror(errno));
}

/* ---- starting a planner ---- */

static void ns_link(const char *name, char *out, size_t len) {
    char path[64];
    snprintf(path, sizeof path, "/proc/self/ns/%s", name);
    ssize_t n = readlink(path, out, len - 1);
    out[n > 0 ? n : 0] = '\0';
}

/*
 * The planner's socket: BULWARK_PLANNER_SOCKET, else one per build and mount namespace, since a
 * planner serves only callers that see its mounts (a benchmark's private namespace gets its own).
 * A systemd socket unit listens on the plain per-build name, tried second.
 */
static void socket_path(char *out, size_t len, int systemd) {
    const char *s = getenv("BULWARK_PLANNER_SOCKET");
    char mnt[64], *digits;
    ns_link("mnt", mnt, sizeof mnt);
    digits = strchr(mnt, '[');
    if (s && *s) {
        snprintf(out, len, "%s", s);
    } else if (systemd || !digits) {
        snprintf(out, len, "%s/%s.sock", PLANNER_DIR, BUILD_ID);
    } else {
        snprintf(out, len, "%s/%s-%.*s.sock", PLANNER_DIR, BUILD_ID, (int)strcspn(digits + 1, "]"), digits + 1);
    }
}

/*
 * Starts a planner on sock, detached: a grandchild in a session of its own, output to sock.log.
 * One start at a time: the starter holds sock.start's lock, and the planner inherits that lock
 * until it listens (`--start-lock-fd`), so concurrent first calls start one JVM, not many.
 */
static void start_planner(const char *sock) {
    if (geteuid() != 0) {
        return; /* the planner serves root; others take the direct path, which tells them what it needs */
    }
    char path[PATH_MAX + 16], lockfd[16];
    snprintf(path, sizeof path, "%s", sock);
    char *slash = strrchr(path, '/');
    if (slash && slash != path) {
        *slash = '\0';
        if (mkdir(path, 0700) < 0 && errno != EEXIST) {
            return;
        }
    }
    snprintf(path, sizeof path, "%s.start", sock);
    int lock = open(path, O_RDWR | O_CREAT, 0600);
    if (lock < 0 || flock(lock, LOCK_EX | LOCK_NB) < 0) {
        if (lock >= 0) {
            close(lock);
        }
        return; /* another call is starting it */
    }
    pid_t child = fork();
    if (child < 0) {
        close(lock);
        return;
    }
    if (child == 0) {
        setsid();
        if (fork() != 0) {
            _exit(0);
        }
        snprintf(path, sizeof path, "%s.log", sock);
        int log = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (log < 0 || null < 0 || dup2(null, 0) < 0 || dup2(log, 1) < 0 || dup2(log, 2) < 0 || chdir("/") < 0) {
            _exit(127);
        }
        /* Only stdio and the start lock go to the planner. */
        for (int fd = 3; fd < 1024; fd++) {
            if (fd != lock) {
                close(fd);
            }
        }
        snprintf(lockfd, sizeof lockfd, "%d", lock);
        const char *idle = getenv("BULWARK_PLANNER_IDLE");
        char *args[] = {"__planner", "--socket", (char *)sock, "--start-lock-fd", lockfd,
                        "--idle-timeout", (char *)(idle && *idle ? idle : "600"), NULL};
        exec_java(args, 7, "--enable-native-access=ALL-UNNAMED");
    }
    close(lock);
    waitpid(child, NULL, 0);
}

/* ---- frames ---- */

static void put32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint32_t get32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

struct buf {
    uint8_t *b;
    size_t len, cap;
};

static void buf_add(struct buf *b, const void *data, size_t n) {
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2 + 256;
        b->b = realloc(b->b, b->cap);
        if (!b->b) {
            fail("out of memory");
        }
    }
    memcpy(b->b + b->len, data, n);
    b->len += n;
}

static void buf_u32(struct buf *b, uint32_t v) {
    uint8_t p[4];
    put32(p, v);
    buf_add(b, p, 4);
}

static void buf_str(struct buf *b, const char *s) {
    size_t n = strlen(s);
    buf_u32(b, (uint32_t)n);
    buf_add(b, s, n);
}

static int send_all(int fd, const void *data, size_t n) {
    const uint8_t *p = data;
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int send_frame(int fd, char type, const struct buf *payload) {
    uint8_t h[5] = {(uint8_t)type};
    put32(h + 1, (uint32_t)payload->len);
    return send_all(fd, h, 5) < 0 || send_all(fd, payload->b, payload->len) < 0 ? -1 : 0;
}

/* Reads n bytes; timeout_ms < 0 waits forever. 0 on success, -1 on EOF, error or a hung planner. */
static int recv_all(int fd, void *data, size_t n, int timeout_ms) {
    uint8_t *p = data;
    while (n > 0) {
        if (timeout_ms >= 0) {
            struct pollfd pfd = {fd, POLLIN, 0};
            int r = poll(&pfd, 1, timeout_ms);
            if (r < 0 && errno == EINTR) {
                continue;
            }
            if (r == 0) {
                /* No heartbeat: a planner that is alive sends one every second. One that is
                 * frozen is killed, so that this call's fallback never races it. */
                dprintf(2, "bulwark: the planner (pid %d) sent nothing for %d s; killing it and running the call directly\n",
                        (int)planner_pid, timeout_ms / 1000);
                if (planner_pid > 0) {
                    kill(planner_pid, SIGKILL);
                }
                return -1;
            }
        }
        ssize_t r = recv(fd, p, n, 0);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            return -1;
        }
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

struct frame {
    char type;
    uint8_t *data;
    uint32_t len, pos;
};

static int recv_frame(int fd, struct frame *f) {
    uint8_t h[5];
    if (recv_all(fd, h, 5, HEARTBEAT_TIMEOUT_MS) < 0) {
        return -1;
    }
    f->type = (char)h[0];
    f->len = get32(h + 1);
    f->pos = 0;
    if (f->len > MAX_FRAME) {
        return -1;
    }
    free(f->data);
    f->data = malloc(f->len + 1);
    if (!f->data || recv_all(fd, f->data, f->len, HEARTBEAT_TIMEOUT_MS) < 0) {
        return -1;
    }
    f->data[f->len] = 0;
    return 0;
}

static int frame_u32(struct frame *f, uint32_t *v) {
    if (f->len - f->pos < 4) {
        return -1;
    }
    *v = get32(f->data + f->pos);
    f->pos += 4;
    return 0;
}

/* A string of the frame, NUL-terminated in a fresh allocation. */
static char *frame_str(struct frame *f) {
    uint32_t n;
    if (frame_u32(f, &n) < 0 || f->len - f->pos < n) {
        return NULL;
    }
    char *s = malloc((size_t)n + 1);
    if (!s) {
        fail("out of memory");
    }
    memcpy(s, f->data + f->pos, n);
    s[n] = '\0';
    f->pos += n;
    return s;
}

/* A string list of the frame as a NULL-terminated array, with `extra` free slots before the NULL. */
static char **frame_strs(struct frame *f, uint32_t *count, int extra) {
    uint32_t n;
    if (frame_u32(f, &n) < 0 || n > f->len) {
        return NULL;
    }
    char **v = calloc((size_t)n + (size_t)extra + 1, sizeof *v);
    if (!v) {
        fail("out of memory");
    }
    for (uint32_t i = 0; i < n; i++) {
        if (!(v[i] = frame_str(f))) {
            return NULL;
        }
    }
    *count = n;
    return v;
}

/* ---- the stage ---- */

static volatile sig_atomic_t pending[65];

static void on_signal(int sig) {
    pending[sig] = 1;
}

/* Writes signo to the control FIFO, which the stage creates early; waits a little for it to exist. */
static void forward(const char *control, int signo) {
    for (int i = 0; i < 200; i++) {
        int fd = open(control, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
        if (fd >= 0) {
            unsigned char b = (unsigned char)signo;
            if (write(fd, &b, 1) < 0) {
                dprintf(2, "bulwark: cannot forward signal %d: %s\n", signo, strerror(errno));
            }
            close(fd);
            return;
        }
        struct timespec ts = {0, 5000000};
        nanosleep(&ts, NULL);
    }
    dprintf(2, "bulwark: cannot forward signal %d: %s does not exist\n", signo, control);
}

/* Runs the stage with args; returns its status as the JVM reports a child's (128+N for signal N). */
static int run_stage(char **args, uint32_t nargs, int stdin_null, const char *control) {
    static const int FORWARDED[] = {SIGINT, SIGTERM, SIGHUP};
    struct sigaction sa = {0}, old[3];
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    if (*control) {
        for (int i = 0; i < 3; i++) {
            sigaction(FORWARDED[i], &sa, &old[i]);
        }
    }
    char **argv = calloc((size_t)nargs + 2, sizeof *argv);
    if (!argv) {
        fail("out of memory");
    }
    argv[0] = stage_path;
    memcpy(argv + 1, args, nargs * sizeof *args);
    pid_t pid = fork();
    if (pid < 0) {
        fail("fork the stage: %s", strerror(errno));
    }
    if (pid == 0) {
        /* The stage sets up its own signal handling; it starts from the defaults. */
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        signal(SIGHUP, SIG_DFL);
        if (planner_fd >= 0) {
            close(planner_fd);
        }
        if (stdin_null) {
            int null = open("/dev/null", O_RDONLY);
            if (null < 0 || dup2(null, 0) < 0) {
                _exit(127);
            }
            close(null);
        }
        execv(stage_path, argv);
        dprintf(2, "bulwark: cannot run the stage %s: %s\n", stage_path, strerror(errno));
        _exit(127);
    }
    int st;
    for (;;) {
        pid_t w = waitpid(pid, &st, 0);
        if (w == pid) {
            break;
        }
        if (w < 0 && errno != EINTR) {
            fail("wait for the stage: %s", strerror(errno));
        }
        for (int i = 0; i < 3; i++) {
            if (pending[FORWARDED[i]]) {
                pending[FORWARDED[i]] = 0;
                forward(control, FORWARDED[i]);
            }
        }
    }
    if (*control) {
        for (int i = 0; i < 3; i++) {
            sigaction(FORWARDED[i], &old[i], NULL);
        }
    }
    free(argv);
    return WIFEXITED(st) ? WEXITSTATUS(st) : WIFSIGNALED(st) ? 128 + WTERMSIG(st) : 255;
}

/* ---- a call through the planner ---- */

static int connect_planner(const char *sock) {
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (strlen(sock) >= sizeof addr.sun_path) {
        return -1;
    }
    strcpy(addr.sun_path, sock);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -1;
    }
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
        close(fd);
        return -1;
    }
    struct ucred cred;
    socklen_t cl = sizeof cred;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) == 0) {
        planner_pid = cred.pid;
        if (cred.uid != 0 && cred.uid != geteuid()) {
            /* The socket's directory is root's, but a planner must be root (or this user) too. */
            close(fd);
            return -1;
        }
    }
    return fd;
}

int main(int argc, char **argv) {
    ssize_t n = readlink("/proc/self/exe", dir, sizeof dir - 1);
    if (n <= 0) {
        fail("readlink /proc/self/exe: %s", strerror(errno));
    }
    dir[n] = '\0';
    *strrchr(dir, '/') = '\0';
    snprintf(stage_path, sizeof stage_path, "%s/bulwark-stage", dir);

    if (argc >= 2 && !strcmp(argv[1], "__planner-exec")) {
        /* The systemd service: the planner with the client's JVM settings. */
        argv[1] = "__planner";
        exec_java(argv + 1, argc - 1, "--enable-native-access=ALL-UNNAMED");
    }
    const char *mode = getenv("BULWARK_PLANNER");
    if (mode && !strcmp(mode, "off")) {
        exec_java(argv + 1, argc - 1, NULL);
    }
    char sock[PATH_MAX], unit_sock[PATH_MAX];
    socket_path(sock, sizeof sock, 0);
    planner_fd = connect_planner(sock);
    if (planner_fd < 0 && !getenv("BULWARK_PLANNER_SOCKET")) {
        socket_path(unit_sock, sizeof unit_sock, 1);
        planner_fd = connect_planner(unit_sock);
    }
    if (planner_fd < 0) {
        if (debug()) {
            dprintf(2, "bulwark: planner: none answers on %s; running directly\n", sock);
        }
        if (!(mode && !strcmp(mode, "no-start"))) {
            start_planner(sock);
        }
        exec_java(argv + 1, argc - 1, NULL);
    }

    struct buf req = {0};
    char ns[3][64], cwd[PATH_MAX];
    ns_link("mnt", ns[0], sizeof ns[0]);
    ns_link("pid", ns[1], sizeof ns[1]);
    ns_link("user", ns[2], sizeof ns[2]);
    if (!getcwd(cwd, sizeof cwd)) {
        exec_java(argv + 1, argc - 1, NULL); /* a deleted working directory: the JVM reports it */
    }
    buf_str(&req, MAGIC);
    buf_str(&req, BUILD_ID);
    for (int i = 0; i < 3; i++) {
        buf_str(&req, ns[i]);
    }
    buf_u32(&req, (uint32_t)getpid());
    buf_u32(&req, (uint32_t)((isatty(0) ? 1 : 0) | (isatty(1) ? 2 : 0) | (isatty(2) ? 4 : 0)));
    buf_str(&req, cwd);
    buf_u32(&req, (uint32_t)(argc - 1));
    for (int i = 1; i < argc; i++) {
        buf_str(&req, argv[i]);
    }
    uint32_t nenv = 0;
    for (char **e = environ; *e; e++) {
        nenv++;
    }
    buf_u32(&req, nenv);
    for (char **e = environ; *e; e++) {
        buf_str(&req, *e);
    }
    if (send_frame(planner_fd, 'Q', &req) < 0) {
        exec_java(argv + 1, argc - 1, NULL);
    }
    if (debug()) {
        dprintf(2, "bulwark: planner: pid %d takes the call\n", (int)planner_pid);
    }

    struct frame f = {0};
    char **resume = NULL;
    uint32_t nresume = 0;
    int status = -1;
    for (;;) {
        if (recv_frame(planner_fd, &f) < 0) {
            break; /* the planner died or hung */
        }
        switch (f.type) {
        case 'O':
        case 'E': {
            int out = f.type == 'O' ? 1 : 2;
            for (uint32_t off = 0; off < f.len;) {
                ssize_t w = write(out, f.data + off, f.len - off);
                if (w < 0 && errno == EINTR) {
                    continue;
                }
                if (w <= 0) {
                    break;
                }
                off += (uint32_t)w;
            }
            break;
        }
        case 'K':
            break; /* heartbeat */
        case 'X': {
            uint32_t code;
            if (frame_u32(&f, &code) < 0) {
                fail("the planner sent a bad exit frame");
            }
            return (int)code;
        }
        case 'D':
        case 'R':
            if (debug()) {
                dprintf(2, "bulwark: planner: %s %s\n", f.type == 'D' ? "direct:" : "refused:", f.data + 4);
            }
            exec_java(argv + 1, argc - 1, NULL);
        case 'G': {
            uint32_t nargs, stdin_null;
            char **args = frame_strs(&f, &nargs, 0);
            if (!args || f.pos >= f.len) {
                fail("the planner sent a bad stage frame");
            }
            stdin_null = f.data[f.pos++];
            char *control = frame_str(&f);
            resume = frame_strs(&f, &nresume, 1);
            if (!control || !resume) {
                fail("the planner sent a bad stage frame");
            }
            status = run_stage(args, nargs, stdin_null, control);
            struct buf st = {0};
            buf_u32(&st, (uint32_t)status);
            if (send_frame(planner_fd, 'S', &st) < 0) {
                goto lost;
            }
            free(st.b);
            break;
        }
        default:
            fail("the planner sent a frame of unknown type %d", f.type);
        }
    }
lost:
    if (status < 0) {
        /* Nothing was handed over: the call is safe to run again from the start. */
        if (debug()) {
            dprintf(2, "bulwark: planner: lost before the stage ran; running directly\n");
        }
        exec_java(argv + 1, argc - 1, NULL);
    }
    if (debug()) {
        dprintf(2, "bulwark: planner: lost after the stage ran (status %d); resuming directly\n", status);
    }
    /* The stage ran: finish the call as the planner would have (`__resume ... STATUS`). */
    char num[16];
    snprintf(num, sizeof num, "%d", status);
    resume[nresume] = num;
    exec_java(resume, (int)nresume + 1, NULL);
}
