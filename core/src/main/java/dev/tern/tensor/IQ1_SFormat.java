package dev.tern.tensor;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.LongVector;
import jdk.incubator.vector.VectorOperators;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/**
 * IQ1_S: super-blocks of 256 values in 8 sub-blocks of 32 (50 bytes: fp16 d, qs[32], qh[8] as
 * 16-bit words). Value 8l + j of sub-block i (l < 4) is dl·(g_j + delta), g the
 * {@link IQ1Grids#GRID} entry qs[4i + l] | (bits 3l..3l+2 of qh[i])·256; bits 12..14 of qh[i]
 * give dl = d·(2·s + 1), bit 15 the sign of delta = ±{@link IQ1Grids#DELTA}.
 */
public final class IQ1_SFormat implements TensorFormat {
    public static final IQ1_SFormat INSTANCE = new IQ1_SFormat();
    private static final int QK = KQuants.QK_K;
    private static final int BYTES = 50;
    private static final int QS = 2;
    private static final int QH = 34;
    /** GROUP_MAX_EPS_IQ1_S: a sub-block whose largest magnitude is below it is left zero. */
    private static final float GROUP_MAX_EPS = 1e-12f;

    private IQ1_SFormat() {
    }

    @Override
    public GGMLType type() {
        return GGMLType.IQ1_S;
    }

    /** The {@link IQ1Grids#EIGHTHS} entries a and b, as 16 byte lanes. */
    static ByteVector eighths(int a, int b) {
        return LongVector.broadcast(LongVector.SPECIES_128, IQ1Grids.EIGHTHS[a]).withLane(1, IQ1Grids.EIGHTHS[b]).reinterpretAsBytes();
    }

    /**
     * Each 16 values are two {@link IQ1Grids#EIGHTHS} entries, 8·(g + delta), widened and
     * multiplied with x, the sub-block's sum scaled by dl/8. The four 12-bit indices (with
     * delta's sign as bit 11) are spread to 16-bit fields of a long by two pdeps.
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
                int qh = w.get(Blocks.I16, o + QH + 2 * i);
                long idx = Long.expand(w.get(Blocks.I32, o + QS + 4 * i), 0x00FF00FF00FF00FFL)
                        | Long.expand(qh, 0x0700070007000700L) | (qh >>> 15 & 1) * 0x0800080008000800L;
                ByteVector q0 = eighths((int) idx & 0xFFF, (int) (idx >>> 16) & 0xFFF);
                ByteVector q1 = eighths((int) (idx >>> 32) & 0xFFF, (int) (idx >>> 48) & 0xFFF);
                FloatVector s = Vec.fma16(q1, x, xo + 16, Vec.fma16(q0, x, xo, FloatVector.zero(Vec.F)));
                acc = Vec.fmaScaled(s, d * (2 * (qh >>> 12 & 7) + 1) * 0.125f, acc);
            }
        }
        return acc.reduceLanes(VectorOperators.ADD);
    }

    /**
     * As dequantize_row_iq1_s rounds: dl·(g + delta), one rounding. The dot kernel's 8·(g + delta)
     * bytes, widened and scaled by dl/8 (exact), give that 16 values at a time:
     * `CpuTimeAB matmul IQ1_S 16 400 2048`, whose batches dequantize rows, 24.5 → 66.3 GFLOP/s
     * (IQ1_M 16.9 → 65.1) against value by value.
     */
    @Override
    public void dequantize(MemorySegment w, long byteOffset, float[] out, int outOff, int n) {
        Blocks.requireBlocks(type(), n);
        int y = outOff;
        for (int b = 0; b < n / QK; b++) {
            long o = byteOffset + (long) b * BYTES;
            float d = Blocks.f16(w, o);
            for (int i = 0; i < 8; i++, y += 32) {
                int qh = w.get(Blocks.I16, o + QH + 2 * i);
                long idx = Long.expand(w.get(Blocks.I32, o + QS + 4 * i), 0x00FF00FF00FF00FFL)
                        | Long.expand(qh, 0x0700070007000700L) | (qh >>> 15 & 1) * 0x0800080008000800L;
                float scale = d * (2 * (qh >>> 12 & 7) + 1) * 0.125f;
                Vec.store16(eighths((int) idx & 0xFFF, (int) (idx >>> 16) & 0xFFF), scale, out, y);
                Vec.store16(eighths((int) (idx >>> 32) & 0xFFF, (int) (idx >>> 48) & 0xFFF), scale, out, y + 16);
            }
        }
    }

