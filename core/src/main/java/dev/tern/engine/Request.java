package dev.tern.engine;

import dev.tern.model.LoraAdapter;
import dev.tern.sampling.SamplerConfig;

import java.util.List;
import java.util.Objects;

/**
 * What a client asks the {@link Scheduler} for: continue {@code prompt} with tokens drawn by a
 * sampler of its own.
 *
 * @param prompt      token ids to continue (not empty)
 * @param sampling    sampler settings; every request gets its own {@link dev.tern.sampling.Sampler}
 * @param maxTokens   tokens to generate at most; negative means until the context is full; 0 computes
 *                    the prompt (into the prefix cache, scored if promptLogprobs asks) and generates nothing
 * @param stop        strings that end the generation; the text stops before the first of them
 * @param logprobs    -1: no log-probabilities; k &ge; 0: the sampled token's and the k most likely
 * @param format      a JSON format samples only tokens that keep the output one JSON value of its
 *                    schema and ends it when the value is whole; such requests do not speculate
 * @param stopTokens  token ids that end the generation as end-of-generation tokens do (not part
 *                    of the output; vLLM's {@code stop_token_ids})
 * @param minTokens   tokens generated before an end-of-generation or stop token may be sampled
 *                    (vLLM's {@code min_tokens}); stop strings still end the text at any point
 * @param promptLogprobs -1: none; k &ge; 0: the log-probability of each prompt token after the
 *                    first given the tokens before it, with the k most likely alternatives (OpenAI's
 *                    {@code echo} with {@code logprobs}, vLLM's {@code prompt_logprobs}); such a prompt
 *                    is computed whole, not taken from the prefix cache
 * @param adapter     a LoRA adapter of the model applied to this request's tokens only (vLLM's
 *                    per-request adapters), or null; its KV blocks are shared only with requests
 *                    of the same adapter
 * @param sampledProbs with logprobs: report each step's probabilities after the sampler's chain
 *                    (penalties, filters, temperature: what the token was drawn from) instead of
 *                    the model's, as llama-server's {@code post_sampling_probs}; the alternatives are
 *                    then only tokens the chain left a chance
 * @param lines       code completion's limits at line ends ({@link LineLimits#NONE}: none)
 * @param shift       what a full context does: end the request ({@link ContextShift#NONE}) or make room
 */
public record Request(int[] prompt, SamplerConfig sampling, int maxTokens, List<String> stop, int logprobs,
                      OutputFormat format, int[] stopTokens, int minTokens, int promptLogprobs, LoraAdapter adapter,
                      boolean sampledProbs, LineLimits lines, ContextShift shift) {
    public Request {
        Objects.requireNonNull(lines, "lines");
        Objects.requireNonNull(shift, "shift");
        if (prompt.length == 0) {
            throw new IllegalArgumentException("empty prompt");
        }
        stop = List.copyOf(stop);
        Objects.requireNonNull(format, "format");
        for (String s : stop) {
            if (s.isEmpty()) {
                throw new IllegalArgumentException("empty stop string");
            }
        }
        stopTokens = stopTokens.clone();
        for (int t : stopTokens) {
            if (t < 0) {
                throw new IllegalArgumentException("negative stop token " + t);
            }
        }
        if (minTokens < 0 || (maxTokens > 0 && minTokens > maxTokens)) {
            throw new IllegalArgumentException("minTokens " + minTokens + " outside [0, maxTokens " + maxTokens + "]");
        }
        if (sampledProbs && !sampling.allowsSpeculation()) {
            throw new IllegalArgumentException("Mirostat's and adaptive-p's distributions follow each drawn token: no probabilities to report");
        }
    }

    /** No line limits; a full context ends it. */
    public Request(int[] prompt, SamplerConfig sampling, int maxTokens, List<String> stop, int logprobs, OutputFormat format,
                   int[] stopTokens, int minTokens, int promptLogprobs, LoraAdapter adapter, boolean sampledProbs) {
        this(prompt, sampling, maxTokens, stop, logprobs, format, stopTokens, minTokens, promptLogprobs, adapter, sampledProbs,
                LineLimits.NONE, ContextShift.NONE);
    }

    /** The model's probabilities, if any. */
    public Request(int[] prompt, SamplerConfig sampling, int maxTokens, List<String> stop, int logprobs, OutputFormat format,
                   int[] stopTokens, int minTokens, int promptLogprobs, LoraAdapter adapter) {
        this(prompt, sampling, maxTokens, stop, logprobs, format, stopTokens, minTokens, promptLogprobs, adapter, false);
    }

    /** The same request with this adapter (null: none). */
    public Request withAdapter(LoraAdapter a) {
        return new Request(prompt, sampling, maxTokens, stop, logprobs, format, stopTokens, minTokens, promptLogprobs, a, sampledProbs,
                lines, shift);
    }

    /** No adapter of its own. */
    public Request(int[] prompt, SamplerConfig sampling, int maxTokens, List<String> stop, int logprobs,
                   OutputFormat format, int[] stopTokens, int minTokens, int promptLogprobs) {
        this(prompt, sampling, maxTokens, stop, logprobs, format, stopTokens, minTokens, promptLogprobs, null);
    }

    /** No prompt log-probabilities. */
    public Request(int[] prompt, SamplerConfig sampling, int maxTokens, List<String> stop, int logprobs,
                   OutputFormat format, int[] stopTokens, int minTokens) {
        this(prompt, sampling, maxTokens, stop, logprobs, format, stopTokens, minTokens, -1);
    }

    /** Ends only at end-of-generation tokens, from the first token on. */
    public Request(int[] prompt, SamplerConfig sampling, int maxTokens, List<String> stop, int logprobs, OutputFormat format) {
        this(prompt, sampling, maxTokens, stop, logprobs, format, new int[0], 0);
    }

    /** Whether {@code token} is one of {@link #stopTokens}. */
    public boolean stopsAt(int token) {
        for (int t : stopTokens) {
            if (t == token) {
                return true;
            }
        }
        return false;
    }

    @Override
    public int[] stopTokens() {
        return stopTokens.clone();
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
