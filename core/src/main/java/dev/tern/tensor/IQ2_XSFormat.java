package dev.tern.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;

import static dev.tern.tensor.IQ2Grids.SIGNS7;
import static dev.tern.tensor.IQ2Grids.XS;
import static dev.tern.tensor.IQ2Grids.group;
import static dev.tern.tensor.IQ2Grids.pair;
import static dev.tern.tensor.IQ2Grids.signed;

/**
 * IQ2_XS: super-blocks of 256 values in 8 sub-blocks of 32 (74 bytes: fp16 d, qs[32] as 16-bit
 * words, scales[8]). Word l of sub-block i (qs[4i + l]) holds a 9-bit grid index and, above it, a
 * 7-bit sign index for values 8l..8l+7; scales[i] holds the 4-bit scale s of the sub-block's first
 * 16 values in its low nibble, of the other 16 in its high nibble. A value is
 * ±{@link IQ2Grids#XS}[index] · d·(0.5 + s)·0.25.
 */
public final class IQ2_XSFormat implements TensorFormat {
    public static final IQ2_XSFormat INSTANCE = new IQ2_XSFormat();
    private static final int QK = KQuants.QK_K;
    private static final int BYTES = 74;
    private static final VectorSpecies<Float> F8 = IQ2Grids.F8;

    private IQ2_XSFormat() {
    }

    @Override
    public GGMLType type() {
        return GGMLType.IQ2_XS;
    }

    /** Group l (values 8l..8l+7) of a sub-block as signed bytes, from the sub-block's four words. */
    private static long signedGroup(long sub, int l) {
        int word = (int) (sub >>> 16 * l);
        return signed(XS[word & 511], SIGNS7[word >>> 9 & 127]);
    }

    /** d·(0.5 + s)·0.25 for a 4-bit s, rounded as ggml's dequantize_row_iq2_xs rounds it. */
    private static float scale(float d, int s) {
        return d * (0.5f + s) * 0.25f;
    }

    @Override
    public float dot(MemorySegment w, long byteOffset, float[] x, int xOff, int n) {
        Blocks.requireBlocks(type(), n);
        if (Vec.FL >= 8) {
            return dot256(w, byteOffset, x, xOff, n / QK);
        }
        FloatVector acc = FloatVector.zero(Vec.F);
        for (int b = 0; b < n / QK; b++) {
            long o = byteOffset + (long) b * BYTES;
            float d = Blocks.f16(w, o);
            for (int i = 0; i < 8; i++) {
                long sub = w.get(Blocks.I64, o + 2 + 8 * i);
                int sc = Blocks.u8(w, o + 66 + i);
                int xo = xOff + b * QK + 32 * i;
                FloatVector s = Vec.fma16(pair(signedGroup(sub, 0), signedGroup(sub, 1)), x, xo, FloatVector.zero(Vec.F));
                acc = Vec.fmaScaled(s, scale(d, sc & 15), acc);
                s = Vec.fma16(pair(signedGroup(sub, 2), signedGroup(sub, 3)), x, xo + 16, FloatVector.zero(Vec.F));
                acc = Vec.fmaScaled(s, scale(d, sc >>> 4), acc);
            }
        }
        return acc.reduceLanes(VectorOperators.ADD);
    }

    /**
     * The kernel for 256- and 512-bit vectors, as IQ2_XXS's (see {@link IQ2_XXSFormat}) with a
     * scale per 16 values: each half of a sub-block goes to an accumulator of its own.
     */
    private static float dot256(MemorySegment w, long o, float[] x, int xo, int blocks) {
        byte[] grid = IQ2Grids.XS_BYTES;
        int[] signs = IQ2Grids.SIGN_BITS7;
        long end = (long) blocks * BYTES;
        MemorySegment row = w.asSlice(o, end);
        FloatVector acc0 = FloatVector.zero(F8), acc1 = acc0;
        int xi = xo;
        for (long p = 0; p < end; p += BYTES) {
            float d = Float.float16ToFloat(row.get(Blocks.I16, p));
            long scales = row.get(Blocks.I64, p + 66);
            for (int i = 0; i < 8; i++, xi += 32) {
                long sub = row.get(Blocks.I64, p + 2 + 8 * i);
                int sc = (int) (scales >>> 8 * i);
                int w0 = (int) sub, w1 = (int) (sub >>> 16), w2 = (int) (sub >>> 32), w3 = (int) (sub >>> 48);
                FloatVector s0 = group(grid, w0 & 511, signs, w0 >>> 9 & 127).mul(FloatVector.fromArray(F8, x, xi));
                FloatVector s1 = group(grid, w2 & 511, signs, w2 >>> 9 & 127).mul(FloatVector.fromArray(F8, x, xi + 16));
                s0 = group(grid, w1 & 511, signs, w1 >>> 9 & 127).fma(FloatVector.fromArray(F8, x, xi + 8), s0);
                s1 = group(grid, w3 & 511, signs, w3 >>> 9 & 127).fma(FloatVector.fromArray(F8, x, xi + 24), s1);
                acc0 = s0.fma(FloatVector.broadcast(F8, scale(d, sc & 15)), acc0);
                acc1 = s1.fma(FloatVector.broadcast(F8, scale(d, sc >>> 4 & 15)), acc1);
            }
        }
        return acc0.add(acc1).reduceLanes(VectorOperators.ADD);
    }

    /** Each value is ±(d·(0.5 + s)·0.25)·grid byte, one rounding for the product, as ggml computes it. */
    @Override
    public void dequantize(MemorySegment w, long byteOffset, float[] out, int outOff, int n) {
        Blocks.requireBlocks(type(), n);
        for (int b = 0; b < n / QK; b++) {
            long o = byteOffset + (long) b * BYTES;
            float d = Blocks.f16(w, o);
            for (int i = 0; i < 8; i++) {
                long sub = w.get(Blocks.I64, o + 2 + 8 * i);
                int sc = Blocks.u8(w, o + 66 + i);
                int y = outOff + b * QK + 32 * i;
                Vec.store16(pair(signedGroup(sub, 0), signedGroup(sub, 1)), scale(d, sc & 15), out, y);
                Vec.store16(pair(signedGroup(sub, 2), signedGroup(sub, 3)), scale(d, sc >>> 4), out, y + 16);
            }
        }
    }

    /** llama.cpp has no IQ2_XS without an importance matrix: ggml_quantize_chunk asserts one is given. */
    @Override
    public void quantize(float[] src, int srcOff, int n, MemorySegment dst, long dstOff) {
        throw new UnsupportedOperationException(type() + " needs an importance matrix (llama.cpp's ggml_quantize_chunk asserts one)");
    }

    /** llama.cpp's quantize_iq2_xs: see {@link IQ2Quants#quantizeXs}. */
    @Override
    public void quantize(float[] src, int srcOff, int n, MemorySegment dst, long dstOff, float[] importance) {
        IQ2Quants.quantizeXs(src, srcOff, n, dst, dstOff, importance);
    }
}
