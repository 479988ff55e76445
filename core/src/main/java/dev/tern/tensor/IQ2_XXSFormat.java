package dev.tern.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;

import static dev.tern.tensor.IQ2Grids.SIGNS7;
import static dev.tern.tensor.IQ2Grids.XXS;
import static dev.tern.tensor.IQ2Grids.group;
import static dev.tern.tensor.IQ2Grids.pair;
import static dev.tern.tensor.IQ2Grids.signed;

/**
 * IQ2_XXS: super-blocks of 256 values in 8 sub-blocks of 32 (66 bytes: fp16 d, then 8 bytes per
 * sub-block: four grid indexes, one byte each, then a 32-bit word holding four 7-bit sign indexes
 * at bits 0, 7, 14, 21 and a 4-bit scale s at bit 28). Group l of 8 values is
 * ±{@link IQ2Grids#XXS}[index l] · d·(0.5 + s)·0.25, signed by sign index l.
 */
public final class IQ2_XXSFormat implements TensorFormat {
    public static final IQ2_XXSFormat INSTANCE = new IQ2_XXSFormat();
    private static final int QK = KQuants.QK_K;
    private static final int BYTES = 66;
    private static final VectorSpecies<Float> F8 = IQ2Grids.F8;

    private IQ2_XXSFormat() {
    }

    @Override
    public GGMLType type() {
        return GGMLType.IQ2_XXS;
    }

    /** Group l (values 8l..8l+7) of a sub-block as signed bytes, from the sub-block's 8 stored bytes. */
    private static long signedGroup(long sub, int l) {
        return signed(XXS[(int) (sub >>> 8 * l) & 255], SIGNS7[(int) (sub >>> 32 + 7 * l) & 127]);
    }

    /** d·(0.5 + s)·0.25, rounded as ggml's dequantize_row_iq2_xxs rounds it. */
    private static float scale(float d, long sub) {
        return d * (0.5f + (int) (sub >>> 60)) * 0.25f;
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
                int xo = xOff + b * QK + 32 * i;
                FloatVector s = Vec.fma16(pair(signedGroup(sub, 0), signedGroup(sub, 1)), x, xo, FloatVector.zero(Vec.F));
                s = Vec.fma16(pair(signedGroup(sub, 2), signedGroup(sub, 3)), x, xo + 16, s);
                acc = Vec.fmaScaled(s, scale(d, sub), acc);
            }
        }
        return acc.reduceLanes(VectorOperators.ADD);
    }

    /**
     * The kernel for 256- and 512-bit vectors, written out but for {@link IQ2Grids#group}, which
     * inlines: a group of 8 values is one 256-bit vector, its magnitudes 8 grid bytes widened to
     * floats, its signs XORed on from a table; the sub-block's four groups go to two sums, then two
     * accumulators. Two groups' signed bytes made in scalar code and widened 16 at a time were
     * slower (one thread, from memory: 1.8 against 1.9 GB/s): they leave the scalar units with most
     * of the work.
     */
    private static float dot256(MemorySegment w, long o, float[] x, int xo, int blocks) {
        byte[] grid = IQ2Grids.XXS_BYTES;
        int[] signs = IQ2Grids.SIGN_BITS7;
        long end = (long) blocks * BYTES;
        MemorySegment row = w.asSlice(o, end);
        FloatVector acc0 = FloatVector.zero(F8), acc1 = acc0;
        int xi = xo;
        for (long p = 0; p < end; p += BYTES) {
            float d = Float.float16ToFloat(row.get(Blocks.I16, p));
            for (int i = 0; i < 8; i++, xi += 32) {
                long sub = row.get(Blocks.I64, p + 2 + 8 * i);
                int sg = (int) (sub >>> 32);
                FloatVector s0 = group(grid, (int) sub & 255, signs, sg & 127).mul(FloatVector.fromArray(F8, x, xi));
                FloatVector s1 = group(grid, (int) (sub >>> 8) & 255, signs, sg >>> 7 & 127).mul(FloatVector.fromArray(F8, x, xi + 8));
                s0 = group(grid, (int) (sub >>> 16) & 255, signs, sg >>> 14 & 127).fma(FloatVector.fromArray(F8, x, xi + 16), s0);
                s1 = group(grid, (int) (sub >>> 24) & 255, signs, sg >>> 21 & 127).fma(FloatVector.fromArray(F8, x, xi + 24), s1);
                FloatVector db = FloatVector.broadcast(F8, scale(d, sub));
                acc0 = s0.fma(db, acc0);
                acc1 = s1.fma(db, acc1);
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
                int y = outOff + b * QK + 32 * i;
                float db = scale(d, sub);
                Vec.store16(pair(signedGroup(sub, 0), signedGroup(sub, 1)), db, out, y);
                Vec.store16(pair(signedGroup(sub, 2), signedGroup(sub, 3)), db, out, y + 16);
            }
        }
    }

    /** llama.cpp has no IQ2_XXS without an importance matrix: ggml_quantize_chunk asserts one is given. */
    @Override
    public void quantize(float[] src, int srcOff, int n, MemorySegment dst, long dstOff) {
        throw new UnsupportedOperationException(type() + " needs an importance matrix (llama.cpp's ggml_quantize_chunk asserts one)");
    }

    /** llama.cpp's quantize_iq2_xxs: see {@link IQ2Quants#quantizeXxs}. */
    @Override
    public void quantize(float[] src, int srcOff, int n, MemorySegment dst, long dstOff, float[] importance) {
        IQ2Quants.quantizeXxs(src, srcOff, n, dst, dstOff, importance);
    }
}
