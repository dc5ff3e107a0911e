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
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The agent's view of /proc for system containers: a read-only FUSE file system of a few flat
 * files ({@link ProcView#FILES}), spoken over /dev/fuse directly (the kernel's FUSE protocol,
 * 7.40). Each file's content is computed at open for the process that opens it (the request
 * header names its PID) and served from that copy, with direct I/O, so a reader gets one
 * consistent snapshot and the page cache keeps nothing.
 *
 * <p>The mount is made by the agent on the host and bound over the files in each system
 * container as it is created. The /dev/fuse descriptor is handed to the fd keeper, so an agent
 * that restarts takes it back and serves the same mount: containers' binds stay valid.
 */
final class FuseServer implements Runnable {
    // linux/fuse.h opcodes
    private static final int LOOKUP = 1;
    private static final int FORGET = 2;
    private static final int GETATTR = 3;
    private static final int OPEN = 14;
    private static final int READ = 15;
    private static final int STATFS = 17;
    private static final int RELEASE = 18;
    private static final int FLUSH = 25;
    private static final int INIT = 26;
    private static final int OPENDIR = 27;
    private static final int READDIR = 28;
    private static final int RELEASEDIR = 29;
    private static final int INTERRUPT = 36;
    private static final int DESTROY = 38;
    private static final int BATCH_FORGET = 42;

    private static final int ENOENT = 2;
    private static final int EBADF = 9;
    private static final int EACCES = 13;
    private static final int ENODEV = 19;
    private static final int ENOSYS = 38;
    private static final int EINTR = 4;
    private static final int EAGAIN = 11;

    private static final int FOPEN_DIRECT_IO = 1;
    private static final int O_ACCMODE = 3;
    private static final int MAX_WRITE = 128 << 10;
    private static final int BUFFER = MAX_WRITE + 4096;
    private static final long ROOT = 1;

    private final int fd;
    private final ProcView view;
    private final List<String> names;
    private final Map<Long, byte[]> open = new ConcurrentHashMap<>();
    private final AtomicLong handles = new AtomicLong(1);
    private final AtomicLong served = new AtomicLong();
    /** What GETATTR rendered for (node, pid), which the OPEN that follows it serves: one render per open. */
    private final Map<Long, Rendered> rendered = new ConcurrentHashMap<>();
    /** The serving thread's reply buffer and errno slot (one thread serves). */
    private final MemorySegment replyBuf = Arena.ofAuto().allocate(BUFFER, 8);
    private final MemorySegment ccs = Arena.ofAuto().allocate(Sys.CCS);

    private record Rendered(byte[] content, long at) {}

    /** GETATTR's render is served to the OPEN of the same file by the same process within this (ns). */
    private static final long RENDER_REUSE_NS = 50_000_000L;

    FuseServer(int fd, ProcView view) {
        this.fd = fd;
        this.view = view;
        this.names = List.copyOf(new TreeMap<>(ProcView.FILES).keySet());
    }

    long served() {
        return served.get();
    }

    // ---- mounting ----

    /**
     * Opens /dev/fuse and mounts it at dir (read-only, nosuid, nodev, noexec, allow_other:
     * container root is another user). Returns the /dev/fuse descriptor.
     */
    static int mount(String dir) {
        int dev = (int) Sys.open("/dev/fuse", 2 | 02000000);
        String data = "fd=" + dev + ",rootmode=40555,user_id=0,group_id=0,allow_other,default_permissions";
        try {
            Sys.mount(SOURCE, dir, "fuse", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, data);
        } catch (AgentException e) {
            Sys.close(dev);
            throw e;
        }
        return dev;
    }

    /** The mount's source, how mountinfo names it. */
    static final String SOURCE = "bulwark-procview";

    static final long MS_RDONLY = 1;
    static final long MS_NOSUID = 2;
    static final long MS_NODEV = 4;
    static final long MS_NOEXEC = 8;

    /** umount2(dir, MNT_DETACH): a stale mount (its server gone) is detached. */
    static void detach(String dir) {
        Sys.umount(dir, 2);
    }

    // ---- serving ----

