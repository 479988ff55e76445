package dev.tern.kv;

/**
 * How cached keys and values are stored. F16 is llama.cpp's default: values are stored in half
 * precision, and attention does what ggml's f16 matrix products do — rounds the query and the
 * softmax probabilities to half precision too — so that logits agree with llama.cpp's. Q8_0
 * stores blocks of 32 values of one position as 8-bit integers with an fp16 scale, as ggml's
 * block_q8_0 (its attention math is float, as in llama.cpp's flash-attention path).
 */
public enum KVCacheType {
    F32,
    F16,
    Q8_0;

    /** Values per quantization block of {@link #Q8_0}: rows of the cache must be a multiple of it. */
    public static final int Q8_BLOCK = 32;

    /** Bytes stored per cached value (Q8_0: 34 bytes per block of 32). */
    public double bytesPerValue() {
        return switch (this) {
            case F32 -> 4;
            case F16 -> 2;
            case Q8_0 -> (Q8_BLOCK + 2) / (double) Q8_BLOCK;
        };
    }

    /** Whether attention rounds queries and probabilities to half precision, as ggml's f16 products do. */
    public boolean roundsToHalf() {
        return this == F16;
    }

    /** x as attention rounds queries and probabilities for this type: half precision for F16, else unchanged. */
    public float round(float x) {
        return roundsToHalf() ? Float.float16ToFloat(Float.floatToFloat16(x)) : x;
    }

    /** Rounds a[from, to) in place, as {@link #round(float)}. */
    public void round(float[] a, int from, int to) {
        if (roundsToHalf()) {
            for (int i = from; i < to; i++) {
                a[i] = Float.float16ToFloat(Float.floatToFloat16(a[i]));
            }
        }
    }

    /** Components of a position's value stored together: a head's, or for Q8_0 the whole row its scales' groups cover. */
    int valueWidth(int kvDim, int headDim) {
        return this == Q8_0 ? kvDim : headDim;
    }

    /** Storage for {@code blocks} blocks. */
    KVSlab newSlab(int layers, int kvDim, int headDim, int blocks) {
        return switch (this) {
            case F32 -> new F32Slab(layers, kvDim, blocks, valueWidth(kvDim, headDim));
            case F16 -> new F16Slab(layers, kvDim, blocks, valueWidth(kvDim, headDim));
            case Q8_0 -> new Q8Slab(layers, kvDim, blocks);
        };
    }
}
