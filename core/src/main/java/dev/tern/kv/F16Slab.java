package dev.tern.kv;

/**
 * Keys and values as IEEE half-precision bit patterns, rounded to nearest even as ggml's
 * FP32_TO_FP16, laid out for attention to read two halves a 32-bit lane ({@link HalfPairs}):
 * <ul>
 * <li>keys by pairs of component rows: component r of slot s at {@code keyBase(b) + (r & ~1)·SLOTS
 * + 2s + (r & 1)}, so that one load brings rows r and r + 1 of the same slots (a head starting at
 * an even row is whole pairs);</li>
 * <li>values in runs of {@code width} (a head), slot-major; where the run is whole groups of 32,
 * component c of a group sits at {@code 2·(c % 16) + c / 16}, so that one load brings components
 * c and c + 16 of a group side by side ({@link #grouped}).</li>
 * </ul>
 * {@link #keys} and {@link #values} give exact floats whatever the layout; attention reads the
 * halves as stored.
 */
final class F16Slab extends KVSlab {
    /** Components of a value group whose halves are interleaved. */
    private static final int GROUP = 32;
    private final short[][] keys;
    private final short[][] values;
    /** kvDim rounded up to whole pairs of key rows. */
    private final int pairedDim;
    /** Whether runs of values are interleaved in groups of {@link #GROUP} (width a multiple of it). */
    final boolean grouped;
    /** Whether any infinity or NaN was ever written: then attention reads the halves exactly. */
    boolean nonFinite;

    F16Slab(int layers, int kvDim, int blocks, int width) {
        super(kvDim, blocks, width);
        pairedDim = kvDim + (kvDim & 1);
        grouped = grouped(width);
        keys = new short[layers][blocks * SLOTS * pairedDim];
        values = new short[layers][blocks * SLOTS * kvDim];
    }

    @Override
    void write(int b, int layer, int slot, float[] k, int kOff, float[] v, int vOff) {
        short[] kt = keys[layer], vs = values[layer];
        boolean infOrNaN = false;
        for (int r = 0; r < kvDim; r++) {
            short kh = Float.floatToFloat16(k[kOff + r]), vh = Float.floatToFloat16(v[vOff + r]);
            kt[keyIndex(b, r, slot)] = kh;
            vs[valueIndex(b, slot, r)] = vh;
            infOrNaN |= HalfPairs.nonFinite(kh) | HalfPairs.nonFinite(vh);
        }
        nonFinite |= infOrNaN;
    }

    /** Whether runs of values this wide are stored in interleaved groups. */
    static boolean grouped(int width) {
        return width % GROUP == 0;
    }

    /** Where block b's keys start in a layer's key array. */
    int keyBase(int b) {
        return b * SLOTS * pairedDim;
    }

    private int keyIndex(int b, int r, int s) {
        return keyBase(b) + (r & ~1) * SLOTS + 2 * s + (r & 1);
    }

    /** Where component r of slot s's value in block b is, in a layer's value array. */
    private int valueIndex(int b, int s, int r) {
        int c = r % width;
        return valueAt(b, s, r - c) + (grouped ? (c & -GROUP) + 2 * (c & 15) + ((c >> 4) & 1) : c);
    }

    /** The layer's keys as stored. */
    short[] halfKeys(int layer) {
        return keys[layer];
    }

    /** The layer's values as stored. */
    short[] halfValues(int layer) {
        return values[layer];
    }

    @Override
    void keys(int b, int layer, int row0, int rows, float[] dst) {
        short[] kt = keys[layer];
        for (int i = 0; i < rows; i++) {
            for (int s = 0; s < SLOTS; s++) {
                dst[i * SLOTS + s] = Float.float16ToFloat(kt[keyIndex(b, row0 + i, s)]);
            }
        }
    }

    /**
     * A whole plain run in one loop of Float.float16ToFloat, which C2 compiles to vector conversions
     * (vcvtph2ps): a draft model's heads are too narrow for groups, and its decode reads them so.
     */
    @Override
    void values(int b, int layer, int row0, int rows, int slots, float[] dst) {
        short[] vs = values[layer];
        if (!grouped && row0 % width == 0 && rows == width) {
            for (int i = 0, from = valueAt(b, 0, row0); i < slots * width; i++) {
                dst[i] = Float.float16ToFloat(vs[from + i]);
            }
            return;
        }
        for (int s = 0; s < slots; s++) {
            for (int i = 0; i < rows; i++) {
                dst[s * rows + i] = Float.float16ToFloat(vs[valueIndex(b, s, row0 + i)]);
            }
        }
    }

    @Override
    long bytes() {
        return (long) keys.length * blocks * SLOTS * (pairedDim + kvDim) * Short.BYTES;
    }
}
