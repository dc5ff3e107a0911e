package dev.bulwark.agent;

import dev.bulwark.runtime.Procfs;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * One container's notify fd, served on a platform thread of its own (FFM calls that block, as
 * poll and the notify ioctls do, would pin a virtual thread's carrier anyway). A trapped call is
 * either let through by its registers alone (a new mount: the decision reads no memory the caller
 * could change), or emulated: its arguments are copied out of the caller's memory, the helper
 * resolves them in the caller's context, the policy decides on what was resolved, and the helper
 * performs the call on those very fds. SECCOMP_USER_NOTIF_FLAG_CONTINUE is never the answer to a
 * call whose decision read memory.
 */
final class Supervisor implements Runnable {
    private static final int EFAULT = 14;
    private static final int EINVAL = 22;
    private static final int ENOSYS = 38;
    private static final int POLLIN = 1;
    private static final int PATH_MAX = 4096;

    private final String name;
    private final int fd;
    private final String mntNs;
    private final Policy policy;
    private final Path helper;
    private final Runnable onExit;

    Supervisor(String name, int fd, String mntNs, Policy policy, Path helper, Runnable onExit) {
        this.name = name;
        this.fd = fd;
        this.mntNs = mntNs;
        this.policy = policy;
        this.helper = helper;
        this.onExit = onExit;
    }

    @Override
    public void run() {
        try {
            while (true) {
                int ev = Native.poll(fd, -1);
                if ((ev & POLLIN) != 0) {
                    Native.recv(fd).ifPresent(this::serve);
                } else if (ev != 0) {
                    break; // POLLHUP: every task of the filter is gone
                }
            }
        } catch (RuntimeException e) {
            Agent.log(name + ": stopped supervising: " + e.getMessage());
        } finally {
            stopResident();
            Native.close(fd);
            onExit.run();
            Agent.log(name + ": container gone");
        }
    }

    private void serve(Native.Notif n) {
        try {
            Optional<Call> call = Call.of(n.arch(), n.nr());
            if (call.isEmpty()) {
                // not one of ours: a profile that traps more than the agent knows fails closed
                Native.respond(fd, n.id(), 0, -Native.EPERM, 0);
                return;
            }
            if (call.get() == Call.SYSINFO || call.get() == Call.SCHED_GETAFFINITY) {
                limits(call.get(), n);
                return;
            }
            Policy.Pre pre = Policy.pre(call.get(), n.args());
            if (pre == Policy.Pre.CONTINUE) {
                Native.respond(fd, n.id(), 0, 0, Native.USER_NOTIF_FLAG_CONTINUE);
                return;
            }
            if (pre == Policy.Pre.NOT_SUPPORTED) {
                Native.respond(fd, n.id(), 0, -ENOSYS, 0);
                return;
            }
            emulate(call.get(), n);
        } catch (Native.Errno e) {
            Agent.log(name + ": pid " + n.pid() + " nr " + n.nr() + ": " + e.getMessage());
            Native.respond(fd, n.id(), 0, -Native.EPERM, 0);
        } catch (RuntimeException | IOException e) {
            Agent.log(name + ": pid " + n.pid() + " nr " + n.nr() + ": " + e);
            Native.respond(fd, n.id(), 0, -Native.EPERM, 0);
        }
    }

    private static final ProcView VIEW = new ProcView(ProcView.Host.REAL);
    private static volatile int nrCpuIds;

    /** The kernel's nr_cpu_ids: one more than the highest possible CPU. */
    private static int nrCpuIds() {
        if (nrCpuIds == 0) {
            List<Integer> possible = ProcView.parseList(ProcView.Host.REAL.read("/sys/devices/system/cpu/possible").orElse("0"));
            nrCpuIds = possible.isEmpty() ? 1 : possible.getLast() + 1;
        }
        return nrCpuIds;
    }

    private record Cpus(String list, long at) {}

    /** The view's CPUs by the caller's /proc/PID/cgroup: they depend on its cgroups alone. */
    private static final Map<String, Cpus> CPUS = new java.util.concurrent.ConcurrentHashMap<>();
    private static final long CPUS_TTL_NS = 1_000_000_000L;

