package dev.bulwark.image;

import java.io.IOException;
import java.io.InputStream;
import java.net.ConnectException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.CertificateException;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.LongConsumer;
import java.util.function.Supplier;
import javax.net.ssl.SSLHandshakeException;
import javax.net.ssl.SSLSocketFactory;

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
    private static final int CONNECT_TIMEOUT_MS = 30_000;
    /** How long one read may wait for the registry before the blob is resumed (or the call fails). */
    private static final int READ_TIMEOUT_MS = 60_000;
    /** After an upload, the registry may hash the whole blob before it answers. */
    private static final int UPLOAD_READ_TIMEOUT_MS = 300_000;

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
    private final SSLSocketFactory tls;
    private final RegistryAuth auth;

    private RegistryClient(String domain, SSLSocketFactory tls, RegistryAuth auth) {
        this.domain = domain;
        this.host = apiHost(domain);
        this.tls = tls;
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
        // HTTP/1.1, one TLS connection per request: one per blob in flight, as skopeo.
        SSLSocketFactory tls = RegistryTls.context(cas).getSocketFactory();
        RegistryAuth auth = new RegistryAuth(host, RegistryAuth.lookup(domain, config.creds(), config.authfile()), tls);
        return new RegistryClient(domain, tls, auth);
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
    private Http1.Response send(String what, URI first, String method, List<String[]> headers, Optional<Http1.Body> body,
            int readTimeoutMs) {
        URI u = first;
        boolean answered = false;
        for (int hop = 0; ; ) {
            List<String[]> h = new ArrayList<>(headers);
            h.add(new String[] {"User-Agent", USER_AGENT});
            boolean toRegistry = u.getRawAuthority().equals(first.getRawAuthority());
            if (toRegistry && !auth.header().isEmpty()) {
                h.add(new String[] {"Authorization", auth.header()});
            }
            Http1.Response r;
            try {
                r = Http1.exchange(tls, method, u, h, body, CONNECT_TIMEOUT_MS, readTimeoutMs);
            } catch (IOException e) {
                throw transportError(what + ": " + u.getRawAuthority(), e);
            }
            int s = r.status();
            if (s == 401 && toRegistry) {
                r.discard();
                if (answered) {
                    throw new ImageException(what + ": unauthorized: " + auth.refusal());
                }
                auth.answer(r.all("WWW-Authenticate"), what);
                answered = true;
                continue;
            }
            if ((s == 301 || s == 302 || s == 303 || s == 307 || s == 308) && r.first("Location").isPresent()) {
                r.discard();
                if (++hop > MAX_REDIRECTS) {
                    throw new ImageException(what + ": more than " + MAX_REDIRECTS + " redirects");
                }
                URI next;
                try {
                    next = u.resolve(r.first("Location").get());
                } catch (IllegalArgumentException e) {
                    throw new ImageException(what + ": redirected to an invalid Location: " + e.getMessage());
                }
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

    /** The body of a reply that is not content (an upload's answer, an error), at most 64 KiB. */
    private static byte[] small(Http1.Response r, String what) {
        try {
            return readLimited(r.body(), 64 << 10, what);
        } catch (IOException e) {
            throw transportError(what, e);
        } catch (ImageException tooLong) {
            return new byte[0];
        }
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

    private Http1.Response get(String what, URI u, List<String[]> headers) {
        return send(what, u, "GET", headers, Optional.empty(), READ_TIMEOUT_MS);
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
        Http1.Response r = get(what, uri(repository, "manifests/" + reference),
                List.<String[]>of(new String[] {"Accept", MANIFEST_ACCEPT}));
        byte[] body;
        try {
            body = readLimited(r.body(), ContentStore.MAX_DOCUMENT, what);
        } catch (IOException e) {
            throw transportError(what, e);
        }
        if (r.status() == 404 && missingOk) {
            return Optional.empty();
        }
        if (r.status() != 200) {
            throw failure(what, r.status(), body);
        }
        Digest d = Digest.of(body);
        if (reference.startsWith("sha256:") && !Digest.parse(reference).equals(d)) {
            throw new ImageException(what + ": the registry sent content that hashes to " + d + ", not the digest asked for");
        }
        String ct = r.first("Content-Type").map(v -> v.split(";")[0].strip()).orElse("");
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

    private Http1.Response blobRequest(String repository, Digest digest, long from) {
        String what = "blob " + domain + "/" + repository + "@" + digest;
        Http1.Response r = get(what, uri(repository, "blobs/" + digest),
                from > 0 ? List.<String[]>of(new String[] {"Range", "bytes=" + from + "-"}) : List.of());
        int s = r.status();
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
            Http1.Response r;
            try {
                r = blobRequest(repository, d.digest(), pos);
            } catch (ImageException e) {
                throw new IOException("blob " + d.digest() + ": resuming at byte " + pos + ": " + e.getMessage(), e);
            }
            InputStream in = r.body();
            if (r.status() == 206) {
                String cr = r.first("Content-Range").orElse("");
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
        Http1.Response r = send(what, uri(repository, "blobs/" + digest), "HEAD", List.of(), Optional.empty(), READ_TIMEOUT_MS);
        r.discard();
        if (r.status() == 200) {
            return true;
        }
        if (r.status() == 404) {
            return false;
        }
        throw failure(what, r.status(), new byte[0]);
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
        Http1.Response start = send(what, uri(repository, "blobs/uploads/"), "POST", List.of(),
                Optional.of(Http1.Body.of(new byte[0])), READ_TIMEOUT_MS);
        byte[] startBody = small(start, what);
        if (start.status() != 202) {
            throw failure(what, start.status(), startBody);
        }
        String loc = start.first("Location").orElseThrow(
                () -> new ImageException(what + ": the registry opened an upload without a Location"));
        URI put = uri(repository, "blobs/uploads/").resolve(loc);
        put = URI.create(put + (put.getRawQuery() == null ? "?" : "&") + "digest=" + digest.toString().replace(":", "%3A"));
        Http1.Response done = send(what, put, "PUT", List.<String[]>of(new String[] {"Content-Type", "application/octet-stream"}),
                Optional.of(new Http1.Body(size, content)), UPLOAD_READ_TIMEOUT_MS);
        byte[] doneBody = small(done, what);
        if (done.status() != 201) {
            throw failure(what, done.status(), doneBody);
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
        Http1.Response r = send(what, uri(repository, "manifests/" + ref), "PUT",
                List.<String[]>of(new String[] {"Content-Type", mediaType}), Optional.of(Http1.Body.of(bytes)), UPLOAD_READ_TIMEOUT_MS);
        byte[] body = small(r, what);
        if (r.status() != 201 && r.status() != 200) {
            throw failure(what, r.status(), body);
        }
        Digest d = Digest.of(bytes);
        Optional<String> said = r.first("Docker-Content-Digest");
        if (said.isPresent() && !said.get().equals(d.toString())) {
            throw new ImageException(what + ": the registry stored it as " + said.get() + ", expected " + d);
        }
        return d;
    }
}
