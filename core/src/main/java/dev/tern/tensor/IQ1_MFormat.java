package dev.tern.tensor;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

import java.lang.foreign.MemorySegment;

/**
 * IQ1_M: super-blocks of 256 values in 8 sub-blocks of 32 (56 bytes: qs[32], qh[16],
 * scales[8] as four 16-bit words sc[0..3]). Value 8l + j of sub-block i (l < 4) is
 * dl·(g_j + delta_l), g the {@link IQ1Grids#GRID} entry qs[4i + l] | (3 bits of
 * qh[2i + l/2] at bit 4·(l mod 2))·256, delta_l = ±{@link IQ1Grids#DELTA}, negative when bit
 * 4·(l mod 2) + 3 of that qh byte is set. dl = d·(2·s + 1) with the 3-bit s at bit
 * 6·(i mod 2) + 3·(l/2) of sc[i/2]. The fp16 d has no field of its own: its four nibbles are
 * the top four bits of sc[0..3], lowest first.
 */
public final class IQ1_MFormat implements TensorFormat {
    public static final IQ1_MFormat INSTANCE = new IQ1_MFormat();
    private static final int QK = KQuants.QK_K;
    private static final int BYTES = 56;
    private static final int QH = 32;
    private static final int SCALES = 48;
    /** GROUP_MAX_EPS_IQ1_M: a sub-block whose largest magnitude is below it is left zero. */
    private static final float GROUP_MAX_EPS = 1e-7f;

    private IQ1_MFormat() {
    }

    @Override
    public GGMLType type() {
        return GGMLType.IQ1_M;
    }

    /** The super-block's d, assembled from the scale words' top nibbles. */
    private static float d(MemorySegment w, long o) {
        long sc = w.get(Blocks.I32, o + SCALES) & 0xFFFFFFFFL | (long) w.get(Blocks.I32, o + SCALES + 4) << 32;
        return Float.float16ToFloat((short) (sc >>> 12 & 0xF | sc >>> 24 & 0xF0 | sc >>> 36 & 0xF00 | sc >>> 48 & 0xF000));
    }

    /**
     * Each 16 values are two {@link IQ1Grids#EIGHTHS} entries, 8·(g + delta), widened and
     * multiplied with x, each half sub-block's sum scaled by dl/8. A qh nibble is an index's
     * high bits and delta's sign at once: a pdep spreads the four, with the qs bytes, to 16-bit
     * fields of a long.
     */
    @Override
    public float dot(MemorySegment w, long byteOffset, float[] x, int xOff, int n) {
        Blocks.requireBlocks(type(), n);
        FloatVector acc = FloatVector.zero(Vec.F);
        int xo = xOff;
        for (int b = 0; b < n / QK; b++) {
            long o = byteOffset + (long) b * BYTES;
            float d = d(w, o);
            for (int i = 0; i < 8; i++, xo += 32) {
                int sc = w.get(Blocks.I16, o + SCALES + 2 * (i >> 1)) >>> 6 * (i & 1);
                long idx = Long.expand(w.get(Blocks.I32, o + 4 * i), 0x00FF00FF00FF00FFL)
                        | Long.expand(w.get(Blocks.I16, o + QH + 2 * i), 0x0F000F000F000F00L);
                ByteVector q0 = IQ1_SFormat.eighths((int) idx & 0xFFF, (int) (idx >>> 16) & 0xFFF);
                ByteVector q1 = IQ1_SFormat.eighths((int) (idx >>> 32) & 0xFFF, (int) (idx >>> 48) & 0xFFF);
                acc = Vec.fmaScaled(Vec.fma16(q0, x, xo, FloatVector.zero(Vec.F)), d * (2 * (sc & 7) + 1) * 0.125f, acc);
                acc = Vec.fmaScaled(Vec.fma16(q1, x, xo + 16, FloatVector.zero(Vec.F)), d * (2 * (sc >>> 3 & 7) + 1) * 0.125f, acc);
            }
        }
        return acc.reduceLanes(VectorOperators.ADD);
    }

