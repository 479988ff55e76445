package dev.tern.tensor;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.LongVector;
import jdk.incubator.vector.VectorOperators;

import java.lang.foreign.MemorySegment;

/**
 * IQ1_S: super-blocks of 256 values in 8 sub-blocks of 32 (50 bytes: fp16 d, qs[32], qh[8] as
 * 16-bit words). Value 8l + j of sub-block i (l < 4) is dl·(g_j + delta), g the
 * {@link IQ1Grids#GRID} entry qs[4i + l] | (bits 3l..3l+2 of qh[i])·256; bits 12..14 of qh[i]
 * give dl = d·(2·s + 1), bit 15 the sign of delta = ±{@link IQ1Grids#DELTA}. Read only.
 */
public final class IQ1_SFormat implements TensorFormat {
    public static final IQ1_SFormat INSTANCE = new IQ1_SFormat();
    private static final int QK = KQuants.QK_K;
    private static final int BYTES = 50;
    private static final int QS = 2;
    private static final int QH = 34;

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

    @Override
    public void quantize(float[] src, int srcOff, int n, MemorySegment dst, long dstOff) {
        throw new UnsupportedOperationException("Tern reads IQ1_S but does not write it");
    }
}
