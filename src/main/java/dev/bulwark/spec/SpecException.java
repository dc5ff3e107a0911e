package dev.bulwark.spec;

/**
 * A config that cannot be honoured. The message always starts with the JSON path of the field
 * ("process.capabilities.bounding[3]: unknown capability \"CAP_FOO\"").
 */
public final class SpecException extends RuntimeException {
    private final String path;

    public SpecException(String path, String problem) {
        super(path.isEmpty() ? problem : path + ": " + problem);
        this.path = path;
    }

    public String path() {
        return path;
    }
}
