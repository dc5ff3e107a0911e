package dev.bulwark.json;

/** Malformed JSON text; the message names the line and column. */
public final class JsonException extends RuntimeException {
    public JsonException(String message) {
        super(message);
    }
}
