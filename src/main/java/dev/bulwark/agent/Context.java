package dev.bulwark.agent;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A trapped caller's context as bulwark-mountctl's context_key writes it: its user and mount
 * namespaces, root and credentials (the host's view), then "|" and its IPC, network, cgroup and
 * PID namespaces. The helper finds or starts the worker for a call by this key; a worker whose
 * own key (read by the helper from the worker's side once it is up) matches up to "|" may serve
 * a call that makes no new mount.
 *
 * Read afresh for every call, since any of it may have changed since the last (setns, chroot,
 * setuid, capset); only the descriptors are kept: the caller's /proc/PID and its status, opened
 * once per task. A /proc/PID descriptor belongs to the task it was opened for, not to its number:
 * once that task is gone, reads through it fail (ESRCH), and the entry is opened again, so a
 * reused PID is never read through another task's descriptors. One per supervising thread.
 */
final class Context implements AutoCloseable {
    private static final int O_RDONLY = 0;
    private static final int O_DIRECTORY = 0200000;
    private static final int O_CLOEXEC = 02000000;
    private static final int O_PATH = 010000000;
    private static final int AT_FDCWD = -100;
    private static final int STATX_MNT_ID = 0x1000;
    private static final int STATUS_MAX = 8192;
    private static final int MAX_TASKS = 64;

    private record Fds(int proc, int status) {}

    private final Map<Integer, Fds> tasks = new LinkedHashMap<>(16, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<Integer, Fds> e) {
            if (size() > MAX_TASKS) {
                closeFds(e.getValue());
                return true;
            }
            return false;
        }
    };
    private final Arena arena = Arena.ofShared();
    private final MemorySegment ccs = arena.allocate(Native.callState());
    private final MemorySegment buf = arena.allocate(STATUS_MAX);
    private final MemorySegment stx = arena.allocate(256, 8);
    private final MemorySegment names = arena.allocate(256);
    private final long[] nameAt = new long[16];
    private static final String[] NAMES = {"ns/user", "ns/mnt", "root", "ns/ipc", "ns/net", "ns/cgroup", "ns/pid", "status"};

    Context() {
        long off = 0;
        for (int i = 0; i < NAMES.length; i++) {
            byte[] b = NAMES[i].getBytes(StandardCharsets.US_ASCII);
            MemorySegment.copy(b, 0, names, ValueLayout.JAVA_BYTE, off, b.length);
            names.set(ValueLayout.JAVA_BYTE, off + b.length, (byte) 0);
            nameAt[i] = names.address() + off;
            off += b.length + 1;
        }
    }

    /**
     * pid's key: up to "|" only (the part a call that makes no new mount depends on) unless full.
     * Throws when the task is gone or its /proc entries cannot be read.
     */
    String key(int pid, boolean full) {
        Fds f = tasks.get(pid);
        if (f != null) {
            String k = read(f, full);
            if (k != null) {
                return k;
            }
            tasks.remove(pid);
            closeFds(f);
        }
        f = open(pid);
        String k = read(f, full);
        if (k == null) {
            closeFds(f);
            throw new AgentException("pid " + pid + ": its /proc entries went away");
        }
        tasks.put(pid, f);
        return k;
    }

    private Fds open(int pid) {
        byte[] p = ("/proc/" + pid).getBytes(StandardCharsets.US_ASCII);
        MemorySegment.copy(p, 0, buf, ValueLayout.JAVA_BYTE, 0, p.length);
        buf.set(ValueLayout.JAVA_BYTE, p.length, (byte) 0);
        long proc = Native.sys(ccs, Native.SYS_OPENAT, AT_FDCWD, buf.address(), O_PATH | O_DIRECTORY | O_CLOEXEC, 0, 0, 0);
        if (proc < 0) {
            throw new Native.Errno("open /proc/" + pid, (int) -proc);
        }
        long status = Native.sys(ccs, Native.SYS_OPENAT, proc, nameAt[7], O_RDONLY | O_CLOEXEC, 0, 0, 0);
        if (status < 0) {
            Native.close((int) proc);
            throw new Native.Errno("open /proc/" + pid + "/status", (int) -status);
        }
        return new Fds((int) proc, (int) status);
    }

    private static void closeFds(Fds f) {
        Native.close(f.status());
        Native.close(f.proc());
    }

    /** The key through f, or null when its task is gone. */
    private String read(Fds f, boolean full) {
        StringBuilder k = new StringBuilder(256);
        long u = ns(f, 0), m = ns(f, 1);
        if (u < 0 || m < 0) {
            return null;
        }
        if (Native.sys(ccs, Native.SYS_STATX, f.proc(), nameAt[2], 0, STATX_MNT_ID, stx.address(), 0) < 0) {
            return null;
        }
        long mntId = stx.get(ValueLayout.JAVA_LONG, 144);
        long dev = ((long) stx.get(ValueLayout.JAVA_INT, 136) << 20) | stx.get(ValueLayout.JAVA_INT, 140);
        k.append(u).append(' ').append(m).append(' ').append(mntId).append(':').append(dev).append(':')
                .append(Long.toUnsignedString(stx.get(ValueLayout.JAVA_LONG, 32)));
        long n = Native.sys(ccs, Native.SYS_PREAD64, f.status(), buf.address(), STATUS_MAX - 1, 0, 0, 0);
        if (n <= 0) {
            return null;
        }
        String st = new String(buf.asSlice(0, n).toArray(ValueLayout.JAVA_BYTE), StandardCharsets.ISO_8859_1);
        for (String want : new String[] {"\nUid:", "\nGid:", "\nGroups:", "\nCapInh:", "\nCapPrm:", "\nCapEff:"}) {
            int s = st.indexOf(want);
            int e = s < 0 ? -1 : st.indexOf('\n', s + 1);
            if (e < 0) {
                return null;
            }
            k.append(st, s, e);
        }
        if (full) {
            for (int i = 3; i <= 6; i++) {
                long x = ns(f, i);
                if (x < 0) {
                    return null;
                }
                k.append(i == 3 ? '|' : ' ').append(x);
            }
        }
        return k.toString();
    }

    /** The inode of the namespace NAMES[i] ("net:[4026531840]"), or -1. */
    private long ns(Fds f, int i) {
        long n = Native.sys(ccs, Native.SYS_READLINKAT, f.proc(), nameAt[i], buf.address(), 64, 0, 0);
        if (n <= 0) {
            return -1;
        }
        long v = 0;
        boolean in = false;
        for (int j = 0; j < n; j++) {
            byte c = buf.get(ValueLayout.JAVA_BYTE, j);
            if (c == '[') {
                in = true;
            } else if (c == ']') {
                return in ? v : -1;
            } else if (in && c >= '0' && c <= '9') {
                v = v * 10 + (c - '0');
            }
        }
        return -1;
    }

    @Override
    public void close() {
        for (Fds f : tasks.values()) {
            closeFds(f);
        }
        tasks.clear();
        arena.close();
    }
}
