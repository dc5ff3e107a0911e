package dev.bulwark.image;

/**
 * Where `bulwark run` gets an image the store does not have. The registry client plugs in
 * here (a pull into the store); until then {@link #NONE} refuses, naming the store.
 */
@FunctionalInterface
public interface ImageSource {
    /** Makes {@code reference} (as the user wrote it) resolvable in store, or throws ImageException. */
    void provide(String reference, ContentStore store);

    ImageSource NONE = (reference, store) -> {
        throw new ImageException("image " + reference + " is not in the store " + store.root()
                + " (import it with bulwark import; registry pulls are not wired to run yet)");
    };
}
