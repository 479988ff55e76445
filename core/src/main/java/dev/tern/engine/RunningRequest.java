package dev.tern.engine;

/**
 * What a running request has done, as of the end of a {@link Scheduler} step (what llama-server's
 * {@code /slots} shows of each busy slot).
 *
 * @param id           the request's arrival number (its task id)
 * @param request      what it asked for
 * @param computed     positions in its KV cache
 * @param generated    tokens generated so far
 * @param cachedTokens prompt tokens its first admission found in the prefix cache
 * @param slot         its place among the {@code maxRunning} sequences, kept while it runs (the lowest free one
 *                     when it was admitted)
 */
public record RunningRequest(long id, Request request, int computed, int generated, int cachedTokens, int slot) {
    /** Tokens it may still generate: -1 when only the context limits it. */
    public int remaining() {
        return request.maxTokens() < 0 ? -1 : request.maxTokens() - generated;
    }
}
