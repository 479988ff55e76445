package dev.tern.tensor;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.LongVector;
import jdk.incubator.vector.VectorOperators;

import java.lang.foreign.MemorySegment;

import static jdk.incubator.vector.VectorOperators.LSHL;

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

    /** The grid entries of indices a and b, as 16 byte lanes. */
    static ByteVector entries(int a, int b) {
        return LongVector.broadcast(LongVector.SPECIES_128, IQ1Grids.GRID[a]).withLane(1, IQ1Grids.GRID[b]).reinterpretAsBytes();
    }

    /**
     * Each 16 values are two grid entries' bytes as 8·(g + delta) = 8g ± 1 (exact in a byte),
     * widened and multiplied with x, the sub-block's sum scaled by dl/8.
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
                int qs = w.get(Blocks.I32, o + QS + 4 * i);
                byte delta = (byte) ((qh & 0x8000) != 0 ? -1 : 1);
                ByteVector q0 = entries(qs & 0xFF | (qh & 7) << 8, qs >>> 8 & 0xFF | (qh >>> 3 & 7) << 8);
                ByteVector q1 = entries(qs >>> 16 & 0xFF | (qh >>> 6 & 7) << 8, qs >>> 24 & 0xFF | (qh >>> 9 & 7) << 8);
                FloatVector s = Vec.fma16(q0.lanewise(LSHL, 3).add(delta), x, xo, FloatVector.zero(Vec.F));
                s = Vec.fma16(q1.lanewise(LSHL, 3).add(delta), x, xo + 16, s);
                acc = Vec.fmaScaled(s, d * (2 * (qh >>> 12 & 7) + 1) * 0.125f, acc);
            }
        }
        return acc.reduceLanes(VectorOperators.ADD);
    }

    /** As dequantize_row_iq1_s rounds: dl·(g + delta), one rounding. */
    @Override
    public void dequantize(MemorySegment w, long byteOffset, float[] out, int outOff, int n) {
        Blocks.requireBlocks(type(), n);
        int y = outOff;
        for (int b = 0; b < n / QK; b++) {
            long o = byteOffset + (long) b * BYTES;
            float d = Blocks.f16(w, o);
            for (int i = 0; i < 8; i++) {
                int qh = w.get(Blocks.I16, o + QH + 2 * i);
                float dl = d * (2 * (qh >>> 12 & 7) + 1);
                float delta = (qh & 0x8000) != 0 ? -IQ1Grids.DELTA : IQ1Grids.DELTA;
                for (int l = 0; l < 4; l++) {
                    long g = IQ1Grids.GRID[Blocks.u8(w, o + QS + 4 * i + l) | (qh >>> 3 * l & 7) << 8];
                    for (int j = 0; j < 8; j++) {
                        out[y++] = dl * ((byte) (g >>> 8 * j) + delta);
                    }
                }
            }
        }
    }

    @Override
    public void quantize(float[] src, int srcOff, int n, MemorySegment dst, long dstOff) {
        throw new UnsupportedOperationException("Tern reads IQ1_S but does not write it");
    }
}
