package dev.tern.kv;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * Keys and values quantized as ggml's block_q8_0: each run of 32 components of one position's
 * row becomes 32 signed bytes and an fp16 scale (amax/127, values rounded half away from zero).
 * Key bytes are transposed like every block's keys, with their scales [group][slot]; value
 * bytes are slot-major with scales [slot][group].
 */
final class Q8Slab extends KVSlab {
    private static final int QK = KVCacheType.Q8_BLOCK;
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED.length() <= SLOTS
            ? FloatVector.SPECIES_PREFERRED : FloatVector.SPECIES_512;
    /** A byte for each float lane; with four-lane floats (128-bit vectors: NEON) the narrowest byte vector, of eight. */
    private static final VectorSpecies<Byte> B = VectorSpecies.of(byte.class, VectorShape.forBitSize(Math.max(64, F.length() * 8)));
    /** The byte lanes that are loaded: all, or the first four of eight, so that no load reads past its row. */
    private static final VectorMask<Byte> LOADED = B.indexInRange(0, F.length());

    private final int groups;
    private final byte[][] keys;
    private final short[][] keyScales;
    private final byte[][] values;
    private final short[][] valueScales;

    Q8Slab(int layers, int kvDim, int blocks) {
        super(kvDim, blocks, kvDim);
        groups = kvDim / QK;
        keys = new byte[layers][blocks * SLOTS * kvDim];
        keyScales = new short[layers][blocks * SLOTS * groups];
        values = new byte[layers][blocks * SLOTS * kvDim];
        valueScales = new short[layers][blocks * SLOTS * groups];
    }

    /** Where block b's scales start in a layer's scale array. */
    private int scaleBase(int b) {
        return b * SLOTS * groups;
    }

    @Override
    void write(int b, int layer, int slot, float[] k, int kOff, float[] v, int vOff) {
        byte[] kq = keys[layer], vq = values[layer];
        short[] ks = keyScales[layer], vs = valueScales[layer];
        int base = base(b), scales = scaleBase(b);
        for (int g = 0; g < groups; g++) {
            float kId = scale(k, kOff + g * QK, ks, scales + g * SLOTS + slot);
            float vId = scale(v, vOff + g * QK, vs, scales + slot * groups + g);
            for (int j = 0; j < QK; j++) {
                int r = g * QK + j;
                kq[base + r * SLOTS + slot] = quantize(k[kOff + r] * kId);
                vq[base + slot * kvDim + r] = quantize(v[vOff + r] * vId);
            }
        }
    }

    /** Stores the fp16 scale of x[off, off+32) at scales[at]; returns the multiplier that quantizes. */
    private static float scale(float[] x, int off, short[] scales, int at) {
        float amax = 0;
        for (int j = 0; j < QK; j++) {
            amax = Math.max(amax, Math.abs(x[off + j]));
        }
        float d = amax / 127;
        scales[at] = Float.floatToFloat16(d);
        return d != 0 ? 1 / d : 0;
    }

    /** C's roundf: halfway cases away from zero. */
    private static byte quantize(float x) {
        return (byte) Math.copySign(Math.floor(Math.abs((double) x) + 0.5), x);
    }

    @Override
    void keys(int b, int layer, int row0, int rows, float[] dst) {
        byte[] kq = keys[layer];
        short[] ks = keyScales[layer];
        float[] scale = new float[SLOTS];
        int base = base(b), scales = scaleBase(b);
        int group = -1;
        for (int i = 0; i < rows; i++) {
            int r = row0 + i;
            if (r / QK != group) {
                group = r / QK;
                for (int s = 0; s < SLOTS; s++) {
                    scale[s] = Float.float16ToFloat(ks[scales + group * SLOTS + s]);
                }
            }
            for (int s = 0; s < SLOTS; s += F.length()) {
                FloatVector q = (FloatVector) bytes(kq, base + r * SLOTS + s).convertShape(VectorOperators.B2F, F, 0);
                q.mul(FloatVector.fromArray(F, scale, s)).intoArray(dst, i * SLOTS + s);
            }
        }
    }

    @Override
    void values(int b, int layer, int row0, int rows, int slots, float[] dst) {
        byte[] vq = values[layer];
        short[] vs = valueScales[layer];
        int base = base(b), scales = scaleBase(b);
        for (int s = 0; s < slots; s++) {
            int i = 0;
            while (i < rows) {
                int r = row0 + i;
                int g = r / QK;
                int end = Math.min(rows, (g + 1) * QK - row0);
                float d = Float.float16ToFloat(vs[scales + s * groups + g]);
                int at = base + s * kvDim + row0;
                for (; i + F.length() <= end; i += F.length()) {
                    FloatVector q = (FloatVector) bytes(vq, at + i).convertShape(VectorOperators.B2F, F, 0);
                    q.mul(d).intoArray(dst, s * rows + i);
                }
                for (; i < end; i++) {
                    dst[s * rows + i] = vq[at + i] * d;
                }
            }
        }
    }

    /** F.length() quantized bytes from a[i], in the low lanes of a B vector. */
    private static ByteVector bytes(byte[] a, int i) {
        return B.length() == F.length() ? ByteVector.fromArray(B, a, i) : ByteVector.fromArray(B, a, i, LOADED);
    }

    @Override
    long bytes() {
        return 2L * keys.length * blocks * SLOTS * ((long) kvDim + groups * Short.BYTES);
    }
}
