package dev.tern.kv;

/**
 * Keys and values as IEEE half-precision bit patterns, rounded to nearest even as ggml's
 * FP32_TO_FP16. The widening loops are plain Float.float16ToFloat loops, which C2 compiles to
 * vector conversions (vcvtph2ps) — faster than any Vector API bit manipulation.
 */
final class F16Block extends KVBlock {
    private final short[][] keys;
    private final short[][] values;

    F16Block(int layers, int kvDim) {
        super(kvDim);
        keys = new short[layers][SLOTS * kvDim];
        values = new short[layers][SLOTS * kvDim];
    }

    @Override
    void write(int layer, int slot, float[] k, int kOff, float[] v, int vOff) {
        short[] kt = keys[layer], vs = values[layer];
        int base = slot * kvDim;
        for (int r = 0; r < kvDim; r++) {
            kt[r * SLOTS + slot] = Float.floatToFloat16(k[kOff + r]);
            vs[base + r] = Float.floatToFloat16(v[vOff + r]);
        }
    }

    @Override
    void keys(int layer, int row0, int rows, float[] dst) {
        widen(keys[layer], row0 * SLOTS, dst, 0, rows * SLOTS);
    }

    @Override
    void values(int layer, int row0, int rows, int slots, float[] dst) {
        for (int s = 0; s < slots; s++) {
            widen(values[layer], s * kvDim + row0, dst, s * rows, rows);
        }
    }

    private static void widen(short[] src, int from, float[] dst, int to, int n) {
        for (int i = 0; i < n; i++) {
            dst[to + i] = Float.float16ToFloat(src[from + i]);
        }
    }

    @Override
    long bytes() {
        return 2L * keys.length * SLOTS * kvDim * Short.BYTES;
    }
}
