package dev.bulwark.image;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Debian's docker-registry (distribution 2.8) on 127.0.0.1 with TLS, a config written here and its
 * storage in a temp dir. Stopped by its PID on close.
 */
final class TestRegistry implements AutoCloseable {
    final Path dir;
    final int port;
    final Path storage;
    private final Process process;

    private TestRegistry(Path dir, int port, Process process) {
        this.dir = dir;
        this.port = port;
        this.storage = dir.resolve("storage");
        this.process = process;
    }

    /** @param auth the YAML of the auth section's body (indented by 2), or "" for none */
    static TestRegistry start(Path dir, TestPki pki, String auth) throws IOException, InterruptedException {
        Files.createDirectories(dir.resolve("storage"));
        int port = freePort();
        String yml = """
                version: 0.1
                log:
                  level: info
                  accesslog:
                    disabled: true
                storage:
                  filesystem:
                    rootdirectory: %s
                  delete:
                    enabled: true
                http:
                  addr: 127.0.0.1:%d
                  secret: bulwark-test
                  tls:
                    certificate: %s
                    key: %s
                """.formatted(dir.resolve("storage"), port, pki.serverCert, pki.serverKey)
                + (auth.isEmpty() ? "" : "auth:\n" + auth);
        Path config = dir.resolve("config.yml");
        Files.writeString(config, yml);
        Process p = new ProcessBuilder("docker-registry", "serve", config.toString())
                .redirectErrorStream(true).redirectOutput(dir.resolve("registry.log").toFile()).start();
        TestRegistry r = new TestRegistry(dir, port, p);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (true) {
            if (!p.isAlive()) {
                throw new IOException("docker-registry exited: " + Files.readString(dir.resolve("registry.log")));
            }
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress("127.0.0.1", port), 200);
                return r;
            } catch (IOException notYet) {
                if (System.nanoTime() > deadline) {
                    r.close();
                    throw new IOException("docker-registry did not listen on " + port + ": " + Files.readString(dir.resolve("registry.log")));
                }
                Thread.sleep(50);
            }
        }
    }

    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    String host() {
        return "127.0.0.1:" + port;
    }

    String log() throws IOException {
        return Files.readString(dir.resolve("registry.log"));
    }

    /** The file holding a blob's bytes in the registry's storage. */
    Path blobData(Digest d) {
        return storage.resolve("docker/registry/v2/blobs/sha256").resolve(d.hex().substring(0, 2)).resolve(d.hex()).resolve("data");
    }

    /** skopeo copy [--all] oci:LAYOUT:NAME docker://HOST/DEST, trusting the test CA. */
    void skopeoPush(TestPki pki, Path layout, String name, String dest, boolean all, String creds)
            throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of("skopeo", "--insecure-policy", "copy", "--quiet", "--dest-cert-dir",
                pki.certDir().toString()));
        if (all) {
            cmd.add("--all");
        }
        if (!creds.isEmpty()) {
            cmd.addAll(List.of("--dest-creds", creds));
        }
        cmd.addAll(List.of("oci:" + layout + ":" + name, "docker://" + host() + "/" + dest));
        run(cmd);
    }

    static String run(List<String> cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(120, TimeUnit.SECONDS) || p.exitValue() != 0) {
            p.destroyForcibly();
            throw new IOException(String.join(" ", cmd) + " failed: " + out);
        }
        return out;
    }

    @Override
    public void close() throws InterruptedException {
        process.destroy();
        if (!process.waitFor(10, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            process.waitFor(10, TimeUnit.SECONDS);
        }
    }
}
