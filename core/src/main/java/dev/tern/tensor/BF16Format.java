package dev.tern.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

/** bfloat16: the upper 16 bits of an IEEE float, little-endian. */
public final class BF16Format implements TensorFormat {
    public static final BF16Format INSTANCE = new BF16Format();
    private static final VectorSpecies<Float> F = Vec.F;
    private static final VectorSpecies<Short> S = VectorSpecies.of(short.class, VectorShape.forBitSize(F.length() * 16));
    private static final VectorSpecies<Integer> I = F.withLanes(int.class);

    private BF16Format() {
    }

    /** Its one-token kernels add as {@link BatchMatmul}'s tiles do: already batch-invariant. */
    @Override
    public TensorFormat inTileOrder() {
        return this;
    }

    @Override
    public GGMLType type() {
        return GGMLType.BF16;
    }

    static float toFloat(short bits) {
        return Float.intBitsToFloat(bits << 16);
    }

    /** ggml_compute_fp32_to_bf16: round to nearest even; NaNs are truncated and forced quiet. */
    static short fromFloat(float f) {
        int u = Float.floatToRawIntBits(f);
        if ((u & 0x7fffffff) > 0x7f800000) {
            return (short) ((u >>> 16) | 64);
        }
        return (short) ((u + (0x7fff + ((u >>> 16) & 1))) >>> 16);
    }

    @Override
    public float dot(MemorySegment w, long byteOffset, float[] x, int xOff, int n) {
        FloatVector acc = FloatVector.zero(F);
        int i = 0;
        int bound = F.loopBound(n);
        for (; i < bound; i += F.length()) {
            acc = widen(w, byteOffset + 2L * i).fma(FloatVector.fromArray(F, x, xOff + i), acc);
        }
        return acc.reduceLanes(VectorOperators.ADD) + BatchMatmul.tail(INSTANCE, w, byteOffset, x, xOff, i, n);
    }

    /** One vector of bf16 values at off, widened to floats. */
    private static FloatVector widen(MemorySegment w, long off) {
        ShortVector h = ShortVector.fromMemorySegment(S, w, off, ByteOrder.LITTLE_ENDIAN);
        return ((IntVector) h.convertShape(VectorOperators.S2I, I, 0)).lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
    }

    /** A row of each range at a time: four memory streams, each activation load shared by the four rows. */
    @Override
    public void dotRowsFour(MemorySegment w, long[] offsets, long rowBytes, int rows, float[] x, int xOff, int n,
                            float[] out, int[] outs) {
        for (int r = 0; r < rows; r++) {
            long d = r * rowBytes;
            four(w, offsets[0] + d, offsets[1] + d, offsets[2] + d, offsets[3] + d, x, xOff, n,
                    out, outs[0] + r, outs[1] + r, outs[2] + r, outs[3] + r);
        }
    }

    /** As four ranges read side by side ({@link Blocks#dotRowsByRanges}). */
    @Override
    public void dotRows(MemorySegment w, long byteOffset, long rowBytes, int rows, float[] x, int xOff, int n,
                        float[] out, int outOff) {
        Blocks.dotRowsByRanges(this, w, byteOffset, rowBytes, rows, x, xOff, n, out, outOff);
    }

    /** The rows at o0 .. o3 times x, into out[p0] .. out[p3]. */
    private static void four(MemorySegment w, long o0, long o1, long o2, long o3, float[] x, int xOff, int n,
                             float[] out, int p0, int p1, int p2, int p3) {
        FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0;
        int bound = F.loopBound(n);
        for (int i = 0; i < bound; i += F.length()) {
            FloatVector xv = FloatVector.fromArray(F, x, xOff + i);
            long bo = 2L * i;
            a0 = widen(w, o0 + bo).fma(xv, a0);
            a1 = widen(w, o1 + bo).fma(xv, a1);
            a2 = widen(w, o2 + bo).fma(xv, a2);
            a3 = widen(w, o3 + bo).fma(xv, a3);
        }
        out[p0] = a0.reduceLanes(VectorOperators.ADD) + BatchMatmul.tail(INSTANCE, w, o0, x, xOff, bound, n);
        out[p1] = a1.reduceLanes(VectorOperators.ADD) + BatchMatmul.tail(INSTANCE, w, o1, x, xOff, bound, n);
        out[p2] = a2.reduceLanes(VectorOperators.ADD) + BatchMatmul.tail(INSTANCE, w, o2, x, xOff, bound, n);
        out[p3] = a3.reduceLanes(VectorOperators.ADD) + BatchMatmul.tail(INSTANCE, w, o3, x, xOff, bound, n);
    }


    @Override
    public void dequantize(MemorySegment w, long byteOffset, float[] out, int outOff, int n) {
        int i = 0;
        int bound = F.loopBound(n);
        for (; i < bound; i += F.length()) {
            widen(w, byteOffset + 2L * i).intoArray(out, outOff + i);
        }
        for (; i < n; i++) {
            out[outOff + i] = toFloat(w.get(Blocks.I16, byteOffset + 2L * i));
        }
    }

    @Override
    public void quantize(float[] src, int srcOff, int n, MemorySegment dst, long dstOff) {
        for (int i = 0; i < n; i++) {
            dst.set(Blocks.I16, dstOff + 2L * i, fromFloat(src[srcOff + i]));
        }
    }
}
