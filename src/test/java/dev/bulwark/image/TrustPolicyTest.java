package dev.bulwark.image;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The trust policy: scope precedence, each rule type, tag rules, signatures from the store, and malformed files. */
@Timeout(60)
class TrustPolicyTest {
    @TempDir
    Path tmp;

    private KeyPair release;
    private KeyPair other;

    private static final Digest D = new Digest("a".repeat(64));

    @BeforeEach
    void keys() {
        release = Keys.generate();
        other = Keys.generate();
        Keys.write(release, tmp.resolve("release"));
        Keys.write(other, tmp.resolve("other"));
    }

    private TrustPolicy policy(String json) throws IOException {
        Path f = tmp.resolve("policy.json");
        Files.writeString(f, json);
        return TrustPolicy.load(f);
    }

    private static ImageException refused(TrustPolicy p, String ref, Digest d, SignatureSource s, String... reasons) {
        ImageException e = assertThrows(ImageException.class, () -> p.check(Reference.parse(ref), d, s));
        for (String r : reasons) {
            assertTrue(e.getMessage().contains(r), "expected \"" + r + "\" in: " + e.getMessage());
        }
        return e;
    }

    private static String scope(TrustPolicy p, String ref) {
        return p.scopeFor(Reference.parse(ref)).name();
    }

    @Test
    void theMostSpecificScopeWins() throws IOException {
        TrustPolicy p = policy("""
                {"default": {"type": "reject"},
                 "scopes": {
                   "registry.example.com": {"type": "accept"},
                   "registry.example.com/team/*": {"type": "digestOnly"},
                   "registry.example.com/team/sub/*": {"type": "accept", "tags": "reject"},
                   "registry.example.com/team/app": {"type": "signedBy", "keys": ["release.pub"]},
                   "index.docker.io/library/*": {"type": "accept", "tags": "reject-latest"},
                   "docker.io/busybox": {"type": "digestOnly"},
                   "localhost:5000": {"type": "accept"}
                 }}""");
        assertEquals("registry.example.com/team/app", scope(p, "registry.example.com/team/app:1"));
        assertEquals("registry.example.com/team/sub/*", scope(p, "registry.example.com/team/sub/x/y:1"));
        assertEquals("registry.example.com/team/*", scope(p, "registry.example.com/team/sub"), "a prefix covers what is below it");
        assertEquals("registry.example.com/team/*", scope(p, "registry.example.com/team/application"), "not a string prefix");
        assertEquals("registry.example.com", scope(p, "registry.example.com/teams/app"));
        assertEquals("registry.example.com", scope(p, "registry.example.com/x"));
        assertEquals("default", scope(p, "other.example.com/team/app"));
        assertEquals("default", scope(p, "registry.example.com:443/team/app"), "a port names another registry");
        assertEquals("docker.io/busybox", scope(p, "busybox"), "docker.io/busybox is docker.io/library/busybox");
        assertEquals("index.docker.io/library/*", scope(p, "alpine:3"));
        assertEquals("default", scope(p, "someone/alpine"));
        assertEquals("localhost:5000", scope(p, "localhost:5000/x/y"));

        assertEquals("registry.example.com", p.check(Reference.parse("registry.example.com/x:latest"), D, SignatureSource.NONE)
                .scope().name());
        refused(p, "other.example.com/team/app:1", D, SignatureSource.NONE,
                "policy " + tmp.resolve("policy.json") + ": other.example.com/team/app:1 is refused by the default rule (reject)",
                "images from this scope are rejected");
    }

    @Test
    void digestOnlyRefusesTagsAndAcceptsDigests() throws IOException {
        TrustPolicy p = policy("""
                {"default": {"type": "digestOnly"}}""");
        refused(p, "registry.example.com/app:1.0", D, SignatureSource.NONE,
                "refused by the default rule (digestOnly)", "a reference by tag is refused, only by digest",
                "use registry.example.com/app@" + D);
        TrustPolicy.Decision d = p.check(Reference.parse("registry.example.com/app@" + D), D, SignatureSource.NONE);
        assertEquals(D, d.digest());
        assertTrue(d.describe().startsWith("accepted registry.example.com/app@" + D), d.describe());
        p.check(Reference.parse("registry.example.com/app:1.0@" + D), D, SignatureSource.NONE);
        refused(p, "registry.example.com/app@" + D, new Digest("b".repeat(64)), SignatureSource.NONE,
                "resolved to sha256:bbbb", "not the digest it pins");
    }

