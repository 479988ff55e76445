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
 * Q5_0: blocks of 32 values as 5-bit levels meaning (q-16)·d (22 bytes: fp16 d, qh (32 fifth
 * bits, bit j for value j), qs[16] low nibbles packed as in Q4_0).
 */
public final class Q5_0Format implements TensorFormat {
    public static final Q5_0Format INSTANCE = new Q5_0Format();
    private static final int QK = 32;
    private static final int BYTES = 22;
    private static final VectorSpecies<Float> H = FloatVector.SPECIES_256;
    private static final VectorSpecies<Integer> I8 = IntVector.SPECIES_256;
    private static final VectorSpecies<Byte> B8 = ByteVector.SPECIES_64;
    /** Lane i's shift: the bit of qh that holds the fifth bit of the lane's quant. */
    private static final IntVector LANE = IntVector.fromArray(I8, new int[]{0, 1, 2, 3, 4, 5, 6, 7}, 0);

    private Q5_0Format() {
    }

    @Override
    public GGMLType type() {
        return GGMLType.Q5_0;
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
            int qh = w.get(Blocks.I32, o + 2);
            ByteVector q = Vec.load16(w, o + 6);
            // q-16 is the nibble minus 16 where the fifth bit is clear, the nibble itself where it is set.
            VectorMask<Byte> loClear = VectorMask.fromLong(Vec.B16, ~qh & 0xFFFFL);
            VectorMask<Byte> hiClear = VectorMask.fromLong(Vec.B16, ~qh >>> 16 & 0xFFFFL);
            FloatVector s = Vec.fma16(q.and((byte) 0x0F).sub((byte) 16, loClear), x, xo, FloatVector.zero(Vec.F));
            s = Vec.fma16(q.lanewise(VectorOperators.LSHR, 4).sub((byte) 16, hiClear), x, xo + 16, s);
            acc = Vec.fmaScaled(s, Blocks.f16(w, o), acc);
        }
        return acc.reduceLanes(VectorOperators.ADD);
    }

    /**
     * {@link #dot} for 256-bit vectors (AVX2), as Q5_1's: eight quants at a time from 8-byte loads
     * widened to int lanes, their fifth bits shifted out of qh lane by lane and 16 taken off there,
     * with no helper that takes a vector (`CpuTimeAB matvec Q5_0 64 2048`, one thread, four: 2.3–2.8 →
     * 3.0 GB/s).
     */
    private static float dot256(MemorySegment w, long byteOffset, float[] x, int xOff, int blocks) {
        FloatVector acc = FloatVector.zero(H);
        for (int b = 0; b < blocks; b++) {
            long o = byteOffset + (long) b * BYTES;
            int xo = xOff + b * QK;
            int qh = w.get(Blocks.I32, o + 2);
            FloatVector lo = FloatVector.zero(H), hi = lo;
            for (int e = 0; e < 16; e += 8) {
                IntVector q = (IntVector) ByteVector.fromMemorySegment(B8, w, o + 6 + e, ByteOrder.LITTLE_ENDIAN)
                        .convertShape(VectorOperators.B2I, I8, 0);
                IntVector lowFifth = IntVector.broadcast(I8, qh >>> e).lanewise(VectorOperators.LSHR, LANE).and(1)
                        .lanewise(VectorOperators.LSHL, 4);
                IntVector highFifth = IntVector.broadcast(I8, qh >>> (16 + e)).lanewise(VectorOperators.LSHR, LANE).and(1)
                        .lanewise(VectorOperators.LSHL, 4);
                lo = ((FloatVector) q.and(0x0F).or(lowFifth).sub(16).convert(VectorOperators.I2F, 0))
                        .fma(FloatVector.fromArray(H, x, xo + e), lo);
                hi = ((FloatVector) q.lanewise(VectorOperators.ASHR, 4).and(0x0F).or(highFifth).sub(16).convert(VectorOperators.I2F, 0))
                        .fma(FloatVector.fromArray(H, x, xo + 16 + e), hi);
            }
            acc = lo.add(hi).fma(FloatVector.broadcast(H, Blocks.f16(w, o)), acc);
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
            int qh = w.get(Blocks.I32, o + 2);
            ByteVector q = Vec.load16(w, o + 6);
            VectorMask<Byte> loClear = VectorMask.fromLong(Vec.B16, ~qh & 0xFFFFL);
            VectorMask<Byte> hiClear = VectorMask.fromLong(Vec.B16, ~qh >>> 16 & 0xFFFFL);
            Vec.store16(q.and((byte) 0x0F).sub((byte) 16, loClear), d, out, yo);
            Vec.store16(q.lanewise(VectorOperators.LSHR, 4).sub((byte) 16, hiClear), d, out, yo + 16);
        }
    }

    /** quantize_row_q5_0_ref: d = max/-16 where max is the value of largest magnitude. */
    @Override
    public void quantize(float[] src, int srcOff, int n, MemorySegment dst, long dstOff) {
        Blocks.requireBlocks(type(), n);
        byte[] L = new byte[QK];
        for (int b = 0; b < n / QK; b++) {
            int xo = srcOff + b * QK;
            long o = dstOff + (long) b * BYTES;
            float max = Blocks.largestMagnitude(src, xo, QK);
            float d = max / -16;
            float id = d != 0 ? 1.0f / d : 0.0f;
            Blocks.putF16(dst, o, d);
            for (int j = 0; j < QK; j++) {
                L[j] = (byte) Math.min(31, (byte) (int) (src[xo + j] * id + 16.5f));
            }
            store(L, dst, o);
        }
    }

    /**
     * quantize_row_q5_0_impl: per block, make_qx_quants (nmax 16) with value weights
     * importance·sqrt(σ² + x²), σ² the mean x² of the whole row; the levels are the search's own.
     */
    @Override
    public void quantize(float[] src, int srcOff, int n, MemorySegment dst, long dstOff, float[] importance) {
        byte[] L = new byte[QK];
        KQuants.quantizeWeightedBlocks(this, src, srcOff, n, dst, dstOff, importance, (xo, weight, o) -> {
            Blocks.putF16(dst, o, KQuants.makeQxQuants(QK, 16, src, xo, weight, 0, L, 0));
            store(L, dst, o);
        });
    }

    /** A block's 5-bit levels after its d: the fifth bits (qh), then the low nibbles. */
    private static void store(byte[] L, MemorySegment dst, long o) {
        dst.set(Blocks.I32, o + 2, Blocks.fifthBits32(L));
        Blocks.putLowNibbles32(L, dst, o + 6);
    }
}