    /**
     * The view's cpu/online for pid. sched_getaffinity is asked at every start of a Go program or
     * a JVM, and by the JVM's availableProcessors(): the answer for a set of cgroups is kept for
     * a second, so a quota or cpuset changed by `update` shows within a second.
     */
    private static String cpus(int pid) {
        String cgroups = ProcView.Host.REAL.read("/proc/" + pid + "/cgroup").orElseThrow();
        long now = System.nanoTime();
        Cpus c = CPUS.get(cgroups);
        if (c == null || now - c.at() > CPUS_TTL_NS) {
            if (CPUS.size() > 4096) {
                CPUS.clear();
            }
            c = new Cpus(VIEW.render("cpu-online", pid), now);
            CPUS.put(cgroups, c);
        }
        return c.list();
    }

    /**
     * sysinfo(2) and sched_getaffinity(0, ...) answered from the caller's limits, as the agent's
     * /proc files show them: the result is written into the caller's memory, nothing of it is
     * read from there. Another PID's affinity, or a view that cannot be rendered (the caller's
     * cgroups unreadable), goes on to the kernel: the host's figures, as without the agent.
     */
    private void limits(Call call, Native.Notif n) {
        long[] a = n.args();
        byte[] out;
        long val;
        try {
            if (call == Call.SYSINFO) {
                out = Limits.sysinfo(VIEW.render("meminfo", n.pid()), VIEW.render("uptime", n.pid()),
                        ProcView.Host.REAL.read("/proc/loadavg").orElseThrow());
                val = 0;
            } else {
                if ((int) a[0] != 0) {
                    Native.respond(fd, n.id(), 0, 0, Native.USER_NOTIF_FLAG_CONTINUE);
                    return;
                }
                List<Integer> view = ProcView.parseList(cpus(n.pid()));
                String allowed = ProcView.Host.REAL.read("/proc/" + n.pid() + "/status").orElseThrow().lines()
                        .filter(l -> l.startsWith("Cpus_allowed_list:")).findFirst().orElseThrow().substring(18);
                Optional<byte[]> mask = Limits.affinity(view, ProcView.parseList(allowed), a[1], nrCpuIds());
                if (mask.isEmpty()) {
                    Native.respond(fd, n.id(), 0, -EINVAL, 0);
                    return;
                }
                out = mask.get();
                val = out.length;
            }
        } catch (RuntimeException e) {
            Agent.debug(() -> name + ": pid " + n.pid() + " " + call.helperName() + ": the kernel answers (" + e + ")");
            Native.respond(fd, n.id(), 0, 0, Native.USER_NOTIF_FLAG_CONTINUE);
            return;
        }
        long addr = call == Call.SYSINFO ? a[0] : a[2];
        int e = addr == 0 ? EFAULT : Native.writeMem(fd, n.id(), n.pid(), addr, out);
        if (e >= 0) {
            Native.respond(fd, n.id(), e == 0 ? val : 0, -e, 0);
        }
    }

    /** A copied argument could not be read: the kernel would have said EFAULT. */
    private static final class Fault extends Exception {
        final int errno;

        Fault(int errno) {
            super(null, null, false, false);
            this.errno = errno;
        }
    }

