package dev.tern.kv;

/** Keys and values as floats. */
final class F32Slab extends RunSlab {
    private final float[][] keys;
    private final float[][] values;

    F32Slab(int layers, int kvDim, int blocks, int width) {
        super(kvDim, blocks, width);
        keys = new float[layers][blocks * SLOTS * kvDim];
        values = new float[layers][blocks * SLOTS * kvDim];
    }

    @Override
    void write(int b, int layer, int slot, float[] k, int kOff, float[] v, int vOff) {
        float[] kt = keys[layer];
        int kb = base(b) + slot;
        for (int r = 0; r < kvDim; r++) {
            kt[kb + r * SLOTS] = k[kOff + r];
        }
        for (int r = 0; r < kvDim; r += width) {
            System.arraycopy(v, vOff + r, values[layer], valueAt(b, slot, r), width);
        }
    }

    @Override
    void keys(int b, int layer, int row0, int rows, float[] dst) {
        System.arraycopy(keys[layer], base(b) + row0 * SLOTS, dst, 0, rows * SLOTS);
    }

    @Override
    void copyValues(int layer, int from, float[] dst, int to, int n) {
        System.arraycopy(values[layer], from, dst, to, n);
    }

    @Override
    long bytes() {
        return 2L * keys.length * blocks * SLOTS * kvDim * Float.BYTES;
    }
}
