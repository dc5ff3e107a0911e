package dev.bulwark.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.bulwark.testing.ContainerTestBase;
import dev.bulwark.testing.Sandbox;
import dev.bulwark.testing.Sandbox.Result;
import dev.bulwark.testing.TestEnv;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Each malformed config is refused by the real CLI with an error naming the field, and leaves
 * nothing behind: no state directory, mount, process or cgroup.
 */
class MalformedConfigTest extends ContainerTestBase {




    @SuppressWarnings("unchecked")
    private static Map<String, Object> user(Sandbox b) {
        return (Map<String, Object>) b.process().get("user");
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> caps(Sandbox b) {
        return (Map<String, Object>) b.process().get("capabilities");
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> seccomp(Sandbox b) {
        return (Map<String, Object>) b.linux().get("seccomp");
    }

    private static Arguments bad(String name, Consumer<Sandbox> mutate, String expected) {
        return Arguments.of(name, mutate, expected);
    }

    static Stream<Arguments> configs() {
        return Stream.of(
                bad("missing ociVersion", b -> b.config.remove("ociVersion"), "ociVersion: required field is missing"),
                bad("ociVersion 2", b -> b.config.put("ociVersion", "2.0.0"), "ociVersion: expected a 1.x version"),
                bad("root is not a directory", b -> b.config.put("root", map("path", "/nonexistent/rootfs")),
                        "root.path: \"/nonexistent/rootfs\" is not a directory"),
                bad("no process", b -> b.config.remove("process"), "process: required to run a container"),
                bad("empty args", b -> b.process().put("args", List.of()), "process.args: must name the program"),
                bad("relative cwd", b -> b.process().put("cwd", "tmp"), "process.cwd: must be an absolute path"),
                bad("uid is a string", b -> user(b).put("uid", "root"),
                        "process.user.uid: expected an unsigned 32-bit integer, found a string"),
                bad("uid too large", b -> user(b).put("uid", 4294967296L),
                        "process.user.uid: expected an unsigned 32-bit integer, found 4294967296"),
                bad("effective not permitted", b -> caps(b).put("effective", List.of("CAP_CHOWN", "CAP_SYS_ADMIN")),
                        "process.capabilities.effective[1]: capability \"CAP_SYS_ADMIN\" is not also in the permitted set"),
                bad("unknown rlimit", b -> b.process().put("rlimits", List.of(map("type", "RLIMIT_FOO", "soft", 1, "hard", 1))),
                        "process.rlimits[0].type: unknown rlimit \"RLIMIT_FOO\""),
                bad("rlimit soft above hard", b -> b.process().put("rlimits",
                                List.of(map("type", "RLIMIT_NOFILE", "soft", 10, "hard", 5))),
                        "process.rlimits[0]: soft limit 10 is above the hard limit 5"),
                bad("duplicate rlimit", b -> b.process().put("rlimits", List.of(
                                map("type", "RLIMIT_NOFILE", "soft", 1, "hard", 1), map("type", "RLIMIT_NOFILE", "soft", 1, "hard", 1))),
                        "process.rlimits[1].type: rlimit \"RLIMIT_NOFILE\" is set twice"),
                bad("env without =", b -> b.env().add("JUSTANAME"), "process.env[3]: expected NAME=value"),
                bad("oomScoreAdj out of range", b -> b.process().put("oomScoreAdj", 5000),
                        "process.oomScoreAdj: expected a value from -1000 to 1000, found 5000"),
                bad("terminal without devpts", b -> {
                    b.process().put("terminal", true);
                    b.mounts().removeIf(m -> ((Map<?, ?>) m).get("destination").toString().startsWith("/dev"));
                }, "process.terminal: a terminal needs a devpts mount at /dev/pts"),
                bad("unknown namespace", b -> b.namespaces().add(map("type", "foo")), "linux.namespaces[6].type: unknown namespace type \"foo\""),
                bad("duplicate namespace", b -> b.namespaces().add(map("type", "pid")), "linux.namespaces[6].type: namespace \"pid\" is listed twice"),
                bad("namespace path missing", b -> {
                    b.namespaces().removeIf(n -> ((Map<?, ?>) n).get("type").equals("network"));
                    b.namespaces().add(map("type", "network", "path", "/proc/999999999/ns/net"));
                }, "linux.namespaces[5].path: \"/proc/999999999/ns/net\" does not exist"),
                bad("no mount namespace", b -> b.namespaces().removeIf(n -> ((Map<?, ?>) n).get("type").equals("mount")),
                        "linux.maskedPaths: unable to restrict sys entries without a private mount namespace"),
                bad("mappings without user namespace", b -> b.linux().put("uidMappings", List.of(map("containerID", 0, "hostID", 1000, "size", 1))),
                        "linux.uidMappings: ID mappings need a new user namespace"),
                bad("user namespace without mappings", b -> b.namespaces().add(map("type", "user")),
                        "linux.uidMappings: a new user namespace needs at least one mapping"),
                bad("overlapping mappings", b -> {
                    b.namespaces().add(map("type", "user"));
                    b.linux().put("uidMappings", List.of(map("containerID", 0, "hostID", 100000, "size", 100),
                            map("containerID", 50, "hostID", 200000, "size", 100)));
                    b.linux().put("gidMappings", List.of(map("containerID", 0, "hostID", 100000, "size", 100)));
                }, "linux.uidMappings[1].containerID: overlaps linux.uidMappings[0]"),
                bad("relative mount destination", b -> b.mounts().add(map("destination", "mnt", "type", "tmpfs", "source", "tmpfs")),
                        "mounts[7].destination: must be an absolute path"),
                bad("bind source missing", b -> b.mounts().add(map("destination", "/mnt", "type", "bind", "source", "/no/such/dir",
                                "options", List.of("rbind"))),
                        "mounts[7].source: \"/no/such/dir\" does not exist"),
                bad("mount without type", b -> b.mounts().add(map("destination", "/mnt", "source", "x")),
                        "mounts[7].type: a mount that is not a bind mount needs a filesystem type"),
                bad("idmap option", b -> b.mounts().add(map("destination", "/mnt", "type", "tmpfs", "source", "tmpfs",
                                "options", List.of("nosuid", "idmap"))),
                        "mounts[7].options[1]: ID-mapped mounts are not supported"),
                bad("hostname without uts", b -> b.namespaces().removeIf(n -> ((Map<?, ?>) n).get("type").equals("uts")),
                        "hostname: setting it needs a private UTS namespace"),
                bad("host sysctl", b -> b.linux().put("sysctl", map("kernel.panic", "1")),
                        "linux.sysctl.kernel.panic: is not in a namespace the container owns"),
                bad("net sysctl without netns", b -> {
                    b.namespaces().removeIf(n -> ((Map<?, ?>) n).get("type").equals("network"));
                    b.linux().put("sysctl", map("net.ipv4.ip_forward", "1"));
                }, "linux.sysctl.net.ipv4.ip_forward: needs a network namespace"),
                bad("relative masked path", b -> b.linux().put("maskedPaths", List.of("/proc/kcore", "proc/keys")),
                        "linux.maskedPaths[1]: must be an absolute path"),
                bad("bad device type", b -> b.linux().put("devices", List.of(map("type", "x", "path", "/dev/foo"))),
                        "linux.devices[0].type: expected c, u, b or p"),
                bad("device outside /dev", b -> b.linux().put("devices", List.of(map("type", "c", "path", "/etc/foo", "major", 1, "minor", 3))),
                        "linux.devices[0].path: must be a path under /dev"),
                bad("time offsets without time namespace", b -> b.linux().put("timeOffsets", map("monotonic", map("secs", 1))),
                        "linux.timeOffsets: time offsets need a new time namespace"),
                bad("bad rootfsPropagation", b -> b.linux().put("rootfsPropagation", "sideways"),
                        "linux.rootfsPropagation: unknown propagation \"sideways\""),
                bad("unknown syscall", b -> ((List<Object>) seccomp(b).get("syscalls")).add(0,
                                map("names", List.of("foo"), "action", "SCMP_ACT_ALLOW")),
                        "linux.seccomp.syscalls[0].names[0]: unknown syscall \"foo\""),
                bad("unknown seccomp action", b -> seccomp(b).put("defaultAction", "SCMP_ACT_MAYBE"),
                        "linux.seccomp.defaultAction"),
                bad("notify without listener", b -> ((List<Object>) seccomp(b).get("syscalls")).add(0,
                                map("names", List.of("mkdir"), "action", "SCMP_ACT_NOTIFY")),
                        "linux.seccomp.listenerPath: SCMP_ACT_NOTIFY rules need a listener socket path"),
                bad("relative hook path", b -> b.config.put("hooks", map("prestart", List.of(map("path", "bin/true")))),
                        "hooks.prestart[0].path: must be an absolute path, found \"bin/true\""),
                bad("unmountable cgroup limit", b -> ((Map<String, Object>) b.linux().get("resources"))
                                .put("hugepageLimits", List.of(map("pageSize", "2MB", "limit", 1048576))),
                        "linux.resources.hugepageLimits"),
                bad("device rule type", b -> ((Map<String, Object>) b.linux().get("resources"))
                                .put("devices", List.of(map("allow", true, "type", "q", "access", "rwm"))),
                        "linux.resources.devices[0]"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("configs")
    void refusedWithItsPathAndNothingLeft(String name, Consumer<Sandbox> mutate, String expected) throws Exception {
        {
            mutate.accept(box);
            String id = "bad-" + Long.toHexString(System.nanoTime());
            Result r = box.run(id);
            assertEquals(1, r.exit(), name + ": " + r.all());
            assertTrue(r.err().startsWith("bulwark: "), r.err());
            assertTrue(r.err().contains(expected), name + ": expected \"" + expected + "\" in: " + r.err());
            assertEquals(1, r.err().lines().count(), "one line a person can act on: " + r.err());
            assertFalse(Files.exists(Path.of("/sys/fs/cgroup/pids/bulwark", id)), "cgroup left behind");
            assertFalse(Files.exists(Path.of("/sys/fs/cgroup/memory/bulwark", id)), "cgroup left behind");
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("texts")
    void brokenJsonAndIds(String name, String config, String id, String expected) throws Exception {
        {
            box.writeConfig();
            if (config != null) {
                Files.writeString(box.bundle().resolve("config.json"), config);
            }
            Result r = Sandbox.finish(new ProcessBuilder(Sandbox.cli("--root", box.stateRoot().toString(), "run",
                    "--bundle", box.bundle().toString(), id)).start());
            assertEquals(1, r.exit(), r.all());
            assertTrue(r.err().contains(expected), "expected \"" + expected + "\" in: " + r.err());
        }
    }

    static Stream<Arguments> texts() {
        List<Arguments> a = new ArrayList<>();
        a.add(Arguments.of("not JSON", "{\"ociVersion\": ", "x1", "config.json is not valid JSON: line 1, column 16"));
        a.add(Arguments.of("duplicate key", "{\"ociVersion\":\"1.0.0\",\"ociVersion\":\"1.0.0\"}", "x2", "duplicate member \"ociVersion\""));
        a.add(Arguments.of("top level array", "[]", "x3", "expected an object, found an array"));
        a.add(Arguments.of("bad id", null, "a/b", "invalid container ID \"a/b\""));
        return a.stream();
    }
}
