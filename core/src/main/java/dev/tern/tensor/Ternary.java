package dev.tern.tensor;

/** The scalar steps that llama.cpp's ternary quantizers (quantize_row_tq1_0_ref, tq2_0_ref) share. */
final class Ternary {
    private Ternary() {
    }

    /** The largest |x| of a 256-value block, as ggml's MAX(amax, fabsf(v)) scan finds it. */
    static float largestMagnitude(float[] x, int off) {
        float amax = 0.0f;
        for (int j = 0; j < KQuants.QK_K; j++) {
            float a = Math.abs(x[off + j]);
            amax = amax > a ? amax : a;
        }
        return amax;
    }

    /**
     * lroundf(x·id) + 1 as an int: the code 0, 1 or 2 of level −1, 0 or 1. As glibc's lroundf on
     * x86-64 does, a NaN or an infinity (id is infinite when d is below 2^-128) becomes
     * Long.MIN_VALUE, whose sum with 1 truncates to the code 1.
     */
    static int code(float x, float id) {
        float v = x * id;
        long l = Float.isNaN(v) || Math.abs(v) >= 0x1p63f ? Long.MIN_VALUE : (long) Blocks.roundf(v);
        return (int) (l + 1);
    }
}
