package dev.bulwark.audit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.bulwark.json.Json;
import dev.bulwark.json.JsonValue;
import dev.bulwark.json.JsonValue.JsonArray;
import dev.bulwark.json.JsonValue.JsonNumber;
import dev.bulwark.json.JsonValue.JsonObject;
import dev.bulwark.json.JsonValue.JsonString;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** `bulwark audit` end to end: flags, output formats, exit status and errors. */
class AuditCommandTest {
    @TempDir
    Path tmp;
    Path hostRoot;
    Path stateRoot;
    String out;
    String err;

    @BeforeEach
    void setUp() throws Exception {
        hostRoot = tmp.resolve("host");
        Fixtures.fakeHost(hostRoot, ReadinessTest.MODERN);
        stateRoot = tmp.resolve("state");
        Files.createDirectories(stateRoot);
    }

    private int run(boolean terminal, String... args) {
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        ByteArrayOutputStream e = new ByteArrayOutputStream();
        int rc = AuditCommand.run(stateRoot, List.of(args), new PrintStream(o, true, StandardCharsets.UTF_8),
                new PrintStream(e, true, StandardCharsets.UTF_8), terminal);
        out = o.toString(StandardCharsets.UTF_8);
        err = e.toString(StandardCharsets.UTF_8);
        return rc;
    }

    private String[] host(String flavour, String... more) {
        List<String> a = new ArrayList<>(List.of("--host-root", hostRoot.toString(),
                "--config", Fixtures.path(flavour + ".config").toString(),
                "--cmdline", Fixtures.path(flavour + ".cmdline").toString(),
                "--sysctl", Fixtures.path(flavour + ".sysctl").toString()));
        a.addAll(List.of(more));
        return a.toArray(String[]::new);
    }

    private static JsonObject obj(JsonValue v, String key) {
        return (JsonObject) ((JsonObject) v).members().get(key);
    }

    private static long num(JsonObject o, String key) {
        return ((JsonNumber) o.members().get(key)).value().longValueExact();
    }

    private static String str(JsonValue o, String key) {
        return ((JsonString) ((JsonObject) o).members().get(key)).value();
    }

    @Test
    void failOnSetsTheExitStatus() {
        assertEquals(0, run(false, host("hardened", "--fail-on", "low")), err);
        assertEquals(0, run(false, host("weak")), "no --fail-on: never fail");
        assertEquals(1, run(false, host("weak", "--fail-on", "high")));
        assertEquals(0, run(false, host("distro", "--fail-on", "high")), out);
        assertEquals(1, run(false, host("distro", "--fail-on=medium")));
        assertEquals("", err);
    }

    @Test
    void jsonOutput() {
        assertEquals(0, run(false, host("weak", "--format", "json")));
        JsonValue doc = Json.parse(out);
        JsonObject summary = obj(doc, "summary");
        List<JsonValue> findings = ((JsonArray) ((JsonObject) doc).members().get("findings")).elements();
        long fails = findings.stream().filter(f -> str(f, "status").equals("fail")).count();
        assertEquals(fails, num(summary, "fail"));
        assertEquals(findings.size(), num(summary, "total"));
        assertTrue(num(summary, "failHigh") > 20, out);
        JsonValue rwx = findings.stream().filter(f -> str(f, "id").equals("kconfig.STRICT_KERNEL_RWX")).findFirst().orElseThrow();
        assertEquals("fail", str(rwx, "status"));
        assertEquals("high", str(rwx, "severity"));
        assertEquals("is not set", str(rwx, "actual"));
        assertEquals("KSPP", str(rwx, "source"));
        assertEquals("kernel-config", str(rwx, "section"));
        JsonValue userns = findings.stream().filter(f -> str(f, "id").equals("runtime.user-namespaces")).findFirst().orElseThrow();
        // The --sysctl file says max_user_namespaces=0 and the config has no USER_NS: not ready.
        assertEquals("fail", str(userns, "status"));
        assertEquals(Fixtures.path("weak.config").toString(), str(obj(doc, "inputs"), "kernel config"));
    }