    @Test
    void tagRules() throws IOException {
        TrustPolicy p = policy("""
                {"default": {"type": "accept", "tags": "reject-latest"},
                 "scopes": {"registry.example.com/pinned/*": {"type": "accept", "tags": "reject"},
                            "registry.example.com/free/*": {"type": "accept", "tags": "allow"}}}""");
        refused(p, "registry.example.com/app", D, SignatureSource.NONE, "the tag latest is refused",
                "a reference without a tag means latest");
        refused(p, "registry.example.com/app:latest", D, SignatureSource.NONE, "the tag latest is refused");
        p.check(Reference.parse("registry.example.com/app:1.2"), D, SignatureSource.NONE);
        p.check(Reference.parse("registry.example.com/app@" + D), D, SignatureSource.NONE);
        refused(p, "registry.example.com/pinned/app:1.2", D, SignatureSource.NONE,
                "scope \"registry.example.com/pinned/*\" (accept, tags reject)", "only by digest");
        p.check(Reference.parse("registry.example.com/pinned/app@" + D), D, SignatureSource.NONE);
        p.check(Reference.parse("registry.example.com/free/app"), D, SignatureSource.NONE);
    }

    @Test
    void rejectRefusesEvenByDigest() throws IOException {
        TrustPolicy p = policy("""
                {"default": {"type": "accept"}, "scopes": {"evil.example.com": {"type": "reject"}}}""");
        refused(p, "evil.example.com/x@" + D, D, SignatureSource.NONE, "refused by scope \"evil.example.com\" (reject)");
        p.check(Reference.parse("good.example.com/x:latest"), D, SignatureSource.NONE);
    }

    @Test
    void signedByNeedsAValidSignatureFromTheStore() throws IOException {
        ContentStore s = ContentStore.open(tmp.resolve("store"));
        Descriptor img = TestImages.store(s, Platform.host(), TestImages.twoLayers());
        s.tag("registry.example.com/team/app:1", img);
        s.tag("registry.example.com/team/unsigned:1", img);
        Digest m = img.digest();
        TrustPolicy p = policy("""
                {"default": {"type": "reject"},
                 "scopes": {"registry.example.com/team/*": {"type": "signedBy", "keys": ["%s", "other.pub"], "tags": "reject-latest"}}}"""
                .formatted(tmp.resolve("release.pub")));
        SignatureSource store = Signatures.inStore(s);
        refused(p, "registry.example.com/team/app:1", m, store, "refused by scope \"registry.example.com/team/*\" (signedBy",
                "no signature found");

        Signatures.sign(s, Reference.parse("registry.example.com/team/app:1"), m, release.getPrivate());
        TrustPolicy.Decision d = p.check(Reference.parse("registry.example.com/team/app:1"), m, store);
        assertEquals(Keys.fingerprint(release.getPublic()), d.signature().orElseThrow().fingerprint());
        assertTrue(d.describe().endsWith("signed by key " + Keys.fingerprint(release.getPublic())), d.describe());
        refused(p, "registry.example.com/team/app", m, store, "the tag latest is refused");
        refused(p, "registry.example.com/team/app:1", new Digest("b".repeat(64)), store, "no signature found");

        // Same content under another repository: the signature is the first repository's.
        refused(p, "registry.example.com/team/unsigned:1", m, store, "no signature found");
        refused(p, "registry.example.com/team/unsigned:1", m, (i, dg) -> store.signatures(Reference.parse("registry.example.com/team/app"), dg),
                "for another repository");

        // Signed, but by a key the policy does not name.
        ContentStore s2 = ContentStore.open(tmp.resolve("store2"));
        Signatures.sign(s2, Reference.parse("registry.example.com/team/app:1"), m, Keys.generate().getPrivate());
        refused(p, "registry.example.com/team/app:1", m, Signatures.inStore(s2), "does not verify under any of the 2 keys");

        // checkStored: a digest prefix is a reference by digest, the tag rule does not apply to it.
        Images images = new Images(s, Platform.host());
        assertEquals(m, p.checkStored(images, m.hex().substring(0, 12)).digest());
        s.tag("registry.example.com/team/app:latest", img);
        assertThrows(ImageException.class, () -> p.checkStored(images, "registry.example.com/team/app"));

        // Signatures are asked for only when a rule needs them.
        AtomicInteger asked = new AtomicInteger();
        SignatureSource counting = (i, dg) -> {
            asked.incrementAndGet();
            return List.of();
        };
        policy("{\"default\": {\"type\": \"accept\"}}").check(Reference.parse("x.example.com/a:1"), m, counting);
        assertEquals(0, asked.get());
    }

