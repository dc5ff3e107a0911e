package dev.bulwark.image;

import java.util.ArrayList;
import java.util.List;

/**
 * Pushes an image of the store to a registry: the blobs each manifest references (skipped when
 * the registry has them), the manifests of an index by digest, then the top manifest or index
 * under the destination's tag (or digest). The bytes pushed are the store's, so the digest at the
 * registry is the digest in the store.
 */
public final class Pusher {
    private final ContentStore store;
    private final RegistryClient.Config config;
    private final Progress progress;

    public Pusher(ContentStore store, RegistryClient.Config config, Progress progress) {
        this.store = store;
        this.config = config;
        this.progress = progress;
    }

    /** What a push did: the digest pushed, blobs sent and blobs the registry had. */
    public record Pushed(Digest digest, int sent, int existed, long bytes) {}

    public Pushed push(Descriptor top, Reference dest) {
        RegistryClient c = RegistryClient.connect(dest.domain(), config);
        int[] sent = {0, 0};
        long[] bytes = {0};
        pushTree(c, dest.repository(), top, sent, bytes, 0);
        Digest d = c.pushManifest(dest, top.mediaType(), store.read(top.digest()));
        return new Pushed(d, sent[0], sent[1], bytes[0]);
    }

    /** Pushes everything below top (not top itself). */
    private void pushTree(RegistryClient c, String repo, Descriptor top, int[] sent, long[] bytes, int depth) {
        if (depth > 4) {
            throw new ImageException("index " + top.digest() + ": nested more than 4 deep");
        }
        if (MediaTypes.isIndex(top.mediaType())) {
            for (Descriptor m : ImageIndex.parse(store.read(top.digest()), "index " + top.digest()).manifests()) {
                pushTree(c, repo, m, sent, bytes, depth + 1);
                c.putManifest(repo, m.digest().toString(), m.mediaType(), store.read(m.digest()));
            }
            return;
        }
        if (!MediaTypes.isManifest(top.mediaType())) {
            throw new ImageException("blob " + top.digest() + ": media type " + top.mediaType() + " is not an image manifest or index");
        }
        Manifest m = Manifest.parse(store.read(top.digest()), "manifest " + top.digest());
        List<Descriptor> blobs = new ArrayList<>(m.layers());
        blobs.add(0, m.config());
        for (Descriptor b : blobs) {
            long size = store.size(b.digest());
            if (size != b.size()) {
                throw new ImageException("blob " + b.digest() + ": manifest says " + b.size() + " bytes, the store has " + size);
            }
            Progress.Task t = progress.start(b.digest().toString().substring(7, 19), size);
            boolean did = c.pushBlob(repo, b.digest(), size, () -> new java.io.FilterInputStream(store.open(b.digest())) {
                @Override
                public int read(byte[] buf, int off, int len) throws java.io.IOException {
                    int n = super.read(buf, off, len);
                    if (n > 0) {
                        t.add(n);
                    }
                    return n;
                }
            });
            t.finish(did ? "pushed" : "exists");
            if (did) {
                sent[0]++;
                bytes[0] += size;
            } else {
                sent[1]++;
            }
        }
    }
}
