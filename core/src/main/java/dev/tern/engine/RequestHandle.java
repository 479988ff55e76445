package dev.tern.engine;

/** A submitted request: cancel it to stop its generation and free its KV blocks at the next step. */
public interface RequestHandle {
    void cancel();
}
