package dev.bulwark.build;

/** A spec, an image or a step of `bulwark build` that cannot be honoured; the message names where. */
public class BuildException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public BuildException(String message) {
        super(message);
    }

    public BuildException(String message, Throwable cause) {
        super(message, cause);
    }
}
