package dev.bulwark.image;

import java.io.IOException;
import java.io.InputStream;
import java.net.ConnectException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.CertificateException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.LongConsumer;
import java.util.function.Supplier;
import javax.net.ssl.SSLHandshakeException;

/**
 * A client of one registry over the OCI distribution API (Docker Registry HTTP API v2), on the
 * JDK's HTTP client, HTTPS only. It fetches manifests and blobs and pushes them; it trusts no
 * header for content: every manifest is hashed here and every blob is hashed by the
 * {@link ContentStore} it streams into.
 */
public final class RegistryClient {
    static final String USER_AGENT = "bulwark/0.1";
    /** Docker's certs.d, under Bulwark's name: DIR/HOST:PORT/ca.crt is trusted for that registry. */
    public static final Path CERTS_DIR = Path.of("/etc/bulwark/certs.d");

    private static final String MANIFEST_ACCEPT = String.join(", ", MediaTypes.OCI_INDEX, MediaTypes.OCI_MANIFEST,
            MediaTypes.DOCKER_LIST, MediaTypes.DOCKER_MANIFEST);
    private static final int MAX_REDIRECTS = 5;
    private static final int MAX_RESUMES = 5;

    /**
     * How to reach registries.
     *
     * @param ca       an extra CA (PEM) to trust, beside the system's and certs.d's
     * @param creds    USER:PASS for every registry
     * @param authfile a Docker-style auth file (auths.HOST.auth)
     * @param certsDir where HOST:PORT/ca.crt is looked for
     */
    public record Config(Optional<Path> ca, Optional<String> creds, Optional<Path> authfile, Path certsDir) {
        public static Config defaults() {
            return new Config(Optional.empty(), Optional.empty(), Optional.empty(), CERTS_DIR);
        }

        public Config withCa(Path f) {
            return new Config(Optional.of(f), creds, authfile, certsDir);
        }

        public Config withCreds(String userColonPass) {
            return new Config(ca, Optional.of(userColonPass), authfile, certsDir);
        }

        public Config withAuthfile(Path f) {
            return new Config(ca, creds, Optional.of(f), certsDir);
        }

        public Config withCertsDir(Path d) {
            return new Config(ca, creds, authfile, d);
        }
    }

    /** A manifest or index as the registry sent it, with the digest of those bytes. */
    public record Fetched(String mediaType, byte[] bytes, Digest digest) {}

    private final String domain;
    private final String host;
    private final HttpClient http;
    private final RegistryAuth auth;

    private RegistryClient(String domain, HttpClient http, RegistryAuth auth) {
        this.domain = domain;
        this.host = apiHost(domain);
        this.http = http;
        this.auth = auth;
    }

    /** A client for the registry {@code domain} (host[:port]; docker.io means Docker Hub). */
    public static RegistryClient connect(String domain, Config config) {
        String host = apiHost(domain);
        List<Path> cas = new ArrayList<>();
        config.ca().ifPresent(cas::add);
        Path certsD = config.certsDir().resolve(domain).resolve("ca.crt");
        if (Files.isRegularFile(certsD)) {
            cas.add(certsD);
        }
        HttpClient http = HttpClient.newBuilder()
                .sslContext(RegistryTls.context(cas))
                // One TCP connection per blob in flight, as skopeo; the JDK's HTTP/2 flow
                // control window would otherwise throttle concurrent layers on one connection.
                .version(HttpClient.Version.HTTP_1_1)
                .followRedirects(HttpClient.Redirect.NEVER)
                .connectTimeout(Duration.ofSeconds(30))
                .build();
        RegistryAuth auth = new RegistryAuth(host, RegistryAuth.lookup(domain, config.creds(), config.authfile()), http);
        return new RegistryClient(domain, http, auth);
    }

    private static String apiHost(String domain) {
        return domain.equals(Reference.DEFAULT_DOMAIN) ? "registry-1.docker.io" : domain;
    }

    public String domain() {
        return domain;
    }

    private URI uri(String repository, String rest) {
        return URI.create("https://" + host + "/v2/" + repository + "/" + rest);
    }

    // ---- transport ----

