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

    /** Four rows at a time, each block's activations shared by the four. */
    @Override
    public void dotRows(MemorySegment w, long byteOffset, long rowBytes, int rows, float[] x, int xOff, int n,
                        float[] out, int outOff) {
        Blocks.requireBlocks(type(), n);
        int r = 0;
        for (; r + 4 <= rows; r += 4) {
            long o0 = byteOffset + r * rowBytes, o1 = o0 + rowBytes, o2 = o1 + rowBytes, o3 = o2 + rowBytes;
            FloatVector a0 = FloatVector.zero(Vec.F), a1 = a0, a2 = a0, a3 = a0;
            for (int b = 0; b < n / QK; b++) {
                long bo = (long) b * BYTES;
                int xo = xOff + b * QK;
                a0 = block(w, o0 + bo, x, xo, a0);
                a1 = block(w, o1 + bo, x, xo, a1);
                a2 = block(w, o2 + bo, x, xo, a2);
                a3 = block(w, o3 + bo, x, xo, a3);
            }
            out[outOff + r] = a0.reduceLanes(VectorOperators.ADD);
            out[outOff + r + 1] = a1.reduceLanes(VectorOperators.ADD);
            out[outOff + r + 2] = a2.reduceLanes(VectorOperators.ADD);
            out[outOff + r + 3] = a3.reduceLanes(VectorOperators.ADD);
        }
        for (; r < rows; r++) {
            out[outOff + r] = dot(w, byteOffset + r * rowBytes, x, xOff, n);
        }
    }

    /** acc + d·Σ (q[i]-8)·x[xo+i] over the block at o. */
    private static FloatVector block(MemorySegment w, long o, float[] x, int xo, FloatVector acc) {
        ByteVector q = Vec.load16(w, o + 2);
        FloatVector s = Vec.fma16(q.and((byte) 0x0F).sub((byte) 8), x, xo, FloatVector.zero(Vec.F));
        s = Vec.fma16(q.lanewise(VectorOperators.LSHR, 4).sub((byte) 8), x, xo + 16, s);
        return Vec.fmaScaled(s, Blocks.f16(w, o), acc);
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
