package dev.tern.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;

import static dev.tern.tensor.IQ2Grids.BYTE_SIGNS;
import static dev.tern.tensor.IQ2Grids.S;
import static dev.tern.tensor.IQ2Grids.group;
import static dev.tern.tensor.IQ2Grids.pair;
import static dev.tern.tensor.IQ2Grids.signed;

/**
 * IQ2_S: super-blocks of 256 values in 8 sub-blocks of 32 (82 bytes: fp16 d, qs[32], signs[32],
 * qh[8], scales[8]). Values 8l..8l+7 of sub-block i take grid entry qs[4i + l] plus bits 2l..2l+1
 * of qh[i] as bits 8–9 (a 10-bit index) and their signs from the bits of signs[4i + l], bit j for
 * value j; scales[i] holds the 4-bit scale s of the sub-block's first 16 values in its low nibble,
 * of the other 16 in its high nibble. A value is ±{@link IQ2Grids#S}[index] · d·(0.5 + s)·0.25.
 */
public final class IQ2_SFormat implements TensorFormat {
    public static final IQ2_SFormat INSTANCE = new IQ2_SFormat();
    private static final int QK = KQuants.QK_K;
    private static final int BYTES = 82;
    private static final VectorSpecies<Float> F8 = IQ2Grids.F8;

    private IQ2_SFormat() {
    }

    @Override
    public GGMLType type() {
        return GGMLType.IQ2_S;
    }

    /** Group l (values 8l..8l+7) of a sub-block as signed bytes, from its four qs bytes, four sign bytes and qh byte. */
    private static long signedGroup(int qs, int signs, int qh, int l) {
        return signed(S[(qs >>> 8 * l & 255) | (qh << 8 - 2 * l & 0x300)], BYTE_SIGNS[signs >>> 8 * l & 255]);
    }

    /** d·(0.5 + s)·0.25 for a 4-bit s, rounded as ggml's dequantize_row_iq2_s rounds it. */
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
                int qs = w.get(Blocks.I32, o + 2 + 4 * i);
                int signs = w.get(Blocks.I32, o + 34 + 4 * i);
                int qh = Blocks.u8(w, o + 66 + i);
                int sc = Blocks.u8(w, o + 74 + i);
                int xo = xOff + b * QK + 32 * i;
                FloatVector s = Vec.fma16(pair(signedGroup(qs, signs, qh, 0), signedGroup(qs, signs, qh, 1)), x, xo, FloatVector.zero(Vec.F));
                acc = Vec.fmaScaled(s, scale(d, sc & 15), acc);
                s = Vec.fma16(pair(signedGroup(qs, signs, qh, 2), signedGroup(qs, signs, qh, 3)), x, xo + 16, FloatVector.zero(Vec.F));
                acc = Vec.fmaScaled(s, scale(d, sc >>> 4), acc);
            }
        }
        return acc.reduceLanes(VectorOperators.ADD);
    }

    /** The kernel for 256- and 512-bit vectors, as IQ2_XS's (see {@link IQ2_XSFormat}). */
    private static float dot256(MemorySegment w, long o, float[] x, int xo, int blocks) {
        byte[] grid = IQ2Grids.S_BYTES;
        int[] signBits = IQ2Grids.BYTE_SIGN_BITS;
        long end = (long) blocks * BYTES;
        MemorySegment row = w.asSlice(o, end);
        FloatVector acc0 = FloatVector.zero(F8), acc1 = acc0;
        int xi = xo;
        for (long p = 0; p < end; p += BYTES) {
            float d = Float.float16ToFloat(row.get(Blocks.I16, p));
            long qhs = row.get(Blocks.I64, p + 66);
            long scales = row.get(Blocks.I64, p + 74);
            for (int i = 0; i < 8; i++, xi += 32) {
                int qs = row.get(Blocks.I32, p + 2 + 4 * i);
                int signs = row.get(Blocks.I32, p + 34 + 4 * i);
                int qh = (int) (qhs >>> 8 * i);
                int sc = (int) (scales >>> 8 * i);
                FloatVector s0 = group(grid, qs & 255 | qh << 8 & 0x300, signBits, signs & 255)
                        .mul(FloatVector.fromArray(F8, x, xi));
                FloatVector s1 = group(grid, qs >>> 16 & 255 | qh << 4 & 0x300, signBits, signs >>> 16 & 255)
                        .mul(FloatVector.fromArray(F8, x, xi + 16));
                s0 = group(grid, qs >>> 8 & 255 | qh << 6 & 0x300, signBits, signs >>> 8 & 255)
                        .fma(FloatVector.fromArray(F8, x, xi + 8), s0);
                s1 = group(grid, qs >>> 24 | qh << 2 & 0x300, signBits, signs >>> 24)
                        .fma(FloatVector.fromArray(F8, x, xi + 24), s1);
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
                int qs = w.get(Blocks.I32, o + 2 + 4 * i);
                int signs = w.get(Blocks.I32, o + 34 + 4 * i);
                int qh = Blocks.u8(w, o + 66 + i);
                int sc = Blocks.u8(w, o + 74 + i);
                int y = outOff + b * QK + 32 * i;
                Vec.store16(pair(signedGroup(qs, signs, qh, 0), signedGroup(qs, signs, qh, 1)), scale(d, sc & 15), out, y);
                Vec.store16(pair(signedGroup(qs, signs, qh, 2), signedGroup(qs, signs, qh, 3)), scale(d, sc >>> 4), out, y + 16);
            }
        }
    }

    /** llama.cpp's quantize_iq2_s without importance (quant_weights NULL): see {@link IQ2Quants#quantizeS}. */
    @Override
    public void quantize(float[] src, int srcOff, int n, MemorySegment dst, long dstOff) {
        IQ2Quants.quantizeS(src, srcOff, n, dst, dstOff, null);
    }

    /** llama.cpp's quantize_iq2_s: see {@link IQ2Quants#quantizeS}. */
    @Override
    public void quantize(float[] src, int srcOff, int n, MemorySegment dst, long dstOff, float[] importance) {
        IQ2Quants.quantizeS(src, srcOff, n, dst, dstOff, importance);
    }
}
