/*
 * Test helper: a seccomp listener as the runtime-spec describes one, for SeccompContainerTest.
 * Listens on a unix socket, accepts one connection from the runtime, receives the notify fd
 * (SCM_RIGHTS) and the container process state, then handles one notification.
 *
 *   listener PATH continue     let the trapped syscall run (SECCOMP_USER_NOTIF_FLAG_CONTINUE)
 *   listener PATH errno N      make it fail with errno N
 *   listener PATH close        close the fd without answering (the supervisor is gone)
 *
 * Prints "listening", then "state JSON", then "notif PID NR" and "answered" (or "closed").
 * Java cannot receive SCM_RIGHTS, hence C. Gives up after 30 s.
 */
#include <linux/seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static void fail(const char *what) {
    perror(what);
    exit(1);
}

int main(int argc, char **argv) {
    if (argc < 3 || (!strcmp(argv[2], "errno") && argc < 4)) {
        fprintf(stderr, "usage: listener PATH continue|errno N|close\n");
        return 2;
    }
    alarm(30);
    int srv = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    snprintf(addr.sun_path, sizeof addr.sun_path, "%s", argv[1]);
    if (srv < 0 || bind(srv, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(srv, 1) < 0) {
        fail("bind");
    }
    printf("listening\n");
    fflush(stdout);
    int c = accept(srv, NULL, NULL);
    if (c < 0) {
        fail("accept");
    }
    static char state[65536];
    union {
        char b[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } ctl;
    struct iovec iov = {state, sizeof state - 1};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.b, .msg_controllen = sizeof ctl.b};
    ssize_t n = recvmsg(c, &mh, 0);
    struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
    if (n <= 0 || !cm || cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS) {
        fprintf(stderr, "listener: no fd received\n");
        return 1;
    }
    int fd;
    memcpy(&fd, CMSG_DATA(cm), sizeof fd);
    state[n] = 0;
    printf("state %s\n", state);
    fflush(stdout);
    close(c);
    if (!strcmp(argv[2], "close")) {
        close(fd);
        printf("closed\n");
        return 0;
    }
    struct seccomp_notif req;
    struct seccomp_notif_resp resp;
    memset(&req, 0, sizeof req);
    if (ioctl(fd, SECCOMP_IOCTL_NOTIF_RECV, &req) < 0) {
        fail("SECCOMP_IOCTL_NOTIF_RECV");
    }
    printf("notif %u %d\n", req.pid, req.data.nr);
    memset(&resp, 0, sizeof resp);
    resp.id = req.id;
    if (!strcmp(argv[2], "continue")) {
        resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
    } else {
        resp.error = -atoi(argv[3]);
    }
    if (ioctl(fd, SECCOMP_IOCTL_NOTIF_SEND, &resp) < 0) {
        fail("SECCOMP_IOCTL_NOTIF_SEND");
    }
    printf("answered\n");
    return 0;
}
