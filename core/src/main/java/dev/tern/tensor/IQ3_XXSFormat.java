package dev.tern.tensor;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.LongVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;

import java.lang.foreign.MemorySegment;

/**
 * IQ3_XXS: super-blocks of 256 values in 8 sub-blocks of 32 (98 bytes: fp16 d, qs[64],
 * scales_and_signs[32]). Sub-block i takes eight bytes of qs, each naming an {@link IQ3Grids#XXS}
 * entry of four magnitudes, and the 32-bit word i of scales_and_signs: its top four bits s give
 * the scale d·(0.5 + s)·0.5, its low 28 bits four 7-bit sign groups, one per eight values, each
 * widened to eight signs by {@link IQ2Grids#KSIGNS}.
 */
public final class IQ3_XXSFormat implements TensorFormat {
    public static final IQ3_XXSFormat INSTANCE = new IQ3_XXSFormat();
    private static final int QK = KQuants.QK_K;
    private static final int BYTES = 98;
    private static final int QS = 2;
    private static final int SIGNS = 66;

    private IQ3_XXSFormat() {
    }

    @Override
    public GGMLType type() {
        return GGMLType.IQ3_XXS;
    }

    /** The 32 signs of a sub-block from its word, by {@link IQ2Grids#KSIGNS}: bit j set when value j is negative. */
    static int signs(int aux) {
        int[] k = IQ2Grids.KSIGNS;
        return k[aux & 127] | k[aux >>> 7 & 127] << 8 | k[aux >>> 14 & 127] << 16 | k[aux >>> 21 & 127] << 24;
    }

    /**
     * {@link #signs} without the table: the four 7-bit groups spread to bytes (one pdep), each
     * byte's parity folded into its bit 0, then moved to bit 7.
     */
    static int spreadSigns(int aux) {
        int s = Integer.expand(aux, 0x7F7F7F7F);
        int p = s ^ s >>> 4;
        p ^= p >>> 2;
        p ^= p >>> 1;
        return s | (p & 0x01010101) << 7;
    }

    /** The four grid entries named by the bytes of q, as 16 byte lanes, negated where bit j of signs is set. */
    private static ByteVector signed(int q, int signs) {
        int[] g = IQ3Grids.XXS;
        long lo = g[q & 0xFF] & 0xFFFFFFFFL | (long) g[q >>> 8 & 0xFF] << 32;
        long hi = g[q >>> 16 & 0xFF] & 0xFFFFFFFFL | (long) g[q >>> 24] << 32;
        return LongVector.broadcast(LongVector.SPECIES_128, lo).withLane(1, hi).reinterpretAsBytes()
                .lanewise(VectorOperators.NEG, VectorMask.fromLong(Vec.B16, signs & 0xFFFF));
    }

    /** A sub-block's scale d·(0.5 + s)·0.5, s the top four bits of its word, rounded as ggml rounds it. */
    private static float scale(float d, int aux) {
        return d * (0.5f + (aux >>> 28)) * 0.5f;
    }

    /**
     * Each 16 values are four grid entries' magnitudes (at most 62, so a byte holds them negated),
     * assembled from two longs, their signs applied as a byte mask, then widened and multiplied
     * with x; one kernel for every vector width. One thread, from memory, variants alternating
     * as in `CpuTimeAB`: the signs by {@link #spreadSigns} 1.79 GB/s against 1.61 by the table;
     * a 512-bit gather of 16 entries was slower (1.2), and this kernel written out for 512 bits
     * no faster (1.56 against 1.63). Widening and multiplying alone, with no look-up at all, reads
     * 3.95 GB/s of this type's bytes: 98 bytes carry 256 values.
     */
    @Override
    public float dot(MemorySegment w, long byteOffset, float[] x, int xOff, int n) {
        Blocks.requireBlocks(type(), n);
        FloatVector acc = FloatVector.zero(Vec.F);
        int xo = xOff;
        for (int b = 0; b < n / QK; b++) {
            long o = byteOffset + (long) b * BYTES;
            float d = Blocks.f16(w, o);
            for (int i = 0; i < 8; i++, xo += 32) {
                int aux = w.get(Blocks.I32, o + SIGNS + 4 * i);
                int signs = spreadSigns(aux);
                long qs = w.get(Blocks.I64, o + QS + 8 * i);
                FloatVector s = Vec.fma16(signed((int) (qs >>> 32), signs >>> 16), x, xo + 16,
                        Vec.fma16(signed((int) qs, signs), x, xo, FloatVector.zero(Vec.F)));
                acc = Vec.fmaScaled(s, scale(d, aux), acc);
            }
        }
        return acc.reduceLanes(VectorOperators.ADD);
    }

