package dev.bulwark.image;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.bulwark.testing.Busybox;
import dev.bulwark.testing.Sandbox;
import dev.bulwark.testing.TestEnv;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * `bulwark run IMAGE` on real containers (root only): a busybox image stored with a zstd base
 * layer and a gzip layer on top, run through the CLI in its own JVM. After every test: no
 * runtime state, no mount under the store, no container directory left (except where a test
 * keeps one on purpose and removes it), no half-unpacked cache.
 */
@Timeout(300)
class ImageRunTest {
    static Path dir;
    static Path store;
    static Path state;

    @BeforeAll
    static void image() throws Exception {
        assumeTrue(TestEnv.isRoot(), "container tests need root");
        dir = Files.createTempDirectory("bulwark-imgrun");
        store = dir.resolve("store");
        state = dir.resolve("state");
        Path rootfs = Files.createDirectories(dir.resolve("rootfs"));
        Busybox.rootfs(rootfs);
        Process tar = new ProcessBuilder("tar", "-C", rootfs.toString(), "--numeric-owner", "-cf", "-", ".").start();
        byte[] base = tar.getInputStream().readAllBytes();
        assertEquals(0, tar.waitFor());
        byte[] top = Layer.of().file("etc/passwd", "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n")
                .file("etc/group", "root:x:0:\napp:x:1000:\nextra:x:2000:app\n").dir("home/app").tar();
        ContentStore s = ContentStore.open(store);
        byte[] zbase = Layer.zstd(base);
        byte[] gtop = Layer.gzip(top);
        List<Descriptor> layers = List.of(new Descriptor(MediaTypes.OCI_LAYER_ZSTD, s.put(zbase), zbase.length),
                new Descriptor(MediaTypes.OCI_LAYER_GZIP, s.put(gtop), gtop.length));
        tag(s, "test/plain:1", layers, "{\"Env\":[\"PATH=/bin\",\"FOO=image\"],\"Cmd\":[\"sh\",\"-c\",\"echo plain\"],"
                + "\"WorkingDir\":\"/srv/work\"}");
        tag(s, "test/ep:1", layers, "{\"Entrypoint\":[\"echo\",\"ep\"],\"Cmd\":[\"default\"],\"User\":\"app\"}");
        TestEnv.deleteTree(rootfs);
    }

    private static void tag(ContentStore s, String name, List<Descriptor> layers, String config) {
        byte[] c = ("{\"architecture\":\"" + Platform.host().architecture() + "\",\"os\":\"linux\",\"config\":" + config
                + ",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}").getBytes(StandardCharsets.UTF_8);
        byte[] m = new Manifest(MediaTypes.OCI_MANIFEST, new Descriptor(MediaTypes.OCI_CONFIG, s.put(c), c.length), layers).toJson();
        s.tag(Reference.parse(name).toString(), new Descriptor(MediaTypes.OCI_MANIFEST, s.put(m), m.length));
    }

    @AfterAll
    static void removeAll() throws Exception {
        if (dir != null) {
            assertEquals(List.of(), TestEnv.mountsUnder(dir));
            TestEnv.deleteTree(dir);
        }
    }

    @AfterEach
    void nothingLeft() throws Exception {
        assertEquals(List.of(), TestEnv.mountsUnder(dir), "mounts left behind");
        if (Files.isDirectory(state)) {
            try (Stream<Path> st = Files.list(state)) {
                assertEquals(List.of(), st.filter(p -> !p.getFileName().toString().startsWith(".")).toList(), "state left behind");
            }
        }
        Path containers = store.resolve("containers");
        if (Files.isDirectory(containers)) {
            try (Stream<Path> st = Files.list(containers)) {
                assertEquals(List.of(), st.toList(), "container directories left behind");
            }
        }
        if (Files.isDirectory(store.resolve("rootfs"))) {
            try (Stream<Path> st = Files.list(store.resolve("rootfs"))) {
                assertEquals(List.of(), st.filter(p -> p.getFileName().toString().startsWith(".tmp")).toList());
            }
        }
    }

