/* Test helper: a console socket server, as containerd's shim runs one. It accepts one
 * connection, takes the pty master it carries (SCM_RIGHTS), types argv[2] into the terminal, and
 * copies everything the container writes to stdout until the terminal hangs up. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc != 3) {
        return 2;
    }
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    snprintf(addr.sun_path, sizeof addr.sun_path, "%s", argv[1]);
    if (bind(s, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(s, 1) < 0) {
        perror("bind");
        return 2;
    }
    printf("listening\n");
    fflush(stdout);
    int c = accept(s, NULL, NULL);
    char name[64] = "";
    union {
        char b[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } ctl;
    struct iovec iov = {name, sizeof name - 1};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.b, .msg_controllen = sizeof ctl.b};
    if (c < 0 || recvmsg(c, &mh, 0) < 0) {
        perror("recvmsg");
        return 2;
    }
    struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
    if (!cm || cm->cmsg_type != SCM_RIGHTS) {
        fprintf(stderr, "no fd received\n");
        return 2;
    }
    int master;
    memcpy(&master, CMSG_DATA(cm), sizeof master);
    printf("received %s\n", name);
    fflush(stdout);
    if (write(master, argv[2], strlen(argv[2])) < 0) {
        perror("write");
    }
    char buf[4096];
    for (;;) {
        struct pollfd p = {master, POLLIN, 0};
        if (poll(&p, 1, 20000) <= 0) {
            fprintf(stderr, "timeout\n");
            return 3;
        }
        ssize_t n = read(master, buf, sizeof buf);
        if (n <= 0) {
            return 0; /* EIO: the container's side of the terminal is closed */
        }
        fwrite(buf, 1, (size_t)n, stdout);
        fflush(stdout);
    }
}
