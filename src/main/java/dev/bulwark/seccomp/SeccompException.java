package dev.bulwark.seccomp;

/**
 * A seccomp profile that cannot be compiled or evaluated. The message starts with the JSON path of
 * the offending field, e.g. {@code linux.seccomp.syscalls[4].names[0]: unknown syscall "foo"}.
 */
public final class SeccompException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final String path;

    public SeccompException(String path, String problem) {
        super(path.isEmpty() ? problem : path + ": " + problem);
        this.path = path;
    }

    /** The JSON path of the field at fault ("" for the whole document). */
    public String path() {
        return path;
    }
}
