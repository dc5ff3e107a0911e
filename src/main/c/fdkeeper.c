/*
 * bulwark-fdkeeper SOCKET: holds the agent's seccomp notify fds, so a restarted agent can take
 * them back (pidfd_getfd) and containers created before the restart stay supervised.
 *
 * Listens on SOCKET (AF_UNIX). On each connection, one message:
 *   "keep" with one fd (SCM_RIGHTS)   -> keeps it, answers "N\n" (its number here)
 *   "drop N"                          -> closes N (the container is gone), answers "ok\n"
 * It makes no decision and reads no notification; while it holds an fd whose agent is gone,
 * trapped calls wait for the next agent instead of failing (they never succeed unchecked).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: bulwark-fdkeeper SOCKET\n");
        return 2;
    }
    int srv = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (strlen(argv[1]) >= sizeof addr.sun_path) {
        fprintf(stderr, "bulwark-fdkeeper: socket path %s is too long\n", argv[1]);
        return 1;
    }
    strcpy(addr.sun_path, argv[1]);
    unlink(argv[1]);
    if (srv < 0 || bind(srv, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(srv, 16) < 0) {
        fprintf(stderr, "bulwark-fdkeeper: listen on %s: %s\n", argv[1], strerror(errno));
        return 1;
    }
    printf("listening\n");
    fflush(stdout);
    for (;;) {
        int c = accept4(srv, NULL, NULL, SOCK_CLOEXEC);
        if (c < 0) {
            continue;
        }
        char buf[64] = {0};
        union {
            char b[CMSG_SPACE(sizeof(int))];
            struct cmsghdr align;
        } ctl;
        struct iovec iov = {buf, sizeof buf - 1};
        struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.b, .msg_controllen = sizeof ctl.b};
        ssize_t n = recvmsg(c, &mh, 0);
        struct cmsghdr *cm = n > 0 ? CMSG_FIRSTHDR(&mh) : NULL;
        char reply[32] = "error\n";
        if (n > 0 && !strncmp(buf, "keep", 4) && cm && cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS &&
            cm->cmsg_len == CMSG_LEN(sizeof(int))) {
            int fd;
            memcpy(&fd, CMSG_DATA(cm), sizeof fd);
            snprintf(reply, sizeof reply, "%d\n", fd);
        } else if (n > 0 && !strncmp(buf, "drop ", 5)) {
            int fd = atoi(buf + 5);
            if (fd > 2 && fd != srv && fd != c && close(fd) == 0) {
                strcpy(reply, "ok\n");
            }
        }
        if (write(c, reply, strlen(reply)) < 0) {
            /* the agent went away mid-exchange: it will find the record missing and not rely on it */
        }
        close(c);
    }
}
