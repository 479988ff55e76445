package dev.tern.engine;

import java.util.List;

/**
 * Receives a request's output. Called on the scheduler's thread between forward passes: keep
 * it quick (hand the data to another thread) and do not call back into the scheduler's
 * blocking methods.
 */
public interface RequestListener {
    void onOutput(RequestOutput output);

    /**
     * For a request that asked for {@link Request#promptLogprobs}: entry i scores prompt token
     * i + 1. Called once, before any output.
     */
    default void onPromptLogprobs(List<TokenLogprob> logprobs) {
    }

    /** Called exactly once, last. */
    void onFinish(RequestResult result);
}
