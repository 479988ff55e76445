package dev.tern.tensor;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

/**
 * Q5_1: blocks of 32 values as 5-bit levels meaning q·d + m (24 bytes: fp16 d, fp16 m, qh,
 * qs[16], fifth bits and nibbles as in Q5_0).
 */
public final class Q5_1Format implements TensorFormat {
    public static final Q5_1Format INSTANCE = new Q5_1Format();
    private static final int QK = 32;
    private static final int BYTES = 24;
    private static final VectorSpecies<Float> H = FloatVector.SPECIES_256;
    private static final VectorSpecies<Integer> I8 = IntVector.SPECIES_256;
    private static final VectorSpecies<Byte> B8 = ByteVector.SPECIES_64;
    /** Lane i's shift: the bit of qh that holds the fifth bit of the lane's quant. */
    private static final IntVector LANE = IntVector.fromArray(I8, new int[]{0, 1, 2, 3, 4, 5, 6, 7}, 0);

    private Q5_1Format() {
    }

    @Override
    public GGMLType type() {
        return GGMLType.Q5_1;
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

    /**
     * {@link #dot} for 256-bit vectors (AVX2): eight quants at a time from 8-byte loads widened to
     * int lanes, their fifth bits shifted out of qh lane by lane, with no helper that takes a
     * vector. There the generic loop passes C2's inlining budget and boxes its vectors.
     */
    private static float dot256(MemorySegment w, long byteOffset, float[] x, int xOff, int blocks) {
        FloatVector acc = FloatVector.zero(H);
        for (int b = 0; b < blocks; b++) {
            long o = byteOffset + (long) b * BYTES;
            int xo = xOff + b * QK;
            int qh = w.get(Blocks.I32, o + 4);
            FloatVector s = FloatVector.zero(H), xs = s;
            for (int e = 0; e < 16; e += 8) {
                IntVector q = (IntVector) ByteVector.fromMemorySegment(B8, w, o + 8 + e, ByteOrder.LITTLE_ENDIAN)
                        .convertShape(VectorOperators.B2I, I8, 0);
                IntVector lowFifth = IntVector.broadcast(I8, qh >>> e).lanewise(VectorOperators.LSHR, LANE).and(1)
                        .lanewise(VectorOperators.LSHL, 4);
                IntVector highFifth = IntVector.broadcast(I8, qh >>> (16 + e)).lanewise(VectorOperators.LSHR, LANE).and(1)
                        .lanewise(VectorOperators.LSHL, 4);
                FloatVector xl = FloatVector.fromArray(H, x, xo + e), xh = FloatVector.fromArray(H, x, xo + 16 + e);
                s = ((FloatVector) q.and(0x0F).or(lowFifth).convert(VectorOperators.I2F, 0)).fma(xl, s);
                s = ((FloatVector) q.lanewise(VectorOperators.ASHR, 4).and(0x0F).or(highFifth).convert(VectorOperators.I2F, 0))
                        .fma(xh, s);
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
