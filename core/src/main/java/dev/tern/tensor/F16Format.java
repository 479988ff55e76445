package dev.tern.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

/** IEEE half precision, little-endian. */
public final class F16Format implements TensorFormat {
    public static final F16Format INSTANCE = new F16Format(false);
    /**
     * The same, for weights known to hold no infinity or NaN ({@link #allFinite}): its matrix × vector
     * kernel skips watching for them, two of eight operations per sixteen weights (`CpuTimeAB matvec F16
     * 400 2048`, one thread, "four", alternated: 18.6 / 18.8 → 25.0 / 23.5 GB/s).
     */
    static final F16Format FINITE = new F16Format(true);
    private static final VectorSpecies<Float> F = Vec.F;
    private static final VectorSpecies<Short> S = VectorSpecies.of(short.class, VectorShape.forBitSize(F.length() * 16));
    private static final VectorSpecies<Integer> I = F.withLanes(int.class);
    private final boolean finite;

    private F16Format(boolean finite) {
        this.finite = finite;
    }

    /** Whether none of the fp16 values in {@code data} is an infinity or a NaN (the all-ones exponent). */
    static boolean allFinite(MemorySegment data) {
        long n = data.byteSize() / 2, bound = n / S.length() * S.length();
        for (long i = 0; i < bound; i += S.length()) {
            ShortVector h = ShortVector.fromMemorySegment(S, data, 2 * i, ByteOrder.LITTLE_ENDIAN);
            if (h.and((short) 0x7C00).compare(VectorOperators.EQ, (short) 0x7C00).anyTrue()) {
                return false;
            }
        }
        for (long i = bound; i < n; i++) {
            if ((data.get(Blocks.I16, 2 * i) & 0x7C00) == 0x7C00) {
                return false;
            }
        }
        return true;
    }

    /** Its one-token kernels add as {@link BatchMatmul}'s tiles do: already batch-invariant. */
    @Override
    public TensorFormat inTileOrder() {
        return this;
    }

    @Override
    public GGMLType type() {
        return GGMLType.F16;
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


    /**
     * A row of each range at a time: four memory streams and four independent accumulators (one
     * row's chain waits on the multiply-add latency), each activation load shared by the four.
     * The loop widens as if every value were finite and, unless the weights are known to be
     * ({@link #FINITE}), keeps the largest exponent seen; the rare rows with an infinity or NaN are
     * redone by {@link #dot}. Each row's sums run in dot's order.
     */
    @Override
    public void dotRowsFour(MemorySegment w, long[] offsets, long rowBytes, int rows, float[] x, int xOff, int n,
                            float[] out, int[] outs) {
        int bound = F.loopBound(n);
        boolean watch = !finite;
        for (int r = 0; r < rows; r++) {
            long d = r * rowBytes, o0 = offsets[0] + d, o1 = offsets[1] + d, o2 = offsets[2] + d, o3 = offsets[3] + d;
            FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0;
            IntVector exponents = IntVector.zero(I);
            for (int i = 0; i < bound; i += F.length()) {
                FloatVector xv = FloatVector.fromArray(F, x, xOff + i);
                long bo = 2L * i;
                IntVector h0 = load(w, o0 + bo), h1 = load(w, o1 + bo), h2 = load(w, o2 + bo), h3 = load(w, o3 + bo);
                if (watch) {
                    exponents = exponents.max(h0.and(0x7C00)).max(h1.and(0x7C00)).max(h2.and(0x7C00)).max(h3.and(0x7C00));
                }
                a0 = finite(h0).fma(xv, a0);
                a1 = finite(h1).fma(xv, a1);
                a2 = finite(h2).fma(xv, a2);
                a3 = finite(h3).fma(xv, a3);
            }
            if (exponents.reduceLanes(VectorOperators.MAX) == 0x7C00) {
                for (int k = 0; k < 4; k++) {
                    out[outs[k] + r] = dot(w, offsets[k] + d, x, xOff, n);
                }
                continue;
            }
            out[outs[0] + r] = a0.reduceLanes(VectorOperators.ADD) + BatchMatmul.tail(INSTANCE, w, o0, x, xOff, bound, n);
            out[outs[1] + r] = a1.reduceLanes(VectorOperators.ADD) + BatchMatmul.tail(INSTANCE, w, o1, x, xOff, bound, n);
            out[outs[2] + r] = a2.reduceLanes(VectorOperators.ADD) + BatchMatmul.tail(INSTANCE, w, o2, x, xOff, bound, n);
            out[outs[3] + r] = a3.reduceLanes(VectorOperators.ADD) + BatchMatmul.tail(INSTANCE, w, o3, x, xOff, bound, n);
        }
    }

    /** One vector of fp16 bit patterns at off, in the low 16 bits of int lanes. */
    private static IntVector load(MemorySegment w, long off) {
        return (IntVector) ShortVector.fromMemorySegment(S, w, off, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.S2I, I, 0);
    }

    /**
     * Widens fp16 bit patterns that are not infinities or NaNs: shifting the sign to bit 31, then
     * arithmetically back by 3, puts exponent and mantissa in place with the sign's copies in bits
     * 28-30, which the mask clears; scaling by 2^112 rebiases the exponent and handles subnormals
     * exactly.
     */
    private static FloatVector finite(IntVector h) {
        return h.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 3).and(0x8FFFE000).reinterpretAsFloats().mul(0x1p112f);
    }

    /** One vector of fp16 values at off, widened to floats. */
    private static FloatVector widen(MemorySegment w, long off) {
        return toFloats(load(w, off));
    }

    /** {@link #finite}, with infinities and NaNs (handled only when a lane has one) given the all-ones exponent. */
    private static FloatVector toFloats(IntVector h) {
        FloatVector f = finite(h);
        VectorMask<Float> special = h.and(0x7C00).compare(VectorOperators.EQ, 0x7C00).cast(F);
        if (special.anyTrue()) {
            IntVector bits = f.reinterpretAsInts();
            IntVector infNan = bits.or(0x7F800000);
            // NaNs come out quiet, as from Float.float16ToFloat and the F16C instruction.
            infNan = infNan.lanewise(VectorOperators.OR, 0x00400000, h.and(0x03FF).compare(VectorOperators.NE, 0));
            f = f.blend(infNan.reinterpretAsFloats(), special);
        }
        return f;
    }

    @Override
    public void dequantize(MemorySegment w, long byteOffset, float[] out, int outOff, int n) {
        int i = 0;
        int bound = F.loopBound(n);
        for (; i < bound; i += F.length()) {
            widen(w, byteOffset + 2L * i).intoArray(out, outOff + i);
        }
        for (; i < n; i++) {
            out[outOff + i] = Blocks.f16(w, byteOffset + 2L * i);
        }
    }

    /** GGML_FP32_TO_FP16: round to nearest even, NaN to the canonical quiet NaN. */
    @Override
    public void quantize(float[] src, int srcOff, int n, MemorySegment dst, long dstOff) {
        for (int i = 0; i < n; i++) {
            dst.set(Blocks.I16, dstOff + 2L * i, Blocks.toF16(src[srcOff + i]));
        }
    }
}
