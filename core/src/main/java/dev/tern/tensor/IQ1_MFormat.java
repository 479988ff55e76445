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
 * the top four bits of sc[0..3], lowest first. Read only.
 */
public final class IQ1_MFormat implements TensorFormat {
    public static final IQ1_MFormat INSTANCE = new IQ1_MFormat();
    private static final int QK = KQuants.QK_K;
    private static final int BYTES = 56;
    private static final int QH = 32;
    private static final int SCALES = 48;

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

    @Override
    public void quantize(float[] src, int srcOff, int n, MemorySegment dst, long dstOff) {
        throw new UnsupportedOperationException("Tern reads IQ1_M but does not write it");
    }
}
