package dev.tern.kv;

/**
 * Storage whose values are kept in runs of {@code width} components (F32, F16): a range of
 * components is read run by run, and one whole run (a head) in a single copy, its slots already
 * in the order asked for.
 */
abstract sealed class RunSlab extends KVSlab permits F32Slab, F16Slab {
    RunSlab(int kvDim, int blocks, int width) {
        super(kvDim, blocks, width);
    }

    @Override
    final void values(int b, int layer, int row0, int rows, int slots, float[] dst) {
        if (row0 % width == 0 && rows == width) {
            copyValues(layer, valueAt(b, 0, row0), dst, 0, slots * width);
            return;
        }
        for (int s = 0; s < slots; s++) {
            for (int i = 0; i < rows; ) {
                int n = Math.min(rows - i, width - (row0 + i) % width);
                copyValues(layer, valueAt(b, s, row0 + i), dst, s * rows + i, n);
                i += n;
            }
        }
    }

    /** dst[to, to + n) = the layer's stored values [from, from + n), as floats. */
    abstract void copyValues(int layer, int from, float[] dst, int to, int n);
}
