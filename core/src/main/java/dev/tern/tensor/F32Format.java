package dev.tern.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/** 32-bit floats, little-endian. */
public final class F32Format implements TensorFormat {
    public static final F32Format INSTANCE = new F32Format();
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;

    private F32Format() {
    }

    @Override
    public GGMLType type() {
        return GGMLType.F32;
    }

    @Override
    public float dot(MemorySegment w, long byteOffset, float[] x, int xOff, int n) {
        FloatVector acc = FloatVector.zero(S);
        int i = 0;
        int bound = S.loopBound(n);
        for (; i < bound; i += S.length()) {
            FloatVector a = FloatVector.fromMemorySegment(S, w, byteOffset + 4L * i, ByteOrder.LITTLE_ENDIAN);
            acc = a.fma(FloatVector.fromArray(S, x, xOff + i), acc);
        }
        float sum = acc.reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) {
            sum += w.get(F32, byteOffset + 4L * i) * x[xOff + i];
        }
        return sum;
    }

    /** The ranges four rows at a time, so that the 4-row kernel keeps sharing its activation loads. */
    @Override
    public void dotRowsFour(MemorySegment w, long[] offsets, long rowBytes, int rows, float[] x, int xOff, int n,
                            float[] out, int[] outs) {
        TensorFormat.dotRowsFourInGroups(this, 4, w, offsets, rowBytes, rows, x, xOff, n, out, outs);
    }

    /** Four rows at a time, each activation vector load shared by the four. */
    @Override
    public void dotRows(MemorySegment w, long byteOffset, long rowBytes, int rows, float[] x, int xOff, int n,
                        float[] out, int outOff) {
        int r = 0;
        int bound = S.loopBound(n);
        for (; r + 4 <= rows; r += 4) {
            long o0 = byteOffset + r * rowBytes, o1 = o0 + rowBytes, o2 = o1 + rowBytes, o3 = o2 + rowBytes;
            FloatVector a0 = FloatVector.zero(S), a1 = a0, a2 = a0, a3 = a0;
            for (int i = 0; i < bound; i += S.length()) {
                FloatVector xv = FloatVector.fromArray(S, x, xOff + i);
                long bo = 4L * i;
                a0 = FloatVector.fromMemorySegment(S, w, o0 + bo, ByteOrder.LITTLE_ENDIAN).fma(xv, a0);
                a1 = FloatVector.fromMemorySegment(S, w, o1 + bo, ByteOrder.LITTLE_ENDIAN).fma(xv, a1);
                a2 = FloatVector.fromMemorySegment(S, w, o2 + bo, ByteOrder.LITTLE_ENDIAN).fma(xv, a2);
                a3 = FloatVector.fromMemorySegment(S, w, o3 + bo, ByteOrder.LITTLE_ENDIAN).fma(xv, a3);
            }
            out[outOff + r] = a0.reduceLanes(VectorOperators.ADD) + tail(w, o0, x, xOff, bound, n);
            out[outOff + r + 1] = a1.reduceLanes(VectorOperators.ADD) + tail(w, o1, x, xOff, bound, n);
            out[outOff + r + 2] = a2.reduceLanes(VectorOperators.ADD) + tail(w, o2, x, xOff, bound, n);
            out[outOff + r + 3] = a3.reduceLanes(VectorOperators.ADD) + tail(w, o3, x, xOff, bound, n);
        }
        for (; r < rows; r++) {
            out[outOff + r] = dot(w, byteOffset + r * rowBytes, x, xOff, n);
        }
    }

    private static float tail(MemorySegment w, long o, float[] x, int xOff, int from, int n) {
        float sum = 0f;
        for (int i = from; i < n; i++) {
            sum += w.get(F32, o + 4L * i) * x[xOff + i];
        }
        return sum;
    }

    @Override
    public void dequantize(MemorySegment w, long byteOffset, float[] out, int outOff, int n) {
        MemorySegment.copy(w, F32, byteOffset, out, outOff, n);
    }

    @Override
    public void quantize(float[] src, int srcOff, int n, MemorySegment dst, long dstOff) {
        MemorySegment.copy(src, srcOff, dst, F32, dstOff, n);
    }
}
