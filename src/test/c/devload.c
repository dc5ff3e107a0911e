/*
 * Test helper: loads a cgroup device BPF program the way the native stage is meant to, attaches
 * it to a cgroup2 directory, moves itself into that cgroup and execs a command there.
 *
 *   devload PROGFILE CGROUPDIR PROG_TYPE ATTACH_TYPE ATTACH_FLAGS LICENSE CMD [ARGS...]
 *
 * The numbers come from DeviceProgram's constants, so the test checks those too.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static unsigned char insns[1 << 16];
static char verifier_log[1 << 16];

int main(int argc, char **argv) {
    if (argc < 8) {
        fprintf(stderr, "usage: devload PROGFILE CGROUPDIR PROG_TYPE ATTACH_TYPE ATTACH_FLAGS LICENSE CMD...\n");
        return 2;
    }
    int pf = open(argv[1], O_RDONLY | O_CLOEXEC);
    if (pf < 0) {
        perror(argv[1]);
        return 2;
    }
    ssize_t n = read(pf, insns, sizeof insns);
    close(pf);
    if (n <= 0 || n % 8 != 0) {
        fprintf(stderr, "%s: not a BPF program (%zd bytes)\n", argv[1], n);
        return 2;
    }
    union bpf_attr a;
    memset(&a, 0, sizeof a);
    a.prog_type = (uint32_t) atoi(argv[3]);
    a.insns = (uint64_t) (uintptr_t) insns;
    a.insn_cnt = (uint32_t) (n / 8);
    a.license = (uint64_t) (uintptr_t) argv[6];
    a.log_buf = (uint64_t) (uintptr_t) verifier_log;
    a.log_size = sizeof verifier_log;
    a.log_level = 1;
    int prog = (int) syscall(SYS_bpf, BPF_PROG_LOAD, &a, sizeof a);
    if (prog < 0) {
        fprintf(stderr, "BPF_PROG_LOAD: %s\n%s\n", strerror(errno), verifier_log);
        return 3;
    }
    int cg = open(argv[2], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (cg < 0) {
        perror(argv[2]);
        return 2;
    }
    memset(&a, 0, sizeof a);
    a.target_fd = (uint32_t) cg;
    a.attach_bpf_fd = (uint32_t) prog;
    a.attach_type = (uint32_t) atoi(argv[4]);
    a.attach_flags = (uint32_t) atoi(argv[5]);
    if (syscall(SYS_bpf, BPF_PROG_ATTACH, &a, sizeof a) < 0) {
        fprintf(stderr, "BPF_PROG_ATTACH: %s\n", strerror(errno));
        return 4;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/cgroup.procs", argv[2]);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0 || dprintf(fd, "%d", getpid()) < 0) {
        perror(path);
        return 2;
    }
    close(fd);
    close(prog);
    close(cg);
    execvp(argv[7], argv + 7);
    perror(argv[7]);
    return 127;
}