    /**
     * Sends a request, answering one auth challenge and following redirects (to blob storage,
     * without the registry's Authorization header when the host changes). The request is built
     * again for each try, so a body is sent whole each time.
     */
    private <T> HttpResponse<T> send(String what, URI first, Supplier<HttpRequest.Builder> req,
            HttpResponse.BodyHandler<T> handler) {
        URI u = first;
        boolean answered = false;
        for (int hop = 0; ; ) {
            HttpRequest.Builder b = req.get().uri(u).header("User-Agent", USER_AGENT);
            boolean toRegistry = u.getAuthority().equals(first.getAuthority());
            if (toRegistry && !auth.header().isEmpty()) {
                b.header("Authorization", auth.header());
            }
            HttpResponse<T> r;
            try {
                r = http.send(b.build(), handler);
            } catch (IOException e) {
                throw transportError(what + ": " + u.getAuthority(), e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new ImageException(what + ": interrupted");
            }
            int s = r.statusCode();
            if (s == 401 && toRegistry) {
                discard(r);
                if (answered) {
                    throw new ImageException(what + ": unauthorized: " + auth.refusal());
                }
                auth.answer(r.headers().allValues("WWW-Authenticate"), what);
                answered = true;
                continue;
            }
            if ((s == 301 || s == 302 || s == 303 || s == 307 || s == 308) && r.headers().firstValue("Location").isPresent()) {
                discard(r);
                if (++hop > MAX_REDIRECTS) {
                    throw new ImageException(what + ": more than " + MAX_REDIRECTS + " redirects");
                }
                URI next = u.resolve(r.headers().firstValue("Location").get());
                if (!"https".equals(next.getScheme())) {
                    throw new ImageException(what + ": redirected to " + next.getScheme() + "://" + next.getAuthority()
                            + ", refused (HTTPS only)");
                }
                u = next;
                continue;
            }
            return r;
        }
    }

    private static void discard(HttpResponse<?> r) {
        if (r.body() instanceof InputStream in) {
            try (in) {
                in.readNBytes(64 << 10);
            } catch (IOException e) {
                // the connection is dropped then
            }
        }
    }

    static ImageException transportError(String what, IOException e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof SSLHandshakeException || t instanceof CertificateException) {
                String m = t.getMessage() == null ? t.toString() : t.getMessage();
                if (m.contains("PKIX") || m.contains("certification path") || t instanceof CertificateException) {
                    return new ImageException(what + ": TLS: the server's certificate is not trusted (" + m
                            + "); give the registry's CA with --ca FILE or put it in " + CERTS_DIR + "/HOST:PORT/ca.crt", e);
                }
                return new ImageException(what + ": TLS handshake failed: " + m, e);
            }
            if (t instanceof ConnectException) {
                return new ImageException(what + ": connection refused", e);
            }
        }
        return new ImageException(what + ": " + (e.getMessage() == null ? e.toString() : e.getMessage()), e);
    }

    /** The registry's error for a failed request: its errors[].code and message, or the status. */
    private static ImageException failure(String what, int status, byte[] body) {
        String detail = "";
        try {
            List<String> parts = new ArrayList<>();
            for (Doc e : Doc.parse(body, what).array("errors")) {
                parts.add(e.string("code", "?") + ": " + e.string("message", ""));
            }
            detail = parts.isEmpty() ? "" : " (" + String.join("; ", parts) + ")";
        } catch (ImageException notJson) {
            // body is not the registry's JSON error; the status says enough
        }
        String kind = switch (status) {
            case 401 -> "unauthorized";
            case 403 -> "forbidden";
            case 404 -> "not found";
            case 429 -> "too many requests";
            default -> "HTTP " + status;
        };
        return new ImageException(what + ": " + kind + detail);
    }

    private static byte[] readLimited(InputStream in, long max, String what) throws IOException {
        try (in) {
            byte[] b = in.readNBytes((int) max + 1);
            if (b.length > max) {
                throw new ImageException(what + ": more than " + max + " bytes; refused");
            }
            return b;
        }
    }

    private static HttpRequest.Builder get() {
        return HttpRequest.newBuilder().timeout(Duration.ofMinutes(10)).GET();
    }

    // ---- pull ----

    /**
     * GETs a manifest or index by tag or digest. The digest returned is that of the bytes
     * received; when {@code reference} is a digest they must hash to it.
     */
    public Fetched manifest(String repository, String reference) {
        return manifest(repository, reference, false).orElseThrow();
    }

    /** As {@link #manifest(String, String)}, but a tag or digest the registry does not have is empty, not an error. */
    public Optional<Fetched> manifestIfPresent(String repository, String reference) {
        return manifest(repository, reference, true);
    }

    private Optional<Fetched> manifest(String repository, String reference, boolean missingOk) {
        String what = "manifest " + domain + "/" + repository + (reference.startsWith("sha256:") ? "@" : ":") + reference;
        HttpResponse<InputStream> r = send(what, uri(repository, "manifests/" + reference),
                () -> get().header("Accept", MANIFEST_ACCEPT), HttpResponse.BodyHandlers.ofInputStream());
        byte[] body;
        try {
            body = readLimited(r.body(), ContentStore.MAX_DOCUMENT, what);
        } catch (IOException e) {
            throw transportError(what, e);
        }
        if (r.statusCode() == 404 && missingOk) {
            return Optional.empty();
        }
        if (r.statusCode() != 200) {
            throw failure(what, r.statusCode(), body);
        }
        Digest d = Digest.of(body);
        if (reference.startsWith("sha256:") && !Digest.parse(reference).equals(d)) {
            throw new ImageException(what + ": the registry sent content that hashes to " + d + ", not the digest asked for");
        }
        String ct = r.headers().firstValue("Content-Type").map(v -> v.split(";")[0].strip()).orElse("");
        String mt = Doc.parse(body, what).string("mediaType", ct);
        if (mt.isEmpty()) {
            throw new ImageException(what + ": neither the document nor the Content-Type names a media type");
        }
        return Optional.of(new Fetched(mt, body, d));
    }

    /**
     * A blob's bytes as a stream. A connection cut before {@code size} bytes arrived is resumed
     * with a Range request from where it stopped (at most {@value #MAX_RESUMES} times); the
     * caller hashes the whole stream, so a resumed blob is checked like any other.
     *
     * @param progress told of every chunk read
     * @param resumed  told each time the stream is resumed
     */
    public InputStream blob(String repository, Descriptor d, LongConsumer progress, Runnable resumed) {
        return new Resuming(repository, d, progress, resumed);
    }

    private HttpResponse<InputStream> blobRequest(String repository, Digest digest, long from) {
        String what = "blob " + domain + "/" + repository + "@" + digest;
        HttpResponse<InputStream> r = send(what, uri(repository, "blobs/" + digest), () -> {
            HttpRequest.Builder b = get();
            if (from > 0) {
                b.header("Range", "bytes=" + from + "-");
            }
            return b;
        }, HttpResponse.BodyHandlers.ofInputStream());
        int s = r.statusCode();
        if (s == 200 || (s == 206 && from > 0)) {
            return r;
        }
        byte[] body;
        try {
            body = readLimited(r.body(), 64 << 10, what);
        } catch (IOException | ImageException e) {
            body = new byte[0];
        }
        throw failure(what, s, body);
    }

    private final class Resuming extends InputStream {
        private final String repository;
        private final Descriptor d;
        private final LongConsumer progress;
        private final Runnable resumed;
        private InputStream cur;
        private long pos;
        private int resumes;

        Resuming(String repository, Descriptor d, LongConsumer progress, Runnable resumed) {
            this.repository = repository;
            this.d = d;
            this.progress = progress;
            this.resumed = resumed;
            this.cur = blobRequest(repository, d.digest(), 0).body();
        }

        @Override
        public int read() throws IOException {
            byte[] one = new byte[1];
            int n = read(one, 0, 1);
            return n < 0 ? -1 : one[0] & 0xff;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            while (true) {
                IOException cut;
                try {
                    int n = cur.read(b, off, len);
                    if (n > 0) {
                        pos += n;
                        progress.accept(n);
                        return n;
                    }
                    if (n < 0 && pos >= d.size()) {
                        return -1;
                    }
                    if (n == 0) {
                        return 0;
                    }
                    cut = new IOException("the connection ended after " + pos + " of " + d.size() + " bytes");
                } catch (IOException e) {
                    if (pos >= d.size()) {
                        throw e;
                    }
                    cut = e;
                }
                resume(cut);
            }
        }

        private void resume(IOException cause) throws IOException {
            try {
                cur.close();
            } catch (IOException ignored) {
                // the connection is gone already
            }
            if (++resumes > MAX_RESUMES) {
                throw new IOException("blob " + d.digest() + ": cut off " + MAX_RESUMES + " times, last after " + pos
                        + " of " + d.size() + " bytes: " + cause.getMessage(), cause);
            }
            resumed.run();
            HttpResponse<InputStream> r;
            try {
                r = blobRequest(repository, d.digest(), pos);
            } catch (ImageException e) {
                throw new IOException("blob " + d.digest() + ": resuming at byte " + pos + ": " + e.getMessage(), e);
            }
            InputStream in = r.body();
            if (r.statusCode() == 206) {
                String cr = r.headers().firstValue("Content-Range").orElse("");
                if (!cr.startsWith("bytes " + pos + "-")) {
                    in.close();
                    throw new IOException("blob " + d.digest() + ": asked for bytes from " + pos + ", the registry sent Content-Range \"" + cr + "\"");
                }
            } else {
                // The server ignored the Range: skip what was read already. The whole stream is
                // hashed by the store, so skipped bytes that differ are still caught.
                long skip = pos;
                while (skip > 0) {
                    long n = in.skip(skip);
                    if (n <= 0) {
                        if (in.read() < 0) {
                            throw new IOException("blob " + d.digest() + ": the retry ended before byte " + pos);
                        }
                        n = 1;
                    }
                    skip -= n;
                }
            }
            cur = in;
        }

        @Override
        public void close() throws IOException {
            cur.close();
        }
    }

    // ---- push ----

    /** Whether the registry has the blob in this repository (HEAD). */
    public boolean hasBlob(String repository, Digest digest) {
        String what = "blob " + domain + "/" + repository + "@" + digest;
        HttpResponse<Void> r = send(what, uri(repository, "blobs/" + digest),
                () -> HttpRequest.newBuilder().timeout(Duration.ofMinutes(1)).method("HEAD", HttpRequest.BodyPublishers.noBody()),
                HttpResponse.BodyHandlers.discarding());
        if (r.statusCode() == 200) {
            return true;
        }
        if (r.statusCode() == 404) {
            return false;
        }
        throw failure(what, r.statusCode(), new byte[0]);
    }

    /**
     * Uploads a blob in one piece (POST to open an upload, PUT with the digest), unless the
     * registry has it already. Returns whether it was sent. {@code content} is opened once per
     * attempt.
     */
    public boolean pushBlob(String repository, Digest digest, long size, Supplier<InputStream> content) {
        if (hasBlob(repository, digest)) {
            return false;
        }
        String what = "upload of blob " + digest + " to " + domain + "/" + repository;
        HttpResponse<byte[]> start = send(what, uri(repository, "blobs/uploads/"),
                () -> HttpRequest.newBuilder().timeout(Duration.ofMinutes(1)).POST(HttpRequest.BodyPublishers.noBody()),
                HttpResponse.BodyHandlers.ofByteArray());
        if (start.statusCode() != 202) {
            throw failure(what, start.statusCode(), start.body());
        }
        String loc = start.headers().firstValue("Location").orElseThrow(
                () -> new ImageException(what + ": the registry opened an upload without a Location"));
        URI put = uri(repository, "blobs/uploads/").resolve(loc);
        put = URI.create(put + (put.getRawQuery() == null ? "?" : "&") + "digest=" + digest.toString().replace(":", "%3A"));
        HttpResponse<byte[]> done = send(what, put,
                () -> HttpRequest.newBuilder().timeout(Duration.ofMinutes(30))
                        .header("Content-Type", "application/octet-stream")
                        .PUT(HttpRequest.BodyPublishers.fromPublisher(HttpRequest.BodyPublishers.ofInputStream(content), size)),
                HttpResponse.BodyHandlers.ofByteArray());
        if (done.statusCode() != 201) {
            throw failure(what, done.statusCode(), done.body());
        }
        return true;
    }

    /** Uploads a small blob held in memory. */
    public boolean pushBlob(String repository, byte[] bytes) {
        return pushBlob(repository, Digest.of(bytes), bytes.length, () -> new java.io.ByteArrayInputStream(bytes));
    }

    /**
     * PUTs a manifest or index under the reference's tag, or under its digest when it has one
     * (which must be the digest of bytes). The blobs it references must be there already.
     * Returns the digest of bytes.
     */
    public Digest pushManifest(Reference repoAndTag, String mediaType, byte[] bytes) {
        if (!repoAndTag.domain().equals(domain)) {
            throw new ImageException("push " + repoAndTag + ": this client is for registry " + domain);
        }
        Digest d = Digest.of(bytes);
        String ref = repoAndTag.digest().isEmpty() ? repoAndTag.tag() : repoAndTag.digest();
        if (!repoAndTag.digest().isEmpty() && !repoAndTag.digest().equals(d.toString())) {
            throw new ImageException("push " + repoAndTag + ": the manifest's bytes hash to " + d);
        }
        return putManifest(repoAndTag.repository(), ref, mediaType, bytes);
    }

    Digest putManifest(String repository, String ref, String mediaType, byte[] bytes) {
        String what = "push of manifest " + domain + "/" + repository + (ref.startsWith("sha256:") ? "@" : ":") + ref;
        HttpResponse<byte[]> r = send(what, uri(repository, "manifests/" + ref),
                () -> HttpRequest.newBuilder().timeout(Duration.ofMinutes(2)).header("Content-Type", mediaType)
                        .PUT(HttpRequest.BodyPublishers.ofByteArray(bytes)),
                HttpResponse.BodyHandlers.ofByteArray());
        if (r.statusCode() != 201 && r.statusCode() != 200) {
            throw failure(what, r.statusCode(), r.body());
        }
        Digest d = Digest.of(bytes);
        Optional<String> said = r.headers().firstValue("Docker-Content-Digest");
        if (said.isPresent() && !said.get().equals(d.toString())) {
            throw new ImageException(what + ": the registry stored it as " + said.get() + ", expected " + d);
        }
        return d;
    }
}
