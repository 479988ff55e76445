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
    public static final F16Format INSTANCE = new F16Format();
    private static final VectorSpecies<Float> F = Vec.F;
    private static final VectorSpecies<Short> S = VectorSpecies.of(short.class, VectorShape.forBitSize(F.length() * 16));
    private static final VectorSpecies<Integer> I = F.withLanes(int.class);

    private F16Format() {
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
            ShortVector h = ShortVector.fromMemorySegment(S, w, byteOffset + 2L * i, ByteOrder.LITTLE_ENDIAN);
            acc = toFloats((IntVector) h.convertShape(VectorOperators.S2I, I, 0)).fma(FloatVector.fromArray(F, x, xOff + i), acc);
        }
        float sum = acc.reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) {
            sum += Blocks.f16(w, byteOffset + 2L * i) * x[xOff + i];
        }
        return sum;
    }

    /**
     * Widens fp16 bit patterns (in the low 16 bits of each lane) to floats: shifting exponent
     * and mantissa into place and scaling by 2^112 rebiases the exponent and handles subnormals
     * exactly; infinities and NaNs get the all-ones exponent instead.
     */
    private static FloatVector toFloats(IntVector h) {
        IntVector mag = h.and(0x7FFF).lanewise(VectorOperators.LSHL, 13);
        FloatVector f = mag.reinterpretAsFloats().mul(0x1p112f);
        VectorMask<Float> special = h.and(0x7C00).compare(VectorOperators.EQ, 0x7C00).cast(F);
        IntVector infNan = mag.or(0x7F800000);
        // NaNs come out quiet, as from Float.float16ToFloat and the F16C instruction.
        infNan = infNan.lanewise(VectorOperators.OR, 0x00400000, mag.and(0x007FFFFF).compare(VectorOperators.NE, 0));
        f = f.blend(infNan.reinterpretAsFloats(), special);
        IntVector sign = h.and(0x8000).lanewise(VectorOperators.LSHL, 16);
        return f.reinterpretAsInts().or(sign).reinterpretAsFloats();
    }

    @Override
    public void dequantize(MemorySegment w, long byteOffset, float[] out, int outOff, int n) {
        int i = 0;
        int bound = F.loopBound(n);
        for (; i < bound; i += F.length()) {
            ShortVector h = ShortVector.fromMemorySegment(S, w, byteOffset + 2L * i, ByteOrder.LITTLE_ENDIAN);
            toFloats((IntVector) h.convertShape(VectorOperators.S2I, I, 0)).intoArray(out, outOff + i);
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
