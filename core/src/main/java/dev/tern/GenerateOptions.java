package dev.tern;

import dev.tern.engine.OutputFormat;
import dev.tern.sampling.SamplerConfig;

import java.util.List;

/**
 * How {@link Tern#complete} and {@link Tern#chat} generate.
 *
 * @param maxTokens tokens to generate at most; negative: until the context is full
 * @param sampling  the sampler's settings (greedy, temperature, top-p, seed, penalties…)
 * @param stop      strings that end the text (not part of it)
 * @param format    the shape the text must have: any text, JSON of a schema, a pattern's text
 */
public record GenerateOptions(int maxTokens, SamplerConfig sampling, List<String> stop, OutputFormat format) {
    public GenerateOptions {
        stop = List.copyOf(stop);
    }

    /** Greedy decoding of up to {@code maxTokens} tokens, any text. */
    public static GenerateOptions greedy(int maxTokens) {
        return new GenerateOptions(maxTokens, SamplerConfig.greedy(), List.of(), OutputFormat.TEXT);
    }

    /** llama.cpp's default sampling (temperature 0.8, top-k 40, top-p 0.95, min-p 0.05) for up to {@code maxTokens} tokens. */
    public static GenerateOptions sampled(int maxTokens) {
        return new GenerateOptions(maxTokens, SamplerConfig.defaults(), List.of(), OutputFormat.TEXT);
    }

    public GenerateOptions withSampling(SamplerConfig s) {
        return new GenerateOptions(maxTokens, s, stop, format);
    }

    public GenerateOptions withStop(List<String> s) {
        return new GenerateOptions(maxTokens, sampling, s, format);
    }

    public GenerateOptions withFormat(OutputFormat f) {
        return new GenerateOptions(maxTokens, sampling, stop, f);
    }
}
