package dev.tern.tensor;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

import static jdk.incubator.vector.VectorOperators.B2F;

/** Q8_0: blocks of 32 signed bytes with one fp16 scale (34 bytes: d, qs[32]). */
public final class Q8_0Format implements TensorFormat {
    public static final Q8_0Format INSTANCE = new Q8_0Format();
    private static final int QK = 32;
    private static final int BYTES = 34;
    private static final VectorSpecies<Float> F = Vec.F;
    private static final VectorSpecies<Byte> B = Vec.B16;
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

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
                    FloatVector s0 = ((FloatVector) ByteVector.fromMemorySegment(B, w, o0 + bo + 2, LE).convertShape(B2F, F, 0)).mul(x0);
                    s0 = ((FloatVector) ByteVector.fromMemorySegment(B, w, o0 + bo + 18, LE).convertShape(B2F, F, 0)).fma(x1, s0);
                    a0 = s0.fma(FloatVector.broadcast(F, Float.float16ToFloat(w.get(Blocks.I16, o0 + bo))), a0);
                    FloatVector s1 = ((FloatVector) ByteVector.fromMemorySegment(B, w, o1 + bo + 2, LE).convertShape(B2F, F, 0)).mul(x0);
                    s1 = ((FloatVector) ByteVector.fromMemorySegment(B, w, o1 + bo + 18, LE).convertShape(B2F, F, 0)).fma(x1, s1);
                    a1 = s1.fma(FloatVector.broadcast(F, Float.float16ToFloat(w.get(Blocks.I16, o1 + bo))), a1);
                    FloatVector s2 = ((FloatVector) ByteVector.fromMemorySegment(B, w, o2 + bo + 2, LE).convertShape(B2F, F, 0)).mul(x0);
                    s2 = ((FloatVector) ByteVector.fromMemorySegment(B, w, o2 + bo + 18, LE).convertShape(B2F, F, 0)).fma(x1, s2);
                    a2 = s2.fma(FloatVector.broadcast(F, Float.float16ToFloat(w.get(Blocks.I16, o2 + bo))), a2);
                    FloatVector s3 = ((FloatVector) ByteVector.fromMemorySegment(B, w, o3 + bo + 2, LE).convertShape(B2F, F, 0)).mul(x0);
                    s3 = ((FloatVector) ByteVector.fromMemorySegment(B, w, o3 + bo + 18, LE).convertShape(B2F, F, 0)).fma(x1, s3);
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