    @Test
    void malformedPoliciesNameTheJsonPath() throws IOException {
        bad("{", "not valid JSON");
        bad("[]", "expected an object, found an array");
        bad("{\"scopes\": {}}", ": default: required field is missing");
        bad("{\"default\": {\"type\": \"accept\"}, \"transports\": {}}", ": transports: unknown field (expected default, scopes)");
        bad("{\"default\": {}}", ": default.type: required field is missing");
        bad("{\"default\": {\"type\": \"insecureAcceptAnything\"}}", ": default.type: unknown type \"insecureAcceptAnything\"");
        bad("{\"default\": {\"type\": 1}}", ": default.type: expected a string, found a number");
        bad("{\"default\": {\"type\": \"accept\"}, \"scopes\": {\"a.example.com\": {\"type\": \"accept\", \"key\": []}}}",
                ": scopes[\"a.example.com\"].key: unknown field (expected keys, tags, type)");
        bad("{\"default\": {\"type\": \"signedBy\"}}", ": default.keys: required for signedBy");
        bad("{\"default\": {\"type\": \"signedBy\", \"keys\": []}}", ": default.keys: empty");
        bad("{\"default\": {\"type\": \"signedBy\", \"keys\": \"a.pub\"}}", ": default.keys: expected an array of paths");
        bad("{\"default\": {\"type\": \"signedBy\", \"keys\": [\"release.pub\", \"nope.pub\"]}}",
                ": default.keys[1]: key " + tmp.resolve("nope.pub") + ": no such file");
        bad("{\"default\": {\"type\": \"signedBy\", \"keys\": [\"release.key\"]}}",
                ": default.keys[0]: key " + tmp.resolve("release.key") + ": expected a public key");
        bad("{\"default\": {\"type\": \"accept\", \"keys\": [\"release.pub\"]}}", ": default.keys: applies to signedBy only");
        bad("{\"default\": {\"type\": \"digestOnly\", \"tags\": \"allow\"}}", ": default.tags: applies to accept and signedBy only");
        bad("{\"default\": {\"type\": \"accept\", \"tags\": \"no-latest\"}}", ": default.tags: unknown value \"no-latest\"");
        bad("{\"default\": {\"type\": \"accept\"}, \"scopes\": {\"alpine\": {\"type\": \"reject\"}}}",
                ": scopes[\"alpine\"]: \"alpine\" is not a registry host", "docker.io/library/alpine");
        bad("{\"default\": {\"type\": \"accept\"}, \"scopes\": {\"docker.io\": {\"type\": \"reject\"}, \"index.docker.io\": {\"type\": \"accept\"}}}",
                ": scopes[\"index.docker.io\"]: the same scope as \"docker.io\"");
        bad("{\"default\": {\"type\": \"accept\"}, \"scopes\": {\"r.example.com/app:1\": {\"type\": \"reject\"}}}",
                ": scopes[\"r.example.com/app:1\"]: a scope names a repository, not a tag");
        bad("{\"default\": {\"type\": \"accept\"}, \"scopes\": {\"r.example.com/*\": {\"type\": \"reject\"}}}",
                ": scopes[\"r.example.com/*\"]: a registry-wide scope is written without /*");
        bad("{\"default\": {\"type\": \"accept\"}, \"scopes\": {\"r.example.com/Team\": {\"type\": \"reject\"}}}",
                ": scopes[\"r.example.com/Team\"]: ", "must be lowercase");
        ImageException e = assertThrows(ImageException.class, () -> TrustPolicy.load(tmp.resolve("absent.json")));
        assertTrue(e.getMessage().contains("absent.json: no such file"), e.getMessage());
    }

    private void bad(String json, String... reasons) throws IOException {
        ImageException e = assertThrows(ImageException.class, () -> policy(json));
        assertTrue(e.getMessage().startsWith("policy " + tmp.resolve("policy.json")), e.getMessage());
        for (String r : reasons) {
            assertTrue(e.getMessage().contains(r), "expected \"" + r + "\" in: " + e.getMessage());
        }
    }

    @Test
    void noPolicyFileAcceptsEverything() {
        TrustPolicy p = TrustPolicy.acceptAll("no policy file at " + TrustPolicy.DEFAULT_FILE);
        TrustPolicy.Decision d = p.check(Reference.parse("alpine"), D, SignatureSource.NONE);
        assertTrue(d.describe().contains("by the default rule (accept) of no policy file at /etc/bulwark/policy.json"), d.describe());
    }
}
