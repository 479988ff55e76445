package dev.tern.tensor;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;

import java.lang.foreign.MemorySegment;

/**
 * Q5_1: blocks of 32 values as 5-bit levels meaning q·d + m (24 bytes: fp16 d, fp16 m, qh,
 * qs[16], fifth bits and nibbles as in Q5_0).
 */
public final class Q5_1Format implements TensorFormat {
    public static final Q5_1Format INSTANCE = new Q5_1Format();
    private static final int QK = 32;
    private static final int BYTES = 24;

    private Q5_1Format() {
    }

    @Override
    public GGMLType type() {
        return GGMLType.Q5_1;
    }

    @Override
    public float dot(MemorySegment w, long byteOffset, float[] x, int xOff, int n) {
        Blocks.requireBlocks(type(), n);
        FloatVector acc = FloatVector.zero(Vec.F);
        for (int b = 0; b < n / QK; b++) {
            long o = byteOffset + (long) b * BYTES;
            int xo = xOff + b * QK;
            int qh = w.get(Blocks.I32, o + 4);
            ByteVector q = Vec.load16(w, o + 8);
            VectorMask<Byte> loSet = VectorMask.fromLong(Vec.B16, qh & 0xFFFFL);
            VectorMask<Byte> hiSet = VectorMask.fromLong(Vec.B16, qh >>> 16 & 0xFFFFL);
            FloatVector s = Vec.fma16(q.and((byte) 0x0F).add((byte) 16, loSet), x, xo, FloatVector.zero(Vec.F));
            s = Vec.fma16(q.lanewise(VectorOperators.LSHR, 4).add((byte) 16, hiSet), x, xo + 16, s);
            FloatVector xs = Vec.sum16(x, xo + 16, Vec.sum16(x, xo, FloatVector.zero(Vec.F)));
            acc = Vec.fmaScaled(s, Blocks.f16(w, o), acc);
            acc = Vec.fmaScaled(xs, Blocks.f16(w, o + 2), acc);
        }
        return acc.reduceLanes(VectorOperators.ADD);
    }

    @Override
    public void dequantize(MemorySegment w, long byteOffset, float[] out, int outOff, int n) {
        Blocks.requireBlocks(type(), n);
        for (int b = 0; b < n / QK; b++) {
            long o = byteOffset + (long) b * BYTES;
            int yo = outOff + b * QK;
            float d = Blocks.f16(w, o);
            float m = Blocks.f16(w, o + 2);
            int qh = w.get(Blocks.I32, o + 4);
            ByteVector q = Vec.load16(w, o + 8);
            VectorMask<Byte> loSet = VectorMask.fromLong(Vec.B16, qh & 0xFFFFL);
            VectorMask<Byte> hiSet = VectorMask.fromLong(Vec.B16, qh >>> 16 & 0xFFFFL);
            Vec.store16(q.and((byte) 0x0F).add((byte) 16, loSet), d, m, out, yo);
            Vec.store16(q.lanewise(VectorOperators.LSHR, 4).add((byte) 16, hiSet), d, m, out, yo + 16);
        }
    }

    /** quantize_row_q5_1_ref: m = block min, d = (max-min)/31. */
    @Override
    public void quantize(float[] src, int srcOff, int n, MemorySegment dst, long dstOff) {
        Blocks.requireBlocks(type(), n);
        byte[] L = new byte[QK];
        for (int b = 0; b < n / QK; b++) {
            int xo = srcOff + b * QK;
            long o = dstOff + (long) b * BYTES;
            float min = Blocks.min(src, xo, QK);
            float max = Blocks.max(src, xo, QK);
            float d = (max - min) / ((1 << 5) - 1);
            float id = d != 0 ? 1.0f / d : 0.0f;
            Blocks.putF16(dst, o, d);
            Blocks.putF16(dst, o + 2, min);
            for (int j = 0; j < QK; j++) {
                L[j] = (byte) (int) ((src[xo + j] - min) * id + 0.5f);
            }
            store(L, dst, o);
        }
    }

    /**
     * quantize_row_q5_1_impl: per block, make_qkx3_quants (nmax 31) with value weights
     * importance·sqrt(σ² + x²), σ² the mean x² of the whole row; the levels are the search's own.
     */
    @Override
    public void quantize(float[] src, int srcOff, int n, MemorySegment dst, long dstOff, float[] importance) {
        KQuants.quantizeWeightedMinBlocks(this, 31, src, srcOff, n, dst, dstOff, importance, Q5_1Format::store);
    }

    /** A block's 5-bit levels after its d and m: the fifth bits (qh), then the low nibbles. */
    private static void store(byte[] L, MemorySegment dst, long o) {
        dst.set(Blocks.I32, o + 4, Blocks.fifthBits32(L));
        Blocks.putLowNibbles32(L, dst, o + 8);
    }
}
