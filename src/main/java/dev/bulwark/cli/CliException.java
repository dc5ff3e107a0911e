package dev.bulwark.cli;

/** A usage error: bad flags or arguments. Printed as one line; exit status 1, as runc. */
public final class CliException extends RuntimeException {
    public CliException(String message) {
        super(message);
    }
}
