package dev.tern.kv;

/** Keys and values as floats. */
final class F32Block extends KVBlock {
    private final float[][] keys;
    private final float[][] values;

    F32Block(int layers, int kvDim) {
        super(kvDim);
        keys = new float[layers][SLOTS * kvDim];
        values = new float[layers][SLOTS * kvDim];
    }

    @Override
    void write(int layer, int slot, float[] k, int kOff, float[] v, int vOff) {
        float[] kt = keys[layer];
        for (int r = 0; r < kvDim; r++) {
            kt[r * SLOTS + slot] = k[kOff + r];
        }
        System.arraycopy(v, vOff, values[layer], slot * kvDim, kvDim);
    }

    @Override
    void keys(int layer, int row0, int rows, float[] dst) {
        System.arraycopy(keys[layer], row0 * SLOTS, dst, 0, rows * SLOTS);
    }

    @Override
    void values(int layer, int row0, int rows, int slots, float[] dst) {
        for (int s = 0; s < slots; s++) {
            System.arraycopy(values[layer], s * kvDim + row0, dst, s * rows, rows);
        }
    }

    @Override
    long bytes() {
        return 2L * keys.length * SLOTS * kvDim * Float.BYTES;
    }
}
