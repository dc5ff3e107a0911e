package dev.bulwark.image;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.bulwark.json.JsonTree;
import dev.bulwark.json.JsonValue;
import dev.bulwark.runtime.Capabilities;
import dev.bulwark.runtime.DefaultSpec;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Image config + run flags to config.json, without a container. */
class BundleBuilderTest {
    @TempDir
    Path tmp;

    static final UserDb USERS = UserDb.parse(
            "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1001:App:/home/app:/bin/sh\n# comment\nbroken:x:notanumber:1::/:\n",
            "root:x:0:\napp:x:1001:\nextra:x:2000:app,other\nwheel:x:10:root\nweb:x:3000:app\n");

    static final ImageConfig IMAGE = new ImageConfig(List.of("/entry"), List.of("default", "arg"),
            List.of("PATH=/image/bin", "FOO=image"), "/srv", "app", "SIGQUIT");

    @SuppressWarnings("unchecked")
    private static Map<String, Object> build(ImageConfig image, BundleBuilder.Builder b) {
        return (Map<String, Object>) JsonTree.mutable(BundleBuilder.build(image, b.build(), USERS, "rootfs"));
    }

    @SuppressWarnings("unchecked")
    private static <T> T at(Map<String, Object> c, String... path) {
        Object o = c;
        for (String p : path) {
            o = ((Map<String, Object>) o).get(p);
        }
        return (T) o;
    }

    private static BundleBuilder.Builder opts() {
        return BundleBuilder.Options.builder("abcdef012345");
    }

    @Test
    void theImageConfigWithoutFlags() {
        Map<String, Object> c = build(IMAGE, opts());
        assertEquals(List.of("/entry", "default", "arg"), at(c, "process", "args"));
        assertEquals("/srv", at(c, "process", "cwd"));
        assertEquals(1000L, ((Number) at(c, "process", "user", "uid")).longValue());
        assertEquals(1001L, ((Number) at(c, "process", "user", "gid")).longValue());
        assertEquals(List.of(2000L, 3000L), ((List<Object>) at(c, "process", "user", "additionalGids")).stream()
                .map(x -> ((Number) x).longValue()).toList());
        assertEquals(List.of("PATH=/image/bin", "FOO=image", "HOSTNAME=abcdef012345", "HOME=/home/app"), at(c, "process", "env"));
        assertEquals("abcdef012345", c.get("hostname"));
        assertEquals(false, at(c, "root", "readonly"));
        assertEquals("rootfs", at(c, "root", "path"));
        assertEquals(DefaultSpec.PIDS_LIMIT, ((Number) at(c, "linux", "resources", "pids", "limit")).longValue());
        assertEquals(false, at(c, "process", "terminal"));
        assertEquals(true, at(c, "process", "noNewPrivileges"));
        assertEquals(Capabilities.DOCKER_DEFAULT, at(c, "process", "capabilities", "bounding"));
        assertEquals(DefaultSpec.MASKED_PATHS, at(c, "linux", "maskedPaths"));
        assertEquals(DefaultSpec.READONLY_PATHS, at(c, "linux", "readonlyPaths"));
        assertEquals("SCMP_ACT_ERRNO", at(c, "linux", "seccomp", "defaultAction"));
        List<Object> ns = at(c, "linux", "namespaces");
        assertTrue(ns.contains(Map.of("type", "network")), ns.toString());
        assertFalse(ns.contains(Map.of("type", "user")), "host IDs: no user namespace: " + ns);
        assertEquals("SIGQUIT", at(c, "annotations", BundleBuilder.STOP_SIGNAL_ANNOTATION));
        assertFalse(((Map<String, Object>) c.get("annotations")).containsKey(BundleBuilder.SYSTEM_ANNOTATION));
    }