    @Test
    void colourOnlyOnATerminal() {
        run(true, host("weak"));
        assertTrue(out.contains("\033[31m"), "colour on a terminal");
        run(true, host("weak", "--no-color"));
        assertFalse(out.contains("\033["), "--no-color");
        run(false, host("weak"));
        assertFalse(out.contains("\033["), "not a terminal");
    }

    @Test
    void tableHidesPassesUnlessAll() {
        run(false, host("hardened"));
        assertFalse(out.contains("kconfig.STRICT_KERNEL_RWX"), out);
        assertTrue(out.lines().anyMatch(l -> l.contains("CONFLICT") && l.contains("kconfig.USER_NS")), out);
        assertTrue(out.contains("--all lists them"), out);
        run(false, host("hardened", "--all"));
        assertTrue(out.lines().anyMatch(l -> l.contains("PASS") && l.contains("kconfig.STRICT_KERNEL_RWX")), out);
        assertTrue(out.lines().anyMatch(l -> l.contains("SKIP") && l.contains("kconfig.ARM64_BTI")), out);
        run(false, host("weak"));
        assertTrue(out.lines().anyMatch(l -> l.contains("FAIL") && l.contains("high") && l.contains("cmdline.mitigations")
                && l.contains("mitigations=off") && l.contains("(want not off)")), out);
    }

    @Test
    void usageErrors() {
        assertEquals(2, run(false, "--format", "xml"));
        assertEquals("bulwark audit: --format must be text or json, not \"xml\" (see bulwark audit --help)\n", err);
        assertEquals(2, run(false, "--fail-on", "critical"));
        assertTrue(err.contains("--fail-on must be high, medium or low"), err);
        assertEquals(2, run(false, "--frobnicate"));
        assertTrue(err.contains("unknown flag --frobnicate"), err);
        assertEquals(2, run(false, "a", "b"));
        assertEquals(2, run(false, "--bundle", "x", "id"));
        assertEquals(2, run(false, "../etc"));
        assertTrue(err.contains("invalid container ID"), err);
        assertEquals(2, run(false, "--config"));
        assertTrue(err.contains("flag --config needs a value"), err);
        assertEquals(0, run(false, "--help"));
        assertTrue(out.startsWith("usage: bulwark audit"), out);
    }

    @Test
    void malformedInputsAreClearErrors() throws Exception {
        Path bad = tmp.resolve("bad.config");
        Files.writeString(bad, "CONFIG_A=y\n# fine\nCONFIG B = y\n");
        assertEquals(2, run(false, "--host-root", hostRoot.toString(), "--config", bad.toString()));
        assertEquals("bulwark audit: " + bad + ":3: expected CONFIG_NAME=value or \"# CONFIG_NAME is not set\", "
                + "found \"CONFIG B = y\"\n", err);
        assertEquals("", out, "nothing printed on error");

        Path bin = tmp.resolve("binary");
        Files.write(bin, new byte[] {(byte) 0xff, (byte) 0xfe, 0, 1, 2});
        assertEquals(2, run(false, "--host-root", hostRoot.toString(), "--cmdline", bin.toString()));
        assertEquals("bulwark audit: " + bin + ": not UTF-8 text; is this the right file?\n", err);

        Path sys = tmp.resolve("bad.sysctl");
        Files.writeString(sys, "kernel.sysrq = 0\nnonsense\n");
        assertEquals(2, run(false, "--host-root", hostRoot.toString(), "--sysctl", sys.toString()));
        assertEquals("bulwark audit: " + sys + ":2: expected \"key = value\", found \"nonsense\"\n", err);

        assertEquals(2, run(false, "--host-root", hostRoot.toString(), "--config", tmp.resolve("nope").toString()));
        assertEquals("bulwark audit: " + tmp.resolve("nope") + ": no such file\n", err);

        assertEquals(2, run(false, "--bundle", Fixtures.path("bundles/bad-type").toString()));
        assertTrue(err.contains("config.json: linux.uidMappings[0].size: expected an unsigned 32-bit integer"), err);
    }

