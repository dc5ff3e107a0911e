package dev.bulwark.image;

import dev.bulwark.json.Json;
import dev.bulwark.json.JsonException;
import dev.bulwark.json.JsonValue;
import dev.bulwark.json.JsonValue.JsonArray;
import dev.bulwark.json.JsonValue.JsonObject;
import dev.bulwark.json.JsonValue.JsonString;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.PublicKey;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Which images may be used: a JSON file (default {@value #DEFAULT_FILE}, {@code --policy FILE})
 * with a default rule and rules per scope. The most specific scope that matches wins, whole:
 * a repository ({@code host/path}) before the longest repository prefix ({@code host/path/*},
 * the repositories below path) before a registry ({@code host[:port]}) before {@code default}.
 * <pre>
 * {
 *   "default": {"type": "reject"},
 *   "scopes": {
 *     "registry.example.com":          {"type": "signedBy", "keys": ["/etc/bulwark/keys/release.pub"]},
 *     "registry.example.com/dev/*":    {"type": "accept", "tags": "reject-latest"},
 *     "docker.io/library/busybox":     {"type": "digestOnly"}
 *   }
 * }
 * </pre>
 * Rule types: {@code reject}; {@code accept}; {@code digestOnly} (the reference must be
 * name@sha256:..., a tag is refused); {@code signedBy} with {@code keys} (PEM public keys,
 * relative paths from the policy file's directory): a cosign-format signature of the resolved
 * digest by one of them is required, and the reference may be a tag. {@code tags} (accept and
 * signedBy only): {@code allow} (the default), {@code reject-latest} (a reference without a tag
 * means latest), {@code reject} (only digests). Docker Hub is {@code docker.io} (index.docker.io
 * is read as the same), and {@code docker.io/alpine} as {@code docker.io/library/alpine}.
 * <p>
 * No policy file at the default path means accept everything, as podman's shipped default does;
 * a policy file that exists but cannot be read or parsed, or names an unreadable or unusable key,
 * is an error: everything is refused until it is fixed (fail closed).
 */
public final class TrustPolicy {
    public static final String DEFAULT_FILE = "/etc/bulwark/policy.json";
    public static final Path DEFAULT_PATH = Path.of(DEFAULT_FILE);

    public enum Type {
        REJECT("reject"), ACCEPT("accept"), DIGEST_ONLY("digestOnly"), SIGNED_BY("signedBy");

        final String json;

        Type(String json) {
            this.json = json;
        }

        @Override
        public String toString() {
            return json;
        }
    }

    public enum Tags {
        ALLOW("allow"), REJECT_LATEST("reject-latest"), REJECT("reject");

        final String json;

        Tags(String json) {
            this.json = json;
        }

        @Override
        public String toString() {
            return json;
        }
    }

    /** One rule; keys are loaded when the policy is, so a bad key fails the load, not a later check. */
    public record Rule(Type type, Tags tags, List<Path> keyFiles, List<PublicKey> keys) {
        public Rule {
            keyFiles = List.copyOf(keyFiles);
            keys = List.copyOf(keys);
        }

        static Rule of(Type t) {
            return new Rule(t, Tags.ALLOW, List.of(), List.of());
        }

        @Override
        public String toString() {
            return type + (tags == Tags.ALLOW || type == Type.REJECT || type == Type.DIGEST_ONLY ? "" : ", tags " + tags)
                    + (keyFiles.isEmpty() ? "" : " " + keyFiles);
        }
    }

    /** The scope that matched and its rule; name is how the policy file spells it, or "default". */
    public record Scope(String name, Rule rule) {
        @Override
        public String toString() {
            return (name.equals("default") ? "the default rule" : "scope \"" + name + "\"") + " (" + rule + ")";
        }
    }

    /** An accepted image: what was asked, the digest accepted, the deciding scope, and the signature when one was required. */
    public record Decision(String reference, Digest digest, Scope scope, Optional<Signatures.Verification> signature,
            String policy) {
        /** One line for people: {@code accepted docker.io/library/alpine:3 (sha256:..) by scope "docker.io" (signedBy ..): signed by key sha256:..}. */
        public String describe() {
            return "accepted " + reference + " (" + digest + ") by " + scope + " of " + policy
                    + signature.map(v -> ": signed by key " + v.fingerprint()).orElse("");
        }
    }

    private final String source;
    private final Rule dflt;
    private final Map<String, Rule> registries;
    private final Map<String, Rule> prefixes;
    private final Map<String, Rule> repositories;
    private final Map<String, String> spelling;

    private TrustPolicy(String source, Rule dflt, Map<String, Rule> registries, Map<String, Rule> prefixes,
            Map<String, Rule> repositories, Map<String, String> spelling) {
        this.source = source;
        this.dflt = dflt;
        this.registries = registries;
        this.prefixes = prefixes;
        this.repositories = repositories;
        this.spelling = spelling;
    }

    /** Accepts every image: what applies when there is no policy file. */
    public static TrustPolicy acceptAll(String why) {
        return new TrustPolicy(why, Rule.of(Type.ACCEPT), Map.of(), Map.of(), Map.of(), Map.of());
    }

    /** The policy at {@value #DEFAULT_FILE}, or accept-all when no file is there (not even a dangling link). */
    public static TrustPolicy loadDefault() {
        if (!Files.exists(DEFAULT_PATH, LinkOption.NOFOLLOW_LINKS)) {
            return acceptAll("no policy file at " + DEFAULT_FILE);
        }
        return load(DEFAULT_PATH);
    }

    /** The policy at an explicit path; a missing file is an error here. */
    public static TrustPolicy load(Path file) {
        byte[] bytes;
        try {
            if (Files.size(file) > 1 << 20) {
                throw new ImageException("policy " + file + ": larger than 1 MiB");
            }
            bytes = Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            throw new ImageException("policy " + file + ": no such file");
        } catch (IOException e) {
            throw new ImageException("policy " + file + ": " + e.getMessage(), e);
        }
        Path dir = file.toAbsolutePath().getParent();
        return parse(bytes, file.toString(), dir == null ? Path.of("/") : dir);
    }

    /** Parses policy JSON; source names it in errors, keyBase resolves relative key paths. */
    public static TrustPolicy parse(byte[] json, String source, Path keyBase) {
        JsonValue v;
        try {
            v = Json.parse(new String(json, StandardCharsets.UTF_8));
        } catch (JsonException e) {
            throw new ImageException("policy " + source + ": not valid JSON: " + e.getMessage());
        }
        Reader r = new Reader(source, keyBase);
        JsonObject top = r.object(v, "");
        r.known(top, "", Set.of("default", "scopes"));
        JsonValue d = top.members().get("default");
        if (d == null) {
            throw r.error("default", "required field is missing (the rule for images no scope matches, e.g. {\"type\": \"reject\"})");
        }
        Rule dflt = r.rule(d, "default");
        Map<String, Rule> registries = new LinkedHashMap<>();
        Map<String, Rule> prefixes = new LinkedHashMap<>();
        Map<String, Rule> repositories = new LinkedHashMap<>();
        Map<String, String> spelling = new LinkedHashMap<>();
        JsonValue s = top.members().get("scopes");
        if (s != null) {
            for (Map.Entry<String, JsonValue> e : r.object(s, "scopes").members().entrySet()) {
                String path = "scopes[\"" + e.getKey() + "\"]";
                Rule rule = r.rule(e.getValue(), path);
                String key = e.getKey();
                Map<String, Rule> into;
                String norm;
                if (key.endsWith("/*")) {
                    norm = repository(r, key.substring(0, key.length() - 2), path, true);
                    into = prefixes;
                } else if (key.contains("/")) {
                    norm = repository(r, key, path, false);
                    into = repositories;
                } else {
                    norm = registry(r, key, path);
                    into = registries;
                }
                if (into.containsKey(norm)) {
                    throw r.error(path, "the same scope as \"" + spelling.get(kind(into, registries, prefixes) + norm) + "\"");
                }
                into.put(norm, rule);
                spelling.put(kind(into, registries, prefixes) + norm, key);
            }
        }
        return new TrustPolicy(source, dflt, registries, prefixes, repositories, spelling);
    }

    private static String kind(Map<String, Rule> into, Map<String, Rule> registries, Map<String, Rule> prefixes) {
        return into == registries ? "R:" : into == prefixes ? "P:" : "E:";
    }

    private static String normalHost(String host) {
        return host.equals("index.docker.io") || host.equals("registry-1.docker.io") ? Reference.DEFAULT_DOMAIN : host;
    }

    private static String registry(Reader r, String host, String path) {
        if (!host.matches("[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:[0-9]{1,5})?")) {
            throw r.error(path, "not a registry host[:port], repository host/path or prefix host/path/*");
        }
        if (!host.contains(".") && !host.contains(":") && !host.equals("localhost")) {
            throw r.error(path, "\"" + host + "\" is not a registry host (a registry has a dot or a port, or is localhost); "
                    + "write a Docker Hub repository as docker.io/library/" + host);
        }
        return normalHost(host.toLowerCase(java.util.Locale.ROOT));
    }

    private static String repository(Reader r, String text, String path, boolean prefix) {
        int slash = text.indexOf('/');
        if (slash < 0) {
            throw r.error(path, "a registry-wide scope is written without /*: \"" + text + "\"");
        }
        String host = registry(r, text.substring(0, slash), path);
        String repo = text.substring(slash + 1);
        if (repo.contains("@") || repo.contains(":") || repo.contains("*")) {
            throw r.error(path, "a scope names a repository, not a tag or digest; a prefix ends in /* and has no other *");
        }
        Reference parsed;
        try {
            parsed = Reference.parse(host + "/" + repo);
        } catch (ImageException e) {
            throw r.error(path, e.getMessage());
        }
        String name = normalHost(parsed.domain()) + "/" + parsed.repository();
        // "docker.io/library/*" stays a prefix of library; only a whole Docker Hub name gains library/.
        if (prefix && !parsed.repository().equals(repo) && !repo.contains("/")) {
            name = normalHost(parsed.domain()) + "/" + repo;
        }
        return name;
    }

    /** The scope deciding for a reference. */
    public Scope scopeFor(Reference ref) {
        String host = normalHost(ref.domain());
        String repo = host + "/" + ref.repository();
        Rule exact = repositories.get(repo);
        if (exact != null) {
            return new Scope(spelling.get("E:" + repo), exact);
        }
        String best = null;
        for (String p : prefixes.keySet()) {
            if (repo.startsWith(p + "/") && (best == null || p.length() > best.length())) {
                best = p;
            }
        }
        if (best != null) {
            return new Scope(spelling.get("P:" + best), prefixes.get(best));
        }
        Rule reg = registries.get(host);
        if (reg != null) {
            return new Scope(spelling.get("R:" + host), reg);
        }
        return new Scope("default", dflt);
    }

    public String source() {
        return source;
    }

    /**
     * Decides on an image: {@code asWritten} is the reference as the user wrote it (a tag or a
     * digest), {@code resolved} the manifest (or index) digest it resolved to, which is what a
     * signature must sign. Called at pull once the digest is known (before layers are fetched),
     * and at run from the store. Signatures are asked of {@code sigs} only for signedBy rules.
     * Returns the decision when the image is accepted; throws naming the rule and scope otherwise.
     */
    public Decision check(Reference asWritten, Digest resolved, SignatureSource sigs) {
        String what = asWritten.toString();
        Scope scope = scopeFor(asWritten);
        Rule rule = scope.rule();
        String refused = "policy " + source + ": " + what + " is refused by " + scope + ": ";
        Optional<Digest> pinned = asWritten.pinned();
        if (pinned.isPresent() && !pinned.get().equals(resolved)) {
            throw new ImageException("policy " + source + ": " + what + " resolved to " + resolved
                    + ", not the digest it pins");
        }
        if (rule.type() == Type.REJECT) {
            throw new ImageException(refused + "images from this scope are rejected");
        }
        if (pinned.isEmpty()) {
            String byDigest = "use " + asWritten.name() + "@" + resolved;
            if (rule.type() == Type.DIGEST_ONLY || rule.tags() == Tags.REJECT) {
                throw new ImageException(refused + "a reference by tag is refused, only by digest: " + byDigest);
            }
            if (rule.tags() == Tags.REJECT_LATEST && asWritten.tag().equals("latest")) {
                throw new ImageException(refused + "the tag latest is refused (a reference without a tag means latest): "
                        + "name a version tag or " + byDigest);
            }
        }
        Optional<Signatures.Verification> v = Optional.empty();
        if (rule.type() == Type.SIGNED_BY) {
            try {
                v = Optional.of(Signatures.verify(sigs.signatures(asWritten, resolved), resolved, asWritten, rule.keys()));
            } catch (ImageException e) {
                throw new ImageException(refused + e.getMessage(), e);
            }
        }
        return new Decision(what, resolved, scope, v, source);
    }

    /**
     * {@link #check} for an image in the local store, as `bulwark run` and `policy check` name
     * it: a reference, name@digest, or a digest or unique digest prefix (read as a reference by
     * digest of the repository the store names it under). Signatures come from the store.
     */
    public Decision checkStored(Images images, String ref) {
        Map.Entry<String, Descriptor> e = images.resolve(ref);
        Digest digest = Images.resolvedDigest(e.getValue());
        String hex = ref.startsWith("sha256:") ? ref.substring(7) : ref;
        Reference asWritten;
        if (hex.length() >= 12 && digest.hex().startsWith(hex)) {
            Reference named = Reference.parse(e.getKey());
            asWritten = new Reference(named.domain(), named.repository(), "", digest.toString());
        } else {
            asWritten = Reference.parse(ref);
        }
        return check(asWritten, digest, Signatures.inStore(images.store()));
    }

    /** Reads JSON with the path of each value, so every error names where it is. */
    private record Reader(String source, Path keyBase) {
        ImageException error(String path, String problem) {
            return new ImageException("policy " + source + ": " + (path.isEmpty() ? "" : path + ": ") + problem);
        }

        JsonObject object(JsonValue v, String path) {
            if (v instanceof JsonObject o) {
                return o;
            }
            throw error(path, "expected an object, found " + v.typeName());
        }

        String string(JsonValue v, String path) {
            if (v instanceof JsonString s) {
                return s.value();
            }
            throw error(path, "expected a string, found " + v.typeName());
        }

        void known(JsonObject o, String path, Set<String> fields) {
            for (String k : o.members().keySet()) {
                if (!fields.contains(k)) {
                    throw error(path.isEmpty() ? k : path + "." + k, "unknown field (expected "
                            + String.join(", ", fields.stream().sorted().toList()) + ")");
                }
            }
        }

        Rule rule(JsonValue v, String path) {
            JsonObject o = object(v, path);
            known(o, path, Set.of("type", "keys", "tags"));
            JsonValue t = o.members().get("type");
            if (t == null) {
                throw error(path + ".type", "required field is missing (reject, accept, digestOnly or signedBy)");
            }
            String ts = string(t, path + ".type");
            Type type = null;
            for (Type x : Type.values()) {
                if (x.json.equals(ts)) {
                    type = x;
                }
            }
            if (type == null) {
                throw error(path + ".type", "unknown type \"" + ts + "\" (expected reject, accept, digestOnly or signedBy)");
            }
            Tags tags = Tags.ALLOW;
            JsonValue tv = o.members().get("tags");
            if (tv != null) {
                if (type == Type.REJECT || type == Type.DIGEST_ONLY) {
                    throw error(path + ".tags", "applies to accept and signedBy only (" + type + " decides on tags itself)");
                }
                String s = string(tv, path + ".tags");
                tags = null;
                for (Tags x : Tags.values()) {
                    if (x.json.equals(s)) {
                        tags = x;
                    }
                }
                if (tags == null) {
                    throw error(path + ".tags", "unknown value \"" + s + "\" (expected allow, reject-latest or reject)");
                }
            }
            JsonValue kv = o.members().get("keys");
            List<Path> files = new ArrayList<>();
            List<PublicKey> keys = new ArrayList<>();
            if (type == Type.SIGNED_BY) {
                if (kv == null) {
                    throw error(path + ".keys", "required for signedBy: a list of PEM public key files");
                }
                if (!(kv instanceof JsonArray a)) {
                    throw error(path + ".keys", "expected an array of paths, found " + kv.typeName());
                }
                if (a.elements().isEmpty()) {
                    throw error(path + ".keys", "empty: signedBy needs at least one key");
                }
                for (int i = 0; i < a.elements().size(); i++) {
                    String kp = path + ".keys[" + i + "]";
                    String f = string(a.elements().get(i), kp);
                    if (f.isEmpty()) {
                        throw error(kp, "empty path");
                    }
                    Path file = keyBase.resolve(f);
                    try {
                        keys.add(Keys.readPublic(file));
                    } catch (ImageException e) {
                        throw error(kp, e.getMessage());
                    }
                    files.add(file);
                }
            } else if (kv != null) {
                throw error(path + ".keys", "applies to signedBy only, not " + type);
            }
            return new Rule(type, tags, files, keys);
        }
    }
}
