package dev.bulwark.image;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.Signature;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;

/**
 * A token server for the registry's {@code auth: token}: HTTPS on 127.0.0.1, it grants the scope
 * asked for to one user (checked by basic auth) and nothing to anyone else, in a JWT signed
 * RS256 with the token key, whose certificate is in the JWT header's x5c and in the registry's
 * rootcertbundle.
 */
final class TokenServer implements AutoCloseable {
    static final String SERVICE = "bulwark-test-registry";
    static final String ISSUER = "bulwark-test-issuer";

    private final HttpsServer server;
    private final PrivateKey key;
    private final String x5c;
    private final String user;
    private final String password;
    final List<String> requests = java.util.Collections.synchronizedList(new ArrayList<>());

    TokenServer(TestPki pki, String user, String password) throws Exception {
        this.key = pki.tokenPrivateKey();
        this.x5c = Base64.getEncoder().encodeToString(pki.tokenCertDer());
        this.user = user;
        this.password = password;
        KeyStore ks = KeyStore.getInstance("PKCS12");
        try (InputStream in = Files.newInputStream(pki.serverP12)) {
            ks.load(in, "test".toCharArray());
        }
        KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        kmf.init(ks, "test".toCharArray());
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(kmf.getKeyManagers(), null, null);
        server = HttpsServer.create(new InetSocketAddress("127.0.0.1", 0), 10);
        server.setHttpsConfigurator(new HttpsConfigurator(ctx));
        server.createContext("/token", this::token);
        server.start();
    }

    String realm() {
        return "https://127.0.0.1:" + server.getAddress().getPort() + "/token";
    }

    /** The registry config's auth section for this server. */
    String registryAuth(TestPki pki) {
        return "  token:\n    realm: " + realm() + "\n    service: " + SERVICE + "\n    issuer: " + ISSUER
                + "\n    rootcertbundle: " + pki.tokenCert + "\n";
    }

    private void token(HttpExchange ex) throws IOException {
        Map<String, String> q = new LinkedHashMap<>();
        String raw = ex.getRequestURI().getRawQuery();
        if (raw != null) {
            for (String kv : raw.split("&")) {
                int eq = kv.indexOf('=');
                q.put(URLDecoder.decode(kv.substring(0, eq), StandardCharsets.UTF_8), URLDecoder.decode(kv.substring(eq + 1), StandardCharsets.UTF_8));
            }
        }
        String authz = ex.getRequestHeaders().getFirst("Authorization");
        String who = "";
        if (authz != null && authz.startsWith("Basic ")) {
            String up = new String(Base64.getDecoder().decode(authz.substring(6)), StandardCharsets.UTF_8);
            if (!up.equals(user + ":" + password)) {
                requests.add("refused " + up.split(":")[0]);
                ex.sendResponseHeaders(401, -1);
                ex.close();
                return;
            }
            who = user;
        }
        String scope = q.getOrDefault("scope", "");
        requests.add((who.isEmpty() ? "anonymous" : who) + " " + scope);
        StringBuilder access = new StringBuilder();
        if (!who.isEmpty() && scope.startsWith("repository:")) {
            String[] p = scope.split(":");
            StringBuilder actions = new StringBuilder();
            for (String a : p[2].split(",")) {
                actions.append(actions.isEmpty() ? "" : ",").append('"').append(a).append('"');
            }
            access.append("{\"type\":\"repository\",\"name\":\"").append(p[1]).append("\",\"actions\":[").append(actions).append("]}");
        }
        long now = System.currentTimeMillis() / 1000;
        String header = "{\"typ\":\"JWT\",\"alg\":\"RS256\",\"x5c\":[\"" + x5c + "\"]}";
        String claims = "{\"iss\":\"" + ISSUER + "\",\"sub\":\"" + who + "\",\"aud\":\"" + q.getOrDefault("service", "")
                + "\",\"exp\":" + (now + 300) + ",\"nbf\":" + (now - 10) + ",\"iat\":" + now + ",\"jti\":\"" + System.nanoTime()
                + "\",\"access\":[" + access + "]}";
        Base64.Encoder b64 = Base64.getUrlEncoder().withoutPadding();
        String signing = b64.encodeToString(header.getBytes(StandardCharsets.UTF_8)) + "." + b64.encodeToString(claims.getBytes(StandardCharsets.UTF_8));
        String jwt;
        try {
            Signature s = Signature.getInstance("SHA256withRSA");
            s.initSign(key);
            s.update(signing.getBytes(StandardCharsets.US_ASCII));
            jwt = signing + "." + b64.encodeToString(s.sign());
        } catch (Exception e) {
            throw new IOException(e);
        }
        byte[] body = ("{\"token\":\"" + jwt + "\",\"expires_in\":300}").getBytes(StandardCharsets.UTF_8);
        ex.getResponseHeaders().add("Content-Type", "application/json");
        ex.sendResponseHeaders(200, body.length);
        ex.getResponseBody().write(body);
        ex.close();
    }

    @Override
    public void close() {
        server.stop(0);
    }
}