    @Test
    void bundleAndRunningContainer() throws Exception {
        String devices = Fixtures.path("bundles/devices").toString();
        assertEquals(1, run(false, "--bundle", devices, "--fail-on", "high", "--format", "json"));
        JsonValue doc = Json.parse(out);
        List<JsonValue> fs = ((JsonArray) ((JsonObject) doc).members().get("findings")).elements();
        assertTrue(fs.stream().allMatch(f -> str(f, "section").equals("container")), "no host checks without --host");
        assertTrue(fs.stream().anyMatch(f -> str(f, "id").equals("container.device-cgroup") && str(f, "status").equals("fail")));

        Path dir = Files.createDirectories(stateRoot.resolve("c1"));
        Files.writeString(dir.resolve("state.json"), Json.write(dev.bulwark.json.JsonBuilder.object()
                .put("ociVersion", "1.2.0").put("id", "c1").put("status", "running").put("pid", 4242)
                .put("bundle", devices).build()));
        assertEquals(1, run(false, "c1", "--fail-on", "high"));
        assertTrue(out.contains("container c1"), out);
        assertTrue(out.lines().anyMatch(l -> l.contains("FAIL") && l.contains("container.device-cgroup")), out);
        assertEquals(0, run(false, "c1"));

        assertEquals(2, run(false, "nope"));
        assertEquals("bulwark audit: container \"nope\" does not exist: no " + stateRoot.resolve("nope/state.json") + "\n", err);
        Path d2 = Files.createDirectories(stateRoot.resolve("c2"));
        Files.writeString(d2.resolve("state.json"), "{\"id\": \"c2\"}");
        assertEquals(2, run(false, "c2"));
        assertTrue(err.contains("state.json: bundle: expected a string naming the bundle directory"), err);

        // --host adds the host's checks to a container's.
        assertEquals(0, run(false, host("hardened", "--bundle", Fixtures.path("bundles/good").toString(),
                "--host", "--fail-on", "low", "--format", "json")));
        List<JsonValue> both = ((JsonArray) ((JsonObject) Json.parse(out)).members().get("findings")).elements();
        assertTrue(both.stream().anyMatch(f -> str(f, "section").equals("container")));
        assertTrue(both.stream().anyMatch(f -> str(f, "section").equals("kernel-config")));
    }

    @Test
    void dispatchedFromMain() {
        PrintStream saved = System.out;
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        int rc;
        try {
            System.setOut(new PrintStream(o, true, StandardCharsets.UTF_8));
            rc = dev.bulwark.cli.Main.execute(List.of("--root", stateRoot.toString(), "audit",
                    "--bundle", Fixtures.path("bundles/privileged").toString(), "--fail-on", "high", "--format", "json"));
        } finally {
            System.setOut(saved);
        }
        assertEquals(1, rc);
        assertTrue(o.toString(StandardCharsets.UTF_8).contains("\"container.privileged\""));
    }

    @Test
    void missingHostInputsAreNotedAndSkipped() {
        Path empty = tmp.resolve("empty");
        assertEquals(0, run(false, "--host-root", empty.toString(), "--format", "json"));
        JsonValue doc = Json.parse(out);
        List<JsonValue> notes = ((JsonArray) ((JsonObject) doc).members().get("notes")).elements();
        assertTrue(notes.stream().anyMatch(n -> ((JsonString) n).value().startsWith("no kernel config at /proc/config.gz")), out);
        assertTrue(notes.stream().anyMatch(n -> ((JsonString) n).value().startsWith("no /proc/cmdline")), out);
        Map<String, JsonValue> skipped = new java.util.HashMap<>();
        ((JsonArray) ((JsonObject) doc).members().get("findings")).elements().stream()
                .filter(f -> str(f, "id").startsWith("kconfig.")).forEach(f -> skipped.put(str(f, "id"), f));
        assertTrue(skipped.values().stream().allMatch(f -> str(f, "status").equals("skip")));
    }

    @Test
    void readsConfigFromBootWhenProcHasNone() throws Exception {
        Files.createDirectories(hostRoot.resolve("boot"));
        Files.copy(Fixtures.path("distro.config"), hostRoot.resolve("boot/config-6.8.0-31-generic"));
        assertEquals(0, run(false, "--host-root", hostRoot.toString(), "--format", "json"));
        assertEquals("/boot/config-6.8.0-31-generic", str(obj(Json.parse(out), "inputs"), "kernel config"));
    }
}
