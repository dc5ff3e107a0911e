package dev.bulwark.audit;

/**
 * An input the audit cannot read: a malformed kernel config, command line, sysctl file, rule
 * file or bundle. The message names the file and, where there is one, the line
 * ({@code weak.config:12: expected CONFIG_NAME=value ...}).
 */
public final class AuditException extends RuntimeException {
    public AuditException(String message) {
        super(message);
    }

    public AuditException(String message, Throwable cause) {
        super(message, cause);
    }
}