    private void emulate(Call call, Native.Notif n) throws IOException {
        long[] a = n.args();
        List<String> argv = new ArrayList<>(List.of(Integer.toString(n.pid()), call.helperName()));
        long[] attr = new long[4];
        int mem = n.pid();
        try {
            switch (call) {
                case MOUNT -> {
                    String type = str(mem, a[2], false);
                    argv.addAll(List.of(str(mem, a[0], false), str(mem, a[1], true), type,
                            Long.toUnsignedString(Policy.mountFlags(a[3])), remountData(n.pid(), a[3], str(mem, a[4], false)),
                            isNewMount(a[3]) ? masks(type).orElse("-") : "-"));
                }
                case FSOPEN -> {
                    String type = str(mem, a[0], true);
                    if (masks(type).isPresent()) {
                        // its mount could be read before it is attached: no way to mask it first
                        throw new Fault(ENOSYS);
                    }
                    argv.addAll(List.of(type, Long.toString(a[1] & 0xffffffffL)));
                }
                case UMOUNT2 -> argv.addAll(List.of(str(mem, a[0], true), Integer.toString((int) a[1])));
                case MOVE_MOUNT -> argv.addAll(List.of(Integer.toString((int) a[0]), str(mem, a[1], true),
                        Integer.toString((int) a[2]), str(mem, a[3], true), Long.toString(a[4] & 0xffffffffL)));
                case OPEN_TREE -> throw new AgentException("open_tree is never emulated");
                case FSPICK -> argv.addAll(List.of(Integer.toString((int) a[0]), str(mem, a[1], true),
                        Long.toString(a[2] & 0xffffffffL)));
                case MOUNT_SETATTR -> {
                    if (a[4] < 32) {
                        throw new Fault(EINVAL);
                    }
                    ByteBuffer b = read(mem, a[3], 32);
                    b.order(java.nio.ByteOrder.nativeOrder());
                    for (int i = 0; i < 4; i++) {
                        attr[i] = b.getLong(8 * i);
                    }
                    argv.addAll(List.of(Integer.toString((int) a[0]), str(mem, a[1], true), Long.toString(a[2] & 0xffffffffL),
                            Long.toUnsignedString(attr[0]), Long.toUnsignedString(attr[1]), Long.toUnsignedString(attr[2]),
                            Integer.toString((int) attr[3])));
                }
            }
        } catch (Fault f) {
            if (Native.idValid(fd, n.id())) {
                Native.respond(fd, n.id(), 0, -f.errno, 0);
            }
            return;
        }
        // what was read came from the trapped task, not from a process that took its PID since
        if (!Native.idValid(fd, n.id())) {
            return;
        }
        Resident h = resident();
        try {
            h.request(String.join(" ", argv));
        } catch (IOException e) {
            // the helper is gone (killed from outside) and has read nothing: a new one takes the call
            stopResident();
            h = resident();
            h.request(String.join(" ", argv));
        }
        boolean finished = false;
        try {
            Map<String, Policy.Resolved> paths = new HashMap<>();
            long context = -1;
            String line;
            Mount targetMount = null;
            while ((line = h.in.readLine()) != null && (line.startsWith("path ") || line.startsWith("context ") || line.startsWith("mount "))) {
                if (line.startsWith("context ")) {
                    context = Long.parseLong(line.substring(8));
                    continue;
                }
                if (line.startsWith("mount ")) {
                    // "mount ID PARENT DEV RO ROOT": the target's mount, as statmount(2) gave it in the caller's context
                    String[] f = line.split(" ");
                    targetMount = new Mount(Integer.parseInt(f[1]), Integer.parseInt(f[2]), f[3],
                            new String(HexFormat.of().parseHex(f[5]), StandardCharsets.UTF_8), "", f[4].equals("1"));
                    continue;
                }
                String[] f = line.split(" ");
                String where = f.length > 5 ? new String(HexFormat.of().parseHex(f[5]), StandardCharsets.UTF_8) : "";
                paths.put(f[1], new Policy.Resolved(Integer.parseInt(f[2]), f[3].equals("1"), f[4], where));
            }
            if (line == null || line.startsWith("errno ")) {
                String early = line;
                Agent.debug(() -> name + ": " + argv + " " + paths + " -> " + early);
                finished = line != null;
                answer(n, line);
                return;
            }
            if (!line.equals("ready")) {
                throw new AgentException("helper " + helper + " said \"" + line + "\", expected ready");
            }
            // A remount or fspick is decided on its target's mount alone, which the helper reported
            // when the kernel could say; every other call on the caller's whole mount table.
            boolean targetOnly = targetMount != null && paths.containsKey("target") && paths.get("target").mountId() == targetMount.id()
                    && (call == Call.FSPICK || (call == Call.MOUNT && (Policy.mountFlags(a[3]) & Policy.MS_REMOUNT) != 0));
            // a new mount (or fsopen) is allowed wherever it goes: no table to read
            boolean anywhere = call == Call.FSOPEN || (call == Call.MOUNT && isNewMount(a[3]));
            MountTable table = targetOnly || anywhere ? null : mounts(context, n.pid());
            // the helper opened the caller's /proc entries, and so may have we: they were the trapped task's only if it is still waiting
            if (!Native.idValid(fd, n.id())) {
                h.request("no");
                finished = true;
                return;
            }
            int verdict = targetOnly ? policy.decide(call, a, attr, paths, List.of(targetMount), true)
                    : anywhere ? policy.decide(call, a, attr, paths, List.of(), true)
                    : policy.decide(call, a, attr, paths, table.mounts, table.inCreationNs);
            if (verdict != 0) {
                h.request("no");
                finished = true;
                Agent.log(name + ": pid " + n.pid() + " " + call.helperName() + " " + argv.subList(2, argv.size()) + ": denied");
                Native.respond(fd, n.id(), 0, -verdict, 0);
                return;
            }
            h.request("go");
            line = h.in.readLine();
            List<String[]> placed = new ArrayList<>();
            while (line != null && (line.startsWith("guard ") || line.startsWith("fresh "))) {
                String[] f = line.split(" ");
                if (line.startsWith("fresh ")) {
                    // staged: the new mount and its masks are detached still; once guarded, attach it
                    policy.guard(placed, f[1], isReadOnlySpec(argv));
                    if (!"staged".equals(h.in.readLine())) {
                        throw new AgentException("helper " + helper + ": expected staged after " + line);
                    }
                    h.request("go");
                } else {
                    placed.add(new String[] {f[1], new String(HexFormat.of().parseHex(f[2]), StandardCharsets.UTF_8)});
                }
                line = h.in.readLine();
            }
            if (line != null && line.startsWith("fd ")) {
                String[] f = line.split(" ");
                int theirs = Native.takeFd(Long.parseLong(f[2]), Integer.parseInt(f[1]));
                h.request("taken");
                finished = true;
                try {
                    boolean cloexec = (a[call == Call.FSOPEN ? 1 : 2] & 1 /* FSPICK_CLOEXEC, FSOPEN_CLOEXEC */) != 0;
                    Native.respondWithFd(fd, n.id(), theirs, cloexec);
                } finally {
                    Native.close(theirs);
                }
                return;
            }
            String result = line;
            Agent.debug(() -> name + ": " + argv + " " + paths + " -> " + result);
            finished = line != null && line.startsWith("errno ");
            answer(n, line);
        } finally {
            if (!finished) {
                // where the helper is in its protocol is unknown: the next call gets a new one
                stopResident();
            }
        }
    }

