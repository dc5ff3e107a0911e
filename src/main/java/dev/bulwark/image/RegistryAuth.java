package dev.bulwark.image;

import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import javax.net.ssl.SSLSocketFactory;

/**
 * Registry authentication as the distribution spec describes it: a request answered 401 carries
 * a {@code WWW-Authenticate} challenge; {@code Basic} means "send the credentials", {@code Bearer
 * realm=..,service=..,scope=..} means "ask the token server at realm for a token for this scope"
 * (anonymously, or with the credentials as basic auth), then retry with {@code Authorization:
 * Bearer TOKEN}. Tokens are kept per scope for the life of the client, so one pull asks once.
 */
public final class RegistryAuth {
    /** A user name and password (or an identity token used as password). */
    public record Credentials(String user, String password) {
        /** Parses {@code USER:PASS} (the password may contain ':'). */
        public static Credentials parse(String text, String what) {
            int c = text.indexOf(':');
            if (c <= 0) {
                throw new ImageException(what + ": expected USER:PASSWORD");
            }
            return new Credentials(text.substring(0, c), text.substring(c + 1));
        }

        String basic() {
            return "Basic " + Base64.getEncoder().encodeToString((user + ":" + password).getBytes(StandardCharsets.UTF_8));
        }

        @Override
        public String toString() {
            return "Credentials[" + user + ":***]";
        }
    }

    /** A parsed {@code WWW-Authenticate} header: the scheme and its parameters. */
    record Challenge(String scheme, Map<String, String> params) {
        static Optional<Challenge> parse(String header) {
            String h = header.strip();
            int sp = h.indexOf(' ');
            String scheme = (sp < 0 ? h : h.substring(0, sp)).toLowerCase(java.util.Locale.ROOT);
            if (scheme.isEmpty()) {
                return Optional.empty();
            }
            Map<String, String> params = new LinkedHashMap<>();
            int i = sp < 0 ? h.length() : sp + 1;
            while (i < h.length()) {
                while (i < h.length() && (h.charAt(i) == ' ' || h.charAt(i) == ',')) {
                    i++;
                }
                int eq = h.indexOf('=', i);
                if (eq < 0) {
                    break;
                }
                String key = h.substring(i, eq).strip().toLowerCase(java.util.Locale.ROOT);
                i = eq + 1;
                StringBuilder v = new StringBuilder();
                if (i < h.length() && h.charAt(i) == '"') {
                    i++;
                    while (i < h.length() && h.charAt(i) != '"') {
                        if (h.charAt(i) == '\\' && i + 1 < h.length()) {
                            i++;
                        }
                        v.append(h.charAt(i++));
                    }
                    i++;
                } else {
                    while (i < h.length() && h.charAt(i) != ',') {
                        v.append(h.charAt(i++));
                    }
                }
                params.put(key, v.toString().strip());
            }
            return Optional.of(new Challenge(scheme, params));
        }
    }

    private static final int MAX_TOKEN_REPLY = 1 << 20;

    private final String host;
    private final Optional<Credentials> credentials;
    private final SSLSocketFactory tls;
    private final Map<String, String> tokens = new ConcurrentHashMap<>();
    private volatile String current = "";

    RegistryAuth(String host, Optional<Credentials> credentials, SSLSocketFactory tls) {
        this.host = host;
        this.credentials = credentials;
        this.tls = tls;
    }

    /** The Authorization header to send first (empty until a challenge was answered). */
    String header() {
        return current;
    }

    /** Why a request was refused after its challenge was answered. */
    String refusal() {
        return credentials.map(c -> "the registry " + host + " refused the credentials of user " + c.user())
                .orElse("the registry " + host + " refused anonymous access; pass --creds USER:PASS or --authfile FILE");
    }

    /**
     * Answers a 401: returns the Authorization header to retry with, or throws when the
     * challenge cannot be met (no credentials for Basic, unknown scheme, token refused).
     */
    String answer(List<String> challenges, String request) {
        if (challenges.isEmpty()) {
            throw new ImageException(request + ": registry " + host + " answered 401 Unauthorized without a WWW-Authenticate challenge");
        }
        for (String c : challenges) {
            Optional<Challenge> ch = Challenge.parse(c);
            if (ch.isEmpty()) {
                continue;
            }
            switch (ch.get().scheme()) {
                case "bearer" -> {
                    String scope = ch.get().params().getOrDefault("scope", "");
                    String token = tokens.get(scope);
                    String h = "Bearer " + (token != null && !("Bearer " + token).equals(current) ? token : fetchToken(ch.get(), request));
                    current = h;
                    return h;
                }
                case "basic" -> {
                    Credentials cr = credentials.orElseThrow(() -> new ImageException(request + ": registry " + host
                            + " asks for a user name and password (basic auth): pass --creds USER:PASS or --authfile FILE"));
                    String h = cr.basic();
                    if (h.equals(current)) {
                        throw new ImageException(request + ": registry " + host + " refused the credentials of user " + cr.user());
                    }
                    current = h;
                    return h;
                }
                default -> {
                    // try the next challenge
                }
            }
        }
        throw new ImageException(request + ": registry " + host + " asks for an unsupported authentication scheme: " + challenges);
    }

