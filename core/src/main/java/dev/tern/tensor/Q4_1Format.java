package dev.tern.tensor;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

/**
 * Q4_1: blocks of 32 values as 4-bit levels meaning q·d + m (20 bytes: fp16 d, fp16 m,
 * qs[16] packed as in Q4_0).
 */
public final class Q4_1Format implements TensorFormat {
    public static final Q4_1Format INSTANCE = new Q4_1Format();
    private static final int QK = 32;
    private static final int BYTES = 20;
    private static final VectorSpecies<Float> H = FloatVector.SPECIES_256;
    private static final VectorSpecies<Integer> I8 = IntVector.SPECIES_256;
    private static final VectorSpecies<Byte> B8 = ByteVector.SPECIES_64;

    private Q4_1Format() {
    }

    @Override
    public GGMLType type() {
        return GGMLType.Q4_1;
    }

    @Override
    public float dot(MemorySegment w, long byteOffset, float[] x, int xOff, int n) {
        Blocks.requireBlocks(type(), n);
        if (Vec.FL == 8) {
            return dot256(w, byteOffset, x, xOff, n / QK);
        }
        FloatVector acc = FloatVector.zero(Vec.F);
        for (int b = 0; b < n / QK; b++) {
            long o = byteOffset + (long) b * BYTES;
            int xo = xOff + b * QK;
            ByteVector q = Vec.load16(w, o + 4);
            FloatVector s = Vec.fma16(q.and((byte) 0x0F), x, xo, FloatVector.zero(Vec.F));
            s = Vec.fma16(q.lanewise(VectorOperators.LSHR, 4), x, xo + 16, s);
            FloatVector xs = Vec.sum16(x, xo + 16, Vec.sum16(x, xo, FloatVector.zero(Vec.F)));
            acc = Vec.fmaScaled(s, Blocks.f16(w, o), acc);
            acc = Vec.fmaScaled(xs, Blocks.f16(w, o + 2), acc);
        }
        return acc.reduceLanes(VectorOperators.ADD);
    }

    /**
     * {@link #dot} for 256-bit vectors (AVX2): eight quants at a time from 8-byte loads widened to
     * int lanes, with no helper that takes a vector. There the generic loop passes C2's inlining
     * budget and boxes its vectors (stories15M Q4_1: 89 t/s).
     */
    private static float dot256(MemorySegment w, long byteOffset, float[] x, int xOff, int blocks) {
        FloatVector acc = FloatVector.zero(H);
        for (int b = 0; b < blocks; b++) {
            long o = byteOffset + (long) b * BYTES;
            int xo = xOff + b * QK;
            FloatVector s = FloatVector.zero(H), xs = s;
            for (int e = 0; e < 16; e += 8) {
                IntVector q = (IntVector) ByteVector.fromMemorySegment(B8, w, o + 4 + e, ByteOrder.LITTLE_ENDIAN)
                        .convertShape(VectorOperators.B2I, I8, 0);
                FloatVector xl = FloatVector.fromArray(H, x, xo + e), xh = FloatVector.fromArray(H, x, xo + 16 + e);
                s = ((FloatVector) q.and(0x0F).convert(VectorOperators.I2F, 0)).fma(xl, s);
                s = ((FloatVector) q.lanewise(VectorOperators.ASHR, 4).and(0x0F).convert(VectorOperators.I2F, 0)).fma(xh, s);
                xs = xs.add(xl).add(xh);
            }
            acc = s.fma(FloatVector.broadcast(H, Blocks.f16(w, o)), acc);
            acc = xs.fma(FloatVector.broadcast(H, Blocks.f16(w, o + 2)), acc);
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
            ByteVector q = Vec.load16(w, o + 4);
            Vec.store16(q.and((byte) 0x0F), d, m, out, yo);
            Vec.store16(q.lanewise(VectorOperators.LSHR, 4), d, m, out, yo + 16);
        }
    }

    /** quantize_row_q4_1_ref: m = block min, d = (max-min)/15. */
    @Override
    public void quantize(float[] src, int srcOff, int n, MemorySegment dst, long dstOff) {
        Blocks.requireBlocks(type(), n);
        byte[] L = new byte[QK];
        for (int b = 0; b < n / QK; b++) {
            int xo = srcOff + b * QK;
            long o = dstOff + (long) b * BYTES;
            float min = Blocks.min(src, xo, QK);
            float max = Blocks.max(src, xo, QK);
            float d = (max - min) / ((1 << 4) - 1);
            float id = d != 0 ? 1.0f / d : 0.0f;
            Blocks.putF16(dst, o, d);
            Blocks.putF16(dst, o + 2, min);
            for (int j = 0; j < QK; j++) {
                L[j] = (byte) Math.min(15, (byte) (int) ((src[xo + j] - min) * id + 0.5f));
            }
            Blocks.putLowNibbles32(L, dst, o + 4);
        }
    }

    /**
     * quantize_row_q4_1_impl: per block, make_qkx3_quants (nmax 15) with value weights
     * importance·sqrt(σ² + x²), σ² the mean x² of the whole row; the levels are the search's own.
     */
    @Override
    public void quantize(float[] src, int srcOff, int n, MemorySegment dst, long dstOff, float[] importance) {
        KQuants.quantizeWeightedMinBlocks(this, 15, src, srcOff, n, dst, dstOff, importance,
                (L, d, o) -> Blocks.putLowNibbles32(L, d, o + 4));
    }
}
