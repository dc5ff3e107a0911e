package dev.bulwark.image;

import java.util.List;

/**
 * Where the signatures of an image come from: the local store ({@link Signatures#inStore}), or a
 * registry (the {@code sha256-HEX.sig} tag of the image's repository, read with
 * {@link Signatures#layers}). Asked only when a policy rule needs a signature.
 */
@FunctionalInterface
public interface SignatureSource {
    /** The signature layers stored for this manifest digest in this repository; empty when there are none. */
    List<Signatures.Layer> signatures(Reference image, Digest manifest);

    SignatureSource NONE = (image, manifest) -> List.of();
}
