package dev.tern.tensor;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

import java.lang.foreign.MemorySegment;

/** Q8_0: blocks of 32 signed bytes with one fp16 scale (34 bytes: d, qs[32]). */
public final class Q8_0Format implements TensorFormat {
    public static final Q8_0Format INSTANCE = new Q8_0Format();
    private static final int QK = 32;
    private static final int BYTES = 34;

    private Q8_0Format() {
    }

    @Override
    public GGMLType type() {
        return GGMLType.Q8_0;
    }

    @Override
    public float dot(MemorySegment w, long byteOffset, float[] x, int xOff, int n) {
        Blocks.requireBlocks(type(), n);
        FloatVector acc = FloatVector.zero(Vec.F);
        for (int b = 0; b < n / QK; b++) {
            long o = byteOffset + (long) b * BYTES;
            int xo = xOff + b * QK;
            FloatVector s = Vec.fma16(Vec.load16(w, o + 2), x, xo, FloatVector.zero(Vec.F));
            s = Vec.fma16(Vec.load16(w, o + 18), x, xo + 16, s);
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

    /** acc + d·Σ q[i]·x[xo+i] over the block at o. */
    private static FloatVector block(MemorySegment w, long o, float[] x, int xo, FloatVector acc) {
        FloatVector s = Vec.fma16(Vec.load16(w, o + 2), x, xo, FloatVector.zero(Vec.F));
        s = Vec.fma16(Vec.load16(w, o + 18), x, xo + 16, s);
        return Vec.fmaScaled(s, Blocks.f16(w, o), acc);
    }

    @Override
    public void dequantize(MemorySegment w, long byteOffset, float[] out, int outOff, int n) {
        Blocks.requireBlocks(type(), n);
        for (int b = 0; b < n / QK; b++) {
            long o = byteOffset + (long) b * BYTES;
            int yo = outOff + b * QK;
            float d = Blocks.f16(w, o);
            Vec.store16(Vec.load16(w, o + 2), d, out, yo);
            Vec.store16(Vec.load16(w, o + 18), d, out, yo + 16);
        }
    }

    /** quantize_row_q8_0_ref: scale amax/127, values rounded half away from zero. */
    @Override
    public void quantize(float[] src, int srcOff, int n, MemorySegment dst, long dstOff) {
        Blocks.requireBlocks(type(), n);
        for (int b = 0; b < n / QK; b++) {
            int xo = srcOff + b * QK;
            long o = dstOff + (long) b * BYTES;
            float amax = 0.0f;
            for (int j = 0; j < QK; j++) {
                amax = Math.max(amax, Math.abs(src[xo + j]));
            }
            float d = amax / ((1 << 7) - 1);
            float id = d != 0 ? 1.0f / d : 0.0f;
            Blocks.putF16(dst, o, d);
            for (int j = 0; j < QK; j++) {
                dst.set(Blocks.I8, o + 2 + j, (byte) (int) Blocks.roundf(src[xo + j] * id));
            }
        }
    }
}