    @Override
    public void run() {
        ByteBuffer in = ByteBuffer.allocateDirect(BUFFER).order(ByteOrder.LITTLE_ENDIAN);
        try (Arena a = Arena.ofShared()) {
            MemorySegment buf = a.allocate(BUFFER, 8);
            while (true) {
                long n = Sys.read(fd, buf, BUFFER, ccs);
                if (n == -EINTR || n == -EAGAIN || n == -ENOENT) {
                    continue; // interrupted, or a request that was aborted before it was read
                }
                if (n == -ENODEV) {
                    Agent.log("procview: the mount is gone (unmounted), serving stops");
                    return;
                }
                if (n < 0) {
                    Agent.log("procview: read /dev/fuse failed: errno " + (-n) + ", serving stops");
                    return;
                }
                in.clear();
                in.put(buf.asSlice(0, n).asByteBuffer());
                in.flip();
                handle(in, a);
            }
        }
    }

    private void handle(ByteBuffer in, Arena a) {
        int len = in.getInt(0);
        int opcode = in.getInt(4);
        long unique = in.getLong(8);
        long node = in.getLong(16);
        int pid = in.getInt(32);
        ByteBuffer arg = in.slice(40, Math.max(0, Math.min(len, in.limit()) - 40)).order(ByteOrder.LITTLE_ENDIAN);
        served.incrementAndGet();
        switch (opcode) {
            case INIT -> reply(unique, -EPROTO, new byte[0]); // answered once, by init()
            case LOOKUP -> lookup(unique, node, pid, arg);
            case GETATTR -> reply(unique, 0, attrOut(node, pid));
            case OPEN -> open(unique, node, pid, arg);
            case READ -> read(unique, arg);
            case RELEASE -> {
                open.remove(arg.getLong(0));
                reply(unique, 0, new byte[0]);
            }
            // ENOSYS to FLUSH: the kernel sends no more (there is nothing to flush), one round trip less per close
            case FLUSH -> reply(unique, -ENOSYS, new byte[0]);
            case RELEASEDIR -> reply(unique, 0, new byte[0]);
            case OPENDIR -> reply(unique, node == ROOT ? 0 : -ENOENT, node == ROOT ? openOut(0, 0) : new byte[0]);
            case READDIR -> readdir(unique, node, arg);
            case STATFS -> reply(unique, 0, statfs());
            case FORGET, BATCH_FORGET, INTERRUPT -> { } // no reply is sent for these
            case DESTROY -> reply(unique, 0, new byte[0]);
            default -> reply(unique, -ENOSYS, new byte[0]);
        }
    }

