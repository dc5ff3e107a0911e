package dev.bulwark.image;

/**
 * The check `bulwark run` makes before it builds anything: the trust policy plugs in here
 * (signature required, digest-only, reject). Throws ImageException to refuse.
 */
@FunctionalInterface
public interface RunPolicy {
    /**
     * @param reference the reference as the user wrote it ("alpine", "reg/x@sha256:..")
     * @param name      the store's normalised name it resolved to (docker.io/library/alpine:latest)
     * @param digest    what that name points to in the store: the manifest, or the index for a
     *                  multi-platform image (the digest signatures are made over)
     */
    void check(String reference, String name, Digest digest);

    RunPolicy ALLOW = (reference, name, digest) -> {};
}
