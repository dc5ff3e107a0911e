package dev.bulwark.image;

/**
 * Any failure of the image store, import/export or layer extraction. The message names the
 * blob, reference, archive entry or path, and what was expected: {@code blob sha256:ab..:
 * expected digest sha256:ab.., found sha256:cd..}.
 */
public final class ImageException extends RuntimeException {
    public ImageException(String message) {
        super(message);
    }

    public ImageException(String message, Throwable cause) {
        super(message, cause);
    }
}
