package dev.bulwark.image;

import java.io.BufferedInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.function.Supplier;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.SSLSocketFactory;

/**
 * One HTTP/1.1 exchange over its own TLS connection ({@code Connection: close}), read on the
 * caller's thread straight from the socket.
 *
 * <p>The registry client used the JDK's {@code java.net.http} client; its body reaches the
 * reader through the client's selector and executor threads and a queue of buffers, which held
 * a pull to about 0.7x skopeo's rate through a warm JVM (and loading it costs a cold JVM some
 * 100 ms). A blocking {@link SSLSocket} read measured about 1.6x faster on the same registry.
 * Bodies are framed by Content-Length, chunked transfer coding, or the end of the connection;
 * the certificate and host name are checked by the context's trust managers
 * (endpoint identification "HTTPS").
 */
final class Http1 {
    private static final int MAX_HEAD = 64 << 10;
    private static final int MAX_HEADERS = 200;
    private static final int BUFFER = 64 << 10;

    private Http1() {}

    /** A request body: its length and a source opened once per attempt. */
    record Body(long length, Supplier<InputStream> content) {
        static Body of(byte[] b) {
            return new Body(b.length, () -> new java.io.ByteArrayInputStream(b));
        }
    }

    /** A response: status, headers (names case-insensitive) and the body, whose close closes the connection. */
    record Response(int status, Map<String, List<String>> headers, InputStream body) {
        Optional<String> first(String name) {
            List<String> v = headers.get(name);
            return v == null || v.isEmpty() ? Optional.empty() : Optional.of(v.get(0));
        }

        List<String> all(String name) {
            return headers.getOrDefault(name, List.of());
        }

        /** Reads and drops up to 64 KiB of the body and closes the connection. */
        void discard() {
            try (InputStream in = body) {
                in.readNBytes(64 << 10);
            } catch (IOException e) {
                // dropped with the connection
            }
        }
    }

    /**
     * Sends {@code method} to the https URI {@code u} with {@code headers} (Host, Connection and
     * Content-Length are set here) and reads the status line and headers.
     *
     * @param readTimeoutMs how long one read may wait for bytes before it fails
     */
    static Response exchange(SSLSocketFactory tls, String method, URI u, List<String[]> headers, Optional<Body> body,
            int connectTimeoutMs, int readTimeoutMs) throws IOException {
        if (!"https".equals(u.getScheme())) {
            throw new IOException("only https is spoken here, not " + u.getScheme());
        }
        StringBuilder h = new StringBuilder(256);
        String target = u.getRawPath() == null || u.getRawPath().isEmpty() ? "/" : u.getRawPath();
        if (u.getRawQuery() != null) {
            target += "?" + u.getRawQuery();
        }
        h.append(method).append(' ').append(target).append(" HTTP/1.1\r\n");
        h.append("Host: ").append(u.getRawAuthority()).append("\r\n");
        for (String[] kv : headers) {
            if (kv[0].indexOf('\r') >= 0 || kv[0].indexOf('\n') >= 0 || kv[1].indexOf('\r') >= 0 || kv[1].indexOf('\n') >= 0) {
                throw new IOException("header " + kv[0] + ": a line break in a header is refused");
            }
            h.append(kv[0]).append(": ").append(kv[1]).append("\r\n");
        }
        if (body.isPresent()) {
            h.append("Content-Length: ").append(body.get().length()).append("\r\n");
        }
        h.append("Connection: close\r\n\r\n");
        String host = u.getHost();
        int port = u.getPort() < 0 ? 443 : u.getPort();
        Socket raw = new Socket();
        SSLSocket s = null;
        boolean handed = false;
        try {
            raw.connect(new InetSocketAddress(host, port), connectTimeoutMs);
            raw.setSoTimeout(readTimeoutMs);
            raw.setTcpNoDelay(true);
            s = (SSLSocket) tls.createSocket(raw, host, port, true);
            SSLParameters p = s.getSSLParameters();
            p.setEndpointIdentificationAlgorithm("HTTPS");
            s.setSSLParameters(p);
            s.startHandshake();
            OutputStream out = s.getOutputStream();
            out.write(h.toString().getBytes(StandardCharsets.ISO_8859_1));
            if (body.isPresent()) {
                long sent;
                try (InputStream in = body.get().content().get()) {
                    sent = in.transferTo(out);
                }
                if (sent != body.get().length()) {
                    throw new IOException("the request body has " + sent + " bytes, not the " + body.get().length() + " announced");
                }
            }
            out.flush();
            InputStream in = new BufferedInputStream(s.getInputStream(), BUFFER);
            Response r = readHead(in, method, s);
            handed = true;   // the response's body closes the connection
            return r;
        } finally {
            if (!handed) {
                (s != null ? s : raw).close();
            }
        }
    }