    static Sandbox.Result run(String... args) throws Exception {
        List<String> a = new ArrayList<>(List.of("--root", state.toString(), "run", "--store", store.toString()));
        a.addAll(List.of(args));
        return Sandbox.finish(new ProcessBuilder(Sandbox.cli(a.toArray(String[]::new)))
                .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile())).start());
    }

    static String ok(String... args) throws Exception {
        Sandbox.Result r = run(args);
        assertEquals(0, r.exit(), r.all());
        return r.out();
    }

    static void refused(String expected, String... args) throws Exception {
        Sandbox.Result r = run(args);
        assertEquals(1, r.exit(), r.all());
        assertTrue(r.err().contains(expected), "expected \"" + expected + "\" in: " + r.err());
    }

    /** rmi takes the image's unpacked tree and its signatures with it, unless another name still needs them. */
    @Test
    void rmiDropsTheCacheAndSignatures() throws Exception {
        ContentStore s = ContentStore.open(store);
        Manifest plain = new Images(s, Platform.host()).manifest(s.resolve("docker.io/test/plain:1").orElseThrow());
        tag(s, "test/rm:1", plain.layers(), "{\"Cmd\":[\"true\"],\"Labels\":{\"for\":\"rmi\"}}");
        tag(s, "test/rm:2", plain.layers(), "{\"Cmd\":[\"true\"],\"Labels\":{\"for\":\"rmi\"}}");
        Descriptor d = s.resolve("docker.io/test/rm:1").orElseThrow();
        Digest config = new Images(s, Platform.host()).manifest(d).config().digest();
        ok("--rm", "test/rm:1");
        assertTrue(Files.isDirectory(store.resolve("rootfs").resolve(config.hex())), "unpacked once into the cache");
        Signatures.sign(s, Reference.parse("test/rm:1"), d.digest(), Keys.generate().getPrivate());
        String sig = Signatures.artifactName(Reference.parse("test/rm:1"), d.digest());

        new Images(s, Platform.host()).remove("test/rm:2");
        assertTrue(Files.isDirectory(store.resolve("rootfs").resolve(config.hex())), "test/rm:1 still needs the tree");
        assertTrue(s.resolve(sig).isPresent(), "test/rm:1 still has its signature");

        new Images(s, Platform.host()).remove("test/rm:1");
        assertFalse(Files.exists(store.resolve("rootfs").resolve(config.hex())), "the cached tree went with the image");
        assertFalse(s.resolve(sig).isPresent(), "the signature went with the image");
        assertTrue(s.verify().isEmpty(), s.verify().toString());
        assertEquals("plain\n", ok("--rm", "test/plain:1"), "the other images' layers are still there");
    }

    @Test
    void trustPolicyCheckedAtRun() throws Exception {
        Path keys = Files.createDirectories(dir.resolve("keys"));
        java.security.KeyPair pair = Keys.generate();
        Keys.write(pair, keys.resolve("team"));
        Path policy = keys.resolve("policy.json");
        Files.writeString(policy, "{\"default\":{\"type\":\"reject\"},"
                + "\"scopes\":{\"docker.io/test/plain\":{\"type\":\"signedBy\",\"keys\":[\"team.pub\"]}}}");
        refused("reject", "--rm", "--policy", policy.toString(), "test/ep:1");
        refused("test/plain", "--rm", "--policy", policy.toString(), "test/plain:1", "true");
        ContentStore s = ContentStore.open(store);
        Reference plain = Reference.parse("test/plain:1");
        Digest d = new Images(s, Platform.host()).resolve("test/plain:1").getValue().digest();
        Signatures.sign(s, plain, d, pair.getPrivate());
        try {
            assertEquals("signed\n", ok("--rm", "--policy", policy.toString(), "test/plain:1", "echo", "signed"));
        } finally {
            s.untag(Signatures.artifactName(plain, d));
        }
    }

    /** By default its own user namespace with an exclusive range, the image's files ID-mapped to it; --userns=host opts out. */
    @Test
    void ownUserNamespaceByDefault() throws Exception {
        String map = ok("--rm", "test/plain:1", "sh", "-c", "cat /proc/self/uid_map /proc/self/gid_map; stat -c %u:%g /bin/busybox /etc/passwd");
        String[] lines = map.strip().split("\n");
        assertEquals(4, lines.length, map);
        String[] uid = lines[0].trim().split("\\s+");
        assertEquals("0", uid[0], map);
        assertNotEquals("0", uid[1], "mapped to a host range, not to host root: " + map);
        assertEquals("65536", uid[2], map);
        assertEquals(lines[0].trim(), lines[1].trim(), "uid and gid ranges alike: " + map);
        assertEquals("0:0", lines[2], "image files owned by 0 appear owned by the container's root: " + map);
        assertEquals("0:0", lines[3], map);
        assertEquals("0 0 4294967295", ok("--rm", "--userns=host", "test/plain:1", "cat", "/proc/self/uid_map").trim()
                .replaceAll("\\s+", " "));
    }

    /** Its own network namespace with only lo, which is up (as runc brings it up). */
    @Test
    void loopbackIsUp() throws Exception {
        assertEquals("lo\n0x9\n", ok("--rm", "test/plain:1", "sh", "-c", "ls /sys/class/net; cat /sys/class/net/lo/flags"));
    }

    @Test
    void usersAndIds() throws Exception {
        assertEquals("0\n", ok("--rm", "test/plain:1", "id", "-u"));
        assertEquals("uid=1000(app) gid=1000(app) groups=2000(extra)\n", ok("--rm", "-u", "app", "test/plain:1", "id"));
        assertEquals("1234:5678\n", ok("--rm", "-u", "1234:5678", "test/plain:1", "sh", "-c", "echo $(id -u):$(id -g)"));
        // the image's User (app), and HOME from its passwd entry
        assertEquals("1000 /home/app\n", ok("--rm", "--entrypoint", "sh", "test/ep:1", "-c", "echo $(id -u) $HOME"));
        refused("-u \"ghost\": no user \"ghost\" in the image's /etc/passwd", "--rm", "-u", "ghost", "test/plain:1", "id");
    }

    @Test
    void envWorkdirHostname() throws Exception {
        String out = ok("--rm", "-e", "FOO=cli", "-e", "BAR=1", "test/plain:1", "sh", "-c", "echo $FOO $BAR $PATH; pwd; hostname; echo $HOSTNAME");
        String[] l = out.split("\n");
        assertEquals("cli 1 /bin", l[0]);
        assertEquals("/srv/work", l[1], "the image's WorkingDir, created as Docker does");
        assertTrue(l[2].matches("[0-9a-f]{12}"), l[2]);
        assertEquals(l[2], l[3]);
        assertEquals("/tmp\n", ok("--rm", "-w", "/tmp", "test/plain:1", "pwd"));
        refused("-w \"tmp\" must be an absolute path", "--rm", "-w", "tmp", "test/plain:1", "pwd");
    }

    @Test
    void entrypointAndCmd() throws Exception {
        assertEquals("ep default\n", ok("--rm", "test/ep:1"));
        assertEquals("ep x y\n", ok("--rm", "test/ep:1", "x", "y"));
        assertEquals("hi\n", ok("--rm", "--entrypoint", "echo", "test/ep:1", "hi"));
        assertEquals("plain\n", ok("--rm", "test/plain:1"));
    }

    @Test
    void exitStatusAndAFreshRootPerContainer() throws Exception {
        assertEquals(7, run("--rm", "test/plain:1", "sh", "-c", "exit 7").exit());
        assertEquals("written\n", ok("--rm", "test/plain:1", "sh", "-c", "echo written > /etc/mark; cat /etc/mark"));
        Sandbox.Result again = run("--rm", "test/plain:1", "cat", "/etc/mark");
        assertNotEquals(0, again.exit(), "a write of one container is not in the next one: " + again.all());
        // the cached image itself was not written through the overlay
        try (Stream<Path> st = Files.list(store.resolve("rootfs"))) {
            for (Path p : st.toList()) {
                assertFalse(Files.exists(p.resolve("etc/mark")));
            }
        }
    }

    @Test
    void readOnlyRefusesWrites() throws Exception {
        Sandbox.Result r = run("--rm", "--read-only", "test/plain:1", "sh", "-c", "touch /etc/x");
        assertNotEquals(0, r.exit());
        assertTrue(r.err().contains("Read-only file system"), r.all());
        assertEquals("ok\n", ok("--rm", "--read-only", "test/plain:1", "sh", "-c", "touch /dev/shm/x && echo ok"));
        // the overlay itself is read-only too, not only the container's view of it
        Sandbox.Result mount = run("--rm", "--read-only", "test/plain:1", "sh", "-c", "grep ' / ' /proc/self/mountinfo");
        assertTrue(mount.out().contains(" ro") && mount.out().contains("overlay"), mount.all());
    }

    @Test
    void volumes() throws Exception {
        Path host = Files.createDirectories(dir.resolve("vol"));
        Files.writeString(host.resolve("f"), "from host\n");
        Sandbox.Result ro = run("--rm", "-v", host + ":/data:ro", "test/plain:1", "sh", "-c", "cat /data/f; touch /data/g");
        assertNotEquals(0, ro.exit());
        assertTrue(ro.out().contains("from host") && ro.err().contains("Read-only file system"), ro.all());
        assertFalse(Files.exists(host.resolve("g")));
        ok("--rm", "-v", host + ":/data", "test/plain:1", "sh", "-c", "echo rw > /data/g");
        assertEquals("rw\n", Files.readString(host.resolve("g")));
        refused("-v \"" + host + ":data\": destination \"data\" must be an absolute path", "--rm", "-v", host + ":data", "test/plain:1", "true");
        refused("the host path /nonexistent-bulwark does not exist", "--rm", "-v", "/nonexistent-bulwark:/x", "test/plain:1", "true");
        TestEnv.deleteTree(host);
    }

    @Test
    void keptWithoutRmAndCleanedOnErrors() throws Exception {
        ok("--name", "kept1", "test/plain:1", "sh", "-c", "echo change > /root/c");
        Path kept = store.resolve("containers/kept1");
        assertTrue(Files.exists(kept.resolve("config.json")));
        String config = Files.readString(kept.resolve("config.json"));
        assertTrue(config.contains("\"dev.bulwark.userns\": \"private\""), config);
        assertTrue(config.contains("\"dev.bulwark.image.ref\": \"test/plain:1\""), config);
        assertEquals("change\n", Files.readString(kept.resolve("upper/root/c")), "the changes are kept, as Docker keeps them");
        assertFalse(Files.exists(kept.resolve("rootfs")));
        refused("a container named kept1 exists", "--name", "kept1", "test/plain:1", "true");
        TestEnv.deleteTree(kept);
        // Errors at each stage leave nothing (checked after the test): no such image, a bad flag,
        // a command the stage cannot execute (after the overlay is mounted and the state made).
        refused("image test/none:1 is not in the store", "--rm", "--pull=never", "test/none:1");
        refused("--cap-add \"fly\": unknown capability", "--cap-add", "fly", "test/plain:1", "true");
        Sandbox.Result missing = run("--name", "err1", "test/plain:1", "/no/such/command");
        assertNotEquals(0, missing.exit(), missing.all());
    }

    @Test
    void pidsAndMemoryLimits() throws Exception {
        String out = ok("--rm", "--pids-limit", "64", "--memory", "64m", "test/plain:1", "sh", "-c",
                "cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max; "
                        + "cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max");
        assertEquals("64\n" + (64 << 20) + "\n", out);
        assertEquals("2048\n", ok("--rm", "test/plain:1", "sh", "-c",
                "cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max"));
    }

    @Test
    void terminal() throws Exception {
        List<String> cli = new ArrayList<>(Sandbox.cli("--root", state.toString(), "run", "--store", store.toString(), "--rm", "-t",
                "test/plain:1", "sh", "-c", "tty; [ -t 0 ] && echo stdin-tty"));
        String line = String.join(" ", cli.stream().map(s -> "'" + s + "'").toList());
        Process p = new ProcessBuilder("script", "-qec", line, "/dev/null").redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.waitFor(), out);
        assertTrue(out.contains("/dev/pts/0") && out.contains("stdin-tty"), out);
    }
}
