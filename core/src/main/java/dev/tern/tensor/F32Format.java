package dev.tern.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * 32-bit floats, little-endian. Matrices of them are multiplied by {@link F32Tiles} (one token
 * or a few), which reads each row through a segment of its own; {@link #dot} serves single rows.
 */
public final class F32Format implements TensorFormat {
    public static final F32Format INSTANCE = new F32Format();
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final VectorSpecies<Float> S = Vec.F;

    private F32Format() {
    }

    /** Its one-token kernels add as {@link BatchMatmul}'s tiles do: already batch-invariant. */
    @Override
    public TensorFormat inTileOrder() {
        return this;
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
        float lanes = acc.reduceLanes(VectorOperators.ADD);
        // The tail as the F32 tiles add it (BatchMatmul.tail): a token's product does not depend on its kernel.
        return lanes + (bound < n ? F32Tiles.tail(w, byteOffset, x, xOff, bound, n) : 0f);
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
