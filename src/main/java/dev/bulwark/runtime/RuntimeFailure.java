package dev.bulwark.runtime;

/** A runtime failure other than a config error: state, stage or host problems. */
public class RuntimeFailure extends RuntimeException {
    public RuntimeFailure(String message) {
        super(message);
    }

    public RuntimeFailure(String message, Throwable cause) {
        super(message, cause);
    }
}
