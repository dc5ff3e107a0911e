package dev.bulwark.agent;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.nio.charset.StandardCharsets;

/**
 * The few libc calls the agent needs, through FFM (the JDK has no SCM_RIGHTS, no ioctl, no
 * pidfd). The rest of the agent sees ints and byte arrays, never a MemorySegment, except the
 * two classes on a trapped call's hot path, which keep their own memory and call {@link #sys}:
 * {@link Board} (the memory shared with the helper's workers) and {@link Context} (the caller's
 * /proc reads). Each failure is an {@link AgentException} naming the call and errno.
 */
final class Native {
    private Native() {}

    static final int EPERM = 1;
    static final int ENOENT = 2;
    static final int EINTR = 4;
    static final int ENOSYS = 38;

    // linux/seccomp.h, as _IOWR('!', n, size)
    private static final long NOTIF_RECV = 0xc0502100L;
    private static final long NOTIF_SEND = 0xc0182101L;
    private static final long NOTIF_ID_VALID = 0x40082102L;
    private static final long NOTIF_ADDFD = 0x40182103L;
    private static final long NOTIF_SET_FLAGS = 0x40082104L;
    static final int USER_NOTIF_FLAG_CONTINUE = 1;
    private static final int ADDFD_FLAG_SEND = 2;
    private static final int O_CLOEXEC = 02000000;

    private static final Linker LINKER = Linker.nativeLinker();
    private static final StructLayout CCS = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = CCS.varHandle(MemoryLayout.PathElement.groupElement("errno"));
    private static final ValueLayout.OfInt I = ValueLayout.JAVA_INT;
    private static final ValueLayout.OfLong L = ValueLayout.JAVA_LONG;
    private static final java.lang.foreign.AddressLayout P = ValueLayout.ADDRESS;

    private static final MethodHandle SOCKET = fn("socket", FunctionDescriptor.of(I, I, I, I));
    private static final MethodHandle BIND = fn("bind", FunctionDescriptor.of(I, I, P, I));
    private static final MethodHandle LISTEN = fn("listen", FunctionDescriptor.of(I, I, I));
    private static final MethodHandle ACCEPT4 = fn("accept4", FunctionDescriptor.of(I, I, P, P, I));
    private static final MethodHandle RECVMSG = fn("recvmsg", FunctionDescriptor.of(L, I, P, I));
    private static final MethodHandle SEND = fn("send", FunctionDescriptor.of(L, I, P, L, I));
    private static final MethodHandle SENDMSG = fn("sendmsg", FunctionDescriptor.of(L, I, P, I));
    private static final MethodHandle CONNECT = fn("connect", FunctionDescriptor.of(I, I, P, I));
    private static final MethodHandle READ = fn("read", FunctionDescriptor.of(L, I, P, L));
    private static final MethodHandle OPEN = fn("open", FunctionDescriptor.of(I, P, I));
    private static final MethodHandle PROCESS_VM_READV = fn("process_vm_readv", FunctionDescriptor.of(L, I, P, L, P, L, L));
    private static final MethodHandle CLOSE = fn("close", FunctionDescriptor.of(I, I));
    private static final MethodHandle PWRITE = fn("pwrite", FunctionDescriptor.of(L, I, P, L, L));
    private static final MethodHandle IOCTL = fn("ioctl", FunctionDescriptor.of(I, I, L, P));
    private static final MethodHandle POLL = fn("poll", FunctionDescriptor.of(I, P, L, I));
    private static final MethodHandle SYSCALL3 = fn("syscall", FunctionDescriptor.of(L, L, L, L, L));
    private static final MethodHandle SYSCALL6 = fn("syscall", FunctionDescriptor.of(L, L, L, L, L, L, L, L));

    private static MethodHandle fn(String name, FunctionDescriptor d) {
        var addr = LINKER.defaultLookup().find(name).orElseThrow(() -> new AgentException("libc has no " + name));
        if (name.equals("syscall")) {
            return LINKER.downcallHandle(addr, d, Linker.Option.captureCallState("errno"), Linker.Option.firstVariadicArg(1));
        }
        if (name.equals("ioctl")) {
            return LINKER.downcallHandle(addr, d, Linker.Option.captureCallState("errno"), Linker.Option.firstVariadicArg(2));
        }
        return LINKER.downcallHandle(addr, d, Linker.Option.captureCallState("errno"));
    }

