package dev.bulwark.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.bulwark.testing.ContainerTestBase;
import dev.bulwark.testing.Sandbox;
import dev.bulwark.testing.TestSystem;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * System containers on real containers: their own 65536-ID range, ID-mapped root and binds,
 * full capabilities that count only inside, the range freed after, under a real agent on the
 * test's own socket (its rules are tested in dev.bulwark.agent).
 */
class SystemContainerTest extends ContainerTestBase {
    private static final long POOL = 3_100_000_000L;
    private TestSystem sys;

    @BeforeEach
    void poolAndAgent() throws Exception {
        sys = TestSystem.start(box.dir(), POOL, 8);
    }

    @AfterEach
    void stopAgent() throws Exception {
        sys.close();
    }

    private List<String> cli(String... args) {
        return sys.cli(box.stateRoot(), args);
    }

    private Sandbox.Result system(String script, String... globals) throws Exception {
        box.process().put("args", new ArrayList<>(List.of("sh", "-c", script)));
        box.writeConfig();
        List<String> args = new ArrayList<>(List.of(globals));
        args.addAll(List.of("run", "--bundle", box.bundle().toString(), "s" + Long.toHexString(System.nanoTime())));
        return Sandbox.finish(new ProcessBuilder(cli(args.toArray(String[]::new)))
                .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile())).start());
    }

    @Test
    void ownRangeFullCapabilitiesAndAnIdMappedRoot() throws Exception {
        Sandbox.Result r = system("cat /proc/self/uid_map /proc/self/gid_map; grep CapEff /proc/self/status;"
                + " stat -c '%u %g' /bin/busybox; id -u", "--system");
        assertEquals(0, r.exit(), r.all());
        List<String> l = r.out().lines().map(String::strip).toList();
        String[] uid = l.get(0).split("\\s+");
        assertEquals("0", uid[0]);
        long start = Long.parseLong(uid[1]);
        assertTrue(start >= POOL && start < POOL + 8 * 65536 && (start - POOL) % 65536 == 0, l.get(0));
        assertEquals("65536", uid[2]);
        assertEquals(l.get(0).replaceAll("\\s+", " "), l.get(1).replaceAll("\\s+", " "), "gid_map matches uid_map");
        long last = Long.parseLong(Procfs.read(Path.of("/proc/sys/kernel/cap_last_cap")).strip());
        assertEquals("CapEff:\t" + String.format("%016x", ((1L << (last + 1)) - 1) & ~(1L << 17)), l.get(2).replace(" ", "\t"), "every capability but CAP_SYS_RAWIO (17)");
        assertEquals("0 0", l.get(3), "busybox, owned by host root, is owned by the container's root");
        assertEquals("0", l.get(4));
    }

    /**
     * Unmounting what is not a mount point is EINVAL, as the kernel says it: containerd (an inner
     * dockerd's) unmounts a rootfs until EINVAL, and any other errno makes it retry for seconds.
     */
    @Test
    void unmountingWhatIsNotAMountIsEinval() throws Exception {
        Sandbox.Result r = system("mount -t tmpfs t /tmp && mkdir /tmp/d && umount /tmp/d; umount /tmp && umount /tmp", "--system");
        assertTrue(r.err().contains("can't unmount /tmp/d: Invalid argument"), r.all());
        assertTrue(r.err().contains("can't unmount /tmp: Invalid argument"), "the second unmount of /tmp: " + r.all());
    }

    @Test
    void itsOwnTmpfsRemountsReadOnlyAsOnAHostAndImmutableMountsStayReadOnly() throws Exception {
        // (the root is read-only: the container's own tmpfs on /tmp, another on /tmp/x)
        // busybox's `mount -o remount,ro` passes back the options mountinfo shows, uid= and gid=
        // in the host's IDs, which the kernel alone refuses in the container's namespace (EINVAL)
        Sandbox.Result r = system("""
                mount -t tmpfs t /tmp && mkdir /tmp/x && mount -t tmpfs t /tmp/x && grep ' /tmp/x ' /proc/self/mountinfo | sed 's/.* - //'
                mount -o remount,ro /tmp/x && echo remounted-ro
                touch /tmp/x/f 2>/dev/null && echo written || echo refused
                mount -o remount,rw /tmp/x && touch /tmp/x/f && echo remounted-rw
                grep ' / ' /proc/self/mountinfo | sed 's/ - .*//' | grep -q ' ro' && echo root-ro
                mount -o remount,rw / 2>/dev/null && echo root-remounted-rw || echo root-refused
                mount -o remount,rw /proc/sysrq-trigger 2>/dev/null && echo sysrq-remounted-rw || echo sysrq-refused
                """, "--system");
        assertEquals(0, r.exit(), r.all());
        List<String> l = r.out().lines().toList();
        String uid = l.get(0).replaceAll(".*uid=(\\d+).*", "$1");
        assertTrue(l.get(0).startsWith("tmpfs t rw"), r.all());
        String host = uid.equals(l.get(0)) ? "no uid= shown" : "uid=" + uid + " shown";
        assertEquals(List.of("remounted-ro", "refused", "remounted-rw"), l.subList(1, 4), host + ": " + r.all());
        // the root is read-only at creation (the bundle's root.readonly) unless told otherwise
        int at = l.get(4).equals("root-ro") ? 5 : 4;
        assertEquals(at == 5 ? "root-refused" : "root-remounted-rw", l.get(at), r.all());
        assertEquals("sysrq-refused", l.get(at + 1), r.all());
    }

    @Test
    void theAnnotationSelectsSystemModeToo() throws Exception {
        box.config.put("annotations", new HashMap<>(Map.of(SystemMode.ANNOTATION, "true")));
        Sandbox.Result r = system("cat /proc/self/uid_map");
        assertEquals(0, r.exit(), r.all());
        assertTrue(r.out().strip().startsWith("0"), r.out());
        assertNotEquals("0 0 4294967295", r.out().strip().replaceAll("\\s+", " "));
    }

    @Test
    void twoAtOnceGetDifferentRangesFreedOnDelete() throws Exception {
        box.process().put("args", new ArrayList<>(List.of("sleep", "30")));
        box.writeConfig();
        List<String> maps = new ArrayList<>();
        for (String id : List.of("one", "two")) {
            // The container keeps stdout and stderr: not pipes this test waits on.
            Path err = box.dir().resolve(id + ".err");
            Process p = new ProcessBuilder(cli("--system", "create", "--bundle", box.bundle().toString(), id))
                    .redirectOutput(ProcessBuilder.Redirect.DISCARD).redirectError(err.toFile()).start();
            assertEquals(0, p.waitFor(), Files.readString(err));
            long pid = Lifecycle.load(box.stateRoot(), id).pid();
            maps.add(Procfs.read(Path.of("/proc/" + pid + "/uid_map")).strip().replaceAll("\\s+", " "));
        }
        assertEquals(2, IdRanges.used(sys.ranges).size());
        assertNotEquals(maps.get(0), maps.get(1));
        for (String id : List.of("one", "two")) {
            Sandbox.Result r = Sandbox.finish(new ProcessBuilder(cli("delete", "--force", id)).start());
            assertEquals(0, r.exit(), r.all());
        }
        assertEquals(List.of(), IdRanges.used(sys.ranges));
    }

    @Test
    void aHostFileBindIsIdMappedAndOtherHostFilesAreNobodys() throws Exception {
        Path file = Files.writeString(box.dir().resolve("hostfile"), "from the host\n");
        box.mounts().add(map("destination", "/etc/hostfile", "type", "bind", "source", file.toString(),
                "options", List.of("bind", "ro")));
        Sandbox.Result r = system("stat -c '%u %g' /etc/hostfile; cat /etc/hostfile; stat -c '%u' /proc/sys/kernel/hostname", "--system");
        assertEquals(0, r.exit(), r.all());
        assertEquals(List.of("0 0", "from the host", "65534"), r.out().lines().toList());
    }

    @Test
    void theSysctlsOfItsOwnNamespacesAreWritableAndNoOthers() throws Exception {
        String fwd = Procfs.read(Path.of("/proc/sys/net/ipv4/ip_forward")).strip();
        String shm = Procfs.read(Path.of("/proc/sys/kernel/shmmni")).strip();
        String swap = Procfs.read(Path.of("/proc/sys/vm/swappiness")).strip();
        // the host's own values are written back for the global ones: were they writable, nothing would change
        Sandbox.Result r = system("echo 1 > /proc/sys/net/ipv4/ip_forward && cat /proc/sys/net/ipv4/ip_forward;"
                + " echo 1000 > /proc/sys/kernel/shmmni && cat /proc/sys/kernel/shmmni;"
                + " echo " + swap + " > /proc/sys/vm/swappiness 2>/dev/null && echo vm-written || echo vm-refused;"
                + " grep -c ' /proc/sys ' /proc/self/mountinfo || true", "--system");
        assertEquals(0, r.exit(), r.all());
        assertEquals(List.of("1", "1000", "vm-refused", "0"), r.out().lines().toList(),
                "net and IPC sysctls are the container's (its network and IPC namespaces), vm.* is the host's; /proc/sys is no read-only bind");
        assertEquals(fwd, Procfs.read(Path.of("/proc/sys/net/ipv4/ip_forward")).strip(), "the host's ip_forward");
        assertEquals(shm, Procfs.read(Path.of("/proc/sys/kernel/shmmni")).strip(), "the host's shmmni");
        assertEquals(swap, Procfs.read(Path.of("/proc/sys/vm/swappiness")).strip());
    }

    @Test
    void fullCapabilitiesGiveNothingOnTheHost() throws Exception {
        String hostName = Procfs.read(Path.of("/proc/sys/kernel/hostname")).strip();
        Sandbox.Result r = system("hostname inside && hostname; date -s 2001-01-01 >/dev/null 2>&1; date +%Y | grep -q 2001 && echo time-set;"
                + " mknod /tmp/mem c 1 1 2>/dev/null && echo mknod; echo 1 > /proc/sys/vm/drop_caches 2>/dev/null && echo sysctl;"
                + " mount -t tmpfs none /tmp 2>/dev/null && echo mounted; echo done", "--system");
        assertEquals(0, r.exit(), r.all());
        assertEquals(List.of("inside", "mounted", "done"), r.out().lines().toList(),
                "only what the container's namespaces own changes: its hostname, and a new mount (which the agent allows);"
                        + " time, devices and host sysctls fail");
        assertEquals(hostName, Procfs.read(Path.of("/proc/sys/kernel/hostname")).strip());
    }

    @Test
    void aFilesystemThatCannotBeIdMappedIsAClearError() throws Exception {
        box.mounts().add(map("destination", "/hostproc", "type", "bind", "source", "/proc/sys", "options", List.of("rbind")));
        Sandbox.Result r = system("true", "--system");
        assertEquals(1, r.exit(), r.all());
        assertTrue(r.err().contains("ID-map /proc/sys") && r.err().contains("cannot be ID-mapped"), r.err());
    }

    @Test
    void withoutTheAgentNothingIsCreated() throws Exception {
        // an agent socket where none can be made (under a regular file): the runtime cannot
        // start an agent there, and creates nothing
        Path file = Files.writeString(box.dir().resolve("not-a-dir"), "");
        Path nowhere = file.resolve("agent.sock");
        box.process().put("args", new ArrayList<>(List.of("true")));
        box.writeConfig();
        Sandbox.Result r = Sandbox.finish(new ProcessBuilder(Sandbox.cli("--root", box.stateRoot().toString(), "--agent-socket",
                nowhere.toString(), "--system-config", sys.conf.toString(), "--system", "run", "--bundle", box.bundle().toString(), "noagent"))
                .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile())).start());
        assertEquals(1, r.exit(), r.all());
        assertTrue(r.err().contains("cannot start the agent for " + nowhere), r.err());
    }

    @Test
    void aBadPoolIsAnErrorAndLeavesNothing() throws Exception {
        Files.writeString(sys.ranges.subgid(), "bulwark:5000000:65536\n");
        Sandbox.Result r = system("true", "--system");
        assertEquals(1, r.exit(), r.all());
        assertTrue(r.err().contains("must give the same range"), r.err());
    }
}
