package dev.bulwark.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.bulwark.json.Json;
import dev.bulwark.json.JsonTree;
import dev.bulwark.spec.SpecException;
import dev.bulwark.spec.SpecReader;
import dev.bulwark.stage.Op;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The Landlock decisions, checked on the plan (no root, no container; the ABI is the test's). */
class LandlockTest {
    @TempDir
    Path bundle;
    Map<String, Object> config;

    private static HostInfo host(int abi) {
        return new HostInfo(40, (1L << 41) - 1, List::of, List::of,
                () -> new Landlock.Abi(abi, abi > 0 ? "" : "landlock_create_ruleset: Operation not supported"));
    }

    @BeforeEach
    @SuppressWarnings("unchecked")
    void config() throws Exception {
        Files.createDirectories(bundle.resolve("rootfs"));
        config = (Map<String, Object>) JsonTree.mutable(DefaultSpec.build(List.of("sh"), "rootfs"));
        // no cgroup mount: this host has none to plan from
        ((List<Object>) config.get("mounts")).removeIf(m -> ((Map<String, Object>) m).get("type").equals("cgroup"));
    }

    private void annotate(String v) {
        config.put("annotations", new HashMap<>(Map.of(Landlock.ANNOTATION, v)));
    }

    @SuppressWarnings("unchecked")
    private Map<String, Object> process() {
        return (Map<String, Object>) config.get("process");
    }

    private List<Op> plan(int abi) {
        var spec = SpecReader.parse(Json.write(JsonTree.value(config)));
        return Planner.plan(new Planner.Request(spec, bundle, bundle.resolve("state"), Planner.Mode.RUN, 0, false,
                Planner.CgroupSetup.NONE), host(abi));
    }

    private static List<Op> landlockOps(List<Op> ops) {
        return ops.stream().filter(o -> o instanceof Op.LandlockRuleset || o instanceof Op.LandlockRule
                || o instanceof Op.LandlockRestrict).toList();
    }

    private static int index(List<Op> ops, Class<? extends Op> type) {
        for (int i = 0; i < ops.size(); i++) {
            if (type.isInstance(ops.get(i))) {
                return i;
            }
        }
        return -1;
    }

    @Test
    void withoutAnnotationOrFieldThereIsNoRuleset() {
        assertEquals(List.of(), landlockOps(plan(7)));
        annotate("off");
        assertEquals(List.of(), landlockOps(plan(7)));
    }

    @Test
    void theMountsGiveTheRulesAfterNoNewPrivsAndBeforeSeccomp() {
        annotate("on");
        List<Op> ops = plan(7);
        long rw = Landlock.filesystemRights(7);
        assertEquals(0x7fffL, rw, "ABI 3 and later: every right to ABI 3 (truncate), ioctl_dev left unhandled");
        long ro = Landlock.READ_ONLY;
        List<Op> ll = landlockOps(ops);
        assertEquals(new Op.LandlockRuleset(rw), ll.get(0));
        // DefaultSpec: a read-only root; /proc, /dev, /dev/pts, /dev/shm, /dev/mqueue writable; /sys read-only
        assertEquals(new Op.LandlockRule("/", ro, ro & Landlock.FILE_RIGHTS), ll.get(1));
        assertTrue(ll.contains(new Op.LandlockRule("/proc", rw, rw & Landlock.FILE_RIGHTS)), ll::toString);
        assertTrue(ll.contains(new Op.LandlockRule("/dev", rw, rw & Landlock.FILE_RIGHTS)), ll::toString);
        assertTrue(ll.contains(new Op.LandlockRule("/sys", ro, ro & Landlock.FILE_RIGHTS)), ll::toString);
        assertEquals(new Op.LandlockRestrict(Landlock.WRITE_FILE, Landlock.READ_FILE, Landlock.WRITE_FILE | Landlock.TRUNCATE), ll.get(ll.size() - 1), "the exec FIFO may be written");
        int nnp = index(ops, Op.NoNewPrivs.class);
        int first = index(ops, Op.LandlockRuleset.class);
        int restrict = index(ops, Op.LandlockRestrict.class);
        assertEquals(nnp + 1, first);
        assertEquals(restrict + 1, index(ops, Op.Seccomp.class));
    }

    @Test
    @SuppressWarnings("unchecked")
    void writableRootAndMountsAreReadWrite() {
        annotate("on");
        ((Map<String, Object>) config.get("root")).put("readonly", false);
        ((List<Object>) config.get("mounts")).add(new HashMap<>(Map.of("destination", "/data/", "type", "bind", "source",
                bundle.toString(), "options", List.of("rbind", "ro"))));
        List<Op> ll = landlockOps(plan(3));
        long rw = Landlock.filesystemRights(3);
        assertEquals(new Op.LandlockRule("/", rw, rw & Landlock.FILE_RIGHTS), ll.get(1));
        assertTrue(ll.contains(new Op.LandlockRule("/data", Landlock.READ_ONLY, Landlock.READ_ONLY & Landlock.FILE_RIGHTS)), ll::toString);
    }

    @Test
    void withoutNoNewPrivsTheRulesetComesFirstWhileCapabilitiesAreHeld() {
        annotate("on");
        process().put("noNewPrivileges", false);
        List<Op> ops = plan(7);
        assertEquals(-1, index(ops, Op.NoNewPrivs.class));
        assertTrue(index(ops, Op.LandlockRestrict.class) < index(ops, Op.CapsBounding.class));
        assertTrue(index(ops, Op.LandlockRestrict.class) < index(ops, Op.Seccomp.class));
    }

    @Test
    void onNeedsAbi3AutoFallsBackToNone() {
        annotate("on");
        SpecException e = assertThrows(SpecException.class, () -> plan(2));
        assertEquals("annotations.dev.bulwark.landlock: on needs Landlock ABI 3 or later (writes, truncation and renames"
                + " across directories all handled); this kernel has ABI 2", e.getMessage());
        e = assertThrows(SpecException.class, () -> plan(0));
        assertTrue(e.getMessage().endsWith("this kernel has no Landlock (landlock_create_ruleset: Operation not supported)"),
                e.getMessage());
        annotate("auto");
        assertEquals(List.of(), landlockOps(plan(2)));
        assertEquals(List.of(), landlockOps(plan(0)));
        assertEquals(new Op.LandlockRuleset(0x7fffL), landlockOps(plan(3)).get(0));
    }

    private void ruleset(List<String> handled, boolean strict, List<String> allowed, String... paths) {
        process().put("landlock", new HashMap<>(Map.of("ruleset", Map.of("handledAccessFS", handled),
                "rules", Map.of("pathBeneath", List.of(Map.of("allowedAccess", allowed, "paths", List.of(paths)))),
                "disableBestEffort", strict)));
    }

    @Test
    void theConfigsRulesetBestEffortDropsWhatTheKernelLacks() {
        ruleset(List.of("read_file", "write_file", "truncate", "ioctl_dev"), false, List.of("write_file", "ioctl_dev", "truncate"),
                "/tmp/", "/var//log");
        List<Op> ll = landlockOps(plan(3));
        long handled = Landlock.READ_FILE | Landlock.WRITE_FILE | Landlock.TRUNCATE;
        long allowed = Landlock.WRITE_FILE | Landlock.TRUNCATE;
        assertEquals(List.of(new Op.LandlockRuleset(handled), new Op.LandlockRule("/tmp", allowed, allowed),
                new Op.LandlockRule("/var/log", allowed, allowed),
                new Op.LandlockRestrict(Landlock.WRITE_FILE, Landlock.READ_FILE, Landlock.WRITE_FILE | Landlock.TRUNCATE)), ll);
        // directory rights are not given to a non-directory: the stage picks the second mask then
        ruleset(List.of("read_dir", "make_reg", "read_file"), false, List.of("read_dir", "make_reg", "read_file"), "/x");
        assertEquals(new Op.LandlockRule("/x", Landlock.READ_DIR | (1L << 8) | Landlock.READ_FILE, Landlock.READ_FILE),
                landlockOps(plan(7)).get(1));
        assertEquals(new Op.LandlockRestrict(0, Landlock.READ_FILE, 0), landlockOps(plan(7)).get(2), "write_file unhandled: the FIFO needs no rule");
    }

    @Test
    void theConfigsRulesetStrictOrWithoutLandlockIsAnError() {
        ruleset(List.of("read_file", "truncate"), true, List.of("read_file"), "/");
        SpecException e = assertThrows(SpecException.class, () -> plan(2));
        assertEquals("process.landlock.ruleset.handledAccessFS[1]: \"truncate\" needs Landlock ABI 3 and"
                + " process.landlock.disableBestEffort is true; this kernel has ABI 2", e.getMessage());
        ruleset(List.of("read_file"), false, List.of("read_file"), "/");
        e = assertThrows(SpecException.class, () -> plan(0));
        assertTrue(e.getMessage().startsWith("process.landlock: asks for a Landlock ruleset; this kernel has no Landlock"),
                e.getMessage());
    }

    @Test
    void theConfigsRulesetWinsOverAutoAndOnButNotOff() {
        ruleset(List.of("read_file"), false, List.of("read_file"), "/");
        annotate("auto");
        assertEquals(3, landlockOps(plan(7)).size());
        annotate("off");
        assertThrows(SpecException.class, () -> plan(7));
    }

    @Test
    @SuppressWarnings("unchecked")
    void execGetsTheContainersRulesetNotItsOwn() {
        annotate("on");
        var spec = SpecReader.parse(Json.write(JsonTree.value(config)));
        var checked = Planner.check(spec, bundle, host(7));
        Map<String, Object> p = new HashMap<>(process());
        p.put("args", new ArrayList<>(List.of("true")));
        var exec = SpecReader.readProcess(Json.write(JsonTree.value(p)));
        List<Op> ops = Planner.planExec(spec, checked, exec, 1234, bundle.resolve("x"), false, List.of(), host(7),
                java.util.Optional.empty());
        assertEquals(landlockOps(plan(7)), landlockOps(ops));
    }
}
