package dev.tern.kv;

/** Keys and values as floats; values in runs of {@code width} components, slot-major within each. */
final class F32Slab extends KVSlab {
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

    /** A run is read in one copy where one whole run (a head) is asked for: its slots already in the order asked. */
    @Override
    void values(int b, int layer, int row0, int rows, int slots, float[] dst) {
        float[] vs = values[layer];
        if (row0 % width == 0 && rows == width) {
            System.arraycopy(vs, valueAt(b, 0, row0), dst, 0, slots * width);
            return;
        }
        for (int s = 0; s < slots; s++) {
            for (int i = 0; i < rows; ) {
                int n = Math.min(rows - i, width - (row0 + i) % width);
                System.arraycopy(vs, valueAt(b, s, row0 + i), dst, s * rows + i, n);
                i += n;
            }
        }
    }

    @Override
    long bytes() {
        return 2L * keys.length * blocks * SLOTS * kvDim * Float.BYTES;
    }
}
