package dev.bulwark.image;

import dev.bulwark.runtime.Timing;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Pulls an image from a registry into the store. The reference's tag (or digest) is resolved to
 * the digest of the manifest bytes received; an index is resolved to the manifest of the wanted
 * platform; missing blobs are streamed into the store, which hashes them and refuses a mismatch;
 * the name is recorded last, so a failed or killed pull never names an incomplete image.
 *
 * <p>What the store names is the platform's manifest; when it came through an index, the index
 * digest (what the tag resolved to, and what a signature signs) is kept in the
 * {@value #INDEX_DIGEST} annotation of the index.json entry.
 */
public final class Puller {
    /** Annotation on a pulled entry: the digest of the index the manifest was selected from. */
    public static final String INDEX_DIGEST = "dev.bulwark.image.index.digest";
    /** Annotation on a pulled entry: the digest the reference resolved to at the registry. */
    public static final String RESOLVED_DIGEST = "dev.bulwark.image.resolved.digest";
    private static final int PARALLEL = 3;
    private static final int MAX_NESTING = 4;

    private final ContentStore store;
    private final RegistryClient.Config config;
    private final Platform platform;
    private final Progress progress;

    private final TrustPolicy policy;

    /** A puller that accepts what the registry serves, verified only by digest. */
    public Puller(ContentStore store, RegistryClient.Config config, Platform platform, Progress progress) {
        this(store, config, platform, progress, TrustPolicy.acceptAll("no trust policy given to this pull"));
    }

    /**
     * A puller that checks {@code policy} once the reference is resolved to a digest and before
     * any layer is fetched; signatures a signedBy rule needs are read from the registry's
     * {@code sha256-HEX.sig} tag and kept in the store, so `run` can check them again offline.
     */
    public Puller(ContentStore store, RegistryClient.Config config, Platform platform, Progress progress, TrustPolicy policy) {
        this.store = store;
        this.config = config;
        this.platform = platform;
        this.progress = progress;
        this.policy = policy;
    }

    /**
     * What a pull did.
     *
     * @param name     the name recorded in the store
     * @param resolved the digest the tag or digest reference resolved to (an index or a manifest)
     * @param manifest the descriptor of the platform's manifest, as recorded
     * @param fetched  blobs downloaded
     * @param present  blobs already in the store
     * @param bytes    bytes downloaded
     * @param resumed  times a cut download was resumed
     */
    public record Pulled(String name, Digest resolved, Descriptor manifest, int fetched, int present, long bytes, int resumed) {}

    /** The name a pulled reference is recorded under: NAME:TAG, or NAME@DIGEST for a digest alone. */
    public static String storeName(Reference r) {
        return r.tag().isEmpty() ? r.name() + "@" + r.digest() : r.name() + ":" + r.tag();
    }

    public Pulled pull(Reference ref) {
        RegistryClient c = RegistryClient.connect(ref.domain(), config);
        String repo = ref.repository();
        String asked = ref.digest().isEmpty() ? ref.tag() : ref.digest();
        try (ContentStore.Hold hold = store.holdForWriting()) {
            RegistryClient.Fetched top = c.manifest(repo, asked);
            Map<Digest, byte[]> sigManifests = new LinkedHashMap<>();
            TrustPolicy.Decision decision = policy.check(ref, top.digest(), (image, digest) -> {
                Optional<RegistryClient.Fetched> sig = c.manifestIfPresent(repo, Signatures.tag(digest));
                if (sig.isEmpty()) {
                    return List.of();
                }
                sigManifests.put(digest, sig.get().bytes());
                return Signatures.layers(sig.get().bytes(), "signature artifact " + Signatures.artifactName(image, digest),
                        desc -> blobBytes(c, repo, desc));
            });
            RegistryClient.Fetched cur = top;
            Descriptor chosen = new Descriptor(top.mediaType(), top.digest(), top.bytes().length);
            Map<String, String> ann = new LinkedHashMap<>();
            for (int depth = 0; MediaTypes.isIndex(cur.mediaType()); depth++) {
                if (depth >= MAX_NESTING) {
                    throw new ImageException(ref + ": indexes nested more than " + MAX_NESTING + " deep");
                }
                ImageIndex idx = ImageIndex.parse(cur.bytes(), "index " + cur.digest());
                Digest from = cur.digest();
                Descriptor pick = idx.select(platform).orElseThrow(() -> new ImageException(ref + ": index " + from
                        + " has no manifest for " + platform + " (it has " + platforms(idx) + "); choose one with --platform"));
                if (depth == 0) {
                    ann.put(INDEX_DIGEST, from.toString());
                }
                cur = c.manifest(repo, pick.digest().toString());
                if (cur.bytes().length != pick.size()) {
                    throw new ImageException("manifest " + pick.digest() + ": index says " + pick.size() + " bytes, the registry sent "
                            + cur.bytes().length);
                }
                chosen = new Descriptor(cur.mediaType(), cur.digest(), cur.bytes().length, Map.of(), pick.platform());
            }
            if (!MediaTypes.isManifest(cur.mediaType())) {
                throw new ImageException(ref + ": " + cur.digest() + " is a " + cur.mediaType() + ", not an image manifest or index");
            }
            Manifest m = Manifest.parse(cur.bytes(), "manifest " + cur.digest());
            List<Descriptor> blobs = new ArrayList<>();
            blobs.add(m.config());
            blobs.addAll(m.layers());
            Timing.mark("pull: manifest checked");
            Counts n = fetchBlobs(c, repo, blobs);
            store.put(cur.bytes());
            Timing.mark("pull: blobs stored");
            ann.put(RESOLVED_DIGEST, top.digest().toString());
            Descriptor entry = chosen.withAnnotations(ann);
            if (decision.signature().isPresent()) {
                // the signature the policy accepted is kept with the image, for the check at run
                sigManifests.forEach((digest, json) -> Signatures.save(store, ref, digest, json, desc -> blobBytes(c, repo, desc)));
            }
            String name = storeName(ref);
            store.tag(name, entry);
            return new Pulled(name, top.digest(), entry, n.fetched.get(), n.present.get(), n.bytes.get(), n.resumed.get());
        }
    }

    private static byte[] blobBytes(RegistryClient c, String repo, Descriptor d) {
        if (d.size() > ContentStore.MAX_DOCUMENT) {
            throw new ImageException("blob " + d.digest() + " in " + c.domain() + "/" + repo + " is " + d.size()
                    + " bytes, more than a signature artifact may hold");
        }
        try (InputStream in = c.blob(repo, d, k -> {}, () -> {})) {
            byte[] b = in.readNBytes((int) d.size() + 1);
            if (b.length != d.size() || !Digest.of(b).equals(d.digest())) {
                throw new ImageException("blob " + d.digest() + " in " + c.domain() + "/" + repo + ": content does not match its descriptor");
            }
            return b;
        } catch (IOException e) {
            throw new ImageException("blob " + d.digest() + " from " + c.domain() + "/" + repo + ": " + e.getMessage(), e);
        }
    }

    private static String platforms(ImageIndex idx) {
        List<String> out = new ArrayList<>();
        for (Descriptor d : idx.manifests()) {
            out.add(d.platform().specified() ? d.platform().toString() : "unspecified");
        }
        return String.join(", ", out);
    }

    private record Counts(AtomicInteger fetched, AtomicInteger present, AtomicLong bytes, AtomicInteger resumed) {}

    private Counts fetchBlobs(RegistryClient c, String repo, List<Descriptor> blobs) {
        Counts n = new Counts(new AtomicInteger(), new AtomicInteger(), new AtomicLong(), new AtomicInteger());
        List<Descriptor> todo = new ArrayList<>();
        java.util.Set<Digest> seen = new java.util.HashSet<>();
        for (Descriptor d : blobs) {
            if (!seen.add(d.digest())) {
                continue;
            }
            if (store.has(d.digest()) && store.size(d.digest()) == d.size()) {
                n.present.incrementAndGet();
            } else {
                todo.add(d);
            }
        }
        if (todo.isEmpty()) {
            return n;
        }
        ExecutorService pool = Executors.newFixedThreadPool(Math.min(PARALLEL, todo.size()), r -> {
            Thread t = new Thread(r, "pull");
            t.setDaemon(true);
            return t;
        });
        try {
            List<Future<?>> fs = new ArrayList<>();
            for (Descriptor d : todo) {
                fs.add(pool.submit(() -> fetch(c, repo, d, n)));
            }
            for (Future<?> f : fs) {
                try {
                    f.get();
                } catch (ExecutionException e) {
                    for (Future<?> other : fs) {
                        other.cancel(true);
                    }
                    if (e.getCause() instanceof RuntimeException re) {
                        throw re;
                    }
                    throw new ImageException("pull from " + c.domain() + "/" + repo + ": " + e.getCause(), e.getCause());
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new ImageException("pull from " + c.domain() + "/" + repo + ": interrupted");
                }
            }
        } finally {
            pool.shutdownNow();
        }
        return n;
    }

    private void fetch(RegistryClient c, String repo, Descriptor d, Counts n) {
        Progress.Task t = progress.start(d.digest().toString().substring(7, 19), d.size());
        AtomicInteger resumes = new AtomicInteger();
        java.util.concurrent.atomic.AtomicBoolean first = new java.util.concurrent.atomic.AtomicBoolean(true);
        try (InputStream in = c.blob(repo, d, k -> {
            if (first.getAndSet(false)) {
                Timing.mark("pull: blob arriving");
            }
            n.bytes.addAndGet(k);
            t.add(k);
        }, () -> {
            resumes.incrementAndGet();
            n.resumed.incrementAndGet();
        })) {
            store.put(in, d.digest(), d.size());
        } catch (IOException e) {
            throw new ImageException("blob " + d.digest() + " from " + c.domain() + "/" + repo + ": " + e.getMessage(), e);
        } catch (ImageException e) {
            t.finish("failed");
            throw e;
        }
        n.fetched.incrementAndGet();
        t.finish(resumes.get() > 0 ? "done, resumed " + resumes.get() + "x" : "done");
    }
}