    @Test
    void theResultIsAValidOciConfig() throws Exception {
        Files.createDirectories(tmp.resolve("rootfs"));
        Files.writeString(tmp.resolve("config.json"), dev.bulwark.json.Json.writePretty(
                BundleBuilder.build(IMAGE, opts().volume(BundleBuilder.Volume.parse("/tmp:/data:ro")).memory(64 << 20)
                        .annotation(dev.bulwark.runtime.SystemMode.USERNS, "private").build(), USERS, "rootfs")),
                StandardCharsets.UTF_8);
        assertEquals("1.2.0", dev.bulwark.runtime.Lifecycle.readConfig(tmp).ociVersion());
    }

    @Test
    void flagsReachTheirFields() {
        Map<String, Object> c = build(IMAGE, opts().cmd(List.of("x", "y")).env("FOO=cli").env("NEW=1").user("1234:5678")
                .workdir("/work").readOnly(true).tty(true).pidsLimit(100).memory(64L << 20).capDrop("ALL").capAdd("net_admin")
                .capAdd("CAP_SYS_ADMIN").system(true).volume(BundleBuilder.Volume.parse("/host/a:/data:ro"))
                .volume(BundleBuilder.Volume.parse("/host/b:/rw")).annotation(BundleBuilder.REF_ANNOTATION, "busybox"));
        assertEquals(List.of("/entry", "x", "y"), at(c, "process", "args"));
        List<String> env = at(c, "process", "env");
        assertTrue(env.contains("FOO=cli") && env.contains("NEW=1") && env.contains("TERM=xterm") && env.contains("HOME=/"), env.toString());
        assertFalse(env.contains("FOO=image"));
        assertEquals(1234L, ((Number) at(c, "process", "user", "uid")).longValue());
        assertEquals(5678L, ((Number) at(c, "process", "user", "gid")).longValue());
        assertEquals("/work", at(c, "process", "cwd"));
        assertEquals(true, at(c, "root", "readonly"));
        assertEquals(true, at(c, "process", "terminal"));
        assertEquals(100L, ((Number) at(c, "linux", "resources", "pids", "limit")).longValue());
        assertEquals(64L << 20, ((Number) at(c, "linux", "resources", "memory", "limit")).longValue());
        assertEquals(List.of("CAP_NET_ADMIN", "CAP_SYS_ADMIN"), at(c, "process", "capabilities", "effective"));
        assertEquals("true", at(c, "annotations", BundleBuilder.SYSTEM_ANNOTATION));
        assertEquals("busybox", at(c, "annotations", BundleBuilder.REF_ANNOTATION));
        List<Object> mounts = at(c, "mounts");
        assertTrue(mounts.contains(Map.of("destination", "/data", "type", "bind", "source", "/host/a",
                "options", List.of("rbind", "rprivate", "ro"))), mounts.toString());
        assertTrue(mounts.contains(Map.of("destination", "/rw", "type", "bind", "source", "/host/b",
                "options", List.of("rbind", "rprivate"))), mounts.toString());
        // CAP_SYS_ADMIN opens mount etc. in Docker's profile: the seccomp rules follow the capabilities.
        String withAdmin = dev.bulwark.json.Json.write((JsonValue) JsonTree.value(at(c, "linux", "seccomp")));
        String plain = dev.bulwark.json.Json.write((JsonValue) JsonTree.value(at(build(IMAGE, opts()), "linux", "seccomp")));
        assertTrue(withAdmin.contains("\"mount\"") && !plain.contains("\"mount\""), "mount allowed only with CAP_SYS_ADMIN");
        assertFalse(at(build(IMAGE, opts().pidsLimit(0)), "linux", "resources") instanceof Map<?, ?> m && m.containsKey("pids"));
    }

