package dev.tern;

/**
 * A failure the user can act on: a missing or corrupt file, an unsupported type, a context
 * overflow. Its message is one complete line; front ends print it without a stack trace.
 */
public class TernException extends RuntimeException {
    public TernException(String message) {
        super(message);
    }

    public TernException(String message, Throwable cause) {
        super(message, cause);
    }
}