    /** As dequantize_row_iq1_m rounds: dl·(g + delta), one rounding; 16 values at a time, as IQ1_S's dequantizer. */
    @Override
    public void dequantize(MemorySegment w, long byteOffset, float[] out, int outOff, int n) {
        Blocks.requireBlocks(type(), n);
        int y = outOff;
        for (int b = 0; b < n / QK; b++) {
            long o = byteOffset + (long) b * BYTES;
            float d = d(w, o);
            for (int i = 0; i < 8; i++, y += 32) {
                int sc = w.get(Blocks.I16, o + SCALES + 2 * (i >> 1)) >>> 6 * (i & 1);
                long idx = Long.expand(w.get(Blocks.I32, o + 4 * i), 0x00FF00FF00FF00FFL)
                        | Long.expand(w.get(Blocks.I16, o + QH + 2 * i), 0x0F000F000F000F00L);
                Vec.store16(IQ1_SFormat.eighths((int) idx & 0xFFF, (int) (idx >>> 16) & 0xFFF), d * (2 * (sc & 7) + 1) * 0.125f, out, y);
                Vec.store16(IQ1_SFormat.eighths((int) (idx >>> 32) & 0xFFF, (int) (idx >>> 48) & 0xFFF),
                        d * (2 * (sc >>> 3 & 7) + 1) * 0.125f, out, y + 16);
            }
        }
    }

    /** Without importance llama.cpp weighs each value by x² (quant_weights NULL, which it allows for IQ1_M). */
    @Override
    public void quantize(float[] src, int srcOff, int n, MemorySegment dst, long dstOff) {
        quantizeRow(src, srcOff, n, dst, dstOff, null);
    }

    @Override
    public void quantize(float[] src, int srcOff, int n, MemorySegment dst, long dstOff, float[] importance) {
        IQ1Search.requireImportance(importance, n);
        quantizeRow(src, srcOff, n, dst, dstOff, importance);
    }

    /**
     * quantize_row_iq1_m_impl: per sub-block of 16, the best split of the sorted values into
     * levels 0, 1, 2 with delta chosen per half (four sign pairs), searched over prefix sums kept
     * per half; off-grid groups of eight move to their nearest grid entry and the scale is refitted.
     * The sub-block scales round to 3 bits against max/15, then d is refitted to the rounded
     * scales over the whole super-block.
     */
    private static void quantizeRow(float[] src, int srcOff, int n, MemorySegment dst, long dstOff, float[] importance) {
        Blocks.requireBlocks(GGMLType.IQ1_M, n);
        Search search = new Search();
        float[] scales = new float[16];
        int[] shifts = new int[16];
        for (int b = 0; b < n / QK; b++) {
            long o = dstOff + (long) b * BYTES;
            int xo = srcOff + b * QK;
            dst.asSlice(o, BYTES).fill((byte) 0);
            float sigma2 = IQ1Search.sigma2(src, xo);
            float maxScale = 0;
            for (int ib = 0; ib < 16; ib++) {
                IQ1Search.weights(src, xo + 16 * ib, 16, importance, b * QK + 16 * ib, sigma2, search.weight);
                scales[ib] = search.subBlock(src, xo + 16 * ib, dst, o, ib);
                shifts[ib] = search.shift;
                maxScale = maxScale > scales[ib] ? maxScale : scales[ib];
            }
            if (maxScale == 0) {
                continue;
            }
            float d = maxScale / 15;
            float id = 1 / d;
            float sumqx = 0, sumq2 = 0;
            for (int ib = 0; ib < 16; ib++) {
                int l = Math.clamp(Blocks.nearestInt(0.5f * (id * scales[ib] - 1)), 0, 7);
                long sc = o + SCALES + 2 * (ib / 4);
                dst.set(Blocks.I16, sc, (short) (dst.get(Blocks.I16, sc) | l << 3 * (ib % 4)));
                int qh = Blocks.u8(dst, o + QH + ib) | MASKS[shifts[ib]];
                dst.set(Blocks.I8, o + QH + ib, (byte) qh);
                int xb = xo + 16 * ib;
                IQ1Search.weights(src, xb, 16, importance, b * QK + 16 * ib, sigma2, search.weight);
                for (int k = 0; k < 2; k++) {
                    float[] values = values(shifts[ib], k);
                    int g = Blocks.u8(dst, o + 2 * ib + k) + (qh << 8 - 4 * k & 0x700);
                    for (int j = 0; j < 8; j++) {
                        float w = search.weight[8 * k + j];
                        float q = values[IQ1Search.level(g, j)] * (2 * l + 1);
                        sumqx += w * q * src[xb + 8 * k + j];
                        sumq2 += w * q * q;
                    }
                }
            }
            if (sumq2 > 0) {
                d = sumqx / sumq2;
            }
            int h = Short.toUnsignedInt(Blocks.toF16(d * 1.1125f));
            for (int i = 0; i < 4; i++) {
                long sc = o + SCALES + 2 * i;
                dst.set(Blocks.I16, sc, (short) (dst.get(Blocks.I16, sc) | (h >>> 4 * i & 0xF) << 12));
            }
        }
    }

    /** qh's delta sign bits for the shifts 0..3 (+ +, + −, − +, − −: first half, second half). */
    private static final int[] MASKS = {0x00, 0x80, 0x08, 0x88};

