package dev.tern.engine;

import java.util.List;

/**
 * New output of a request: text completed since the previous output (text that may still
 * turn into a stop string is held back until it cannot), and the tokens behind it with their
 * log-probabilities when the request asked for them (else empty).
 *
 * @param text     the new text (may be empty when only tokens arrived)
 * @param tokens   ids of the tokens generated since the previous output
 * @param logprobs one entry per token when asked for, else empty
 */
public record RequestOutput(String text, int[] tokens, List<TokenLogprob> logprobs) {
}
