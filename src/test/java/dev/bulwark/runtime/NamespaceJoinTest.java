package dev.bulwark.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.bulwark.testing.ContainerTestBase;
import dev.bulwark.testing.Sandbox;
import dev.bulwark.testing.Sandbox.Result;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Every namespace type joined by path, alone and all together, on real containers, and runc on
 * the same config: same exit status, same namespaces seen from inside.
 */
class NamespaceJoinTest extends ContainerTestBase {
    private static final List<String> TYPES = List.of("ipc", "network", "pid", "uts", "mount", "cgroup");

    private static String proc(String type) {
        return switch (type) {
            case "network" -> "net";
            case "mount" -> "mnt";
            default -> type;
        };
    }

    /** A process in new namespaces of every type (a child of unshare, so it is in its PID namespace). */
    private record Holder(Process unshare, long pid) implements AutoCloseable {
        static Holder start() throws Exception {
            Process p = new ProcessBuilder("unshare", "--mount", "--propagation", "private", "--ipc", "--net", "--uts",
                    "--cgroup", "--pid", "--fork", "sleep", "60").start();
            Path children = Path.of("/proc/" + p.pid() + "/task/" + p.pid() + "/children");
            for (int i = 0; i < 250; i++) {
                String c = Files.exists(children) ? Files.readString(children).strip() : "";
                if (!c.isEmpty() && !Files.readSymbolicLink(Path.of("/proc/" + c + "/ns/pid"))
                        .equals(Files.readSymbolicLink(Path.of("/proc/self/ns/pid")))) {
                    return new Holder(p, Long.parseLong(c));
                }
                Thread.sleep(20);
            }
            p.destroyForcibly();
            throw new AssertionError("unshare did not start its child");
        }

        String ns(String type) throws Exception {
            return Files.readSymbolicLink(Path.of("/proc/" + pid + "/ns/" + proc(type))).toString();
        }

        @Override
        public void close() throws Exception {
            // the PID namespace's init; its death ends the namespace and every process joined to it
            new ProcessBuilder("kill", "-9", Long.toString(pid)).start().waitFor();
            unshare.waitFor(10, TimeUnit.SECONDS);
        }
    }

    private void join(List<String> types, Holder h) {
        for (String t : types) {
            box.namespaces().removeIf(n -> ((Map<?, ?>) n).get("type").equals(t));
            box.namespaces().add(map("type", t, "path", "/proc/" + h.pid() + "/ns/" + proc(t)));
        }
    }

    private static String script(List<String> types) {
        StringBuilder sb = new StringBuilder();
        for (String t : types) {
            sb.append("readlink /proc/self/ns/").append(proc(t)).append("; ");
        }
        return sb.append("test -e /bin/busybox && echo root-ok").toString();
    }

    private static String expected(List<String> types, Holder h) throws Exception {
        StringBuilder sb = new StringBuilder();
        for (String t : types) {
            sb.append(h.ns(t)).append('\n');
        }
        return sb.append("root-ok\n").toString();
    }

    private Result runc(List<String> types) throws Exception {
        box.process().put("args", new ArrayList<>(List.of("sh", "-c", script(types))));
        box.writeConfig();
        Path root = box.dir().resolve("runc-state");
        Process p = new ProcessBuilder("runc", "--root", root.toString(), "run", "--bundle", box.bundle().toString(),
                "r" + Long.toHexString(System.nanoTime())).redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile()))
                .start();
        return Sandbox.finish(p);
    }

    private void check(List<String> types) throws Exception {
        assumeTrue(Files.isExecutable(Path.of("/usr/sbin/runc")) || Files.isExecutable(Path.of("/usr/bin/runc")),
                "runc is not installed (Debian package runc)");
        try (Holder h = Holder.start()) {
            join(types, h);
            Result r = box.sh(script(types));
            assertEquals(0, r.exit(), () -> types + ": " + r.all());
            assertEquals(expected(types, h), r.out(), types.toString());
        }
        // runc on the same config, with a fresh holder: a joined mount namespace gets the root
        // pivoted in it, so one container per namespace
        try (Holder h = Holder.start()) {
            box.namespaces().removeIf(n -> ((Map<?, ?>) n).containsKey("path"));
            join(types, h);
            Result r = runc(types);
            assertEquals(0, r.exit(), () -> "runc " + types + ": " + r.all());
            assertEquals(expected(types, h), r.out(), "runc " + types);
        }
    }

    @Test
    void eachTypeAlone() throws Exception {
        for (String t : TYPES) {
            box.namespaces().clear();
            for (String d : TYPES) {
                box.namespaces().add(map("type", d));
            }
            check(List.of(t));
        }
    }

    @Test
    void allTogether() throws Exception {
        check(TYPES);
    }
}
