package dev.bulwark.agent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.bulwark.runtime.Capabilities;
import dev.bulwark.testing.ContainerTestBase;
import dev.bulwark.testing.Sandbox;
import dev.bulwark.testing.TestAgent;
import dev.bulwark.testing.Sandbox.Result;
import dev.bulwark.testing.TestEnv;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Immutable mountpoints on real containers (root only): a user namespace with its own range,
 * full capabilities, a profile that traps the mount family (SCMP_ACT_NOTIFY) to an agent the
 * test starts as its own process (`bulwark agent --socket`) and stops by PID. Each rule is
 * checked with its allowed counterpart, so a refusal is the agent's and not a broken setup.
 * In the container: busybox mount/umount and src/test/c/agent/mnt.c (raw syscalls, prints
 * "ok" or "errno N").
 */
class AgentContainerTest extends ContainerTestBase {
    private static final String EPERM = "errno 1";
    private static final String ENOSYS = "errno 38";
    private static final List<String> TRAPPED = List.of("mount", "umount2", "move_mount", "open_tree", "mount_setattr", "fspick", "fsopen");

    private Process agent;
    private Path socket;
    private Path ro;
    private Path rw;

    @BeforeAll
    static void mntProgram() throws Exception {
        // mount targets: the stage cannot create them in a root it does not own from a user namespace
        Files.createDirectories(rootfs.resolve("ro"));
        Files.createDirectories(rootfs.resolve("rw"));
        Path src = TestEnv.sourceDir().resolve("src/test/c/agent/mnt.c");
        Process p = new ProcessBuilder("musl-gcc", "-static", "-O2", "-Wall", "-Wextra", "-Werror", "-pthread", "-o",
                rootfs.resolve("bin/mnt").toString(), src.toString()).redirectErrorStream(true).start();
        String log = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.waitFor(), "musl-gcc mnt.c (is musl-tools installed?): " + log);
    }

    @BeforeEach
    void systemContainer() throws Exception {
        socket = box.dir().resolve("agent.sock");
        agent = startAgent(socket);
        // the container's root is an unprivileged host user: it must be able to reach the volumes
        Files.setPosixFilePermissions(box.dir(), PosixFilePermissions.fromString("rwx--x--x"));
        ro = Files.createDirectories(box.dir().resolve("ro"));
        rw = Files.createDirectories(box.dir().resolve("rw"));
        Files.writeString(ro.resolve("file"), "ro");
        // both writable by the container's root: /ro is read-only only because it is mounted so
        Files.setPosixFilePermissions(rw, PosixFilePermissions.fromString("rwxrwxrwx"));
        Files.setPosixFilePermissions(ro, PosixFilePermissions.fromString("rwxrwxrwx"));
        box.namespaces().add(map("type", "user"));
        box.linux().put("uidMappings", List.of(map("containerID", 0, "hostID", 600000, "size", 65536)));
        box.linux().put("gidMappings", List.of(map("containerID", 0, "hostID", 600000, "size", 65536)));
        List<String> all = hostCaps();
        box.process().put("capabilities", map("bounding", all, "effective", all, "permitted", all));
        box.mounts().add(map("destination", "/ro", "type", "bind", "source", ro.toString(), "options", List.of("rbind", "ro")));
        box.mounts().add(map("destination", "/rw", "type", "bind", "source", rw.toString(), "options", List.of("rbind", "rw")));
        box.mounts().add(map("destination", "/tmp", "type", "tmpfs", "source", "tmpfs", "options", List.of("nosuid", "nodev")));
        box.linux().put("seccomp", map("defaultAction", "SCMP_ACT_ALLOW", "listenerPath", socket.toString(),
                "syscalls", List.of(map("names", TRAPPED, "action", "SCMP_ACT_NOTIFY"))));
    }

    @AfterEach
    void stopAgent() throws Exception {
        stop(agent);
        stopKeeper(socket);
        TestAgent.detachProcView(socket);
    }

    static void stopKeeper(Path socket) throws Exception {
        TestAgent.stopKeeper(socket);
    }

    /** Every capability this test runs with: "full" in the container is everything the runtime itself can grant. */
    static List<String> hostCaps() throws IOException {
        long bnd = bounding();
        return Capabilities.NAMES.stream().filter(n -> (bnd >> Capabilities.number(n) & 1) != 0).toList();
    }

    static long bounding() throws IOException {
        return Files.readAllLines(Path.of("/proc/self/status")).stream().filter(l -> l.startsWith("CapBnd:"))
                .map(l -> Long.parseUnsignedLong(l.substring(7).trim(), 16)).findFirst().orElseThrow();
    }

    static Process startAgent(Path socket) throws Exception {
        return TestAgent.start(socket);
    }

    static void stop(Process p) throws InterruptedException {
        TestAgent.stop(p);
    }

    static String log(Path socket) {
        return TestAgent.log(socket);
    }

    private void metadata(String m) {
        @SuppressWarnings("unchecked")
        Map<String, Object> s = (Map<String, Object>) box.linux().get("seccomp");
        s.put("listenerMetadata", m);
    }

    /** Runs the script; returns its stdout lines (each step echoes its own outcome). */
    private List<String> sh(String script) throws Exception {
        Result r = box.sh(script + "\ntrue\n");
        assertEquals(0, r.exit(), () -> "exit " + r.exit() + "\nstdout: " + r.out() + "\nstderr: " + r.err() + "\nagent: " + log(socket));
        return r.out().lines().toList();
    }

    // ---- setup is what the rules assume ----------------------------------------------------

    @Test
    void containerIsInItsOwnUserNamespaceWithFullCapsAndTheTrap() throws Exception {
        List<String> out = sh("cat /proc/self/uid_map; grep -E '^(CapEff|Seccomp):' /proc/self/status");
        assertEquals("0 600000 65536", out.get(0).trim().replaceAll("\\s+", " "));
        assertEquals("CapEff:\t%016x".formatted(bounding()), out.get(1));
        assertEquals("Seccomp:\t2", out.get(2));
        assertTrue(AgentLauncher.ping(socket).orElseThrow().startsWith(Agent.PONG));
    }

    // ---- remounts --------------------------------------------------------------------------

    @Test
    void readOnlyImmutableCannotBeRemountedReadWrite() throws Exception {
        List<String> out = sh("""
                mnt remount-rw /ro
                mount -o remount,rw,bind /ro 2>/dev/null && echo busybox-ok || echo busybox-denied
                mnt remount-sb /ro
                touch /ro/new 2>/dev/null && echo written || echo still-ro
                """);
        assertEquals(List.of(EPERM, "busybox-denied", EPERM, "still-ro"), out);
    }

    @Test
    void readWriteToReadOnlyAndBackIsAllowed() throws Exception {
        List<String> out = sh("""
                mount -o remount,ro,bind /rw && echo ro-ok
                touch /rw/a 2>/dev/null && echo written || echo is-ro
                mnt remount-rw /rw
                touch /rw/b && echo written
                """);
        assertEquals(List.of("ro-ok", "is-ro", "ok", "written"), out);
        assertTrue(Files.exists(rw.resolve("b")));
    }

    @Test
    void bindOfReadOnlyImmutableCannotBeMadeWritable() throws Exception {
        List<String> out = sh("""
                mkdir /tmp/b /tmp/c
                mount --bind /ro /tmp/b && echo bind-ok
                mnt remount-rw /tmp/b
                mnt setattr-rw /tmp/b
                mount --bind /rw /tmp/c && mount -o remount,ro,bind /tmp/c && mnt remount-rw /tmp/c
                """);
        assertEquals(List.of("bind-ok", EPERM, EPERM, "ok"), out);
    }

    @Test
    void newMountsAreUnrestricted() throws Exception {
        List<String> out = sh("""
                mkdir /tmp/n
                mount -t tmpfs -o ro t /tmp/n && echo mounted
                mnt remount-sb /tmp/n
                touch /tmp/n/x && echo written
                mount -o remount,ro,bind /tmp/n && mnt remount-rw /tmp/n
                touch /tmp/n/y && echo written
                umount /tmp/n && echo unmounted
                """);
        // (busybox's own `mount -o remount,rw` would fail here without any agent: it passes back the
        // uid=/gid= options /proc/mounts shows in host IDs, which the kernel reads in the container's)
        assertEquals(List.of("mounted", "ok", "written", "ok", "written", "unmounted"), out);
    }

    // ---- unmounts --------------------------------------------------------------------------

    @Test
    void unmountingImmutableIsAllowedByDefault() throws Exception {
        List<String> out = sh("mnt umount /rw; mnt umount /ro; grep -c ' /r[ow] ' /proc/self/mountinfo || true");
        assertEquals(List.of("ok", "ok", "0"), out);
    }

    @Test
    void unmountingImmutableIsDeniedWhenTheOptionIsOff() throws Exception {
        metadata("allow-immutable-unmounts=false");
        List<String> out = sh("""
                mnt umount /rw
                umount -l /ro 2>/dev/null && echo lazy-ok || echo lazy-denied
                mkdir /tmp/n && mnt tmpfs /tmp/n && mnt umount /tmp/n
                """);
        assertEquals(List.of(EPERM, "lazy-denied", "ok", "ok"), out);
    }

    @Test
    void procAndSysCanNeverBeUnmounted() throws Exception {
        List<String> out = sh("""
                mnt umount /proc
                umount -l /proc 2>/dev/null && echo lazy-ok || echo lazy-denied
                mnt umount /sys
                mnt umount /proc/keys
                mnt umount /proc/sys
                mnt umount /rw
                """);
        assertEquals(List.of(EPERM, "lazy-denied", EPERM, EPERM, EPERM, "ok"), out);
    }

    @Test
    void aPlainBindCannotShowWhatAMaskHides() throws Exception {
        List<String> out = sh("""
                mkdir /tmp/p /tmp/s /tmp/r /tmp/k
                mount --bind /proc /tmp/p 2>/dev/null && echo bound || echo bind-denied
                mount --bind /sys /tmp/s 2>/dev/null && echo bound || echo bind-denied
                mount --rbind /proc /tmp/r && wc -c < /tmp/r/keys
                mount --bind /proc/1 /tmp/k && echo pid-bound
                exec 7</ro; mkdir /tmp/f && mnt bind /proc/self/fd/7 /tmp/f && cat /tmp/f/file
                """);
        // (/proc/self/fd/N is how runc names bind sources: the agent's helper must follow it as the caller would)
        assertEquals(List.of("bind-denied", "bind-denied", "0", "pid-bound", "ok", "ro"), out);
    }

    @Test
    void copiesOfTheMasksCannotBeUnmountedEither() throws Exception {
        List<String> out = sh("""
                mkdir /tmp/p /tmp/d && mount --rbind /proc /tmp/p && echo rbind-ok
                mnt umount /tmp/p/keys
                mnt umount /tmp/p/sys
                mount --bind /rw /tmp/d && mnt umount /tmp/d
                """);
        assertEquals(List.of("rbind-ok", EPERM, EPERM, "ok"), out);
    }

    @Test
    void movingAnImmutableMountCountsAsUnmountingIt() throws Exception {
        List<String> out = sh("""
                mkdir /tmp/p /tmp/r /tmp/q
                mnt move /proc /tmp/p
                mount --move /sys /tmp/p 2>/dev/null && echo moved || echo move-denied
                mnt move /rw /tmp/r
                mnt tmpfs /tmp/q && mkdir /tmp/q2 && mnt move /tmp/q /tmp/q2
                """);
        assertEquals(List.of(EPERM, "move-denied", "ok", "ok", "ok"), out);
        metadata("allow-immutable-unmounts=false");
        assertEquals(List.of(EPERM), sh("mkdir /tmp/r; mnt move /rw /tmp/r"));
    }

    // ---- the new mount API -----------------------------------------------------------------

    @Test
    void mountSetattrCannotClearReadOnlyOfImmutable() throws Exception {
        List<String> out = sh("""
                mnt setattr-rw /ro
                mount -o remount,ro,bind /rw && mnt setattr-rw /rw
                touch /rw/c && echo written
                """);
        assertEquals(List.of(EPERM, "ok", "written"), out);
    }

    @Test
    void openTreeCloneOfReadOnlyImmutableStaysReadOnly() throws Exception {
        List<String> out = sh("""
                mnt rclone-rw /ro
                mkdir /tmp/n && mount -t tmpfs -o ro t /tmp/n && mnt rclone-rw /tmp/n
                mkdir /tmp/x && mnt rclone-attach /ro /tmp/x && mnt remount-rw /tmp/x
                mnt setattr-rw /tmp/x
                """);
        assertEquals(List.of(EPERM, "ok", "ok", EPERM, EPERM), out);
    }

    @Test
    void aNonRecursiveCloneIsNotSupportedAndARecursiveOneKeepsTheMasks() throws Exception {
        List<String> out = sh("""
                mnt clone-rw /tmp
                mkdir /tmp/x && mnt clone-attach /rw /tmp/x
                mnt rclone-cat /proc timer_list
                mnt rclone-cat /proc/self status | grep -q '^[1-9]' && echo status-read
                """);
        // a plain clone would leave out the masks below it (and cannot be emulated or checked
        // without a gap): ENOSYS, as for a kernel without open_tree, and callers bind instead
        assertEquals(List.of(ENOSYS, ENOSYS, "0", "status-read"), out);
    }

    // ---- new proc and sysfs mounts get the container's masks -------------------------------

    @Test
    void aNewProcOrSysfsMountShowsNothingTheMasksHide() throws Exception {
        assertTrue(TestEnv.readProc(Path.of("/proc/timer_list")).length() > 0, "the host's /proc/timer_list is empty");
        List<String> out = sh("""
                mkdir /tmp/p /tmp/s /tmp/q
                mount -t proc proc /tmp/p && echo proc-mounted
                wc -c < /tmp/p/timer_list
                grep -c . /tmp/p/self/status | grep -q '^[1-9]' && echo own-proc
                grep ' /tmp/p/sys ' /proc/self/mountinfo | grep -q ' ro,' && echo sys-ro
                echo 1 > /tmp/p/sys/kernel/ns_last_pid 2>/dev/null && echo sys-written || echo sys-refused
                mount -t sysfs sysfs /tmp/s && echo sysfs-mounted
                ls -A /tmp/s/firmware | wc -l
                ls /tmp/s/kernel >/dev/null && echo sysfs-readable
                unshare -p -f --mount-proc sh -c 'wc -c < /proc/timer_list; echo nspid-levels=$(grep NSpid /proc/self/status | wc -w)' 2>&1
                """);
        assertEquals(List.of("proc-mounted", "0", "own-proc", "sys-ro", "sys-refused", "sysfs-mounted", "0", "sysfs-readable",
                "0", "nspid-levels=2"), out);
    }

    @Test
    void theMasksOfANewMountStayButTheWholeMountMayGo() throws Exception {
        List<String> out = sh("""
                mkdir /tmp/p /tmp/b /tmp/r
                mount -t proc proc /tmp/p
                mnt umount /tmp/p/timer_list
                mnt umount /tmp/p/sys
                mnt move /tmp/p/timer_list /tmp/b
                mnt remount-rw /tmp/p/sys
                mount --bind /tmp/p /tmp/b 2>/dev/null && echo bound || echo bind-denied
                mount --rbind /tmp/p /tmp/r && wc -c < /tmp/r/timer_list
                umount -l /tmp/r && echo copy-gone
                umount -l /tmp/p && echo proc-gone
                mnt fsopen proc
                mnt fsopen sysfs
                mnt fsopen tmpfs
                """);
        assertEquals(List.of(EPERM, EPERM, EPERM, EPERM, "bind-denied", "0", "copy-gone", "proc-gone", ENOSYS, ENOSYS, "ok"), out);
    }

    @Test
    void fspickCannotReconfigureReadOnlyImmutable() throws Exception {
        List<String> out = sh("""
                mnt fspick-rw /ro
                mkdir /tmp/n && mount -t tmpfs -o ro t /tmp/n && mnt fspick-rw /tmp/n
                grep ' /tmp/n ' /proc/self/mountinfo | grep -q ' - tmpfs t rw' && echo superblock-rw
                """);
        assertEquals(List.of(EPERM, "ok", "superblock-rw"), out);
    }

    @Test
    void newMountsWithTheNewMountApiAreUnrestricted() throws Exception {
        List<String> out = sh("""
                mkdir /tmp/f && mnt fsmount /tmp/f
                touch /tmp/f/x && echo written
                mount -o remount,ro,bind /tmp/f && mnt setattr-rw /tmp/f
                mnt umount /tmp/f
                """);
        assertEquals(List.of("ok", "written", "ok", "ok"), out);
    }

    @Test
    void nestedMountNamespaceCopiesAreStillImmutable() throws Exception {
        List<String> out = sh("""
                unshare -m sh -c 'mnt remount-rw /ro; mnt umount /proc; mnt umount /rw'
                """);
        assertEquals(List.of(EPERM, EPERM, "ok"), out);
    }

    // ---- safety ----------------------------------------------------------------------------

    @Test
    void flippingThePathDuringTheCallNeverReachesTheImmutableMount() throws Exception {
        // /tmp/n is the container's own read-only tmpfs: remounting it rw is allowed, /ro is not.
        List<String> out = sh("""
                mkdir /tmp/n && mount -t tmpfs t /tmp/n && mount -o remount,ro,bind /tmp/n
                mnt toctou /tmp/n /ro 400
                """);
        String[] f = out.getLast().split(" ");
        assertEquals("0", f[5], "the immutable read-only mount became writable: " + out);
        // the other calls met a half-copied path (ENOENT, EINVAL): the flipping thread writes in place
        assertTrue(Integer.parseInt(f[1]) > 0, "no call reached the allowed target: " + out);
        assertTrue(Integer.parseInt(f[3]) > 0, "no call was checked against the immutable target: " + out);
        // the allowed target's remounts were performed on a standing verdict (the worker's own
        // decision for that mount) while the path flipped, and the immutable one still never was
        assertTrue(log(socket).contains("standing go"), "no call went on a standing verdict: " + log(socket));
    }

    @Test
    void flippingThePathDuringAMountSetattrNeverReachesTheImmutableMount() throws Exception {
        // the same with mount_setattr clearing MOUNT_ATTR_RDONLY, whose verdicts stand as a remount's do
        List<String> out = sh("""
                mkdir /tmp/n && mount -t tmpfs t /tmp/n && mount -o remount,ro,bind /tmp/n
                mnt toctou /tmp/n /ro 400 setattr
                """);
        String[] f = out.getLast().split(" ");
        assertEquals("0", f[5], "the immutable read-only mount became writable: " + out);
        assertTrue(Integer.parseInt(f[1]) > 0, "no call reached the allowed target: " + out);
        assertTrue(Integer.parseInt(f[3]) > 0, "no call was checked against the immutable target: " + out);
        assertTrue(log(socket).lines().anyMatch(l -> l.contains("mount_setattr") && l.contains("standing go")),
                "no mount_setattr went on a standing verdict: " + log(socket));
    }

    @Test
    void eachCallRunsWithItsCallersCredentials() throws Exception {
        // The resident helper serves root's calls from one worker; a call by another user (no
        // capabilities) gets a worker of its own, and the kernel's EPERM, not the agent's: the
        // agent allows it (the container's own mount) and logs no denial.
        List<String> out = sh("""
                mkdir /tmp/n && mount -t tmpfs t /tmp/n && mount -o remount,ro,bind /tmp/n
                mnt remount-rw /tmp/n
                mount -o remount,ro,bind /tmp/n
                mnt as 1000 mnt remount-rw /tmp/n
                mnt remount-rw /tmp/n
                """);
        assertEquals(List.of("ok", EPERM, "ok"), out);
        assertFalse(log(socket).contains(": denied"), log(socket));
    }

    @Test
    void aCallerThatChangedItsCredentialsIsNotServedByItsOldWorker() throws Exception {
        // The second call goes over the board to the worker that served the first; after the
        // process becomes uid 1000 (no capabilities), that worker (root's) must not serve it: the
        // kernel's EPERM, not the agent's, through a worker with the caller's credentials.
        List<String> out = sh("""
                mkdir /tmp/n && mount -t tmpfs t /tmp/n
                mnt switch uid /tmp/n
                """);
        assertEquals(List.of("ok", "ok", EPERM), out, log(socket));
        assertTrue(log(socket).contains("on the board"), "no call went to a worker directly: " + log(socket));
        assertFalse(log(socket).contains(": denied"), log(socket));
    }

    @Test
    void aCallerThatChangedItsIdsButKeptItsCapabilitiesKeepsItsStandingCallsOnly() throws Exception {
        // The worker compares a caller's IDs and groups (its status, the dearest part of the
        // check) only when the call needs them: a remount or a one-mount mount_setattr on a
        // standing verdict does not, as the caller has the worker's very capabilities. Anything
        // else, here a recursive mount_setattr, goes to a worker with the caller's own IDs,
        // through the helper.
        List<String> out = sh("""
                mkdir /tmp/n && mount -t tmpfs t /tmp/n
                mnt switch ids /tmp/n
                """);
        assertEquals(List.of("ok", "ok", "ok", "ok", "ok"), out, log(socket));
        List<String> lines = log(socket).lines().filter(l -> l.contains(" /tmp/n") || l.contains("2f746d702f6e")).toList();
        // the first remount goes through the helper, the second gets the worker's standing go
        List<String> remounts = lines.stream().filter(l -> l.contains(", 4128, ")).toList();
        assertEquals(3, remounts.size(), lines.toString());
        assertTrue(remounts.get(2).contains("standing go"), "the remount after the change of IDs did not stand: " + remounts);
        List<String> setattr = lines.stream().filter(l -> l.contains("mount_setattr")).toList();
        assertEquals(2, setattr.size(), lines.toString());
        assertTrue(setattr.get(0).contains("standing go"), "the one-mount mount_setattr did not stand: " + setattr);
        assertFalse(setattr.get(1).contains("on the board"), "the recursive mount_setattr went to the old worker: " + setattr);
    }

    @Test
    void aStandingVerdictIsOneOnWhetherTheMountMayBeMadeWritable() throws Exception {
        // A remount and a mount_setattr of one mount ask the policy the same: a go to either
        // stands for both, a recursive mount_setattr never stands, and the immutable read-only
        // mount is never made writable. A process's first call goes through the helper, its
        // second to the worker on the board, which is asked and given the go that stands. A
        // recursive mount_setattr that makes read-only is let go on no table.
        List<String> out = sh("""
                for m in n m; do mkdir /tmp/$m && mount -t tmpfs t /tmp/$m && mount -o remount,ro,bind /tmp/$m; done
                mnt seq /tmp/n setattr setattr setattr remount rsetattr rsetattr
                mnt seq /tmp/m remount remount setattr
                mnt seq /ro setattr setattr remount setattr
                touch /tmp/n/w /tmp/m/w && echo written
                mnt seq /tmp/n rsetro
                touch /tmp/n/x 2>/dev/null || echo read-only
                """);
        assertEquals(List.of("ok", "ok", "ok", "ok", "ok", "ok", "ok", "ok", "ok", EPERM, EPERM, EPERM, EPERM, "written", "ok", "read-only"),
                out, log(socket));
        List<String> n = calls("2f746d702f6e"), m = calls("2f746d702f6d");
        assertEquals(7, n.size(), n.toString());
        assertEquals(List.of(false, false, true, true, false, false, false), n.stream().map(l -> l.contains("standing go")).toList(),
                "not the third mount_setattr and the remount after it alone stood: " + n);
        assertEquals(3, m.size(), m.toString());
        assertEquals(List.of(false, false, true), m.stream().map(l -> l.contains("standing go")).toList(),
                "the mount_setattr after the remount's go did not stand: " + m);
        assertTrue(calls("2f726f").stream().noneMatch(l -> l.contains("standing go")), log(socket));
    }

    /** The agent's log lines of the trapped mount and mount_setattr calls on hex path (not the mount that made it). */
    private List<String> calls(String hexPath) {
        return log(socket).lines().filter(l -> l.contains(", " + hexPath + ", ") && (l.contains("mount_setattr") || l.contains(", 4128, "))).toList();
    }

    @Test
    void withNamespaceChangesTrappedACallerThatUnsharedItsUserNamespaceIsNotServedByItsOldWorker() throws Exception {
        // trap-ns=on, as system mode's profile has it: setns and unshare come to the agent first,
        // which tells the workers, and a worker does not read a known caller's namespaces again
        // while none went on. After unshare(CLONE_NEWUSER) the caller has every capability still,
        // in a namespace that owns no mount: its old worker (which the caller's capability sets,
        // root and mount namespace would all match) must not serve it. The kernel's EPERM.
        metadata("allow-immutable-unmounts=true trap-ns=on");
        @SuppressWarnings("unchecked")
        Map<String, Object> s = (Map<String, Object>) box.linux().get("seccomp");
        List<String> trapped = new java.util.ArrayList<>(TRAPPED);
        trapped.addAll(List.of("setns", "unshare"));
        s.put("syscalls", List.of(map("names", trapped, "action", "SCMP_ACT_NOTIFY")));
        List<String> out = sh("""
                mkdir /tmp/n && mount -t tmpfs t /tmp/n
                mnt switch userns /tmp/n
                """);
        assertEquals(List.of("ok", "ok", "ok", EPERM), out, log(socket));
        List<String> remounts = log(socket).lines().filter(l -> l.contains(", 4128, ")).toList();
        assertEquals(4, remounts.size(), remounts.toString());
        assertTrue(remounts.get(2).contains("standing go"), "the third remount did not stand: " + remounts);
        assertFalse(remounts.get(3).contains("on the board"), "the old worker served the caller in its new namespace: " + remounts);
        assertFalse(log(socket).contains(": denied"), log(socket));
    }

    @Test
    void aCallerThatChangedItsMountNamespaceIsNotServedByItsOldWorker() throws Exception {
        // after unshare(CLONE_NEWNS), an unmount of /tmp/n takes it away in the caller's new
        // namespace; its old worker would take away the old namespace's and leave this one's
        List<String> out = sh("""
                mkdir /tmp/n && mount -t tmpfs t /tmp/n
                mnt switch ns /tmp/n
                grep -c ' /tmp/n ' /proc/self/mountinfo
                """);
        assertEquals(List.of("ok", "ok", "ok", "unmounted", "1"), out, log(socket));
    }

    @Test
    void aSuperblockRemountOfItsOwnTmpfsWorksAsOnAHost() throws Exception {
        // busybox passes the options mountinfo shows (uid=600000,gid=600000: the host's IDs) back
        // to the kernel, which takes them in the container's namespace: EINVAL without the agent's
        // translation (docs/system-containers.md has the reproduction with plain unshare)
        List<String> out = sh("""
                mkdir /tmp/x && mount -t tmpfs t /tmp/x && grep ' /tmp/x ' /proc/self/mountinfo | sed 's/.* - //'
                mount -o remount,ro /tmp/x && echo remounted-ro
                grep ' /tmp/x ' /proc/self/mountinfo | sed 's/.* - //'
                touch /tmp/x/f 2>/dev/null && echo written || echo refused
                mount -o remount,rw /tmp/x && echo remounted-rw
                touch /tmp/x/f && echo written
                mount -o remount,rw /ro 2>/dev/null && echo ro-remounted-rw || echo ro-refused
                mnt remount-sb /ro
                """);
        assertEquals(6 + 2, out.size(), out.toString());
        assertTrue(out.get(0).startsWith("tmpfs t rw"), out.toString());
        String ids = out.get(0).contains("uid=600000") ? "the kernel shows the host's uid" : "the kernel shows no host uid";
        assertEquals(List.of("remounted-ro", "refused", "remounted-rw", "written", "ro-refused", EPERM),
                List.of(out.get(1), out.get(3), out.get(4), out.get(5), out.get(6), out.get(7)), ids + ": " + out);
        assertTrue(out.get(2).startsWith("tmpfs t ro"), out.toString());
    }

    // ---- the resident helper ---------------------------------------------------------------

    /** The agent's helpers and their workers (forked, so the same executable). */
    private List<ProcessHandle> helpers() {
        return agent.descendants().filter(h -> h.info().command().map(c -> c.endsWith("/bulwark-mountctl")).orElse(false)).toList();
    }

    @Test
    void theHelperStaysWhileItsContainerLivesAndEndsWithIt() throws Exception {
        assertEquals(List.of(), helpers());
        Process c = waitingContainer("resident", """
                unshare -m mnt remount-rw /ro
                mkdir /tmp/n && mount -t tmpfs t /tmp/n && mount -o remount,ro,bind /tmp/n && mnt remount-rw /tmp/n
                """);
        // the first call made the helper and its caller's worker; the worker stays while its
        // caller lives, the helper while the container does
        List<ProcessHandle> during = helpers();
        assertEquals(2, during.size(), "helper and one worker: " + during);
        Files.writeString(rw.resolve("go"), "");
        Result r = Sandbox.finish(c);
        assertEquals(List.of(EPERM, EPERM, "ok"), r.out().lines().toList(), r.err() + log(socket));
        for (int i = 0; i < 250 && !helpers().isEmpty(); i++) {
            Thread.sleep(20);
        }
        assertEquals(List.of(), helpers(), "the helper outlived its container");
        for (ProcessHandle h : during) {
            for (int i = 0; i < 250 && h.isAlive(); i++) {
                Thread.sleep(20);
            }
            assertFalse(h.isAlive(), "process " + h.pid() + " outlived its container");
        }
    }

    @Test
    void aHelperOrWorkerKilledBetweenCallsIsReplacedAndTheNextCallWorks() throws Exception {
        Process c = waitingContainer("replaced", """
                mkdir /tmp/n && mount -t tmpfs t /tmp/n && mount -o remount,ro,bind /tmp/n && mnt remount-rw /tmp/n
                mount -o remount,ro,bind /tmp/n
                touch /rw/ready2
                while [ ! -e /rw/go2 ]; do sleep 0.05; done
                mnt remount-rw /tmp/n
                mnt remount-rw /ro
                """);
        List<ProcessHandle> during = helpers();
        ProcessHandle helper = during.stream().filter(h -> h.parent().map(p -> p.pid() == agent.pid()).orElse(false)).findFirst().orElseThrow();
        ProcessHandle worker = during.stream().filter(h -> h.parent().map(p -> p.pid() == helper.pid()).orElse(false)).findFirst().orElseThrow();
        worker.destroyForcibly();
        // the helper reaps it at its next call: until then it is a zombie, its socket closed
        Path stat = Path.of("/proc", Long.toString(worker.pid()), "stat");
        for (int i = 0; i < 500 && Files.exists(stat) && !Files.readString(stat).replaceAll(".*\\) ", "").startsWith("Z"); i++) {
            Thread.sleep(10);
        }
        Files.writeString(rw.resolve("go"), "");
        for (int i = 0; i < 1500 && !Files.exists(rw.resolve("ready2")); i++) {
            Thread.sleep(20);
        }
        assertTrue(Files.exists(rw.resolve("ready2")), log(socket));
        assertTrue(helper.isAlive(), "the helper replaces a worker it lost between calls");
        helper.destroyForcibly();
        helper.onExit().get(10, TimeUnit.SECONDS);
        Files.writeString(rw.resolve("go2"), "");
        Result r = Sandbox.finish(c);
        assertEquals(List.of(EPERM, "ok", "ok", EPERM), r.out().lines().toList(), r.err() + log(socket));
    }

    /**
     * A container whose process makes one supervised call and lives on until the test's go (a
     * worker is ended once its latest caller has exited), then runs script.
     */
    private Process waitingContainer(String id, String script) throws Exception {
        box.process().put("args", new ArrayList<>(List.of("sh", "-c", """
                mnt hold /ro /rw/ready /rw/go
                """ + script)));
        box.writeConfig();
        Process c = box.start(id);
        for (int i = 0; i < 1500 && !Files.exists(rw.resolve("ready")); i++) {
            Thread.sleep(20);
        }
        assertTrue(Files.exists(rw.resolve("ready")), "the container did not start: " + log(socket));
        return c;
    }

    @Test
    void trappedCallsFailWithEnosysWhenTheAgentAndItsKeeperAreGone() throws Exception {
        Process c = waitingContainer("enosys", """
                mnt remount-rw /ro
                mkdir /tmp/m && mnt tmpfs /tmp/m
                mnt umount /rw
                touch /ro/x 2>/dev/null && echo written || echo still-ro
                """);
        stop(agent);
        stopKeeper(socket); // the last holder of the notify fd: the kernel now answers ENOSYS itself
        Files.writeString(rw.resolve("go"), "");
        Result r = Sandbox.finish(c);
        assertEquals(List.of(EPERM, ENOSYS, ENOSYS, ENOSYS, "still-ro"), r.out().lines().toList(), r.err());
    }

    @Test
    void containersCreatedBeforeAnAgentRestartStaySupervised() throws Exception {
        Process c = waitingContainer("restart", """
                mnt remount-rw /ro
                mount -o remount,ro,bind /rw && mnt remount-rw /rw
                mnt umount /proc
                """);
        stop(agent);
        assertFalse(AgentLauncher.ping(socket).isPresent());
        // with no agent but the keeper holding the fd, a trapped call waits: it neither fails nor succeeds
        Files.writeString(rw.resolve("go"), "");
        assertFalse(c.waitFor(2, TimeUnit.SECONDS), "the container finished with no agent to answer");
        agent = startAgent(socket); // the socket file of the killed agent is stale: the new one replaces it
        assertTrue(log(socket).contains("supervised again"), log(socket));
        Result r = Sandbox.finish(c);
        assertEquals(List.of(EPERM, EPERM, "ok", EPERM), r.out().lines().toList(), r.err() + log(socket));
        // and the new agent serves new containers
        assertEquals(List.of(EPERM), sh("mnt remount-rw /ro"));
    }

    @Test
    void unknownMetadataFailsClosed() throws Exception {
        metadata("allow-everything=true");
        assertEquals(List.of(ENOSYS), sh("mnt remount-rw /rw"));
    }
}
