package dev.tern.kv;

/**
 * Keys and values as IEEE half-precision bit patterns, rounded to nearest even as ggml's
 * FP32_TO_FP16. The widening loops are plain Float.float16ToFloat loops, which C2 compiles to
 * vector conversions (vcvtph2ps) — faster than any Vector API bit manipulation for filling a
 * buffer. Attention reads the keys as stored too ({@link #halfKeys}) where each widened vector
 * serves four rows: widening them in registers then saves the buffer's stores and loads.
 */
final class F16Slab extends RunSlab {
    private final short[][] keys;
    private final short[][] values;

    F16Slab(int layers, int kvDim, int blocks, int width) {
        super(kvDim, blocks, width);
        keys = new short[layers][blocks * SLOTS * kvDim];
        values = new short[layers][blocks * SLOTS * kvDim];
    }

    @Override
    void write(int b, int layer, int slot, float[] k, int kOff, float[] v, int vOff) {
        short[] kt = keys[layer], vs = values[layer];
        int kb = base(b) + slot;
        for (int r = 0; r < kvDim; r++) {
            kt[kb + r * SLOTS] = Float.floatToFloat16(k[kOff + r]);
            vs[valueAt(b, slot, r)] = Float.floatToFloat16(v[vOff + r]);
        }
    }

    /** The layer's keys as stored: block b's component row r of slot s at {@code base(b) + r·SLOTS + s}. */
    short[] halfKeys(int layer) {
        return keys[layer];
    }

    @Override
    void keys(int b, int layer, int row0, int rows, float[] dst) {
        widen(keys[layer], base(b) + row0 * SLOTS, dst, 0, rows * SLOTS);
    }

    @Override
    void copyValues(int layer, int from, float[] dst, int to, int n) {
        widen(values[layer], from, dst, to, n);
    }

    private static void widen(short[] src, int from, float[] dst, int to, int n) {
        for (int i = 0; i < n; i++) {
            dst[to + i] = Float.float16ToFloat(src[from + i]);
        }
    }

    @Override
    long bytes() {
        return 2L * keys.length * blocks * SLOTS * kvDim * Short.BYTES;
    }
}
