package dev.tern.engine;

import dev.tern.TernException;

/** The scheduler's waiting queue is full: try again later. */
public final class QueueFullException extends TernException {
    public QueueFullException(String message) {
        super(message);
    }
}
