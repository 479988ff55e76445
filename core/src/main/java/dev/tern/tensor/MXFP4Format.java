package dev.tern.tensor;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

import static jdk.incubator.vector.VectorOperators.B2F;
import static jdk.incubator.vector.VectorOperators.B2I;
import static jdk.incubator.vector.VectorOperators.LSHR;

/**
 * MXFP4, the OCP microscaling FP4 type: blocks of 32 e2m1 values under one power-of-two scale
 * (17 bytes: e8m0 exponent e, qs[16]; byte j holds value j in its low nibble and value j+16 in
 * its high nibble, as Q4_0's blocks do). As in ggml, code c means {@link #LEVELS}[c] (twice the
 * e2m1 value) times 2^(e−128) (half the e8m0 scale); every product is exact, subnormal ones
 * included, but where it overflows (e ≥ 253 with the larger levels).
 */
public final class MXFP4Format implements TensorFormat {
    public static final MXFP4Format INSTANCE = new MXFP4Format();
    private static final int QK = 32;
    private static final int BYTES = 17;
    /** ggml's kvalues_mxfp4: the e2m1 values doubled. */
    private static final byte[] LEVELS = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};
    private static final NibbleBlocks.Levels TABLE = NibbleBlocks.Levels.of(LEVELS);
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_512;
    private static final VectorSpecies<Integer> I = IntVector.SPECIES_512;
    private static final VectorSpecies<Byte> B = ByteVector.SPECIES_128;
    private static final VectorSpecies<Float> H = FloatVector.SPECIES_256;
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

    private MXFP4Format() {
    }

    @Override
    public GGMLType type() {
        return GGMLType.MXFP4;
    }

    /** ggml_e8m0_to_fp32_half: 2^(e−128), the two smallest as subnormals. */
    static float scale(int e) {
        return Float.intBitsToFloat(e < 2 ? 0x00200000 << e : (e - 1) << 23);
    }

    @Override
    public float dot(MemorySegment w, long byteOffset, float[] x, int xOff, int n) {
        Blocks.requireBlocks(type(), n);
        if (Vec.FL == 16) {
            return dot512(TABLE.floatBits(), w, byteOffset, x, xOff, n / QK);
        }
        if (Vec.FL == 8) {
            return dot256(TABLE.bytes(), w, byteOffset, x, xOff, n / QK);
        }
        ByteVector table = ByteVector.fromArray(Vec.B16, TABLE.bytes(), 0);
        FloatVector acc = FloatVector.zero(Vec.F);
        for (int b = 0; b < n / QK; b++) {
            long o = byteOffset + (long) b * BYTES;
            int xo = xOff + b * QK;
            ByteVector q = Vec.load16(w, o + 1);
            FloatVector s = Vec.fma16(q.and((byte) 0x0F).selectFrom(table), x, xo, FloatVector.zero(Vec.F));
            s = Vec.fma16(q.lanewise(LSHR, 4).selectFrom(table), x, xo + 16, s);
            acc = Vec.fmaScaled(s, scale(Blocks.u8(w, o)), acc);
        }
        return acc.reduceLanes(VectorOperators.ADD);
    }

    /**
     * Decode's four ranges: the pairs' rows step through their blocks together, as Q4_0's and
     * IQ4_NL's do ({@link NibbleBlocks}); without 512-bit vectors, dotRows over each range.
     */
    @Override
    public void dotRowsFour(MemorySegment w, long[] offsets, long rowBytes, int rows, float[] x, int xOff, int n,
                            float[] out, int[] outs) {
        if (Vec.FL != 16) {
            TensorFormat.super.dotRowsFour(w, offsets, rowBytes, rows, x, xOff, n, out, outs);
            return;
        }
        Blocks.requireBlocks(type(), n);
        int[] levels = TABLE.floatBits();
        for (int r = 0; r < rows; r++) {
            long step = r * rowBytes;
            dot512Pair(levels, w, offsets[0] + step, offsets[1] + step, x, xOff, n / QK, out, outs[0] + r, outs[1] + r);
            dot512Pair(levels, w, offsets[2] + step, offsets[3] + step, x, xOff, n / QK, out, outs[2] + r, outs[3] + r);
        }
    }

    /**
     * The 512-bit kernel, IQ4_NL's ({@link NibbleBlocks}) written out again for MXFP4's 17-byte
     * blocks and their e8m0 scale: widened bytes look their levels up by selectFrom (the index
     * taken modulo 16), the high nibble after a shift.
     */
    private static float dot512(int[] levels, MemorySegment w, long o, float[] x, int xo, int blocks) {
        IntVector table = IntVector.fromArray(I, levels, 0);
        long end = (long) blocks * BYTES;
        MemorySegment row = w.asSlice(o, end);
        FloatVector acc = FloatVector.zero(F);
        int xi = xo;
        for (long p = 0; p < end; p += BYTES, xi += QK) {
            IntVector q = (IntVector) ByteVector.fromMemorySegment(B, row, p + 1, LE).convertShape(B2I, I, 0);
            FloatVector s = q.selectFrom(table).reinterpretAsFloats().mul(FloatVector.fromArray(F, x, xi));
            s = q.lanewise(LSHR, 4).selectFrom(table).reinterpretAsFloats().fma(FloatVector.fromArray(F, x, xi + 16), s);
            acc = s.fma(FloatVector.broadcast(F, scale(Byte.toUnsignedInt(row.get(Blocks.I8, p)))), acc);
        }
        return acc.reduceLanes(VectorOperators.ADD);
    }

    /** {@link #dot512} of the rows at oa and ob into out[ia] and out[ib], their blocks read alternately. */
    private static void dot512Pair(int[] levels, MemorySegment w, long oa, long ob, float[] x, int xo, int blocks,
                                   float[] out, int ia, int ib) {
        IntVector table = IntVector.fromArray(I, levels, 0);
        FloatVector accA = FloatVector.zero(F), accB = accA;
        long end = (long) blocks * BYTES;
        MemorySegment ra = w.asSlice(oa, end), rb = w.asSlice(ob, end);
        int xi = xo;
        for (long o = 0; o < end; o += BYTES, xi += QK) {
            FloatVector x0 = FloatVector.fromArray(F, x, xi), x1 = FloatVector.fromArray(F, x, xi + 16);
            IntVector qa = (IntVector) ByteVector.fromMemorySegment(B, ra, o + 1, LE).convertShape(B2I, I, 0);
            IntVector qb = (IntVector) ByteVector.fromMemorySegment(B, rb, o + 1, LE).convertShape(B2I, I, 0);
            FloatVector sa = qa.selectFrom(table).reinterpretAsFloats().mul(x0);
            FloatVector sb = qb.selectFrom(table).reinterpretAsFloats().mul(x0);
            sa = qa.lanewise(LSHR, 4).selectFrom(table).reinterpretAsFloats().fma(x1, sa);
            sb = qb.lanewise(LSHR, 4).selectFrom(table).reinterpretAsFloats().fma(x1, sb);
            accA = sa.fma(FloatVector.broadcast(F, scale(Byte.toUnsignedInt(ra.get(Blocks.I8, o)))), accA);
            accB = sb.fma(FloatVector.broadcast(F, scale(Byte.toUnsignedInt(rb.get(Blocks.I8, o)))), accB);
        }
        out[ia] = accA.reduceLanes(VectorOperators.ADD);
        out[ib] = accB.reduceLanes(VectorOperators.ADD);
    }

    /**
     * The kernel for 256-bit vectors (AVX2), IQ4_NL's ({@link NibbleBlocks}) written out again
     * for MXFP4's blocks: levels looked up by a byte shuffle, widened to floats eight at a time.
     * The generic {@link #dot} passes C2's inlining budget there (`CpuTimeAB matvec MXFP4 64
     * 2048`, one thread, four: 3.3–3.7 GB/s against 2.8–3.0).
     */
    private static float dot256(byte[] levels, MemorySegment w, long o, float[] x, int xo, int blocks) {
        ByteVector table = ByteVector.fromArray(B, levels, 0);
        long end = (long) blocks * BYTES;
        MemorySegment row = w.asSlice(o, end);
        FloatVector acc = FloatVector.zero(H);
        int xi = xo;
        for (long p = 0; p < end; p += BYTES, xi += QK) {
            ByteVector q = ByteVector.fromMemorySegment(B, row, p + 1, LE);
            ByteVector lo = q.and((byte) 0x0F).selectFrom(table);
            ByteVector hi = q.reinterpretAsInts().lanewise(LSHR, 4).reinterpretAsBytes().and((byte) 0x0F).selectFrom(table);
            FloatVector s = ((FloatVector) lo.convertShape(B2F, H, 0)).mul(FloatVector.fromArray(H, x, xi));
            s = ((FloatVector) lo.convertShape(B2F, H, 1)).fma(FloatVector.fromArray(H, x, xi + 8), s);
            s = ((FloatVector) hi.convertShape(B2F, H, 0)).fma(FloatVector.fromArray(H, x, xi + 16), s);
            s = ((FloatVector) hi.convertShape(B2F, H, 1)).fma(FloatVector.fromArray(H, x, xi + 24), s);
            acc = s.fma(FloatVector.broadcast(H, scale(Byte.toUnsignedInt(row.get(Blocks.I8, p)))), acc);
        }
        return acc.reduceLanes(VectorOperators.ADD);
    }

    /** Each value is its level times 2^(e−128), one product, as ggml's dequantize_row_mxfp4 computes it. */
    @Override
    public void dequantize(MemorySegment w, long byteOffset, float[] out, int outOff, int n) {
        Blocks.requireBlocks(type(), n);
        ByteVector table = ByteVector.fromArray(Vec.B16, TABLE.bytes(), 0);
        for (int b = 0; b < n / QK; b++) {
            long o = byteOffset + (long) b * BYTES;
            int yo = outOff + b * QK;
            float d = scale(Blocks.u8(w, o));
            ByteVector q = Vec.load16(w, o + 1);
            Vec.store16(q.and((byte) 0x0F).selectFrom(table), d, out, yo);
            Vec.store16(q.lanewise(LSHR, 4).selectFrom(table), d, out, yo + 16);
        }
    }

    /**
     * quantize_row_mxfp4_ref (what llama-quantize's quantize_mxfp4 calls): e = ⌊log2f(amax)⌋ − 2
     * + 127, converted to uint8 as x86-64 does (an amax below 2^-125 wraps around), each value
     * then the first level nearest to it.
     */
    @Override
    public void quantize(float[] src, int srcOff, int n, MemorySegment dst, long dstOff) {
        Blocks.requireBlocks(type(), n);
        byte[] block = new byte[BYTES];
        for (int b = 0; b < n / QK; b++) {
            int xo = srcOff + b * QK;
            float amax = 0.0f;
            for (int j = 0; j < QK; j++) {
                if (amax < Math.abs(src[xo + j])) {
                    amax = Math.abs(src[xo + j]);
                }
            }
            int e = amax > 0.0f ? (int) ((float) Math.floor(log2f(amax)) - 2 + 127) & 0xFF : 0;
            float d = scale(e);
            block[0] = (byte) e;
            for (int j = 0; j < QK / 2; j++) {
                block[1 + j] = (byte) (nearest(src[xo + j], d) | nearest(src[xo + QK / 2 + j], d) << 4);
            }
            MemorySegment.copy(block, 0, dst, Blocks.I8, dstOff + (long) b * BYTES, BYTES);
        }
    }

    /**
     * log2 of a positive finite float, rounded to float: in double, whose error is far below the
     * distance from any float's log2 to a rounding boundary of float.
     */
    private static float log2f(float v) {
        int exp = Math.getExponent(v);
        if (exp < Float.MIN_EXPONENT) {
            exp = Float.MIN_EXPONENT - 1 - Integer.numberOfLeadingZeros(Float.floatToRawIntBits(v)) + 9;
        }
        double m = v / Math.scalb(1.0, exp);
        return (float) (exp + Math.log(m) / Math.log(2.0));
    }

    /** best_index_mxfp4: the first code whose level·d is nearest to x. */
    private static int nearest(float x, float d) {
        int best = 0;
        float bestErr = Math.abs(LEVELS[0] * d - x);
        for (int i = 1; i < 16; i++) {
            float err = Math.abs(LEVELS[i] * d - x);
            if (err < bestErr) {
                best = i;
                bestErr = err;
            }
        }
        return best;
    }
}
