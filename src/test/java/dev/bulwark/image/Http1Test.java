package dev.bulwark.image;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicReference;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLHandshakeException;
import javax.net.ssl.SSLServerSocket;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.SSLSocketFactory;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The registry client's HTTP/1.1 reader against a TLS server that sends canned replies: body
 * framing (length, chunked, to the end), interim replies, the host name check, and refusals
 * (a header with a line break, an endless head, a body cut short).
 */
class Http1Test {
    private static Path dir;
    private static SSLContext server;
    private static SSLSocketFactory client;

    @BeforeAll
    static void pki() throws Exception {
        dir = Files.createTempDirectory("bulwark-http1-");
        TestPki pki = TestPki.create(dir);
        KeyStore ks = KeyStore.getInstance("PKCS12");
        try (InputStream in = Files.newInputStream(pki.serverP12)) {
            ks.load(in, "test".toCharArray());
        }
        KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        kmf.init(ks, "test".toCharArray());
        server = SSLContext.getInstance("TLS");
        server.init(kmf.getKeyManagers(), null, null);
        client = RegistryTls.context(List.of(pki.caCert)).getSocketFactory();
    }

    @AfterAll
    static void clean() throws IOException {
        try (var s = Files.walk(dir)) {
            s.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    /** Serves one connection with {@code reply}; the request head it read is in the returned reference once done. */
    private record Served(int port, AtomicReference<String> request, Thread thread, SSLServerSocket socket) implements AutoCloseable {
        @Override
        public void close() throws Exception {
            socket.close();
            thread.join(10_000);
        }
    }

    private static Served serve(byte[] reply) throws IOException {
        SSLServerSocket ss = (SSLServerSocket) server.getServerSocketFactory().createServerSocket(0, 1, InetAddress.getByName("0.0.0.0"));
        AtomicReference<String> req = new AtomicReference<>("");
        Thread t = new Thread(() -> {
            try (SSLSocket s = (SSLSocket) ss.accept()) {
                s.setSoTimeout(10_000);
                InputStream in = s.getInputStream();
                ByteArrayOutputStream head = new ByteArrayOutputStream();
                int st = 0;
                while (st < 4) {
                    int c = in.read();
                    if (c < 0) {
                        break;
                    }
                    head.write(c);
                    st = (c == '\r' && (st == 0 || st == 2)) || (c == '\n' && (st == 1 || st == 3)) ? st + 1 : 0;
                }
                req.set(head.toString(StandardCharsets.ISO_8859_1));
                s.getOutputStream().write(reply);
                s.getOutputStream().flush();
            } catch (IOException e) {
                req.set("server: " + e);
            }
        }, "http1-test-server");
        t.start();
        return new Served(ss.getLocalPort(), req, t, ss);
    }

    private static Http1.Response get(String url, List<String[]> headers) throws IOException {
        return Http1.exchange(client, "GET", URI.create(url), headers, Optional.empty(), 10_000, 10_000);
    }

    private static byte[] ascii(String s) {
        return s.getBytes(StandardCharsets.ISO_8859_1);
    }

    @Test
    void contentLengthBodyAndTheRequestSent() throws Exception {
        try (Served s = serve(ascii("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Two: a\r\nx-two: b\r\n\r\nhelloEXTRA"))) {
            Http1.Response r = get("https://127.0.0.1:" + s.port() + "/v2/x/blobs/sha256:ab?q=1", List.<String[]>of(new String[] {"Range", "bytes=3-"}));
            byte[] body;
            try (InputStream in = r.body()) {
                body = in.readAllBytes();
            }
            assertEquals(200, r.status());
            assertEquals("hello", new String(body, StandardCharsets.US_ASCII));
            assertEquals(List.of("a", "b"), r.all("X-TWO"));
            s.thread().join(10_000);
            String req = s.request().get();
            assertTrue(req.startsWith("GET /v2/x/blobs/sha256:ab?q=1 HTTP/1.1\r\nHost: 127.0.0.1:" + s.port() + "\r\n"), req);
            assertTrue(req.contains("\r\nRange: bytes=3-\r\n") && req.endsWith("Connection: close\r\n\r\n"), req);
        }
    }

    @Test
    void chunkedBodyWithExtensionsAndTrailers() throws Exception {
        String reply = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                + "4;ext=1\r\nWiki\r\n6\r\npedia \r\nE\r\nin \r\n\r\nchunks.\r\n0\r\nTrailer: x\r\n\r\n";
        try (Served s = serve(ascii(reply))) {
            Http1.Response r = get("https://localhost:" + s.port() + "/", List.of());
            try (InputStream in = r.body()) {
                assertEquals(200, r.status());
                assertArrayEquals(ascii("Wikipedia in \r\n\r\nchunks."), in.readAllBytes());
            }
        }
    }

    @Test
    void bodyToTheEndOfTheConnection() throws Exception {
        try (Served s = serve(ascii("HTTP/1.1 200 OK\r\n\r\nall of it"))) {
            try (InputStream in = get("https://127.0.0.1:" + s.port() + "/", List.of()).body()) {
                assertEquals("all of it", new String(in.readAllBytes(), StandardCharsets.US_ASCII));
            }
        }
    }

    @Test
    void aBodyCutShortIsAnError() throws Exception {
        try (Served s = serve(ascii("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this"))) {
            try (InputStream in = get("https://127.0.0.1:" + s.port() + "/", List.of()).body()) {
                IOException e = assertThrows(IOException.class, in::readAllBytes);
                assertTrue(e.getMessage().contains("91 bytes of the body still to come"), e.getMessage());
            }
        }
        try (Served s = serve(ascii("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nshort"))) {
            try (InputStream in = get("https://127.0.0.1:" + s.port() + "/", List.of()).body()) {
                IOException e = assertThrows(IOException.class, in::readAllBytes);
                assertTrue(e.getMessage().contains("inside a chunk"), e.getMessage());
            }
        }
    }

    @Test
    void theHostNameIsChecked() throws Exception {
        // The certificate names 127.0.0.1 and localhost, not 127.0.0.2 (which is this host too).
        try (Served s = serve(ascii("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"))) {
            IOException e = assertThrows(IOException.class, () -> get("https://127.0.0.2:" + s.port() + "/", List.of()));
            assertTrue(e instanceof SSLHandshakeException, e.toString());
            String said = RegistryClient.transportError("GET", e).getMessage();
            assertTrue(said.contains("TLS handshake failed") && said.contains("127.0.0.2"), said);
        }
    }

    @Test
    void refusals() throws Exception {
        IOException e = assertThrows(IOException.class, () -> get("https://127.0.0.1:1/", List.<String[]>of(new String[] {"X", "a\r\nEvil: 1"})));
        assertTrue(e.getMessage().contains("line break") || e.getMessage().contains("refused"), e.getMessage());
        byte[] endless = new byte[(64 << 10) + 100];
        java.util.Arrays.fill(endless, (byte) 'a');
        System.arraycopy(ascii("HTTP/1.1 200 OK\r\nX: "), 0, endless, 0, 20);
        try (Served s = serve(endless)) {
            IOException h = assertThrows(IOException.class, () -> get("https://127.0.0.1:" + s.port() + "/", List.of()));
            assertTrue(h.getMessage().contains("response head longer than"), h.getMessage());
        }
        try (Served s = serve(ascii("SSH-2.0-OpenSSH\r\n\r\n"))) {
            IOException h = assertThrows(IOException.class, () -> get("https://127.0.0.1:" + s.port() + "/", List.of()));
            assertTrue(h.getMessage().contains("not an HTTP/1.x status line"), h.getMessage());
        }
        IOException plain = assertThrows(IOException.class, () -> get("http://127.0.0.1:1/", List.of()));
        assertTrue(plain.getMessage().contains("only https"), plain.getMessage());
    }
}
