package dev.bulwark.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.bulwark.json.Json;
import dev.bulwark.json.JsonTree;
import dev.bulwark.json.JsonValue;
import dev.bulwark.spec.Spec;
import dev.bulwark.spec.SpecException;
import dev.bulwark.spec.SpecReader;
import dev.bulwark.stage.Op;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** exec's plan for a container with its own range (no root, no container), and the STATE/mode record. */
class ExecPlanTest {
    /** A runtime whose own bounding set lacks CAP_SYS_MODULE (16): in the host's user namespace it cannot grant it. */
    private static final HostInfo HOST = new HostInfo(40, ((1L << 41) - 1) & ~(1L << 16),
            () -> List.of(new HostInfo.CgroupMount("/sys/fs/cgroup", "cgroup2", "rw")), () -> List.of("0::/user.slice"));

    @TempDir
    Path dir;

    @SuppressWarnings("unchecked")
    private Spec engineSpec() throws Exception {
        Files.createDirectories(dir.resolve("rootfs"));
        Map<String, Object> config = (Map<String, Object>) JsonTree.mutable(DefaultSpec.build(List.of("sh"), "rootfs"));
        return SpecReader.parse(Json.write(JsonTree.value(config)));
    }

    private List<Op> plan(Spec spec, Optional<Planner.ExecTarget> target, Spec.Process p) {
        Planner.Checked checked = Planner.check(spec, dir, HOST);
        return Planner.planExec(spec, checked, p, 4242, dir.resolve("exec-1"), true, List.of(), HOST, Optional.empty(), target);
    }

    @Test
    void aSystemContainersExecSendsItsFdToTheAgentWithTheInitInTheState() throws Exception {
        SystemMode.Applied applied = new SystemMode.Applied(true, false, Path.of("/run/test/agent.sock"));
        Spec spec = applied.apply(engineSpec(), 3_000_000_000L, HOST);
        Spec.Process p = SystemMode.withCapabilities(spec.process().orElseThrow(), HOST);
        List<Op> ops = plan(spec, Optional.of(new Planner.ExecTarget("c1", dir, "running")), p);
        Op.SeccompListener l = ops.stream().filter(o -> o instanceof Op.SeccompListener).map(o -> (Op.SeccompListener) o)
                .findFirst().orElseThrow();
        assertEquals("/run/test/agent.sock", l.path());
        // the stage puts the exec'd process's PID between the parts
        JsonValue.JsonObject m = (JsonValue.JsonObject) Json.parse(String.join("777", l.messageParts()));
        assertEquals(777, ((JsonValue.JsonNumber) m.members().get("pid")).value().intValue());
        assertEquals("allow-immutable-unmounts=false trap-ns=on", ((JsonValue.JsonString) m.members().get("metadata")).value());
        JsonValue.JsonObject state = (JsonValue.JsonObject) m.members().get("state");
        assertEquals(4242, ((JsonValue.JsonNumber) state.members().get("pid")).value().intValue());
        assertEquals("c1", ((JsonValue.JsonString) state.members().get("id")).value());
        assertEquals("running", ((JsonValue.JsonString) state.members().get("status")).value());
        // the user namespace is joined last, after the others; and CAP_SYS_MODULE, outside the
        // runtime's bounding set, is granted: it counts in the container's user namespace only
        List<Op.Setns> joins = ops.stream().filter(o -> o instanceof Op.Setns).map(o -> (Op.Setns) o).toList();
        assertEquals("/proc/4242/ns/user", joins.getLast().path());
        assertTrue(joins.stream().anyMatch(j -> j.path().equals("/proc/4242/ns/cgroup")), joins.toString());
        Op.Caps caps = ops.stream().filter(o -> o instanceof Op.Caps).map(o -> (Op.Caps) o).findFirst().orElseThrow();
        assertEquals(((1L << 41) - 1) & ~(1L << 17), caps.effective(), "every capability but CAP_SYS_RAWIO");
        Op.Seccomp f = ops.stream().filter(o -> o instanceof Op.Seccomp).map(o -> (Op.Seccomp) o).findFirst().orElseThrow();
        assertTrue(f.listener());
    }

    @Test
    void aNotifyFilterWithoutTheContainersStateIsRefused() throws Exception {
        Spec spec = new SystemMode.Applied(true, true, Path.of("/run/test/agent.sock")).apply(engineSpec(), 3_000_000_000L, HOST);
        SpecException e = assertThrows(SpecException.class, () -> plan(spec, Optional.empty(), spec.process().orElseThrow()));
        assertTrue(e.getMessage().contains("SCMP_ACT_NOTIFY"), e.getMessage());
    }

    @Test
    void aPrivateUserNamespacesExecHasNoListener() throws Exception {
        Spec spec = SystemMode.Applied.privateUserns().apply(engineSpec(), 3_000_000_000L, HOST);
        List<Op> ops = plan(spec, Optional.of(new Planner.ExecTarget("c2", dir, "running")), spec.process().orElseThrow());
        assertTrue(ops.stream().noneMatch(o -> o instanceof Op.SeccompListener));
        assertTrue(ops.stream().anyMatch(o -> o instanceof Op.Setns s && s.path().equals("/proc/4242/ns/user")));
    }

    @Test
    void theModeRecordRoundTripsAndAMalformedOneIsAnError() throws Exception {
        for (SystemMode.Applied a : List.of(SystemMode.Applied.privateUserns(), new SystemMode.Applied(true, true, Path.of("/a b/s.sock")),
                new SystemMode.Applied(true, false, Path.of("/run/bulwark/agent.sock")))) {
            Files.write(dir.resolve(SystemMode.MODE_FILE), a.encode());
            assertEquals(a, SystemMode.Applied.read(dir).orElseThrow());
        }
        Files.writeString(dir.resolve(SystemMode.MODE_FILE), "system allow-immutable-unmounts=maybe\nagent-socket=/x\n");
        RuntimeFailure e = assertThrows(RuntimeFailure.class, () -> SystemMode.Applied.read(dir));
        assertTrue(e.getMessage().contains(dir.resolve(SystemMode.MODE_FILE).toString()), e.getMessage());
        Files.delete(dir.resolve(SystemMode.MODE_FILE));
        assertEquals(Optional.empty(), SystemMode.Applied.read(dir));
    }
}