    private String fetchToken(Challenge c, String request) {
        String realm = c.params().get("realm");
        if (realm == null || realm.isEmpty()) {
            throw new ImageException(request + ": registry " + host + ": Bearer challenge without a realm: " + c.params());
        }
        URI base = URI.create(realm);
        if (!"https".equals(base.getScheme())) {
            throw new ImageException(request + ": registry " + host + ": token realm " + realm + " is not https; refusing to send credentials there");
        }
        StringBuilder q = new StringBuilder();
        for (String k : List.of("service", "scope")) {
            String v = c.params().get(k);
            if (v != null && !v.isEmpty()) {
                q.append(q.isEmpty() ? "" : "&").append(k).append('=').append(URLEncoder.encode(v, StandardCharsets.UTF_8));
            }
        }
        String sep = realm.contains("?") ? "&" : "?";
        URI uri = URI.create(realm + (q.isEmpty() ? "" : sep + q));
        List<String[]> headers = new ArrayList<>();
        headers.add(new String[] {"User-Agent", RegistryClient.USER_AGENT});
        credentials.ifPresent(cr -> headers.add(new String[] {"Authorization", cr.basic()}));
        int status;
        byte[] body;
        try {
            Http1.Response r = Http1.exchange(tls, "GET", uri, headers, Optional.empty(), 30_000, 60_000);
            status = r.status();
            try (InputStream in = r.body()) {
                body = in.readNBytes(MAX_TOKEN_REPLY + 1);
            }
        } catch (IOException e) {
            throw RegistryClient.transportError("token request to " + base.getHost() + ":" + base.getPort(), e);
        }
        if (body.length > MAX_TOKEN_REPLY) {
            throw new ImageException("token reply from " + realm + ": more than " + MAX_TOKEN_REPLY + " bytes; refused");
        }
        if (status == 401 || status == 403) {
            throw new ImageException(request + ": token server " + realm + " refused "
                    + credentials.map(cr -> "user " + cr.user()).orElse("an anonymous request (pass --creds USER:PASS or --authfile FILE)")
                    + ": HTTP " + status);
        }
        if (status != 200) {
            throw new ImageException(request + ": token server " + realm + ": HTTP " + status);
        }
        Doc d = Doc.parse(body, "token reply from " + realm);
        String token = d.string("token", d.string("access_token", ""));
        if (token.isEmpty()) {
            throw new ImageException("token reply from " + realm + ": neither token nor access_token is set");
        }
        tokens.put(c.params().getOrDefault("scope", ""), token);
        return token;
    }

    /**
     * The credentials for a registry host: {@code --creds} if given, else the entry for the host
     * in a Docker-style auth file ({@code {"auths": {"HOST": {"auth": base64(USER:PASS)}}}}).
     */
    public static Optional<Credentials> lookup(String host, Optional<String> creds, Optional<Path> authfile) {
        if (creds.isPresent()) {
            return Optional.of(Credentials.parse(creds.get(), "--creds"));
        }
        if (authfile.isEmpty()) {
            return Optional.empty();
        }
        Path f = authfile.get();
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(f);
        } catch (NoSuchFileException e) {
            throw new ImageException("auth file " + f + " does not exist");
        } catch (IOException e) {
            throw new ImageException("read auth file " + f + ": " + e.getMessage(), e);
        }
        Doc auths = Doc.parse(bytes, "auth file " + f).opt("auths").orElseThrow(
                () -> new ImageException("auth file " + f + ": auths: required field is missing"));
        List<String> keys = host.equals("registry-1.docker.io") || host.equals(Reference.DEFAULT_DOMAIN)
                ? List.of("docker.io", "index.docker.io", "https://index.docker.io/v1/", "registry-1.docker.io")
                : List.of(host, "https://" + host, "https://" + host + "/", "http://" + host);
        for (String k : keys) {
            Optional<Doc> e = auths.opt(k);
            if (e.isEmpty()) {
                continue;
            }
            String a = e.get().string("auth", "");
            if (a.isEmpty()) {
                throw e.get().error("auth: expected base64 of USER:PASSWORD (credential helpers are not supported)");
            }
            String plain;
            try {
                plain = new String(Base64.getDecoder().decode(a.strip()), StandardCharsets.UTF_8);
            } catch (IllegalArgumentException x) {
                throw e.get().error("auth: not valid base64");
            }
            return Optional.of(Credentials.parse(plain, "auth file " + f + ": auths." + k + ".auth"));
        }
        return Optional.empty();
    }
}
