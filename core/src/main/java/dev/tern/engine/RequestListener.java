package dev.tern.engine;

/**
 * Receives a request's output. Called on the scheduler's thread between forward passes: keep
 * it quick (hand the data to another thread) and do not call back into the scheduler's
 * blocking methods.
 */
public interface RequestListener {
    void onOutput(RequestOutput output);

    /** Called exactly once, last. */
    void onFinish(RequestResult result);
}
