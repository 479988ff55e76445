package dev.tern.engine;

import dev.tern.sampling.SamplerConfig;

import java.util.List;
import java.util.Objects;

/**
 * What a client asks the {@link Scheduler} for: continue {@code prompt} with tokens drawn by a
 * sampler of its own.
 *
 * @param prompt      token ids to continue (not empty)
 * @param sampling    sampler settings; every request gets its own {@link dev.tern.sampling.Sampler}
 * @param maxTokens   tokens to generate at most (not 0); negative means until the context is full
 * @param stop        strings that end the generation; the text stops before the first of them
 * @param logprobs    -1: no log-probabilities; k &ge; 0: the sampled token's and the k most likely
 * @param format      a JSON format samples only tokens that keep the output one JSON value of its
 *                    schema and ends it when the value is whole; such requests do not speculate
 */
public record Request(int[] prompt, SamplerConfig sampling, int maxTokens, List<String> stop, int logprobs,
                      OutputFormat format) {
    public Request {
        if (prompt.length == 0) {
            throw new IllegalArgumentException("empty prompt");
        }
        if (maxTokens == 0) {
            throw new IllegalArgumentException("maxTokens 0: nothing to generate");
        }
        stop = List.copyOf(stop);
        Objects.requireNonNull(format, "format");
        for (String s : stop) {
            if (s.isEmpty()) {
                throw new IllegalArgumentException("empty stop string");
            }
        }
    }

    /** Any text. */
    public Request(int[] prompt, SamplerConfig sampling, int maxTokens, List<String> stop, int logprobs) {
        this(prompt, sampling, maxTokens, stop, logprobs, OutputFormat.TEXT);
    }

    /** Greedy, no stop strings, no log-probabilities. */
    public static Request greedy(int[] prompt, int maxTokens) {
        return new Request(prompt, SamplerConfig.greedy(), maxTokens, List.of(), -1);
    }
}