    @Test
    void entrypointAndCmdFollowDockersRule() {
        ImageConfig cmdOnly = new ImageConfig(List.of(), List.of("sh"), List.of(), "", "", "");
        assertEquals(List.of("sh"), at(build(cmdOnly, opts()), "process", "args"));
        assertEquals(List.of("ls", "-l"), at(build(cmdOnly, opts().cmd(List.of("ls", "-l"))), "process", "args"));
        // --entrypoint replaces Entrypoint and drops the image's Cmd; "" clears it.
        assertEquals(List.of("/other"), at(build(IMAGE, opts().entrypoint("/other")), "process", "args"));
        assertEquals(List.of("/other", "a"), at(build(IMAGE, opts().entrypoint("/other").cmd(List.of("a"))), "process", "args"));
        assertEquals(List.of("id"), at(build(IMAGE, opts().entrypoint("").cmd(List.of("id"))), "process", "args"));
        ImageException none = assertThrows(ImageException.class,
                () -> build(new ImageConfig(List.of(), List.of(), List.of(), "", "", ""), opts()));
        assertTrue(none.getMessage().contains("neither Entrypoint nor Cmd"), none.getMessage());
        // no PATH in the image: Docker's default
        assertTrue(((List<String>) at(build(cmdOnly, opts()), "process", "env")).contains(BundleBuilder.DEFAULT_PATH));
    }

    @Test
    void usersResolveAsDockerDoes() {
        assertEquals(new UserDb.User(0, 0, List.of(10L), Optional.of("/root")), USERS.resolve("", "-u"));
        assertEquals(new UserDb.User(0, 0, List.of(10L), Optional.of("/root")), USERS.resolve("root", "-u"));
        assertEquals(new UserDb.User(1000, 1001, List.of(2000L, 3000L), Optional.of("/home/app")), USERS.resolve("app", "-u"));
        assertEquals(new UserDb.User(1000, 1001, List.of(2000L, 3000L), Optional.of("/home/app")), USERS.resolve("1000", "-u"));
        assertEquals(new UserDb.User(1000, 2000, List.of(3000L), Optional.of("/home/app")), USERS.resolve("app:extra", "-u"));
        assertEquals(new UserDb.User(4242, 0, List.of(), Optional.empty()), USERS.resolve("4242", "-u"));
        assertEquals(new UserDb.User(4242, 7, List.of(), Optional.empty()), USERS.resolve("4242:7", "-u"));
    }

    @Test
    void badInputNamesTheFlag() {
        assertMessage("-u \"nobody\": no user \"nobody\" in the image's /etc/passwd", () -> build(IMAGE, opts().user("nobody")));
        assertMessage("-u \"app:nogroup\": no group \"nogroup\"", () -> build(IMAGE, opts().user("app:nogroup")));
        assertMessage("-u \"app:\": empty group", () -> build(IMAGE, opts().user("app:")));
        assertMessage("-u \"99999999999\"", () -> build(IMAGE, opts().user("99999999999")));
        assertMessage("image config User \"ghost\"", () -> build(new ImageConfig(List.of(), List.of("sh"), List.of(), "", "ghost", ""), opts()));
        assertMessage("-w \"relative\" must be an absolute path", () -> build(IMAGE, opts().workdir("relative")));
        assertMessage("-w \"/a/../b\" must not contain", () -> build(IMAGE, opts().workdir("/a/../b")));
        assertMessage("-e \"NOVALUE\": expected NAME=VALUE", () -> build(IMAGE, opts().env("NOVALUE")));
        assertMessage("-e \"=x\": expected NAME=VALUE", () -> build(IMAGE, opts().env("=x")));
        assertMessage("image config Env[0] \"junk\"", () -> build(new ImageConfig(List.of(), List.of("sh"), List.of("junk"), "", "", ""), opts()));
        assertMessage("--cap-add \"CAP_FLY\": unknown capability", () -> build(IMAGE, opts().capAdd("CAP_FLY")));
        assertMessage("--cap-drop \"bogus\": unknown capability", () -> build(IMAGE, opts().capDrop("bogus")));
        assertMessage("-v \"/a\": expected SRC:DST", () -> BundleBuilder.Volume.parse("/a"));
        assertMessage("-v \"rel:/b\": source \"rel\" must be an absolute host path", () -> BundleBuilder.Volume.parse("rel:/b"));
        assertMessage("-v \"/a:b\": destination \"b\" must be an absolute path", () -> BundleBuilder.Volume.parse("/a:b"));
        assertMessage("-v \"/a:/b/../../etc\": destination", () -> BundleBuilder.Volume.parse("/a:/b/../../etc"));
        assertMessage("-v \"/a:/b:rx\": mode \"rx\" must be ro or rw", () -> BundleBuilder.Volume.parse("/a:/b:rx"));
        assertMessage("--memory \"lots\"", () -> Sizes.parse("--memory", "lots"));
        assertMessage("--memory \"-5m\"", () -> Sizes.parse("--memory", "-5m"));
        assertEquals(64L << 20, Sizes.parse("--memory", "64m"));
        assertEquals(1L << 30, Sizes.parse("--memory", "1G"));
        assertEquals(4096, Sizes.parse("--memory", "4096"));
    }