    /**
     * Answers the kernel's INIT, the first request after the mount, on the caller's thread.
     * System containers' binds are ID-mapped like every bind of theirs, which FUSE allows only
     * when the server says so (FUSE_ALLOW_IDMAP, protocol 7.40, Linux 6.12): a kernel that does
     * not offer it is refused here, and the caller unmounts.
     */
    void init() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment buf = a.allocate(BUFFER, 8);
            long n;
            do {
                n = Sys.read(fd, buf, BUFFER);
            } while (n == -EINTR || n == -EAGAIN);
            if (n < 56) {
                throw new AgentException("procview: no INIT from the kernel (read " + (n < 0 ? "errno " + -n : n + " bytes") + ")");
            }
            ByteBuffer in = buf.asSlice(0, n).asByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
            if (in.getInt(4) != INIT) {
                throw new AgentException("procview: the kernel's first request is opcode " + in.getInt(4) + ", not INIT");
            }
            long unique = in.getLong(8);
            int major = in.getInt(40);
            int minor = in.getInt(44);
            int readahead = in.getInt(48);
            long flags = in.getInt(52) & 0xffffffffL;
            long flags2 = n >= 60 ? in.getInt(56) & 0xffffffffL : 0;
            boolean idmap = major == 7 && minor >= 40 && (flags & FUSE_INIT_EXT) != 0 && (flags2 & (FUSE_ALLOW_IDMAP >>> 32)) != 0;
            if (!idmap) {
                reply(unique, -EPROTO, new byte[0]);
                throw new AgentException("procview: this kernel's FUSE (" + major + "." + minor + ") cannot be ID-mapped"
                        + " (FUSE_ALLOW_IDMAP, Linux 6.12 and later)");
            }
            ByteBuffer out = ByteBuffer.allocate(64).order(ByteOrder.LITTLE_ENDIAN);
            out.putInt(7);                    // major
            out.putInt(40);                   // minor
            out.putInt(readahead);            // max_readahead
            out.putInt((int) FUSE_INIT_EXT);  // flags: only the extension word (no async reads, no caching)
            out.putShort((short) 16);         // max_background
            out.putShort((short) 12);         // congestion_threshold
            out.putInt(MAX_WRITE);            // max_write
            out.putInt(1);                    // time_gran
            out.putShort((short) 32);         // max_pages
            out.putShort((short) 0);          // map_alignment
            out.putInt((int) (FUSE_ALLOW_IDMAP >>> 32)); // flags2
            reply(unique, 0, out.array());
        }
    }

    private static final long FUSE_INIT_EXT = 1L << 30;
    private static final long FUSE_ALLOW_IDMAP = 1L << 40;
    private static final int EPROTO = 71;

    private long inode(String name) {
        int i = names.indexOf(name);
        return i < 0 ? -1 : i + 2;
    }

    private String name(long node) {
        int i = (int) (node - 2);
        return i >= 0 && i < names.size() ? names.get(i) : null;
    }

    private void lookup(long unique, long parent, int pid, ByteBuffer arg) {
        int end = 0;
        while (end < arg.limit() && arg.get(end) != 0) {
            end++;
        }
        byte[] nb = new byte[end];
        arg.get(0, nb);
        long ino = parent == ROOT ? inode(new String(nb, StandardCharsets.UTF_8)) : -1;
        if (ino < 0) {
            reply(unique, -ENOENT, new byte[0]);
            return;
        }
        ByteBuffer out = ByteBuffer.allocate(40 + 88).order(ByteOrder.LITTLE_ENDIAN);
        out.putLong(ino).putLong(0);      // nodeid, generation
        out.putLong(1).putLong(0);        // entry_valid 1 s (names never change), attr_valid 0
        out.putInt(0).putInt(0);
        attr(out, ino, pid);
        reply(unique, 0, out.array());
    }

    private byte[] attrOut(long node, int pid) {
        ByteBuffer out = ByteBuffer.allocate(16 + 88).order(ByteOrder.LITTLE_ENDIAN);
        out.putLong(0).putInt(0).putInt(0);  // attr_valid 0: readers in different containers see different sizes
        attr(out, node, pid);
        return out.array();
    }

    /**
     * The size is that of the content the asking process would read now, so readers that go by
     * the size (sendfile, splice) read it all; reads themselves are direct and serve the copy
     * made at open.
     */
    private long size(long node, int pid) {
        String name = name(node);
        if (name == null) {
            return 0;
        }
        try {
            byte[] content = view.render(name, pid).getBytes(StandardCharsets.ISO_8859_1);
            if (rendered.size() > 1024) {
                rendered.clear(); // stat()s with no open after them
            }
            rendered.put(node << 32 | (pid & 0xffffffffL), new Rendered(content, System.nanoTime()));
            return content.length;
        } catch (RuntimeException e) {
            return 0;
        }
    }

    private void attr(ByteBuffer out, long node, int pid) {
        boolean dir = node == ROOT;
        long now = System.currentTimeMillis() / 1000;
        long size = dir ? 0 : size(node, pid);
        out.putLong(node);                // ino
        out.putLong(size).putLong((size + 511) / 512); // size, blocks
        out.putLong(now).putLong(now).putLong(now);
        out.putInt(0).putInt(0).putInt(0);
        out.putInt(dir ? 040555 : 0100444);
        out.putInt(dir ? 2 : 1);          // nlink
        out.putInt(0).putInt(0);          // uid, gid: root
        out.putInt(0);                    // rdev
        out.putInt(4096);                 // blksize
        out.putInt(0);                    // flags
    }

    private static byte[] openOut(long fh, int flags) {
        ByteBuffer out = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN);
        out.putLong(fh).putInt(flags).putInt(0);
        return out.array();
    }

    private void open(long unique, long node, int pid, ByteBuffer arg) {
        String name = name(node);
        if (name == null) {
            reply(unique, -ENOENT, new byte[0]);
            return;
        }
        if ((arg.getInt(0) & O_ACCMODE) != 0) {
            reply(unique, -EACCES, new byte[0]);
            return;
        }
        byte[] content;
        try {
            Rendered r = rendered.remove(node << 32 | (pid & 0xffffffffL));
            content = r != null && System.nanoTime() - r.at() < RENDER_REUSE_NS ? r.content()
                    : view.render(name, pid).getBytes(StandardCharsets.ISO_8859_1);
        } catch (RuntimeException e) {
            Agent.log("procview: " + name + " for pid " + pid + ": " + e);
            reply(unique, -EACCES, new byte[0]);
            return;
        }
        long fh = handles.getAndIncrement();
        open.put(fh, content);
        reply(unique, 0, openOut(fh, FOPEN_DIRECT_IO));
    }

    private void read(long unique, ByteBuffer arg) {
        long fh = arg.getLong(0);
        long offset = arg.getLong(8);
        int size = arg.getInt(16);
        byte[] content = open.get(fh);
        if (content == null) {
            reply(unique, -EBADF, new byte[0]);
            return;
        }
        int from = (int) Math.min(Math.max(0, offset), content.length);
        int n = Math.min(size, content.length - from);
        byte[] out = new byte[n];
        System.arraycopy(content, from, out, 0, n);
        reply(unique, 0, out);
    }

    private void readdir(long unique, long node, ByteBuffer arg) {
        if (node != ROOT) {
            reply(unique, -ENOENT, new byte[0]);
            return;
        }
        long offset = arg.getLong(8);
        int size = arg.getInt(16);
        List<String> all = new ArrayList<>(List.of(".", ".."));
        all.addAll(names);
        ByteBuffer out = ByteBuffer.allocate(Math.max(0, size)).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = (int) offset; i < all.size(); i++) {
            byte[] nb = all.get(i).getBytes(StandardCharsets.UTF_8);
            int rec = (24 + nb.length + 7) & ~7;
            if (out.remaining() < rec) {
                break;
            }
            int start = out.position();
            long ino = i < 2 ? ROOT : inode(all.get(i));
            out.putLong(ino).putLong(i + 1).putInt(nb.length).putInt(i < 2 ? 4 : 8); // DT_DIR, DT_REG
            out.put(nb);
            out.position(start + rec);
        }
        byte[] b = new byte[out.position()];
        out.get(0, b);
        reply(unique, 0, b);
    }

    private static byte[] statfs() {
        ByteBuffer out = ByteBuffer.allocate(80).order(ByteOrder.LITTLE_ENDIAN);
        out.putLong(0).putLong(0).putLong(0).putLong(0).putLong(0);
        out.putInt(4096).putInt(255).putInt(4096);
        return out.array();
    }

    private void reply(long unique, int error, byte[] payload) {
        int len = 16 + (error == 0 ? payload.length : 0);
        MemorySegment m = replyBuf;
        m.set(ValueLayout.JAVA_INT_UNALIGNED, 0, len);
        m.set(ValueLayout.JAVA_INT_UNALIGNED, 4, error);
        m.set(ValueLayout.JAVA_LONG_UNALIGNED, 8, unique);
        if (error == 0 && payload.length > 0) {
            MemorySegment.copy(payload, 0, m, ValueLayout.JAVA_BYTE, 16, payload.length);
        }
        long w = Sys.write(fd, m, len, ccs);
        if (w < 0 && w != -ENOENT) { // ENOENT: the request was interrupted meanwhile
            Agent.log("procview: reply to request " + unique + " failed: errno " + (-w));
        }
    }

    /** open, read, write, close, mount, umount2 through FFM; read and write return -errno. */
    static final class Sys {
        private Sys() {}

        private static final Linker LINKER = Linker.nativeLinker();
        static final StructLayout CCS = Linker.Option.captureStateLayout();
        private static final VarHandle ERRNO = CCS.varHandle(MemoryLayout.PathElement.groupElement("errno"));
        private static final ValueLayout.OfInt I = ValueLayout.JAVA_INT;
        private static final ValueLayout.OfLong L = ValueLayout.JAVA_LONG;
        private static final java.lang.foreign.AddressLayout P = ValueLayout.ADDRESS;
        private static final MethodHandle OPEN_ = fn("open", FunctionDescriptor.of(I, P, I), 2);
        private static final MethodHandle READ_ = fn("read", FunctionDescriptor.of(L, I, P, L), -1);
        private static final MethodHandle WRITE_ = fn("write", FunctionDescriptor.of(L, I, P, L), -1);
        private static final MethodHandle CLOSE_ = fn("close", FunctionDescriptor.of(I, I), -1);
        private static final MethodHandle MOUNT_ = fn("mount", FunctionDescriptor.of(I, P, P, P, L, P), -1);
        private static final MethodHandle UMOUNT2_ = fn("umount2", FunctionDescriptor.of(I, P, I), -1);

        private static MethodHandle fn(String name, FunctionDescriptor d, int variadic) {
            var addr = LINKER.defaultLookup().find(name).orElseThrow(() -> new AgentException("libc has no " + name));
            return variadic < 0 ? LINKER.downcallHandle(addr, d, Linker.Option.captureCallState("errno"))
                    : LINKER.downcallHandle(addr, d, Linker.Option.captureCallState("errno"), Linker.Option.firstVariadicArg(variadic));
        }

        private static int errno(MemorySegment ccs) {
            return (int) ERRNO.get(ccs, 0L);
        }

        static long open(String path, int flags) {
            try (Arena a = Arena.ofConfined()) {
                MemorySegment ccs = a.allocate(CCS);
                int r = (int) OPEN_.invokeExact(ccs, a.allocateFrom(path), flags);
                if (r < 0) {
                    throw new AgentException("open " + path + " failed: errno " + errno(ccs));
                }
                return r;
            } catch (Throwable t) {
                throw t instanceof AgentException e ? e : new AgentException("open " + path + ": " + t, t);
            }
        }

        static long read(int fd, MemorySegment buf, long n) {
            try (Arena a = Arena.ofConfined()) {
                return read(fd, buf, n, a.allocate(CCS));
            }
        }

        /** write with the caller's errno slot: nothing allocated per call. */
        static long write(int fd, MemorySegment buf, long n, MemorySegment ccs) {
            try {
                long r = (long) WRITE_.invokeExact(ccs, fd, buf, n);
                return r < 0 ? -errno(ccs) : r;
            } catch (Throwable t) {
                throw new AgentException("write: " + t, t);
            }
        }

        /** read with the caller's errno slot. */
        static long read(int fd, MemorySegment buf, long n, MemorySegment ccs) {
            try {
                long r = (long) READ_.invokeExact(ccs, fd, buf, n);
                return r < 0 ? -errno(ccs) : r;
            } catch (Throwable t) {
                throw new AgentException("read: " + t, t);
            }
        }


        static void close(int fd) {
            try (Arena a = Arena.ofConfined()) {
                int r = (int) CLOSE_.invokeExact(a.allocate(CCS), fd);
            } catch (Throwable t) {
                throw new AgentException("close: " + t, t);
            }
        }

        static void mount(String source, String target, String type, long flags, String data) {
            try (Arena a = Arena.ofConfined()) {
                MemorySegment ccs = a.allocate(CCS);
                int r = (int) MOUNT_.invokeExact(ccs, a.allocateFrom(source), a.allocateFrom(target), a.allocateFrom(type), flags,
                        a.allocateFrom(data));
                if (r < 0) {
                    throw new AgentException("mount " + type + " at " + target + " failed: errno " + errno(ccs));
                }
            } catch (Throwable t) {
                throw t instanceof AgentException e ? e : new AgentException("mount: " + t, t);
            }
        }

        static void umount(String target, int flags) {
            try (Arena a = Arena.ofConfined()) {
                MemorySegment ccs = a.allocate(CCS);
                int r = (int) UMOUNT2_.invokeExact(ccs, a.allocateFrom(target), flags);
                if (r < 0) {
                    throw new AgentException("umount2 " + target + " failed: errno " + errno(ccs));
                }
            } catch (Throwable t) {
                throw t instanceof AgentException e ? e : new AgentException("umount2: " + t, t);
            }
        }
    }
}
