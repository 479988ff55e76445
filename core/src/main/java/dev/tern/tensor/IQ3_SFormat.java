package dev.tern.tensor;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.LongVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;

import java.lang.foreign.MemorySegment;

/**
 * IQ3_S: super-blocks of 256 values in 8 sub-blocks of 32 (110 bytes: fp16 d, qs[64], qh[8],
 * signs[32], scales[4]). Value k·4 + j of sub-block i (k < 8, j < 4) is byte j of the
 * {@link IQ3Grids#S} entry qs[8i + k] | (bit k of qh[i])·256, negative when bit 8k + j of the
 * 32-bit word signs[4i ..] is set, times d·(1 + 2·sc) with sc the low nibble of scales[i/2]
 * for even i, the high one for odd i.
 */
public final class IQ3_SFormat implements TensorFormat {
    public static final IQ3_SFormat INSTANCE = new IQ3_SFormat();
    private static final int QK = KQuants.QK_K;
    private static final int BYTES = 110;
    private static final int QS = 2;
    private static final int QH = 66;
    private static final int SIGNS = 74;
    private static final int SCALES = 106;

    private IQ3_SFormat() {
    }

    @Override
    public GGMLType type() {
        return GGMLType.IQ3_S;
    }

    /** The four grid entries named by the bytes of q and bits 0..3 of h (the ninth index bits), as 16 byte lanes. */
    private static ByteVector entries(int q, int h) {
        int[] g = IQ3Grids.S;
        long lo = g[q & 0xFF | h << 8 & 256] & 0xFFFFFFFFL | (long) g[q >>> 8 & 0xFF | h << 7 & 256] << 32;
        long hi = g[q >>> 16 & 0xFF | h << 6 & 256] & 0xFFFFFFFFL | (long) g[q >>> 24 | h << 5 & 256] << 32;
        return LongVector.broadcast(LongVector.SPECIES_128, lo).withLane(1, hi).reinterpretAsBytes();
    }

    /**
     * As IQ3_XXS's kernel: each 16 values are four grid entries' magnitudes, their signs applied
     * as a byte mask, then widened and multiplied with x. Spreading the 9-bit indices to a long
     * by pdeps, as IQ1's kernels do, was no faster here (1.56 against 1.61 GB/s).
     */
    @Override
    public float dot(MemorySegment w, long byteOffset, float[] x, int xOff, int n) {
        Blocks.requireBlocks(type(), n);
        FloatVector acc = FloatVector.zero(Vec.F);
        int xo = xOff;
        for (int b = 0; b < n / QK; b++) {
            long o = byteOffset + (long) b * BYTES;
            float d = Blocks.f16(w, o);
            int scales = w.get(Blocks.I32, o + SCALES);
            long qh = w.get(Blocks.I64, o + QH);
            for (int i = 0; i < 8; i++, xo += 32) {
                int signs = w.get(Blocks.I32, o + SIGNS + 4 * i);
                long qs = w.get(Blocks.I64, o + QS + 8 * i);
                int h = (int) (qh >>> 8 * i);
                ByteVector q0 = entries((int) qs, h).lanewise(VectorOperators.NEG, VectorMask.fromLong(Vec.B16, signs & 0xFFFF));
                ByteVector q1 = entries((int) (qs >>> 32), h >>> 4).lanewise(VectorOperators.NEG, VectorMask.fromLong(Vec.B16, signs >>> 16));
                FloatVector s = Vec.fma16(q1, x, xo + 16, Vec.fma16(q0, x, xo, FloatVector.zero(Vec.F)));
                acc = Vec.fmaScaled(s, d * (1 + 2 * (scales >>> 4 * i & 0xF)), acc);
            }
        }
        return acc.reduceLanes(VectorOperators.ADD);
    }

    /**
     * As dequantize_row_iq3_s rounds: the scale d·(1 + 2·sc), times the magnitude, then the sign;
     * the dot kernel's signed byte vectors, widened and scaled, as IQ3_XXS's dequantizer.
     */
    @Override
    public void dequantize(MemorySegment w, long byteOffset, float[] out, int outOff, int n) {
        Blocks.requireBlocks(type(), n);
        int y = outOff;
        for (int b = 0; b < n / QK; b++) {
            long o = byteOffset + (long) b * BYTES;
            float d = Blocks.f16(w, o);
            int scales = w.get(Blocks.I32, o + SCALES);
            long qh = w.get(Blocks.I64, o + QH);
            for (int i = 0; i < 8; i++, y += 32) {
                int signs = w.get(Blocks.I32, o + SIGNS + 4 * i);
                long qs = w.get(Blocks.I64, o + QS + 8 * i);
                int h = (int) (qh >>> 8 * i);
                float db = d * (1 + 2 * (scales >>> 4 * i & 0xF));
                Vec.store16(entries((int) qs, h).lanewise(VectorOperators.NEG, VectorMask.fromLong(Vec.B16, signs & 0xFFFF)), db, out, y);
                Vec.store16(entries((int) (qs >>> 32), h >>> 4).lanewise(VectorOperators.NEG, VectorMask.fromLong(Vec.B16, signs >>> 16)),
                        db, out, y + 16);
            }
        }
    }

    /** As quantize_row_iq3_s_ref and llama-quantize without an importance matrix: {@link #quantize(float[], int, int, MemorySegment, long, float[])} with weights x². */
    @Override
    public void quantize(float[] src, int srcOff, int n, MemorySegment dst, long dstOff) {
        quantize(src, srcOff, n, dst, dstOff, null);
    }

    /**
     * quantize_iq3_s: each sub-block coded by {@link IQ3Search}. The largest sub-block scale
     * becomes d (times ggml's fudge factor 1.033), the others 4-bit multiples of it. As in ggml,
     * a sub-block of zeros leaves no qs and signs: the next coded sub-block's take their place
     * (qh is indexed by sub-block), and the last places stay zero.
     */
    @Override
    public void quantize(float[] src, int srcOff, int n, MemorySegment dst, long dstOff, float[] importance) {
        Blocks.requireBlocks(type(), n);
        IQ3Search.SubBlock sb = new IQ3Search.SubBlock();
        float[] scales = new float[8];
        for (int b = 0; b < n / QK; b++) {
            long o = dstOff + (long) b * BYTES;
            dst.asSlice(o, BYTES).fill((byte) 0);
            float maxScale = Search.GRID.code(src, srcOff + b * QK, importance, b * QK, scales, sb, (ib, coded, s) -> {
                int qh = 0;
                for (int k = 0; k < 8; ++k) {
                    dst.set(Blocks.I8, o + QS + 8 * coded + k, (byte) s.entries[k]);
                    qh |= (s.entries[k] >> 8) << k;
                }
                dst.set(Blocks.I8, o + QH + ib, (byte) qh);
                dst.set(Blocks.I32, o + SIGNS + 4 * coded, s.signs);
            });
            if (maxScale == 0) {
                continue;
            }
            float d = maxScale / 31;
            Blocks.putF16(dst, o, d * 1.033f);
            float id = 1 / d;
            for (int ib = 0; ib < 8; ib += 2) {
                int codes = IQ3Search.scaleCode(id, scales[ib]) | IQ3Search.scaleCode(id, scales[ib + 1]) << 4;
                dst.set(Blocks.I8, o + SCALES + ib / 2, (byte) codes);
            }
        }
    }

    /** The search's grid index, built on first use. */
    private static final class Search {
        static final IQ3Search GRID = new IQ3Search(IQ3Grids.S, IQ3Grids.S_MAGNITUDES, false);
    }
}
