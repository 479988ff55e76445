package dev.tern.model;

/**
 * YaRN's RoPE scaling (llama.cpp's {@code rope.scaling.type = yarn}): each pair of dimensions turns by a
 * mix of the interpolated angle (times the config's {@code ropeFreqScale}) and the original one, the
 * high-frequency pairs keeping the original, the low-frequency ones interpolated, with a ramp between the
 * pairs that complete {@code betaFast} and {@code betaSlow} turns over {@code originalContext}
 * positions; cos and sin are then scaled by {@code attnFactor}·(1 + 0.1·ln(1/ropeFreqScale)).
 *
 * @param extFactor       the mix's weight: 0 is plain linear scaling (no YaRN), 1 YaRN
 * @param attnFactor      extra scale of cos and sin (GGUF's {@code rope.scaling.attn_factor}, 1 by default)
 * @param betaFast        turns over the original context from which a pair keeps its original angle (32)
 * @param betaSlow        turns below which a pair is fully interpolated (1)
 * @param originalContext the context the model was trained with ({@code rope.scaling.original_context_length})
 */
public record YarnScaling(float extFactor, float attnFactor, float betaFast, float betaSlow, int originalContext) {
    /** No YaRN: linear scaling by ropeFreqScale alone. */
    public static final YarnScaling NONE = new YarnScaling(0f, 1f, 32f, 1f, 0);

    public boolean enabled() {
        return extFactor != 0f;
    }
}
