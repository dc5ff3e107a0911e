package dev.bulwark.image;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.bulwark.cli.Main;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** bulwark key generate, sign, verify and policy check, through the real command line entry point. */
@Timeout(120)
class SignCommandsTest {
    @TempDir
    Path tmp;

    record Result(int status, String out, String err) {}

    private Result bulwark(String... args) {
        PrintStream oldOut = System.out;
        PrintStream oldErr = System.err;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
        int status;
        try {
            status = Main.execute(List.of(args));
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
        return new Result(status, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    private Result ok(String... args) {
        Result r = bulwark(args);
        assertEquals(0, r.status, String.join(" ", args) + ": " + r.err);
        return r;
    }

    private Result fails(String... args) {
        Result r = bulwark(args);
        assertEquals(1, r.status, String.join(" ", args) + " should fail: " + r.out);
        return r;
    }

    @Test
    void keySignVerifyPolicy() throws Exception {
        String store = tmp.resolve("store").toString();
        Path archive = tmp.resolve("save.tar");
        TestImages.dockerSave(archive, "registry.example.com/team/app:1", TestImages.twoLayers(), true);
        String imported = ok("import", "--store", store, archive.toString()).out;
        String digest = imported.strip().split(" ")[1];

        String gen = ok("key", "generate", tmp.resolve("release").toString()).out;
        assertTrue(gen.startsWith("wrote " + tmp.resolve("release.key") + " and " + tmp.resolve("release.pub") + ": key sha256:"), gen);
        String fingerprint = gen.strip().substring(gen.strip().lastIndexOf(' ') + 1);
        ok("key", "generate", tmp.resolve("other").toString());
        assertTrue(fails("key", "generate", tmp.resolve("other").toString()).err.contains("other.key exists"));

        Result unsigned = fails("verify", "--store", store, "--key", tmp.resolve("release.pub").toString(),
                "registry.example.com/team/app:1");
        assertTrue(unsigned.err.startsWith("bulwark: verify registry.example.com/team/app@" + digest + ": no signature found"),
                unsigned.err);

        String signed = ok("sign", "--store", store, "--key", tmp.resolve("release.key").toString(),
                "registry.example.com/team/app:1").out;
        assertEquals("registry.example.com/team/app:sha256-" + digest.substring(7) + ".sig\n", signed);
        assertTrue(ok("images", "--store", store, "-q").out.contains("registry.example.com/team/app:sha256-"),
                "the artifact is a named entry of the store, exported and pushed like an image");

        String verified = ok("verify", "--store", store, "--key", tmp.resolve("other.pub").toString(),
                "--key", tmp.resolve("release.pub").toString(), "registry.example.com/team/app:1").out;
        assertEquals("verified registry.example.com/team/app@" + digest + ": signed by key " + fingerprint + " ("
                + tmp.resolve("release.pub") + ")\n", verified);
        ok("verify", "--store", store, "--key", tmp.resolve("release.pub").toString(), digest.substring(7, 19));

        Result wrongKey = fails("verify", "--store", store, "--key", tmp.resolve("other.pub").toString(),
                "registry.example.com/team/app:1");
        assertTrue(wrongKey.err.contains("no valid signature by the key sha256:") && wrongKey.err.contains("does not verify"),
                wrongKey.err);
        assertTrue(fails("verify", "--store", store, "--key", tmp.resolve("release.key").toString(),
                "registry.example.com/team/app:1").err.contains("expected a public key"));
        assertTrue(fails("sign", "--store", store, "registry.example.com/team/app:1").err.contains("usage: bulwark sign"));

        Path policy = tmp.resolve("policy.json");
        Files.writeString(policy, """
                {"default": {"type": "reject"},
                 "scopes": {"registry.example.com/team/*": {"type": "signedBy", "keys": ["release.pub"], "tags": "reject-latest"}}}""");
        String accepted = ok("policy", "check", "--policy", policy.toString(), "--store", store, "registry.example.com/team/app:1").out;
        assertTrue(accepted.startsWith("accepted registry.example.com/team/app:1 (" + digest
                + ") by scope \"registry.example.com/team/*\" (signedBy, tags reject-latest [" + tmp.resolve("release.pub") + "])"),
                accepted);
        assertTrue(accepted.strip().endsWith("signed by key " + fingerprint), accepted);

        Files.writeString(policy, """
                {"default": {"type": "reject"},
                 "scopes": {"registry.example.com/team/*": {"type": "signedBy", "keys": ["other.pub"]}}}""");
        Result refused = fails("policy", "check", "--policy", policy.toString(), "--store", store, "registry.example.com/team/app:1");
        assertTrue(refused.err.contains("is refused by scope \"registry.example.com/team/*\" (signedBy")
                && refused.err.contains("does not verify under the key"), refused.err);

        Files.writeString(policy, "{\"default\": {\"type\": \"digestOnly\"}}");
        Result tag = fails("policy", "check", "--policy", policy.toString(), "--store", store, "registry.example.com/team/app:1");
        assertTrue(tag.err.contains("use registry.example.com/team/app@" + digest), tag.err);
        ok("policy", "check", "--policy", policy.toString(), "--store", store, "registry.example.com/team/app@" + digest);

        Files.writeString(policy, "{\"default\": {\"type\": \"digestOnly\"}, \"extra\": 1}");
        assertTrue(fails("policy", "check", "--policy", policy.toString(), "--store", store, "registry.example.com/team/app@" + digest)
                .err.contains(": extra: unknown field"));
        List<String> usage = new ArrayList<>(List.of(fails("policy", "show").err, fails("key", "make", "x").err));
        assertTrue(usage.get(0).contains("usage: bulwark policy check") && usage.get(1).contains("usage: bulwark key generate"), usage.toString());
    }
}
