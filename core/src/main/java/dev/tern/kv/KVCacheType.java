package dev.tern.kv;

/**
 * The precision of cached keys and values. F16 is llama.cpp's default: values are rounded to
 * half precision when stored, and attention then does what ggml's f16 matrix products do —
 * rounds the query and the softmax probabilities to half precision too — so that logits agree
 * with llama.cpp's. (Storage is float32 for now; issue 3 will pack it.)
 */
public enum KVCacheType {
    F32,
    F16;

    /** x as this type stores it. */
    public float round(float x) {
        return this == F16 ? Float.float16ToFloat(Float.floatToFloat16(x)) : x;
    }

    /** Rounds a[from, to) in place. */
    public void round(float[] a, int from, int to) {
        if (this == F16) {
            for (int i = from; i < to; i++) {
                a[i] = Float.float16ToFloat(Float.floatToFloat16(a[i]));
            }
        }
    }
}
