package dev.tern.tensor;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

import java.lang.foreign.MemorySegment;

/**
 * Q4_0: blocks of 32 values as 4-bit levels 0..15 meaning (q-8)·d (18 bytes: fp16 d, qs[16];
 * byte j holds value j in its low nibble and value j+16 in its high nibble).
 */
public final class Q4_0Format implements TensorFormat {
    public static final Q4_0Format INSTANCE = new Q4_0Format();
    private static final int QK = 32;
    private static final int BYTES = 18;

    private Q4_0Format() {
    }

    @Override
    public GGMLType type() {
        return GGMLType.Q4_0;
    }

    @Override
    public float dot(MemorySegment w, long byteOffset, float[] x, int xOff, int n) {
        Blocks.requireBlocks(type(), n);
        FloatVector acc = FloatVector.zero(Vec.F);
        for (int b = 0; b < n / QK; b++) {
            long o = byteOffset + (long) b * BYTES;
            int xo = xOff + b * QK;
            ByteVector q = Vec.load16(w, o + 2);
            FloatVector s = Vec.fma16(q.and((byte) 0x0F).sub((byte) 8), x, xo, FloatVector.zero(Vec.F));
            s = Vec.fma16(q.lanewise(VectorOperators.LSHR, 4).sub((byte) 8), x, xo + 16, s);
            acc = Vec.fmaScaled(s, Blocks.f16(w, o), acc);
        }
        return acc.reduceLanes(VectorOperators.ADD);
    }

    @Override
    public void dequantize(MemorySegment w, long byteOffset, float[] out, int outOff, int n) {
        Blocks.requireBlocks(type(), n);
        for (int b = 0; b < n / QK; b++) {
            long o = byteOffset + (long) b * BYTES;
            int yo = outOff + b * QK;
            float d = Blocks.f16(w, o);
            ByteVector q = Vec.load16(w, o + 2);
            Vec.store16(q.and((byte) 0x0F).sub((byte) 8), d, out, yo);
            Vec.store16(q.lanewise(VectorOperators.LSHR, 4).sub((byte) 8), d, out, yo + 16);
        }
    }

    /** quantize_row_q4_0_ref: d = max/-8 where max is the value of largest magnitude. */
    @Override
    public void quantize(float[] src, int srcOff, int n, MemorySegment dst, long dstOff) {
        Blocks.requireBlocks(type(), n);
        for (int b = 0; b < n / QK; b++) {
            int xo = srcOff + b * QK;
            long o = dstOff + (long) b * BYTES;
            float amax = 0.0f;
            float max = 0.0f;
            for (int j = 0; j < QK; j++) {
                float v = src[xo + j];
                if (amax < Math.abs(v)) {
                    amax = Math.abs(v);
                    max = v;
                }
            }
            float d = max / -8;
            float id = d != 0 ? 1.0f / d : 0.0f;
            Blocks.putF16(dst, o, d);
            for (int j = 0; j < QK / 2; j++) {
                // C truncates toward zero when converting to int8_t, as the (int) cast does.
                int xi0 = Math.min(15, (byte) (int) (src[xo + j] * id + 8.5f));
                int xi1 = Math.min(15, (byte) (int) (src[xo + QK / 2 + j] * id + 8.5f));
                dst.set(Blocks.I8, o + 2 + j, (byte) (xi0 | (xi1 << 4)));
            }
        }
    }
}