    /** llama.cpp's IQ1_S quantizer asserts that it has an importance matrix; so does Tern's. */
    @Override
    public void quantize(float[] src, int srcOff, int n, MemorySegment dst, long dstOff) {
        throw new UnsupportedOperationException("IQ1_S needs an importance matrix (llama.cpp's quantize_iq1_s requires one)");
    }

    /**
     * quantize_row_iq1_s_impl: per sub-block of 32, the best split of the values, sorted, into
     * levels 0, 1, 2 (an exhaustive search of the two boundaries over prefix sums, with delta +
     * and −), each group of eight then moved to its nearest grid entry if it is off the grid and
     * the scale refitted; the super-block scale d = max/15 rounds the sub-block scales to 3 bits.
     */
    @Override
    public void quantize(float[] src, int srcOff, int n, MemorySegment dst, long dstOff, float[] importance) {
        Blocks.requireBlocks(type(), n);
        IQ1Search.requireImportance(importance, n);
        float[] weight = new float[32];
        float[] sumx = new float[33];
        float[] sumw = new float[33];
        int[] order = new int[32];
        byte[] levels = new byte[32];
        int[] index = new int[4];
        float[][] groupValues = new float[4][];
        float[] scales = new float[8];
        boolean[] minus = new boolean[8];
        for (int b = 0; b < n / QK; b++) {
            long o = dstOff + (long) b * BYTES;
            int xo = srcOff + b * QK;
            dst.asSlice(o, BYTES).fill((byte) 0);
            float sigma2 = IQ1Search.sigma2(src, xo);
            float maxScale = 0;
            for (int ib = 0; ib < 8; ib++) {
                int xb = xo + 32 * ib;
                scales[ib] = 0;
                minus[ib] = false;
                IQ1Search.weights(src, xb, 32, importance, b * QK + 32 * ib, sigma2, weight);
                if (IQ1Search.maxAbs(src, xb, 32) < GROUP_MAX_EPS) {
                    continue;
                }
                IQ1Search.sortedPositions(src, xb, 32, order);
                for (int j = 0; j < 32; j++) {
                    int i = order[j];
                    sumx[j + 1] = sumx[j] + weight[i] * src[xb + i];
                    sumw[j + 1] = sumw[j] + weight[i];
                }
                float best = -Float.MAX_VALUE, scale = 0;
                int best1 = -1, best2 = -1, shift = 0;
                for (int i1 = 0; i1 <= 32; i1++) {
                    for (int i2 = i1; i2 <= 32; i2++) {
                        for (int s = 1; s >= -1; s -= 2) {
                            float[] v = s == 1 ? IQ1Search.PLUS : IQ1Search.MINUS;
                            float sumqx = (sumx[i1] - sumx[0]) * v[0] + (sumx[i2] - sumx[i1]) * v[1] + (sumx[32] - sumx[i2]) * v[2];
                            float sumq2 = (sumw[i1] - sumw[0]) * v[0] * v[0] + (sumw[i2] - sumw[i1]) * v[1] * v[1]
                                    + (sumw[32] - sumw[i2]) * v[2] * v[2];
                            if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
                                scale = sumqx / sumq2;
                                best = scale * sumqx;
                                best1 = i1;
                                best2 = i2;
                                shift = s;
                            }
                        }
                    }
                }
                if (shift == 0) {
                    continue;
                }
                boolean mirror = scale < 0;
                IQ1Search.splitLevels(order, 32, best1, best2, mirror, levels);
                if (mirror) {
                    scale = -scale;
                    shift = -shift;
                }
                float[] values = shift == 1 ? IQ1Search.PLUS : IQ1Search.MINUS;
                Arrays.fill(groupValues, values);
                scale = IQ1Search.snapToGrid(levels, 4, src, xb, weight, scale, groupValues, index);
                int h = 0;
                for (int k = 0; k < 4; k++) {
                    dst.set(Blocks.I8, o + QS + 4 * ib + k, (byte) index[k]);
                    h |= (index[k] >>> 8) << 3 * k;
                }
                dst.set(Blocks.I16, o + QH + 2 * ib, (short) h);
                scales[ib] = scale;
                minus[ib] = shift == -1;
                maxScale = maxScale > scale ? maxScale : scale;
            }
            if (maxScale == 0) {
                continue;
            }
            float d = maxScale / 15;
            Blocks.putF16(dst, o, d * 1.125f);
            float id = 1 / d;
            for (int ib = 0; ib < 8; ib++) {
                int l = Math.clamp(Blocks.nearestInt(0.5f * (id * scales[ib] - 1)), 0, 7) | (minus[ib] ? 8 : 0);
                long at = o + QH + 2 * ib;
                dst.set(Blocks.I16, at, (short) (dst.get(Blocks.I16, at) | l << 12));
            }
        }
    }
}