    /**
     * The mount table of one caller context (the helper's worker N: one user and mount namespace,
     * root and credentials), parsed from its mountinfo, whose open fd tells when it changes: the
     * kernel flags POLLPRI on it after any change to that namespace's mounts, and the table is
     * read again then. So an unchanged table is not read and parsed for every call.
     */
    private static final class MountTable {
        final int fd;
        final boolean inCreationNs;
        List<Mount> mounts;

        MountTable(int fd, boolean inCreationNs) {
            this.fd = fd;
            this.inCreationNs = inCreationNs;
        }
    }

    /** At most as many as the helper keeps workers; the least recently used is closed first. */
    private final Map<Long, MountTable> tables = new java.util.LinkedHashMap<>(16, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<Long, MountTable> e) {
            if (size() > 32) {
                Native.close(e.getValue().fd);
                return true;
            }
            return false;
        }
    };

    /** The caller's mount table: its context's, read again when the kernel says it changed (or when the context is unknown). */
    private MountTable mounts(long context, int pid) throws IOException {
        MountTable t = context < 0 ? null : tables.get(context);
        if (t != null && !Native.mountsChanged(t.fd)) {
            return t;
        }
        if (t != null) {
            tables.remove(context);
            Native.close(t.fd);
        }
        // opened before it is read: a change in between is flagged at the next poll, so it is read again then
        int mfd = Native.openRead("/proc/" + pid + "/mountinfo");
        MountTable fresh;
        try {
            boolean inCreationNs = Files.readSymbolicLink(Path.of("/proc", Integer.toString(pid), "ns", "mnt")).toString().equals(mntNs);
            fresh = new MountTable(mfd, inCreationNs);
            fresh.mounts = Mount.parse(Native.readAll(mfd));
        } catch (IOException | RuntimeException e) {
            Native.close(mfd);
            throw e;
        }
        if (context < 0) {
            Native.close(mfd);
        } else {
            tables.put(context, fresh);
        }
        return fresh;
    }

    private void forgetTables() {
        for (MountTable t : tables.values()) {
            Native.close(t.fd);
        }
        tables.clear();
    }

    /** The resident helper (bulwark-mountctl --serve) of this notify fd, started at the first emulated call. */
    private static final class Resident {
        final Process process;
        final OutputStream out;
        final BufferedReader in;

        Resident(Process process) {
            this.process = process;
            this.out = process.getOutputStream();
            this.in = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
        }

        void request(String line) throws IOException {
            out.write((line + "\n").getBytes(StandardCharsets.UTF_8));
            out.flush();
        }
    }

    private Resident resident;

    private Resident resident() throws IOException {
        if (resident == null || !resident.process.isAlive()) {
            stopResident();
            // started from this thread: the helper's PR_SET_PDEATHSIG ends it when this thread ends
            resident = new Resident(new ProcessBuilder(helper.toString(), "--serve").redirectError(ProcessBuilder.Redirect.INHERIT).start());
        }
        return resident;
    }

    /** Closes the helper's stdin (it exits, and its workers with it) and makes sure it is gone. */
    private void stopResident() {
        Resident r = resident;
        resident = null;
        forgetTables(); // the worker numbers are the helper's
        if (r == null) {
            return;
        }
        try {
            r.out.close();
        } catch (IOException e) {
            // it is being killed anyway
        }
        try {
            // on EOF it kills and reaps its workers; killed at once, they would die unreaped (PR_SET_PDEATHSIG)
            if (!r.process.waitFor(2, java.util.concurrent.TimeUnit.SECONDS)) {
                r.process.destroyForcibly();
                r.process.waitFor();
            }
            r.in.close();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (IOException e) {
            // closed already
        }
    }

    /** mount(2) making a new mount: none of remount, bind, move or a propagation change. */
    private static boolean isNewMount(long flags) {
        long f = Policy.mountFlags(flags);
        return (f & (Policy.MS_REMOUNT | Policy.MS_BIND | Policy.MS_MOVE | Policy.MS_PROPAGATION)) == 0;
    }

    /** The masks a new mount of this (hex) type gets, hex-encoded for the helper. */
    private Optional<String> masks(String hexType) {
        if (hexType.equals("-") || hexType.equals(".")) {
            return Optional.empty();
        }
        return policy.masksFor(new String(HexFormat.of().parseHex(hexType), StandardCharsets.UTF_8))
                .map(s -> HexFormat.of().formatHex(s.getBytes(StandardCharsets.UTF_8)));
    }

    private static boolean isReadOnlySpec(List<String> argv) {
        String spec = argv.get(argv.size() - 1);
        return !spec.equals("-") && new String(HexFormat.of().parseHex(spec), StandardCharsets.UTF_8).startsWith("ro");
    }

    private void answer(Native.Notif n, String line) {
        if (line == null || !line.startsWith("errno ")) {
            throw new AgentException("helper " + helper + " ended without a result (" + line + ")");
        }
        int e = Integer.parseInt(line.substring(6).trim());
        Native.respond(fd, n.id(), 0, -e, 0);
    }

    /**
     * A superblock remount's options with uid= and gid= as the caller's namespace names them
     * (RemountIds); hex in, hex out. The maps are read from the host's side, so they name host IDs.
     */
    private static String remountData(int pid, long flags, String data) throws IOException {
        long f = Policy.mountFlags(flags);
        if ((f & Policy.MS_REMOUNT) == 0 || (f & Policy.MS_BIND) != 0 || data.equals("-") || data.equals(".")) {
            return data;
        }
        String text = new String(HexFormat.of().parseHex(data), StandardCharsets.UTF_8);
        if (!text.contains("uid=") && !text.contains("gid=")) {
            return data;
        }
        Path proc = Path.of("/proc", Integer.toString(pid));
        String out = RemountIds.translate(text, RemountIds.parseMap(Procfs.read(proc.resolve("uid_map"))),
                RemountIds.parseMap(Procfs.read(proc.resolve("gid_map"))));
        return HexFormat.of().formatHex(out.getBytes(StandardCharsets.UTF_8));
    }

    /** A NUL-terminated string from the caller's memory, hex-encoded for the helper; "-" for NULL, "." for "". */
    private static String str(int pid, long addr, boolean required) throws Fault {
        if (addr == 0) {
            if (required) {
                throw new Fault(EFAULT);
            }
            return "-";
        }
        byte[] out = new byte[PATH_MAX];
        int len = 0;
        long at = addr;
        while (len < PATH_MAX) {
            // read up to the page end: the next page may be unmapped, as with the kernel's strncpy_from_user
            int chunk = (int) Math.min(PATH_MAX - len, 4096 - (at & 4095));
            byte[] b = Native.readMem(pid, at, chunk);
            if (b.length == 0) {
                throw new Fault(EFAULT);
            }
            for (byte c : b) {
                if (c == 0) {
                    return len == 0 ? "." : HexFormat.of().formatHex(out, 0, len);
                }
                out[len++] = c;
            }
            at += b.length;
        }
        throw new Fault(36); // ENAMETOOLONG
    }

    private static ByteBuffer read(int pid, long addr, int n) throws Fault {
        ByteBuffer b = ByteBuffer.allocate(n);
        while (b.hasRemaining()) {
            byte[] got = Native.readMem(pid, addr + b.position(), b.remaining());
            if (got.length == 0) {
                throw new Fault(EFAULT);
            }
            b.put(got);
        }
        return b.clear();
    }
}
