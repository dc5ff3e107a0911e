package dev.bulwark.image;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Certificates for the test registry, made with the openssl CLI in a directory: a CA, a server
 * certificate for 127.0.0.1 signed by it (also as PKCS#12 for the JDK's HTTPS server), and a
 * self-signed RSA certificate that signs registry tokens.
 */
final class TestPki {
    final Path dir;
    final Path caCert;
    final Path serverCert;
    final Path serverKey;
    final Path serverP12;
    final Path tokenCert;
    final Path tokenKey;

    private TestPki(Path dir) {
        this.dir = dir;
        this.caCert = dir.resolve("ca.crt");
        this.serverCert = dir.resolve("server.crt");
        this.serverKey = dir.resolve("server.key");
        this.serverP12 = dir.resolve("server.p12");
        this.tokenCert = dir.resolve("token.crt");
        this.tokenKey = dir.resolve("token.key");
    }

    /** A CA and the certificates it signs, in dir. */
    static TestPki create(Path dir) throws IOException, InterruptedException {
        Files.createDirectories(dir);
        TestPki p = new TestPki(dir);
        String ec = "ec:" + dir.resolve("ec.param");
        openssl(dir, "ecparam", "-name", "prime256v1", "-out", "ec.param");
        openssl(dir, "req", "-x509", "-newkey", ec, "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "2",
                "-subj", "/CN=bulwark test CA " + dir.getFileName());
        Files.writeString(dir.resolve("server.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
                + "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n");
        openssl(dir, "req", "-newkey", ec, "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1");
        openssl(dir, "x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
                "-out", "server.crt", "-days", "2", "-extfile", "server.ext");
        openssl(dir, "pkcs12", "-export", "-in", "server.crt", "-inkey", "server.key", "-out", "server.p12",
                "-passout", "pass:test", "-name", "server");
        openssl(dir, "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", "token.key");
        openssl(dir, "req", "-x509", "-key", "token.key", "-out", "token.crt", "-days", "2", "-subj", "/CN=token signer");
        return p;
    }

    private static void openssl(Path dir, String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of("openssl"));
        cmd.addAll(List.of(args));
        Process pr = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true).start();
        String out = new String(pr.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!pr.waitFor(60, TimeUnit.SECONDS) || pr.exitValue() != 0) {
            throw new IOException("openssl " + String.join(" ", args) + " failed: " + out);
        }
    }

    PrivateKey tokenPrivateKey() throws Exception {
        String pem = Files.readString(tokenKey);
        String b64 = pem.replaceAll("-----[A-Z ]+-----", "").replaceAll("\\s", "");
        return KeyFactory.getInstance("RSA").generatePrivate(new PKCS8EncodedKeySpec(Base64.getDecoder().decode(b64)));
    }

    /** The token certificate as DER, for the JWT header's x5c. */
    byte[] tokenCertDer() throws Exception {
        return TestPki.der(tokenCert);
    }

    static byte[] der(Path pem) throws IOException {
        String s = Files.readString(pem);
        String b64 = s.substring(s.indexOf("-----BEGIN CERTIFICATE-----") + 27, s.indexOf("-----END CERTIFICATE-----"));
        return Base64.getMimeDecoder().decode(b64);
    }

    /** A directory holding ca.crt, as skopeo's --dest-cert-dir and Docker's certs.d want it. */
    Path certDir() throws IOException {
        Path d = dir.resolve("certdir");
        Files.createDirectories(d);
        Files.copy(caCert, d.resolve("ca.crt"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        return d;
    }
}