    /** A failed call: errno and a message naming the call. */
    static final class Errno extends AgentException {
        final int errno;

        Errno(String call, int errno) {
            super(call + " failed: errno " + errno);
            this.errno = errno;
        }
    }

    private static int errno(MemorySegment ccs) {
        return (int) ERRNO.get(ccs, 0L);
    }

    private static long check(String call, long r, MemorySegment ccs) {
        if (r < 0) {
            throw new Errno(call, errno(ccs));
        }
        return r;
    }

    private static AgentException wrap(String call, Throwable t) {
        return t instanceof AgentException a ? a : new AgentException(call + ": " + t, t);
    }

    private static MemorySegment unixAddr(Arena a, String path) {
        byte[] p = path.getBytes(StandardCharsets.UTF_8);
        if (p.length >= 108) {
            throw new AgentException("socket path " + path + " is longer than 107 bytes");
        }
        MemorySegment addr = a.allocate(110);
        addr.set(ValueLayout.JAVA_SHORT, 0, (short) 1);
        MemorySegment.copy(p, 0, addr, ValueLayout.JAVA_BYTE, 2, p.length);
        return addr;
    }

    /**
     * One exchange with an AF_UNIX server: connect, send data (with fd over SCM_RIGHTS when fd >= 0),
     * read the one-line answer.
     */
    static String exchange(String path, byte[] data, int fd) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment ccs = a.allocate(CCS);
            int s = (int) check("socket(AF_UNIX)", (int) SOCKET.invokeExact(ccs, 1, 1 | O_CLOEXEC, 0), ccs);
            try {
                check("connect(" + path + ")", (int) CONNECT.invokeExact(ccs, s, unixAddr(a, path), 110), ccs);
                MemorySegment buf = a.allocateFrom(ValueLayout.JAVA_BYTE, data);
                MemorySegment iov = a.allocate(16, 8);
                iov.set(P, 0, buf);
                iov.set(L, 8, data.length);
                MemorySegment msg = a.allocate(56, 8);
                msg.set(P, 16, iov);
                msg.set(L, 24, 1);
                if (fd >= 0) {
                    MemorySegment ctl = a.allocate(24, 8);
                    ctl.set(L, 0, 20); // CMSG_LEN(sizeof(int))
                    ctl.set(I, 8, 1); // SOL_SOCKET
                    ctl.set(I, 12, 1); // SCM_RIGHTS
                    ctl.set(I, 16, fd);
                    msg.set(P, 32, ctl);
                    msg.set(L, 40, 24);
                }
                check("sendmsg(" + path + ")", (long) SENDMSG.invokeExact(ccs, s, msg, 0x4000 /* MSG_NOSIGNAL */), ccs);
                MemorySegment in = a.allocate(64);
                long n = check("read(" + path + ")", (long) READ.invokeExact(ccs, s, in, 63L), ccs);
                byte[] out = new byte[(int) n];
                MemorySegment.copy(in, ValueLayout.JAVA_BYTE, 0, out, 0, (int) n);
                return new String(out, StandardCharsets.UTF_8).trim();
            } finally {
                int r = (int) CLOSE.invokeExact(ccs, s);
            }
        } catch (Throwable t) {
            throw wrap("exchange with " + path, t);
        }
    }

    /** A listening AF_UNIX stream socket bound to path. */
    static int listenUnix(String path) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment ccs = a.allocate(CCS);
            int fd = (int) check("socket(AF_UNIX)", (int) SOCKET.invokeExact(ccs, 1, 1 | O_CLOEXEC, 0), ccs);
            MemorySegment addr = unixAddr(a, path);
            check("bind(" + path + ")", (int) BIND.invokeExact(ccs, fd, addr, 110), ccs);
            check("listen(" + path + ")", (int) LISTEN.invokeExact(ccs, fd, 128), ccs);
            return fd;
        } catch (Throwable t) {
            throw wrap("listen on " + path, t);
        }
    }

    static int accept(int srv) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment ccs = a.allocate(CCS);
            while (true) {
                int fd = (int) ACCEPT4.invokeExact(ccs, srv, MemorySegment.NULL, MemorySegment.NULL, O_CLOEXEC);
                if (fd >= 0 || errno(ccs) != EINTR) {
                    return (int) check("accept4", fd, ccs);
                }
            }
        } catch (Throwable t) {
            throw wrap("accept4", t);
        }
    }

    /** One message and the fds that came with it (SCM_RIGHTS), all close-on-exec. */
    record Message(byte[] data, int[] fds) {}

    static Message recvWithFds(int sock, int max) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment ccs = a.allocate(CCS);
            MemorySegment buf = a.allocate(max);
            MemorySegment iov = a.allocate(16, 8);
            iov.set(P, 0, buf);
            iov.set(L, 8, max);
            int ctlLen = 16 + 4 * 8; // cmsghdr + up to 8 fds
            MemorySegment ctl = a.allocate(ctlLen, 8);
            MemorySegment msg = a.allocate(56, 8);
            msg.set(P, 16, iov);
            msg.set(L, 24, 1);
            msg.set(P, 32, ctl);
            msg.set(L, 40, ctlLen);
            long n = check("recvmsg", (long) RECVMSG.invokeExact(ccs, sock, msg, 0x40000000 /* MSG_CMSG_CLOEXEC */), ccs);
            long got = msg.get(L, 40);
            int[] fds = new int[0];
            if (got >= 16 && ctl.get(I, 8) == 1 /* SOL_SOCKET */ && ctl.get(I, 12) == 1 /* SCM_RIGHTS */) {
                int count = (int) ((ctl.get(L, 0) - 16) / 4);
                fds = new int[count];
                for (int i = 0; i < count; i++) {
                    fds[i] = ctl.get(I, 16 + 4L * i);
                }
            }
            byte[] data = new byte[(int) n];
            MemorySegment.copy(buf, ValueLayout.JAVA_BYTE, 0, data, 0, (int) n);
            return new Message(data, fds);
        } catch (Throwable t) {
            throw wrap("recvmsg", t);
        }
    }

    static void send(int sock, byte[] data) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment ccs = a.allocate(CCS);
            MemorySegment buf = a.allocateFrom(ValueLayout.JAVA_BYTE, data);
            check("send", (long) SEND.invokeExact(ccs, sock, buf, (long) data.length, 0x4000 /* MSG_NOSIGNAL */), ccs);
        } catch (Throwable t) {
            throw wrap("send", t);
        }
    }

    static void close(int fd) {
        try (Arena a = Arena.ofConfined()) {
            int r = (int) CLOSE.invokeExact(a.allocate(CCS), fd);
        } catch (Throwable t) {
            throw wrap("close", t);
        }
    }

    /** The most descriptors poll takes. */
    static final int POLL_MAX = 32;

    /**
     * Memory for the calls a supervising thread makes for every trapped call (poll, the notify
     * ioctls, process_vm_readv), kept per thread instead of an arena per call.
     */
    private record Scratch(MemorySegment ccs, MemorySegment small, MemorySegment iov, MemorySegment buf) {
        static Scratch get() {
            return SCRATCH.get();
        }
    }

    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(() -> {
        Arena a = Arena.ofAuto();
        return new Scratch(a.allocate(CCS), a.allocate(8 * POLL_MAX, 8), a.allocate(32, 8), a.allocate(4096, 8));
    });

    /**
     * poll(POLLIN) on the first n of fds: each one's revents into revents; the number with any,
     * 0 on a timeout or EINTR.
     */
    static int poll(int[] fds, int n, short[] revents, int timeoutMs) {
        if (n > POLL_MAX) {
            throw new AgentException("poll of " + n + " descriptors");
        }
        try {
            Scratch sc = Scratch.get();
            MemorySegment ccs = sc.ccs();
            MemorySegment p = sc.small();
            for (int i = 0; i < n; i++) {
                p.set(I, 8L * i, fds[i]);
                p.set(ValueLayout.JAVA_SHORT, 8L * i + 4, (short) 1 /* POLLIN */);
                p.set(ValueLayout.JAVA_SHORT, 8L * i + 6, (short) 0);
            }
            int r = (int) POLL.invokeExact(ccs, p, (long) n, timeoutMs);
            if (r < 0) {
                if (errno(ccs) != EINTR) {
                    check("poll", r, ccs);
                }
                r = 0;
            }
            for (int i = 0; i < n; i++) {
                revents[i] = r == 0 ? 0 : p.get(ValueLayout.JAVA_SHORT, 8L * i + 6);
            }
            return r;
        } catch (Throwable t) {
            throw wrap("poll", t);
        }
    }

    /**
     * Up to len bytes of process pid's memory at addr (process_vm_readv: one call, no open of
     * /proc/PID/mem); fewer when the range ends in unmapped memory, none (an empty array) when
     * addr itself is unmapped or the process is gone.
     */
    static byte[] readMem(int pid, long addr, int len) {
        if (len > 4096) {
            throw new AgentException("readMem of " + len + " bytes");
        }
        try {
            Scratch sc = Scratch.get();
            MemorySegment ccs = sc.ccs();
            MemorySegment buf = sc.buf();
            MemorySegment local = sc.iov();
            MemorySegment remote = sc.iov().asSlice(16);
            local.set(L, 0, buf.address());
            local.set(L, 8, len);
            remote.set(L, 0, addr);
            remote.set(L, 8, len);
            long n = (long) PROCESS_VM_READV.invokeExact(ccs, pid, local, 1L, remote, 1L, 0L);
            return n <= 0 ? new byte[0] : buf.asSlice(0, n).toArray(ValueLayout.JAVA_BYTE);
        } catch (Throwable t) {
            throw wrap("process_vm_readv", t);
        }
    }

    /**
     * Writes data at addr in the trapped caller's memory (an emulated call's result). Its
     * /proc/PID/mem is opened first, which pins that process's memory, then the notification is
     * checked: so what is written goes to the trapped task and never to a process that took its
     * PID since. 0, or an errno (EFAULT when addr is not writable there); -1 when the
     * notification is gone (nothing written, nothing to answer).
     */
    static int writeMem(int notifyFd, long id, int pid, long addr, byte[] data) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment ccs = a.allocate(CCS);
            int fd = (int) OPEN.invokeExact(ccs, a.allocateFrom("/proc/" + pid + "/mem"), 1 /* O_WRONLY */ | O_CLOEXEC);
            if (fd < 0) {
                return -1; // the task is gone
            }
            try {
                if (!idValid(notifyFd, id)) {
                    return -1;
                }
                MemorySegment buf = a.allocateFrom(ValueLayout.JAVA_BYTE, data);
                long n = (long) PWRITE.invokeExact(ccs, fd, buf, (long) data.length, addr);
                return n == data.length ? 0 : 14; // EFAULT: unmapped or read-only there, as the kernel's copy_to_user says
            } finally {
                int r = (int) CLOSE.invokeExact(ccs, fd);
            }
        } catch (Throwable t) {
            throw wrap("write /proc/" + pid + "/mem", t);
        }
    }

    /** open(path, O_RDONLY | O_CLOEXEC). */
    static int openRead(String path) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment ccs = a.allocate(CCS);
            return (int) check("open(" + path + ")", (int) OPEN.invokeExact(ccs, a.allocateFrom(path), O_CLOEXEC), ccs);
        } catch (Throwable t) {
            throw wrap("open(" + path + ")", t);
        }
    }

    /** Reads fd to its end (a /proc file: one open, read once). */
    static String readAll(int fd) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment ccs = a.allocate(CCS);
            int cap = 65536;
            MemorySegment buf = a.allocate(cap);
            java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
            while (true) {
                long n = (long) READ.invokeExact(ccs, fd, buf, (long) cap);
                if (n < 0 && errno(ccs) == EINTR) {
                    continue;
                }
                check("read", n, ccs);
                if (n == 0) {
                    return out.toString(StandardCharsets.UTF_8);
                }
                out.write(buf.asSlice(0, n).toArray(ValueLayout.JAVA_BYTE));
            }
        } catch (Throwable t) {
            throw wrap("read", t);
        }
    }

    /**
     * Whether the mount table behind an open /proc/PID/mountinfo changed since it was opened or
     * last polled (the kernel flags POLLPRI | POLLERR once per change, as libmount relies on).
     */
    static boolean mountsChanged(int fd) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment ccs = a.allocate(CCS);
            MemorySegment p = a.allocate(8, 4);
            p.set(I, 0, fd);
            p.set(ValueLayout.JAVA_SHORT, 4, (short) 2 /* POLLPRI */);
            int r = (int) POLL.invokeExact(ccs, p, 1L, 0);
            if (r < 0) {
                return true; // unknown: read it again
            }
            return r > 0 && (p.get(ValueLayout.JAVA_SHORT, 6) & (2 | 8 /* POLLPRI | POLLERR */)) != 0;
        } catch (Throwable t) {
            throw wrap("poll", t);
        }
    }

    /** struct seccomp_notif, as Java values. */
    record Notif(long id, int pid, int nr, int arch, long[] args) {}

    /** SECCOMP_IOCTL_NOTIF_RECV; empty when the notification went away (ENOENT: the caller was killed). */
    static java.util.Optional<Notif> recv(int fd) {
        try {
            Scratch sc = Scratch.get();
            MemorySegment ccs = sc.ccs();
            MemorySegment n = sc.small().asSlice(0, 80).fill((byte) 0); // zeroed, as the kernel requires
            int r = (int) IOCTL.invokeExact(ccs, fd, NOTIF_RECV, n);
            if (r < 0) {
                int e = errno(ccs);
                if (e == ENOENT || e == EINTR) {
                    return java.util.Optional.empty();
                }
                throw new Errno("SECCOMP_IOCTL_NOTIF_RECV", e);
            }
            long[] args = new long[6];
            for (int i = 0; i < 6; i++) {
                args[i] = n.get(L, 32 + 8L * i);
            }
            return java.util.Optional.of(new Notif(n.get(L, 0), n.get(I, 8), n.get(I, 16), n.get(I, 20), args));
        } catch (Throwable t) {
            throw wrap("SECCOMP_IOCTL_NOTIF_RECV", t);
        }
    }

    /**
     * SECCOMP_IOCTL_NOTIF_SET_FLAGS with SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (Linux 6.6): a trapped
     * caller hands its CPU to the supervisor, and the answer hands it back, instead of each side
     * waking the other on another CPU. False when the kernel does not have it.
     */
    static boolean syncWakeUp(int fd) {
        try {
            Scratch sc = Scratch.get();
            return (int) IOCTL.invokeExact(sc.ccs(), fd, NOTIF_SET_FLAGS, MemorySegment.ofAddress(1)) == 0;
        } catch (Throwable t) {
            throw wrap("SECCOMP_IOCTL_NOTIF_SET_FLAGS", t);
        }
    }

    /** SECCOMP_IOCTL_NOTIF_ID_VALID: the trapped task is still there and still waiting. */
    static boolean idValid(int fd, long id) {
        try {
            Scratch sc = Scratch.get();
            MemorySegment ccs = sc.ccs();
            MemorySegment v = sc.small();
            v.set(L, 0, id);
            return (int) IOCTL.invokeExact(ccs, fd, NOTIF_ID_VALID, v) == 0;
        } catch (Throwable t) {
            throw wrap("SECCOMP_IOCTL_NOTIF_ID_VALID", t);
        }
    }

    /** SECCOMP_IOCTL_NOTIF_SEND: val/error, or CONTINUE. ENOENT (the caller went away) is ignored. */
    static void respond(int fd, long id, long val, int error, int flags) {
        try {
            Scratch sc = Scratch.get();
            MemorySegment ccs = sc.ccs();
            MemorySegment r = sc.small();
            r.set(L, 0, id);
            r.set(L, 8, val);
            r.set(I, 16, error);
            r.set(I, 20, flags);
            int ret = (int) IOCTL.invokeExact(ccs, fd, NOTIF_SEND, r);
            if (ret < 0 && errno(ccs) != ENOENT) {
                throw new Errno("SECCOMP_IOCTL_NOTIF_SEND", errno(ccs));
            }
        } catch (Throwable t) {
            throw wrap("SECCOMP_IOCTL_NOTIF_SEND", t);
        }
    }

    /** SECCOMP_IOCTL_NOTIF_ADDFD with SEND: installs srcFd in the caller and answers with its number. */
    static void respondWithFd(int notifyFd, long id, int srcFd, boolean cloexec) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment ccs = a.allocate(CCS);
            MemorySegment r = a.allocate(24, 8);
            r.set(L, 0, id);
            r.set(I, 8, ADDFD_FLAG_SEND);
            r.set(I, 12, srcFd);
            r.set(I, 16, 0);
            r.set(I, 20, cloexec ? O_CLOEXEC : 0);
            int ret = (int) IOCTL.invokeExact(ccs, notifyFd, NOTIF_ADDFD, r);
            if (ret < 0 && errno(ccs) != ENOENT) {
                throw new Errno("SECCOMP_IOCTL_NOTIF_ADDFD", errno(ccs));
            }
        } catch (Throwable t) {
            throw wrap("SECCOMP_IOCTL_NOTIF_ADDFD", t);
        }
    }

    /** pidfd_open(pid) then pidfd_getfd: a copy of another process's fd. */
    static int takeFd(long pid, int fd) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment ccs = a.allocate(CCS);
            int pidfd = (int) check("pidfd_open(" + pid + ")", (long) SYSCALL3.invokeExact(ccs, SYS_PIDFD_OPEN, pid, 0L, 0L), ccs);
            try {
                return (int) check("pidfd_getfd(" + pid + ", " + fd + ")",
                        (long) SYSCALL3.invokeExact(ccs, 438L, (long) pidfd, (long) fd, 0L), ccs);
            } finally {
                int r = (int) CLOSE.invokeExact(ccs, pidfd);
            }
        } catch (Throwable t) {
            throw wrap("pidfd_getfd", t);
        }
    }

    /**
     * A raw syscall on the hot path, with scratch memory the caller keeps (no arena per call):
     * the result, or -errno. ccs is a segment of {@link #callState()}'s layout.
     */
    static long sys(MemorySegment ccs, long nr, long a, long b, long c, long d, long e, long f) {
        try {
            long r = (long) SYSCALL6.invokeExact(ccs, nr, a, b, c, d, e, f);
            return r < 0 ? -errno(ccs) : r;
        } catch (Throwable t) {
            throw wrap("syscall " + nr, t);
        }
    }

    /** The layout sys() captures errno in. */
    static StructLayout callState() {
        return CCS;
    }

    static final long SYS_PREAD64 = 17;
    static final long SYS_POLL = 7;
    static final long SYS_FUTEX = 202;
    static final long SYS_OPENAT = 257;
    static final long SYS_READLINKAT = 267;
    static final long SYS_STATX = 332;
    static final long SYS_MEMFD_CREATE = 319;
    static final long SYS_PIDFD_OPEN = 434;
    static final int ETIMEDOUT = 110;

    /** pidfd_open(pid): -1 when there is no such process. */
    static int pidfdOpen(int pid) {
        try (Arena a = Arena.ofConfined()) {
            long r = sys(a.allocate(CCS), SYS_PIDFD_OPEN, pid, 0, 0, 0, 0, 0);
            return r < 0 ? -1 : (int) r;
        }
    }

    /** memfd_create(name, MFD_CLOEXEC). */
    static int memfd(String name) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment ccs = a.allocate(CCS);
            long r = sys(ccs, SYS_MEMFD_CREATE, a.allocateFrom(name).address(), 1 /* MFD_CLOEXEC */, 0, 0, 0, 0);
            if (r < 0) {
                throw new Errno("memfd_create", (int) -r);
            }
            return (int) r;
        }
    }

    /** Which of fds are readable now (a pidfd: its process has exited), by index; no wait. */
    static java.util.List<Integer> readable(int[] fds) {
        java.util.List<Integer> out = new java.util.ArrayList<>();
        short[] rev = new short[fds.length];
        if (fds.length > 0 && poll(fds, fds.length, rev, 0) > 0) {
            for (int i = 0; i < fds.length; i++) {
                if (rev[i] != 0) {
                    out.add(i);
                }
            }
        }
        return out;
    }
}
