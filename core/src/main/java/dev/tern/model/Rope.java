package dev.tern.model;

/**
 * Rotary position embedding as llama.cpp's {@code ggml_rope_ext} computes it: pair i of a head
 * turns by pos · base^(-2i/d) · freqScale / freqFactor[i], the angle built up by repeated float
 * multiplication as ggml's rope cache does; with {@link YarnScaling} the angle mixes that and the
 * unscaled one along a ramp over the pairs, and cos and sin are scaled (ggml's rope_yarn). NORMAL
 * pairs adjacent elements, NEOX pairs element i with element i + d/2; dimensions past d are left alone.
 */
final class Rope {
    private final RopeStyle style;
    private final int dims;
    private final float thetaScale;
    private final float freqScale;
    private final float[] freqFactors;
    private final float extFactor;
    /** YaRN's ramp: from pair corrLow (original angle) to corrHigh (interpolated). */
    private final float corrLow;
    private final float corrHigh;
    private final float mscale;

    Rope(ModelConfig c, float[] freqFactors) {
        this.style = c.ropeStyle();
        this.dims = c.ropeDims();
        this.thetaScale = (float) Math.pow(c.ropeTheta(), -2.0 / dims);
        this.freqScale = c.ropeFreqScale();
        this.freqFactors = freqFactors;
        YarnScaling y = c.yarn();
        this.extFactor = y.extFactor();
        this.corrLow = Math.max(0, (float) Math.floor(corrDim(dims, y.originalContext(), y.betaFast(), c.ropeTheta())));
        this.corrHigh = Math.min(dims - 1, (float) Math.ceil(corrDim(dims, y.originalContext(), y.betaSlow(), c.ropeTheta())));
        this.mscale = y.enabled() ? y.attnFactor() * (1f + 0.1f * (float) Math.log(1f / freqScale)) : y.attnFactor();
    }

    /** The pair that completes {@code turns} turns over {@code context} positions (ggml_rope_yarn_corr_dim). */
    private static float corrDim(int dims, int context, float turns, float base) {
        return dims * (float) Math.log(context / (turns * 2 * (float) Math.PI)) / (2 * (float) Math.log(base));
    }

    /** cos and sin of each pair's angle at {@code pos}, into cs[off..off+dims) as (cos, sin) pairs. */
    void angles(int pos, float[] cs, int off) {
        float theta = pos;
        for (int i = 0; i < dims / 2; i++) {
            float ff = freqFactors == null ? 1f : freqFactors[i];
            float extrapolated = theta / ff;
            float angle = extrapolated * freqScale;
            if (extFactor != 0f) {
                float y = (i - corrLow) / Math.max(0.001f, corrHigh - corrLow);
                float mix = (1 - Math.min(1, Math.max(0, y))) * extFactor;
                angle = angle * (1 - mix) + extrapolated * mix;
            }
            cs[off + 2 * i] = (float) Math.cos(angle) * mscale;
            cs[off + 2 * i + 1] = (float) Math.sin(angle) * mscale;
            theta *= thetaScale;
        }
    }

    /** Rotates {@code heads} heads of size {@code headDim} stored from x[off], with angles from {@link #angles} at cs[csOff]. */
    void rotate(float[] x, int off, int heads, int headDim, float[] cs, int csOff) {
        int half = dims / 2;
        for (int h = 0; h < heads; h++) {
            int base = off + h * headDim;
            for (int i = 0; i < half; i++) {
                int a = style == RopeStyle.NORMAL ? base + 2 * i : base + i;
                int b = style == RopeStyle.NORMAL ? a + 1 : a + half;
                float c = cs[csOff + 2 * i], s = cs[csOff + 2 * i + 1];
                float x0 = x[a], x1 = x[b];
                x[a] = x0 * c - x1 * s;
                x[b] = x0 * s + x1 * c;
            }
        }
    }
}
