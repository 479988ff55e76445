package dev.tern.model;

/**
 * Rotary position embedding as llama.cpp's {@code ggml_rope_ext} computes it (without YaRN):
 * pair i of a head turns by pos · base^(-2i/d) · freqScale / freqFactor[i], the angle built
 * up by repeated float multiplication as ggml's rope cache does. NORMAL pairs adjacent
 * elements, NEOX pairs element i with element i + d/2; dimensions past d are left alone.
 */
final class Rope {
    private final RopeStyle style;
    private final int dims;
    private final float thetaScale;
    private final float freqScale;
    private final float[] freqFactors;

    Rope(ModelConfig c, float[] freqFactors) {
        this.style = c.ropeStyle();
        this.dims = c.ropeDims();
        this.thetaScale = (float) Math.pow(c.ropeTheta(), -2.0 / dims);
        this.freqScale = c.ropeFreqScale();
        this.freqFactors = freqFactors;
    }

    /** cos and sin of each pair's angle at {@code pos}, into cs[off..off+dims) as (cos, sin) pairs. */
    void angles(int pos, float[] cs, int off) {
        float theta = pos;
        for (int i = 0; i < dims / 2; i++) {
            float ff = freqFactors == null ? 1f : freqFactors[i];
            float angle = theta / ff * freqScale;
            cs[off + 2 * i] = (float) Math.cos(angle);
            cs[off + 2 * i + 1] = (float) Math.sin(angle);
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