    /** The shifted values of half k under shift s. */
    private static float[] values(int s, int k) {
        return (k == 0 ? s < 2 : s % 2 == 0) ? IQ1Search.PLUS : IQ1Search.MINUS;
    }

    /** One sub-block's search, with its scratch arrays: weight is filled by the caller. */
    private static final class Search {
        final float[] weight = new float[16];
        final float[][] px = new float[2][17];
        final float[][] pw = new float[2][17];
        final int[] order = new int[16];
        final byte[] levels = new byte[16];
        final float[] sumqx = new float[4];
        final float[] sumq2 = new float[4];
        final int[] index = new int[2];
        final float[][] groupValues = new float[2][];
        int shift;

        /**
         * Searches the sub-block at x[xb..xb+16), writes its grid indices to qs and qh and returns
         * its scale (0, shift 0, and nothing written when it is all but zero or has no weight).
         */
        float subBlock(float[] x, int xb, MemorySegment dst, long o, int ib) {
            shift = 0;
            if (IQ1Search.maxAbs(x, xb, 16) < GROUP_MAX_EPS) {
                return 0;
            }
            IQ1Search.sortedPositions(x, xb, 16, order);
            for (int j = 0; j < 16; j++) {
                int i = order[j];
                int h = i < 8 ? 0 : 1;
                px[h][j + 1] = px[h][j] + weight[i] * x[xb + i];
                px[1 - h][j + 1] = px[1 - h][j];
                pw[h][j + 1] = pw[h][j] + weight[i];
                pw[1 - h][j + 1] = pw[1 - h][j];
            }
            float[] p = IQ1Search.PLUS, m = IQ1Search.MINUS;
            float cp1 = p[0] * p[0] - p[1] * p[1], cp2 = p[1] * p[1] - p[2] * p[2];
            float cm1 = m[0] * m[0] - m[1] * m[1], cm2 = m[1] * m[1] - m[2] * m[2];
            float best = -Float.MAX_VALUE, scale = 0;
            int best1 = -1, best2 = -1, bestK = -1;
            for (int i1 = 0; i1 <= 16; i1++) {
                for (int i2 = i1; i2 <= 16; i2++) {
                    float sx0 = px[0][i1] + px[0][i2], sx1 = px[1][i1] + px[1][i2];
                    float qxp0 = px[0][16] * p[2] - sx0, qxm0 = px[0][16] * m[2] - sx0;
                    float qxp1 = px[1][16] * p[2] - sx1, qxm1 = px[1][16] * m[2] - sx1;
                    float q2p0 = pw[0][16] * p[2] * p[2] + pw[0][i1] * cp1 + pw[0][i2] * cp2;
                    float q2m0 = pw[0][16] * m[2] * m[2] + pw[0][i1] * cm1 + pw[0][i2] * cm2;
                    float q2p1 = pw[1][16] * p[2] * p[2] + pw[1][i1] * cp1 + pw[1][i2] * cp2;
                    float q2m1 = pw[1][16] * m[2] * m[2] + pw[1][i1] * cm1 + pw[1][i2] * cm2;
                    sumqx[0] = qxp0 + qxp1;
                    sumqx[1] = qxp0 + qxm1;
                    sumqx[2] = qxm0 + qxp1;
                    sumqx[3] = qxm0 + qxm1;
                    sumq2[0] = q2p0 + q2p1;
                    sumq2[1] = q2p0 + q2m1;
                    sumq2[2] = q2m0 + q2p1;
                    sumq2[3] = q2m0 + q2m1;
                    for (int k = 0; k < 4; k++) {
                        if (sumq2[k] > 0 && sumqx[k] * sumqx[k] > best * sumq2[k]) {
                            scale = sumqx[k] / sumq2[k];
                            best = scale * sumqx[k];
                            best1 = i1;
                            best2 = i2;
                            bestK = k;
                        }
                    }
                }
            }
            if (bestK < 0) {
                return 0;
            }
            boolean mirror = scale < 0;
            IQ1Search.splitLevels(order, 16, best1, best2, mirror, levels);
            if (mirror) {
                scale = -scale;
                bestK = 3 - bestK;
            }
            groupValues[0] = values(bestK, 0);
            groupValues[1] = values(bestK, 1);
            scale = IQ1Search.snapToGrid(levels, 2, x, xb, weight, scale, groupValues, index);
            dst.set(Blocks.I8, o + 2 * ib, (byte) index[0]);
            dst.set(Blocks.I8, o + 2 * ib + 1, (byte) index[1]);
            dst.set(Blocks.I8, o + QH + ib, (byte) (index[0] >>> 8 | (index[1] >>> 8) << 4));
            shift = bestK;
            return scale;
        }
    }
}
