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
 *
 * A call that takes no descriptor of the caller and makes no new mount goes straight to the
 * helper's worker for the caller's context, over the {@link Board}: the worker the caller's last
 * call went to is told to check the caller while its arguments are copied here, and answers
 * "slow" when the caller has left that context (the call then goes through the helper, which
 * finds or starts the right worker by the caller's {@link Context} key).
 *
 * The verdict on a remount, or on a mount_setattr of one mount (not AT_RECURSIVE), depends on its
 * target's mount and the policy's guards alone: the one question is whether that mount may be
 * made writable. With a "go" to that question the agent gives the worker the policy's epoch, and
 * the worker performs later calls of either kind on that same mount (by its unique ID, never
 * reused) at once, without asking, while the requests carry that epoch. Such a request goes out
 * only once the notification was found still pending after the copy, so what was read is the
 * trapped task's. Only allowing verdicts stand, and none under Landlock (which refuses mount(2)
 * but not mount_setattr(2)).
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
    private final boolean nsTrapped;
    private final Runnable onExit;

    /** nsTrapped: the container's filter traps setns and unshare to this agent (listenerMetadata trap-ns=on). */
    Supervisor(String name, int fd, String mntNs, Policy policy, Path helper, boolean nsTrapped, Runnable onExit) {
        this.name = name;
        this.fd = fd;
        this.mntNs = mntNs;
        this.policy = policy;
        this.helper = helper;
        this.nsTrapped = nsTrapped;
        this.onExit = onExit;
    }

    @Override
    public void run() {
        try {
            if (!Native.syncWakeUp(fd)) {
                Agent.debug(() -> name + ": the kernel has no synchronous wake-up for seccomp notifications");
            }
            // the notify fd, and a pidfd of each worker's latest caller: a worker whose caller
            // has exited is ended before the next call is taken (see Resident.reap)
            int[] fds = new int[1 + Board.SLOTS];
            short[] rev = new short[fds.length];
            fds[0] = fd;
            while (true) {
                int k = 1 + (resident == null ? 0 : resident.callers(fds, 1));
                if (Native.poll(fds, k, rev, -1) == 0) {
                    continue;
                }
                for (int i = 1; i < k; i++) {
                    if (rev[i] != 0) {
                        reap();
                        break;
                    }
                }
                if ((rev[0] & POLLIN) != 0) {
                    Native.recv(fd).ifPresent(this::serve);
                } else if (rev[0] != 0) {
                    break; // POLLHUP: every task of the filter is gone
                }
            }
        } catch (RuntimeException e) {
            Agent.log(name + ": stopped supervising: " + e.getMessage());
        } finally {
            stopResident();
            keys.close();
            Native.close(fd);
            onExit.run();
            Agent.log(name + ": container gone");
        }
    }

    private void reap() {
        try {
            resident.reap();
        } catch (IOException | RuntimeException e) {
            // where the helper is in its protocol is unknown: the next call gets a new one
            Agent.log(name + ": ending a worker: " + e);
            stopResident();
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
            if (call.get() == Call.SETNS || call.get() == Call.UNSHARE) {
                // decided on nothing: the workers are told first that a namespace may change (a
                // worker skips comparing a known caller's namespaces only while none may have)
                if (resident != null) {
                    resident.board.nsChanging();
                }
                Native.respond(fd, n.id(), 0, 0, Native.USER_NOTIF_FLAG_CONTINUE);
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

    /**
     * The view's CPUs by the caller's /proc/PID/cgroup: they depend on its cgroups alone. Kept per
     * container (a name, and so a cgroup path, may come again with other limits).
     */
    private final Map<String, Cpus> cpus = new HashMap<>();
    private static final long CPUS_TTL_NS = 1_000_000_000L;

    /**
     * The view's cpu/online for pid. sched_getaffinity is asked at every start of a Go program or
     * a JVM, and by the JVM's availableProcessors(): the answer for a set of cgroups is kept for
     * a second, so a quota or cpuset changed by `update` shows within a second.
     */
    private String cpus(int pid) {
        String cgroups = ProcView.Host.REAL.read("/proc/" + pid + "/cgroup").orElseThrow();
        long now = System.nanoTime();
        Cpus c = cpus.get(cgroups);
        if (c == null || now - c.at() > CPUS_TTL_NS) {
            if (cpus.size() > 4096) {
                cpus.clear();
            }
            c = new Cpus(VIEW.render("cpu-online", pid), now);
            cpus.put(cgroups, c);
        }
        return c.list();
    }

    /** The view's memory, uptime and load for sysinfo, as read at `at`. */
    private record Sys(String meminfo, double uptime, String loadavg, long at) {}

    /** By the caller's cgroups and PID namespace (the uptime's container): they depend on those alone. Per container too. */
    private final Map<String, Sys> sys = new HashMap<>();

    /**
     * sysinfo(2)'s figures for pid. Asked by every program that sizes itself by the memory (glibc's
     * sysconf(_SC_PHYS_PAGES), so every JVM start, several times): the view's memory is kept for a
     * second per cgroup set, as the CPUs are, and the uptime counted on from when it was read.
     */
    private byte[] sysinfo(int pid) {
        String key = ProcView.Host.REAL.read("/proc/" + pid + "/cgroup").orElseThrow() + "|" + pidNamespace(pid);
        long now = System.nanoTime();
        Sys c = sys.get(key);
        if (c == null || now - c.at() > CPUS_TTL_NS) {
            if (sys.size() > 4096) {
                sys.clear();
            }
            String up = VIEW.render("uptime", pid);
            c = new Sys(VIEW.render("meminfo", pid), Double.parseDouble(up.strip().split("\\s+")[0]),
                    ProcView.Host.REAL.read("/proc/loadavg").orElseThrow(), now);
            sys.put(key, c);
        }
        double up = c.uptime() + (now - c.at()) / 1e9;
        return Limits.sysinfo(c.meminfo(), String.format(java.util.Locale.ROOT, "%.2f", up), c.loadavg());
    }

    private static String pidNamespace(int pid) {
        try {
            return Files.readSymbolicLink(Path.of("/proc/" + pid + "/ns/pid")).toString();
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
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
                out = sysinfo(n.pid());
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
        Resident h = resident();
        // The worker this caller's last call went to, told at once to check that the caller is
        // still in its context, while the arguments are copied here.
        Route early = onBoard(call, a) ? h.routeOf(n.pid()) : null;
        if (early != null) {
            h.board.check(early.slot(), n.pid());
        }
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
            if (early != null) {
                h.board.check(early.slot(), 0);
            }
            if (Native.idValid(fd, n.id())) {
                Native.respond(fd, n.id(), 0, -f.errno, 0);
            }
            return;
        }
        // what was read came from the trapped task, not from a process that took its PID since
        boolean onBoard = onBoard(call, a, argv);
        Route r = early;
        if (r != null && !onBoard) {
            h.board.check(r.slot(), 0);
            r = null;
        }
        // On the board, whether what was read came from the trapped task is known before the go
        // (the notification is checked once the worker has resolved the paths); a call on its
        // way to the helper is checked now, before the helper takes the caller's descriptors.
        if (r == null && !Native.idValid(fd, n.id())) {
            return;
        }
        String rest = String.join(" ", argv.subList(1, argv.size()));
        Channel ch = null;
        long context = -1;
        String line = null;
        if (r == null && onBoard) {
            // a caller new to the agent in a context it has a worker for
            r = h.route(keys.key(n.pid(), false));
            if (r != null) {
                h.board.check(r.slot(), n.pid());
            }
        }
        // A remount or a one-mount mount_setattr may be performed on a verdict that stands for
        // its target's mount (the worker has it when the policy's epoch is the one it was given
        // with): that needs what was read to be the trapped task's before the request goes out.
        boolean standable = oneMount(call, a);
        if (r != null && standable && !Native.idValid(fd, n.id())) {
            h.board.check(r.slot(), 0);
            return;
        }
        if (r != null) {
            // the worker of the caller's context, straight over the board
            BoardChannel b = new BoardChannel(h.board, r);
            try {
                b.say(n.pid() + " " + (standable ? Long.toString(policy.epoch()) : "-") + " " + rest);
                line = b.next();
            } catch (RuntimeException e) {
                // the worker exited under the call: the next call gets a new helper, as below
                stopResident();
                throw e;
            }
            if (line.equals("slow")) {
                // not in that context any more, or not to be opened as the caller: the helper's way
                h.forgetPid(n.pid());
                line = null;
            } else {
                ch = b;
                context = r.gen();
                h.served(r.slot(), r.gen(), n.pid());
                h.rememberPid(n.pid(), r);
            }
        }
        String key = null;
        if (ch == null) {
            key = keys.key(n.pid(), true);
            String request = n.pid() + " " + HexFormat.of().formatHex(key.getBytes(StandardCharsets.UTF_8)) + " " + rest;
            try {
                h.request(request);
            } catch (IOException e) {
                // the helper is gone (killed from outside) and has read nothing: a new one takes the call
                stopResident();
                h = resident();
                h.request(request);
            }
            ch = h.pipes;
            line = ch.next();
        }
        String boardNote = ch == h.pipes ? "" : " on the board";
        boolean finished = false;
        try {
            Map<String, Policy.Resolved> paths = new HashMap<>();
            Mount targetMount = null;
            String via = boardNote;
            for (; line != null && (line.startsWith("path ") || line.startsWith("context ") || line.startsWith("mount ") || line.equals("standing"));
                    line = ch.next()) {
                if (line.equals("standing")) {
                    // the worker has a go for this mount from this epoch of the policy: it performs the call
                    via = boardNote + ", standing go";
                    continue;
                }
                if (line.startsWith("context ")) {
                    // "context GEN SLOT EXACT PID": the helper's worker for this call
                    String[] f = line.split(" ");
                    context = Long.parseLong(f[1]);
                    h.served(Integer.parseInt(f[2]), context, n.pid());
                    if (f[3].equals("1") && key != null) {
                        h.learn(key, Integer.parseInt(f[2]), context, Integer.parseInt(f[4]), n.pid());
                    }
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
                String result = line;
                String how = via;
                Agent.debug(() -> name + ": " + argv + " " + paths + how + " -> " + result);
                finished = line != null;
                answer(n, line);
                return;
            }
            if (!line.equals("ready")) {
                throw new AgentException("helper " + helper + " said \"" + line + "\", expected ready");
            }
            // A remount, fspick or one-mount mount_setattr is decided on its target's mount alone,
            // which the helper reported when the kernel could say (never for a detached mount: it
            // is in no namespace's table); every other call on the caller's whole mount table.
            boolean targetOnly = targetMount != null && paths.containsKey("target") && paths.get("target").mountId() == targetMount.id()
                    && (call == Call.FSPICK || oneMount(call, a));
            // a new mount (or fsopen) is allowed wherever it goes, and a mount_setattr that leaves
            // MOUNT_ATTR_RDONLY set whatever it covers (systemd's recursive read-only mounts): no
            // table to read
            boolean anywhere = call == Call.FSOPEN || (call == Call.MOUNT && isNewMount(a[3]))
                    || (call == Call.MOUNT_SETATTR && (attr[1] & Policy.MOUNT_ATTR_RDONLY) == 0);
            MountTable table = targetOnly || anywhere ? null : mounts(context, n.pid());
            // the helper opened the caller's /proc entries, and so may have we: they were the trapped task's only if it is still waiting
            if (!Native.idValid(fd, n.id())) {
                ch.say("no");
                finished = true;
                return;
            }
            long epoch = policy.epoch(); // read before the verdict: a change to the guards during it makes it stand no longer
            int verdict = targetOnly ? policy.decide(call, a, attr, paths, List.of(targetMount), true)
                    : anywhere ? policy.decide(call, a, attr, paths, List.of(), true)
                    : policy.decide(call, a, attr, paths, table.mounts, table.inCreationNs);
            if (verdict != 0) {
                ch.say("no");
                finished = true;
                Agent.log(name + ": pid " + n.pid() + " " + call.helperName() + " " + argv.subList(2, argv.size()) + ": denied");
                Native.respond(fd, n.id(), 0, -verdict, 0);
                return;
            }
            // a verdict on whether the target's mount may be made writable stands for it, until
            // the guards change (a read-only remount's, or a mount_setattr's that leaves
            // MOUNT_ATTR_RDONLY be, says nothing of that)
            boolean writable = call == Call.MOUNT ? (Policy.mountFlags(a[3]) & Policy.MS_RDONLY) == 0
                    : (attr[1] & Policy.MOUNT_ATTR_RDONLY) != 0;
            boolean stands = standable && targetOnly && writable && ch != h.pipes && !policy.landlocked();
            ch.say(stands ? "go " + epoch : "go");
            line = ch.next();
            List<String[]> placed = new ArrayList<>();
            while (line != null && (line.startsWith("guard ") || line.startsWith("fresh "))) {
                String[] f = line.split(" ");
                if (line.startsWith("fresh ")) {
                    // staged: the new mount and its masks are detached still; once guarded, attach it
                    policy.guard(placed, f[1], isReadOnlySpec(argv));
                    if (!"staged".equals(ch.next())) {
                        throw new AgentException("helper " + helper + ": expected staged after " + line);
                    }
                    ch.say("go");
                } else {
                    placed.add(new String[] {f[1], new String(HexFormat.of().parseHex(f[2]), StandardCharsets.UTF_8)});
                }
                line = ch.next();
            }
            if (line != null && line.startsWith("fd ")) {
                String[] f = line.split(" ");
                int theirs = Native.takeFd(Long.parseLong(f[2]), Integer.parseInt(f[1]));
                ch.say("taken");
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
            Agent.debug(() -> name + ": " + argv + " " + paths + boardNote + " -> " + result);
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

    /** Where a call's answers come from and its verdicts go: the helper's pipes, or a worker's slot on the board. */
    private interface Channel {
        /** The next line of the answer; null when the helper has closed its output. */
        String next() throws IOException;

        void say(String line) throws IOException;
    }

    /** A worker the agent may send a call that makes no new mount to, over the board: slot, number, and a pidfd of it. */
    private record Route(int slot, long gen, int pidfd) {}

    /** One call's exchange with the worker of slot r: each answer of the worker is one post of lines. */
    private static final class BoardChannel implements Channel {
        private final Board board;
        private final Route route;
        private int seen;
        private final java.util.ArrayDeque<String> lines = new java.util.ArrayDeque<>();

        BoardChannel(Board board, Route route) {
            this.board = board;
            this.route = route;
            this.seen = board.answers(route.slot());
        }

        @Override
        public String next() {
            if (lines.isEmpty()) {
                String text = board.await(route.slot(), seen, route.pidfd());
                seen++;
                for (String l : text.split("\n")) {
                    lines.add(l);
                }
            }
            return lines.poll();
        }

        @Override
        public void say(String line) {
            board.post(route.slot(), line);
            if (line.equals("no") && !"done".equals(next())) {
                // the worker reads a verdict after it wakes: the next request waits for its word
                throw new AgentException("worker of slot " + route.slot() + " did not take the no");
            }
        }
    }

    /**
     * The resident helper (bulwark-mountctl --serve) of this notify fd, started at the first
     * emulated call, its board, the workers the agent may reach over it (by the part of their
     * context key a call that makes no new mount needs), and the latest caller each worker served.
     */
    private static final class Resident {
        final Process process;
        final OutputStream out;
        final BufferedReader in;
        final Board board;
        final Channel pipes;
        private final Map<String, Route> routes = new HashMap<>();
        /** The worker each recent caller was served by (it checks the caller is still in its context). */
        private final Map<Integer, Route> byPid = new java.util.LinkedHashMap<>(16, 0.75f, true) {
            @Override
            protected boolean removeEldestEntry(Map.Entry<Integer, Route> e) {
                return size() > 256;
            }
        };
        private final Route[] bySlot = new Route[Board.SLOTS];
        private final int[] lastPid = new int[Board.SLOTS];
        private final long[] lastGen = new long[Board.SLOTS];
        private final int[] lastPidfd = new int[Board.SLOTS];

        Resident(Path helper, Board board) throws IOException {
            this.board = board;
            // started from this thread: the helper's PR_SET_PDEATHSIG ends it when this thread ends
            this.process = new ProcessBuilder(helper.toString(), "--serve", "--board", board.path())
                    .redirectError(ProcessBuilder.Redirect.INHERIT).start();
            this.out = process.getOutputStream();
            this.in = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
            java.util.Arrays.fill(lastPidfd, -1);
            this.pipes = new Channel() {
                @Override
                public String next() throws IOException {
                    return in.readLine();
                }

                @Override
                public void say(String line) throws IOException {
                    request(line);
                }
            };
        }

        void request(String line) throws IOException {
            out.write((line + "\n").getBytes(StandardCharsets.UTF_8));
            out.flush();
        }

        /** The worker for a call of this (short) key, if it still serves its slot. */
        Route route(String key) {
            return current(routes.get(key));
        }

        /** The worker pid's last call went to, if it still serves its slot. */
        Route routeOf(int pid) {
            return current(byPid.get(pid));
        }

        private Route current(Route r) {
            if (r != null && board.gen(r.slot()) != r.gen()) {
                forget(r.slot());
                return null;
            }
            return r;
        }

        void rememberPid(int pid, Route r) {
            byPid.put(pid, r);
        }

        void forgetPid(int pid) {
            byPid.remove(pid);
        }

        /** The helper's worker gen at slot is exactly what fullKey says: calls of its short key may go to it directly. */
        void learn(String fullKey, int slot, long gen, int workerPid, int pid) {
            if (slot < 0 || slot >= Board.SLOTS) {
                return;
            }
            Route r = bySlot[slot];
            if (r == null || r.gen() != gen) {
                forget(slot);
                // the helper reaps its workers only when asked (a new one, a reap, its exit), so
                // this PID is the worker's, alive or not yet reaped
                int pidfd = Native.pidfdOpen(workerPid);
                if (pidfd < 0) {
                    return;
                }
                r = bySlot[slot] = new Route(slot, gen, pidfd);
            }
            routes.put(fullKey.substring(0, fullKey.indexOf('|')), r);
            byPid.put(pid, r);
        }

        private void forget(int slot) {
            Route r = bySlot[slot];
            if (r != null) {
                routes.values().removeIf(x -> x == r);
                byPid.values().removeIf(x -> x == r);
                Native.close(r.pidfd());
                bySlot[slot] = null;
            }
        }

        /** pid was the latest caller of the worker gen at slot. */
        void served(int slot, long gen, int pid) {
            if (slot < 0 || slot >= Board.SLOTS || (lastPid[slot] == pid && lastGen[slot] == gen)) {
                return;
            }
            if (lastPidfd[slot] >= 0) {
                Native.close(lastPidfd[slot]);
            }
            lastPid[slot] = pid;
            lastGen[slot] = gen;
            lastPidfd[slot] = Native.pidfdOpen(pid);
        }

        /**
         * Ends every worker whose latest caller has exited. A worker sits in its caller's mount
         * namespace with its root there, and so keeps that namespace, and the mounts in it,
         * alive: an inner container's (runc's) namespace would outlive the container, and the
         * rootfs mount its shim then unmounts outside would stay busy (EBUSY) through the copy in
         * it. Done between calls, when the supervising poll sees a caller's pidfd readable: an
         * exit that came before a call (the shim's unmount is itself a call) is seen in the
         * same poll as the call's notification, and handled first. So a worker is never ended
         * while a call is on its way to it; a later caller in the same context gets a new worker.
         */
        void reap() throws IOException {
            int[] slots = new int[Board.SLOTS];
            int[] fds = new int[Board.SLOTS];
            int k = 0;
            for (int s = 0; s < Board.SLOTS; s++) {
                if (lastPidfd[s] >= 0) {
                    slots[k] = s;
                    fds[k++] = lastPidfd[s];
                }
            }
            for (int i : Native.readable(java.util.Arrays.copyOf(fds, k))) {
                int s = slots[i];
                if (board.gen(s) == lastGen[s]) {
                    request("reap " + s + " " + lastGen[s]);
                    String line = in.readLine();
                    if (!"reaped".equals(line)) {
                        throw new AgentException("helper: expected reaped, got " + line);
                    }
                }
                forget(s);
                Native.close(lastPidfd[s]);
                lastPidfd[s] = -1;
                lastPid[s] = 0;
            }
        }

        /** Puts the pidfd of each worker's latest caller into fds from index at; how many. */
        int callers(int[] fds, int at) {
            int k = 0;
            for (int s = 0; s < Board.SLOTS; s++) {
                if (lastPidfd[s] >= 0) {
                    fds[at + k++] = lastPidfd[s];
                }
            }
            return k;
        }

        /** Closes what the agent holds of the workers; the helper is gone. */
        void release() {
            for (int s = 0; s < Board.SLOTS; s++) {
                forget(s);
                if (lastPidfd[s] >= 0) {
                    Native.close(lastPidfd[s]);
                    lastPidfd[s] = -1;
                }
            }
            board.close();
        }
    }

    private Resident resident;
    private final Context keys = new Context();

    private Resident resident() throws IOException {
        if (resident == null || !resident.process.isAlive()) {
            stopResident();
            Board board = new Board();
            if (nsTrapped) {
                board.nsTrapped();
            }
            try {
                resident = new Resident(helper, board);
            } catch (IOException | RuntimeException e) {
                board.close();
                throw e;
            }
        }
        return resident;
    }

    /**
     * A call the agent may send a worker over the board (mountctl's board_call says the same): no
     * descriptor of the caller to take (every dirfd AT_FDCWD, no user namespace fd, no FUSE
     * device), none to hand back (fsopen, fspick), no new mount.
     */
    private static boolean onBoard(Call call, long[] a, List<String> argv) {
        return onBoard(call, a) && switch (call) {
            case MOUNT -> !argv.get(4).startsWith("66757365" /* "fuse" */);
            case MOUNT_SETATTR -> (Long.parseUnsignedLong(argv.get(5)) & 0x00100000L /* MOUNT_ATTR_IDMAP */) == 0;
            default -> true;
        };
    }

    /** A remount, or a mount_setattr of one mount: its verdict is on its target's mount alone. */
    private static boolean oneMount(Call call, long[] a) {
        return switch (call) {
            case MOUNT -> (Policy.mountFlags(a[3]) & Policy.MS_REMOUNT) != 0;
            case MOUNT_SETATTR -> (a[2] & Policy.AT_RECURSIVE) == 0;
            default -> false;
        };
    }

    /** The part of onBoard the registers tell. */
    private static boolean onBoard(Call call, long[] a) {
        final int atFdcwd = -100;
        return switch (call) {
            case MOUNT -> (Policy.mountFlags(a[3]) & (Policy.MS_REMOUNT | Policy.MS_BIND | Policy.MS_MOVE)) != 0;
            case UMOUNT2 -> true;
            case MOVE_MOUNT -> (int) a[0] == atFdcwd && (int) a[2] == atFdcwd;
            case MOUNT_SETATTR -> (int) a[0] == atFdcwd;
            default -> false;
        };
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
        } finally {
            r.release();
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
            // read up to the page end: the next page may be unmapped, as with the kernel's
            // strncpy_from_user; most paths are short, so 256 bytes first
            int chunk = (int) Math.min(Math.min(PATH_MAX - len, 4096 - (at & 4095)), len == 0 ? 256 : 4096);
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
