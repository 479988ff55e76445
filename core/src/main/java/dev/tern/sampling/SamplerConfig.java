package dev.tern.sampling;

import dev.tern.TernException;

import java.util.Map;

/**
 * Settings of a {@link Sampler}, with llama.cpp's meanings.
 *
 * @param temperature      logits are divided by it last; {@code <= 0} means greedy (argmax)
 * @param topK             keep the k most likely tokens; {@code <= 0} disables
 * @param topP             keep the smallest most-likely prefix whose probability reaches p; {@code >= 1} disables
 * @param minP             keep tokens with probability at least p times the top one; {@code <= 0} disables
 * @param repeatPenalty    divide positive / multiply non-positive logits of recent tokens; 1 disables
 * @param repeatLastN      how many recent tokens the penalties look at; 0 disables, negative means all accepted tokens
 * @param frequencyPenalty subtracted once per occurrence in the window; 0 disables
 * @param presencePenalty  subtracted once if the token occurs in the window; 0 disables
 * @param seed             seed of the random generator; the same seed and logits give the same tokens
 * @param logitBias        added to the logits of these token ids before anything else (OpenAI's
 *                         {@code logit_bias}; -100 all but bans a token, 100 all but forces it)
 * @param advanced         llama.cpp's other samplers (typical-p, top-n-sigma, XTC, dynamic
 *                         temperature, Mirostat); {@link AdvancedSampling#NONE} leaves them out
 */
public record SamplerConfig(float temperature, int topK, float topP, float minP,
                            float repeatPenalty, int repeatLastN, float frequencyPenalty, float presencePenalty,
                            long seed, Map<Integer, Float> logitBias, AdvancedSampling advanced) {

    /** A logit bias no logit outweighs, so the token is never sampled (biases must be finite). */
    public static final float NEVER = -1e30f;

    /** The seed {@link #defaults()} uses, so that runs are reproducible unless a seed is chosen. */
    public static final long DEFAULT_SEED = 0xFFFFFFFFL;

    public SamplerConfig {
        if (Float.isNaN(temperature)) {
            throw new TernException("sampler temperature is NaN");
        }
        if (!(topP >= 0f)) {
            throw new TernException("sampler top-p must be a non-negative number, got " + topP);
        }
        if (!(minP >= 0f && minP <= 1f)) {
            throw new TernException("sampler min-p must be in [0, 1], got " + minP);
        }
        if (!(repeatPenalty > 0f) || Float.isInfinite(repeatPenalty)) {
            throw new TernException("sampler repeat penalty must be positive and finite, got " + repeatPenalty);
        }
        if (!Float.isFinite(frequencyPenalty) || !Float.isFinite(presencePenalty)) {
            throw new TernException("sampler frequency/presence penalties must be finite");
        }
        for (Map.Entry<Integer, Float> e : logitBias.entrySet()) {
            if (e.getKey() < 0 || !Float.isFinite(e.getValue())) {
                throw new TernException("sampler logit bias needs token ids >= 0 and finite values, got " + e);
            }
        }
        logitBias = Map.copyOf(logitBias);
        if (advanced == null) {
            throw new IllegalArgumentException("advanced sampling settings are required (AdvancedSampling.NONE: none)");
        }
    }

    /** Without llama.cpp's other samplers. */
    public SamplerConfig(float temperature, int topK, float topP, float minP, float repeatPenalty, int repeatLastN,
                         float frequencyPenalty, float presencePenalty, long seed, Map<Integer, Float> logitBias) {
        this(temperature, topK, topP, minP, repeatPenalty, repeatLastN, frequencyPenalty, presencePenalty, seed, logitBias,
                AdvancedSampling.NONE);
    }

    /** Without logit biases. */
    public SamplerConfig(float temperature, int topK, float topP, float minP, float repeatPenalty, int repeatLastN,
                         float frequencyPenalty, float presencePenalty, long seed) {
        this(temperature, topK, topP, minP, repeatPenalty, repeatLastN, frequencyPenalty, presencePenalty, seed, Map.of());
    }

    /** Always the most likely token (after penalties, which are off here). */
    public static SamplerConfig greedy() {
        return new SamplerConfig(0f, 0, 1f, 0f, 1f, 64, 0f, 0f, DEFAULT_SEED);
    }

    /** llama.cpp's defaults: temperature 0.8, top-k 40, top-p 0.95, min-p 0.05, penalties off, last-n 64. */
    public static SamplerConfig defaults() {
        return new SamplerConfig(0.8f, 40, 0.95f, 0.05f, 1f, 64, 0f, 0f, DEFAULT_SEED);
    }

    /** This configuration with another seed. */
    public SamplerConfig withSeed(long newSeed) {
        return new SamplerConfig(temperature, topK, topP, minP, repeatPenalty, repeatLastN,
                frequencyPenalty, presencePenalty, newSeed, logitBias, advanced);
    }

    /** This configuration with these logit biases instead. */
    public SamplerConfig withLogitBias(Map<Integer, Float> bias) {
        return new SamplerConfig(temperature, topK, topP, minP, repeatPenalty, repeatLastN,
                frequencyPenalty, presencePenalty, seed, bias, advanced);
    }

    /** This configuration with llama.cpp's other samplers set so. */
    public SamplerConfig withAdvanced(AdvancedSampling settings) {
        return new SamplerConfig(temperature, topK, topP, minP, repeatPenalty, repeatLastN,
                frequencyPenalty, presencePenalty, seed, logitBias, settings);
    }

    /**
     * Mirostat's and adaptive-p's chains have no place for speculative verification (nor fixed
     * probabilities to report): their state follows each drawn token's probability.
     */
    public boolean allowsSpeculation() {
        return (advanced.mirostat() == 0 && !advanced.adaptiveOn()) || temperature <= 0f;
    }
}
