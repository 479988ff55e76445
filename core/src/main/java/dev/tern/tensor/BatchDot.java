package dev.tern.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

import java.lang.foreign.MemorySegment;

/**
 * The generic batched dot product behind {@link TensorFormat#dotBatch}: the weight row is
 * decoded once, a chunk at a time, and each chunk is multiplied with every activation vector
 * while it is hot in L1, instead of decoding the row once per activation.
 */
final class BatchDot {
    /** A multiple of every block size (1, 32, 256). */
    private static final int CHUNK = 256;

    private BatchDot() {
    }

    static void dotBatch(TensorFormat format, MemorySegment w, long byteOffset, float[][] xs, int xOff, int n,
                         float[] out, int outOff, int outStride) {
        int batch = xs.length;
        FloatVector[] acc = new FloatVector[batch];
        float[] tail = new float[batch];
        for (int b = 0; b < batch; b++) {
            acc[b] = FloatVector.zero(Vec.F);
        }
        float[] chunk = new float[CHUNK];
        GGMLType type = format.type();
        for (int start = 0; start < n; start += CHUNK) {
            int len = Math.min(CHUNK, n - start);
            format.dequantize(w, byteOffset + type.byteSize(start), chunk, 0, len);
            int bound = Vec.F.loopBound(len);
            for (int b = 0; b < batch; b++) {
                float[] x = xs[b];
                int xo = xOff + start;
                FloatVector a = acc[b];
                for (int i = 0; i < bound; i += Vec.FL) {
                    a = FloatVector.fromArray(Vec.F, chunk, i).fma(FloatVector.fromArray(Vec.F, x, xo + i), a);
                }
                acc[b] = a;
                float t = tail[b];
                for (int i = bound; i < len; i++) {
                    t += chunk[i] * x[xo + i];
                }
                tail[b] = t;
            }
        }
        for (int b = 0; b < batch; b++) {
            out[outOff + b * outStride] = acc[b].reduceLanes(VectorOperators.ADD) + tail[b];
        }
    }
}