    private static Response readHead(InputStream in, String method, Socket s) throws IOException {
        int[] budget = {MAX_HEAD};
        String status;
        int code;
        do {
            status = line(in, budget);
            String[] parts = status.split(" ", 3);
            if (parts.length < 2 || !parts[0].startsWith("HTTP/1.")) {
                throw new IOException("not an HTTP/1.x status line: \"" + printable(status) + "\"");
            }
            try {
                code = Integer.parseInt(parts[1]);
            } catch (NumberFormatException e) {
                throw new IOException("bad status code in \"" + printable(status) + "\"");
            }
            if (code >= 100 && code < 200) {
                while (!line(in, budget).isEmpty()) {
                    // headers of an interim response
                }
            }
        } while (code >= 100 && code < 200);
        Map<String, List<String>> headers = new TreeMap<>(String.CASE_INSENSITIVE_ORDER);
        for (int n = 0; ; n++) {
            String l = line(in, budget);
            if (l.isEmpty()) {
                break;
            }
            if (n >= MAX_HEADERS) {
                throw new IOException("more than " + MAX_HEADERS + " response headers");
            }
            int c = l.indexOf(':');
            if (c <= 0) {
                throw new IOException("bad response header \"" + printable(l) + "\"");
            }
            headers.computeIfAbsent(l.substring(0, c).strip(), k -> new ArrayList<>()).add(l.substring(c + 1).strip());
        }
        InputStream body;
        boolean none = method.equals("HEAD") || code == 204 || code == 304;
        String te = headers.getOrDefault("Transfer-Encoding", List.of()).stream().reduce((a, b) -> b).orElse("");
        Optional<String> cl = Optional.ofNullable(headers.get("Content-Length")).map(v -> v.get(0));
        if (none) {
            body = new Bounded(in, 0, s);
        } else if (te.toLowerCase(java.util.Locale.ROOT).endsWith("chunked")) {
            body = new Chunked(in, s);
        } else if (cl.isPresent()) {
            long len;
            try {
                len = Long.parseLong(cl.get());
            } catch (NumberFormatException e) {
                throw new IOException("bad Content-Length \"" + printable(cl.get()) + "\"");
            }
            if (len < 0) {
                throw new IOException("negative Content-Length " + len);
            }
            body = new Bounded(in, len, s);
        } else {
            body = new Bounded(in, -1, s);
        }
        return new Response(code, headers, body);
    }

    /** A line ending in CRLF (or LF), without it; {@code budget} bounds the bytes of the whole head. */
    private static String line(InputStream in, int[] budget) throws IOException {
        StringBuilder b = new StringBuilder(64);
        while (true) {
            int c = in.read();
            if (c < 0) {
                throw new EOFException("the connection ended in the response head");
            }
            if (--budget[0] < 0) {
                throw new IOException("response head longer than " + MAX_HEAD + " bytes");
            }
            if (c == '\n') {
                int len = b.length();
                if (len > 0 && b.charAt(len - 1) == '\r') {
                    b.setLength(len - 1);
                }
                return b.toString();
            }
            b.append((char) c);
        }
    }

    private static String printable(String s) {
        String t = s.length() > 120 ? s.substring(0, 120) + "..." : s;
        return t.replaceAll("[^\\x20-\\x7e]", "?");
    }

    /** A body of {@code length} bytes, or up to the end of the connection when it is -1. */
    private static final class Bounded extends InputStream {
        private final InputStream in;
        private final Socket s;
        private long left;
        private final boolean toEnd;

        Bounded(InputStream in, long length, Socket s) {
            this.in = in;
            this.s = s;
            this.left = length;
            this.toEnd = length < 0;
        }

        @Override
        public int read() throws IOException {
            byte[] one = new byte[1];
            int n = read(one, 0, 1);
            return n < 0 ? -1 : one[0] & 0xff;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            if (len == 0) {
                return 0;
            }
            if (!toEnd && left == 0) {
                return -1;
            }
            int n = in.read(b, off, toEnd ? len : (int) Math.min(len, left));
            if (n < 0) {
                if (toEnd) {
                    return -1;
                }
                throw new EOFException("the connection ended with " + left + " bytes of the body still to come");
            }
            if (!toEnd) {
                left -= n;
            }
            return n;
        }

        @Override
        public void close() throws IOException {
            s.close();
        }
    }

    /** A body in chunked transfer coding; trailers are read and dropped. */
    private static final class Chunked extends InputStream {
        private final InputStream in;
        private final Socket s;
        private long left;
        private boolean done;

        Chunked(InputStream in, Socket s) {
            this.in = in;
            this.s = s;
        }

        @Override
        public int read() throws IOException {
            byte[] one = new byte[1];
            int n = read(one, 0, 1);
            return n < 0 ? -1 : one[0] & 0xff;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            if (len == 0) {
                return 0;
            }
            if (done) {
                return -1;
            }
            if (left == 0) {
                int[] budget = {MAX_HEAD};
                String size = line(in, budget);
                int semi = size.indexOf(';');
                String hex = (semi >= 0 ? size.substring(0, semi) : size).strip();
                try {
                    left = Long.parseUnsignedLong(hex, 16);
                } catch (NumberFormatException e) {
                    throw new IOException("bad chunk size \"" + printable(size) + "\"");
                }
                if (left < 0) {
                    throw new IOException("chunk size " + hex + " too large");
                }
                if (left == 0) {
                    while (!line(in, budget).isEmpty()) {
                        // trailer fields
                    }
                    done = true;
                    return -1;
                }
            }
            int n = in.read(b, off, (int) Math.min(len, left));
            if (n < 0) {
                throw new EOFException("the connection ended inside a chunk, " + left + " bytes short");
            }
            left -= n;
            if (left == 0) {
                int[] budget = {2};
                if (!line(in, budget).isEmpty()) {
                    throw new IOException("no CRLF after a chunk");
                }
            }
            return n;
        }

        @Override
        public void close() throws IOException {
            s.close();
        }
    }
}
