package dev.tern.tensor;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;

import static dev.tern.tensor.IQ2Grids.SIGNS7;
import static dev.tern.tensor.IQ2Grids.XXS;
import static dev.tern.tensor.IQ2Grids.pair;
import static dev.tern.tensor.IQ2Grids.signed;
import static jdk.incubator.vector.VectorOperators.B2F;

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
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_512;

    private IQ2_XXSFormat() {
    }

    @Override
    public GGMLType type() {
        return GGMLType.IQ2_XXS;
    }

    /** Group l (values 8l..8l+7) of a sub-block as signed bytes, from the sub-block's 8 stored bytes. */
    private static long group(long sub, int l) {
        return signed(XXS[(int) (sub >>> 8 * l) & 255], SIGNS7[(int) (sub >>> 32 + 7 * l) & 127]);
    }

    /** d·(0.5 + s)·0.25, rounded as ggml's dequantize_row_iq2_xxs rounds it. */
    private static float scale(float d, long sub) {
        return d * (0.5f + (int) (sub >>> 60)) * 0.25f;
    }

    @Override
    public float dot(MemorySegment w, long byteOffset, float[] x, int xOff, int n) {
        Blocks.requireBlocks(type(), n);
        if (Vec.FL == 16) {
            return dot512(w, byteOffset, x, xOff, n / QK);
        }
        FloatVector acc = FloatVector.zero(Vec.F);
        for (int b = 0; b < n / QK; b++) {
            long o = byteOffset + (long) b * BYTES;
            float d = Blocks.f16(w, o);
            for (int i = 0; i < 8; i++) {
                long sub = w.get(IQ2Grids.I64, o + 2 + 8 * i);
                int xo = xOff + b * QK + 32 * i;
                FloatVector s = Vec.fma16(pair(group(sub, 0), group(sub, 1)), x, xo, FloatVector.zero(Vec.F));
                s = Vec.fma16(pair(group(sub, 2), group(sub, 3)), x, xo + 16, s);
                acc = Vec.fmaScaled(s, scale(d, sub), acc);
            }
        }
        return acc.reduceLanes(VectorOperators.ADD);
    }

    /**
     * The 512-bit kernel, written out in full: each group's signed bytes are made in scalar code
     * (a grid look-up, a sign look-up, three ALU operations), two groups make a 128-bit vector in
     * registers, which widens to 16 floats.
     */
    private static float dot512(MemorySegment w, long o, float[] x, int xo, int blocks) {
        long end = (long) blocks * BYTES;
        MemorySegment row = w.asSlice(o, end);
        FloatVector acc = FloatVector.zero(F);
        int xi = xo;
        for (long p = 0; p < end; p += BYTES) {
            float d = Float.float16ToFloat(row.get(Blocks.I16, p));
            for (int i = 0; i < 8; i++, xi += 32) {
                long sub = row.get(IQ2Grids.I64, p + 2 + 8 * i);
                ByteVector q0 = pair(group(sub, 0), group(sub, 1));
                ByteVector q1 = pair(group(sub, 2), group(sub, 3));
                FloatVector s = ((FloatVector) q0.convertShape(B2F, F, 0)).mul(FloatVector.fromArray(F, x, xi));
                s = ((FloatVector) q1.convertShape(B2F, F, 0)).fma(FloatVector.fromArray(F, x, xi + 16), s);
                acc = s.fma(FloatVector.broadcast(F, scale(d, sub)), acc);
            }
        }
        return acc.reduceLanes(VectorOperators.ADD);
    }

    /** Each value is ±(d·(0.5 + s)·0.25)·grid byte, one rounding for the product, as ggml computes it. */
    @Override
    public void dequantize(MemorySegment w, long byteOffset, float[] out, int outOff, int n) {
        Blocks.requireBlocks(type(), n);
        for (int b = 0; b < n / QK; b++) {
            long o = byteOffset + (long) b * BYTES;
            float d = Blocks.f16(w, o);
            for (int i = 0; i < 8; i++) {
                long sub = w.get(IQ2Grids.I64, o + 2 + 8 * i);
                int y = outOff + b * QK + 32 * i;
                float db = scale(d, sub);
                Vec.store16(pair(group(sub, 0), group(sub, 1)), db, out, y);
                Vec.store16(pair(group(sub, 2), group(sub, 3)), db, out, y + 16);
            }
        }
    }

    /** Read only: llama.cpp makes IQ2_XXS by a grid search guided by an importance matrix. */
    @Override
    public void quantize(float[] src, int srcOff, int n, MemorySegment dst, long dstOff) {
        throw new UnsupportedOperationException("Tern does not quantize to " + type() + " (see GGMLType.isQuantizable)");
    }
}
