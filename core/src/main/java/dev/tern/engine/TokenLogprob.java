package dev.tern.engine;

/**
 * A generated token with its log-probability under the model (log-softmax of the raw logits,
 * before penalties and filters; or, for a request with {@link Request#sampledProbs}, under the
 * distribution the sampler drew it from), its rank there (1: the most likely) and the most likely
 * alternatives at that step, best first.
 */
public record TokenLogprob(int token, float logprob, int rank, int[] topTokens, float[] topLogprobs) {
}