    @Test
    void imageConfigParsed() {
        ImageConfig c = ImageConfig.parse(("{\"architecture\":\"amd64\",\"config\":{\"Entrypoint\":[\"/e\"],\"Cmd\":null,"
                + "\"Env\":[\"A=1\"],\"WorkingDir\":\"/w\",\"User\":\"app\",\"StopSignal\":\"SIGINT\"}}").getBytes(StandardCharsets.UTF_8), "cfg");
        assertEquals(new ImageConfig(List.of("/e"), List.of(), List.of("A=1"), "/w", "app", "SIGINT"), c);
        assertEquals(new ImageConfig(List.of(), List.of(), List.of(), "", "", ""), ImageConfig.parse("{}".getBytes(StandardCharsets.UTF_8), "cfg"));
        ImageException e = assertThrows(ImageException.class,
                () -> ImageConfig.parse("{\"config\":{\"Cmd\":\"sh\"}}".getBytes(StandardCharsets.UTF_8), "cfg"));
        assertTrue(e.getMessage().contains("config.Cmd") && e.getMessage().contains("expected an array"), e.getMessage());
    }

    @Test
    void passwdIsReadWithoutFollowingSymlinks() throws Exception {
        Path rootfs = Files.createDirectories(tmp.resolve("r"));
        Files.createDirectories(rootfs.resolve("etc"));
        Files.writeString(rootfs.resolve("etc/group"), "g:x:5:\n");
        // an image that points its passwd at the host's
        Files.createSymbolicLink(rootfs.resolve("etc/passwd"), Path.of("/etc/passwd"));
        assertMessage("/etc/passwd is not a regular file", () -> UserDb.read(rootfs));
        Files.delete(rootfs.resolve("etc/passwd"));
        Files.writeString(rootfs.resolve("etc/passwd"), "u:x:7:5::/h:/bin/sh\n");
        assertEquals(7, UserDb.read(rootfs).resolve("u", "-u").uid());
        // /etc itself a symlink to the host's /etc
        Path other = Files.createDirectories(tmp.resolve("r2"));
        Files.createSymbolicLink(other.resolve("etc"), Path.of("/etc"));
        assertMessage("image /etc is not a directory", () -> UserDb.read(other));
        // no /etc at all: names fail, numbers work
        Path bare = Files.createDirectories(tmp.resolve("r3"));
        assertEquals(5, UserDb.read(bare).resolve("5", "-u").uid());
        assertMessage("no user \"root\"", () -> UserDb.read(bare).resolve("root", "-u"));
    }

    private static void assertMessage(String expected, org.junit.jupiter.api.function.Executable e) {
        ImageException x = assertThrows(ImageException.class, e);
        assertTrue(x.getMessage().contains(expected), "expected \"" + expected + "\" in: " + x.getMessage());
    }
}
