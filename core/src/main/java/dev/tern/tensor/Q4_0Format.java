package dev.tern.tensor;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

import static jdk.incubator.vector.VectorOperators.B2F;
import static jdk.incubator.vector.VectorOperators.LSHR;

/**
 * Q4_0: blocks of 32 values as 4-bit levels 0..15 meaning (q-8)·d (18 bytes: fp16 d, qs[16];
 * byte j holds value j in its low nibble and value j+16 in its high nibble).
 */
public final class Q4_0Format implements TensorFormat {
    public static final Q4_0Format INSTANCE = new Q4_0Format();
    private static final int QK = 32;
    private static final int BYTES = 18;
    private static final VectorSpecies<Float> F = Vec.F;
    private static final VectorSpecies<Byte> B = Vec.B16;
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

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

    /**
     * Four rows at a time, each block's activations loaded once for the four. Written out in
     * full for 512-bit vectors (a block is two of them): helper calls here exceed the JIT's
     * inlining budget, and a vector that crosses a call that is not inlined is boxed.
     */
    @Override
    public void dotRows(MemorySegment w, long byteOffset, long rowBytes, int rows, float[] x, int xOff, int n,
                        float[] out, int outOff) {
        Blocks.requireBlocks(type(), n);
        int r = 0;
        if (F.length() == 16) {
            for (; r + 4 <= rows; r += 4) {
                long o0 = byteOffset + r * rowBytes, o1 = o0 + rowBytes, o2 = o1 + rowBytes, o3 = o2 + rowBytes;
                FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0;
                for (int b = 0; b < n / QK; b++) {
                    long bo = (long) b * BYTES;
                    int xo = xOff + b * QK;
                    FloatVector x0 = FloatVector.fromArray(F, x, xo), x1 = FloatVector.fromArray(F, x, xo + 16);
                    ByteVector q0 = ByteVector.fromMemorySegment(B, w, o0 + bo + 2, LE);
                    FloatVector s0 = ((FloatVector) q0.and((byte) 0x0F).sub((byte) 8).convertShape(B2F, F, 0)).mul(x0);
                    s0 = ((FloatVector) q0.lanewise(LSHR, 4).sub((byte) 8).convertShape(B2F, F, 0)).fma(x1, s0);
                    a0 = s0.fma(FloatVector.broadcast(F, Float.float16ToFloat(w.get(Blocks.I16, o0 + bo))), a0);
                    ByteVector q1 = ByteVector.fromMemorySegment(B, w, o1 + bo + 2, LE);
                    FloatVector s1 = ((FloatVector) q1.and((byte) 0x0F).sub((byte) 8).convertShape(B2F, F, 0)).mul(x0);
                    s1 = ((FloatVector) q1.lanewise(LSHR, 4).sub((byte) 8).convertShape(B2F, F, 0)).fma(x1, s1);
                    a1 = s1.fma(FloatVector.broadcast(F, Float.float16ToFloat(w.get(Blocks.I16, o1 + bo))), a1);
                    ByteVector q2 = ByteVector.fromMemorySegment(B, w, o2 + bo + 2, LE);
                    FloatVector s2 = ((FloatVector) q2.and((byte) 0x0F).sub((byte) 8).convertShape(B2F, F, 0)).mul(x0);
                    s2 = ((FloatVector) q2.lanewise(LSHR, 4).sub((byte) 8).convertShape(B2F, F, 0)).fma(x1, s2);
                    a2 = s2.fma(FloatVector.broadcast(F, Float.float16ToFloat(w.get(Blocks.I16, o2 + bo))), a2);
                    ByteVector q3 = ByteVector.fromMemorySegment(B, w, o3 + bo + 2, LE);
                    FloatVector s3 = ((FloatVector) q3.and((byte) 0x0F).sub((byte) 8).convertShape(B2F, F, 0)).mul(x0);
                    s3 = ((FloatVector) q3.lanewise(LSHR, 4).sub((byte) 8).convertShape(B2F, F, 0)).fma(x1, s3);
                    a3 = s3.fma(FloatVector.broadcast(F, Float.float16ToFloat(w.get(Blocks.I16, o3 + bo))), a3);
                }
                out[outOff + r] = a0.reduceLanes(VectorOperators.ADD);
                out[outOff + r + 1] = a1.reduceLanes(VectorOperators.ADD);
                out[outOff + r + 2] = a2.reduceLanes(VectorOperators.ADD);
                out[outOff + r + 3] = a3.reduceLanes(VectorOperators.ADD);
            }
        }
        for (; r < rows; r++) {
            out[outOff + r] = dot(w, byteOffset + r * rowBytes, x, xOff, n);
        }
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