    /**
     * As dequantize_row_iq3_xxs rounds: the scale d·(0.5 + s)·0.5, times the magnitude, then the
     * sign. The dot kernel's signed byte vectors widened and scaled give exactly that (negation
     * commutes with rounding), 16 values at a time: `CpuTimeAB matmul IQ3_XXS 16 400 2048`, whose
     * batches dequantize rows, 7.6 GFLOP/s value by value with a branch on each random sign bit,
     * 21.1 with the sign as a flipped bit, 59.9 with these vectors (IQ3_S: 7.3, 17.8, 56.5).
     */
    @Override
    public void dequantize(MemorySegment w, long byteOffset, float[] out, int outOff, int n) {
        Blocks.requireBlocks(type(), n);
        int y = outOff;
        for (int b = 0; b < n / QK; b++) {
            long o = byteOffset + (long) b * BYTES;
            float d = Blocks.f16(w, o);
            for (int i = 0; i < 8; i++, y += 32) {
                int aux = w.get(Blocks.I32, o + SIGNS + 4 * i);
                int signs = spreadSigns(aux);
                long qs = w.get(Blocks.I64, o + QS + 8 * i);
                float db = scale(d, aux);
                Vec.store16(signed((int) qs, signs), db, out, y);
                Vec.store16(signed((int) (qs >>> 32), signs >>> 16), db, out, y + 16);
            }
        }
    }

    /** As quantize_row_iq3_xxs_ref and llama-quantize without an importance matrix: {@link #quantize(float[], int, int, MemorySegment, long, float[])} with weights x². */
    @Override
    public void quantize(float[] src, int srcOff, int n, MemorySegment dst, long dstOff) {
        quantize(src, srcOff, n, dst, dstOff, null);
    }

    /**
     * quantize_iq3_xxs: each sub-block coded by {@link IQ3Search} (its signs made even in each
     * eight, since only seven are stored). The largest sub-block scale becomes d (times ggml's
     * fudge factor 1.0125), the others 4-bit multiples of it. A super-block whose scales are all
     * 0 is all zero bytes.
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
                for (int k = 0; k < 8; ++k) {
                    dst.set(Blocks.I8, o + QS + 8 * ib + k, (byte) s.entries[k]);
                }
                dst.set(Blocks.I32, o + SIGNS + 4 * ib, s.signs);
            });
            if (maxScale == 0) {
                dst.asSlice(o, BYTES).fill((byte) 0);
                continue;
            }
            float d = maxScale / 31;
            Blocks.putF16(dst, o, d * 1.0125f);
            float id = 1 / d;
            for (int ib = 0; ib < 8; ++ib) {
                long at = o + SIGNS + 4 * ib;
                dst.set(Blocks.I32, at, dst.get(Blocks.I32, at) | IQ3Search.scaleCode(id, scales[ib]) << 28);
            }
        }
    }

    /** The search's grid index, built on first use. */
    private static final class Search {
        static final IQ3Search GRID = new IQ3Search(IQ3Grids.XXS, IQ3Grids.XXS_MAGNITUDES, true);
    }
}
