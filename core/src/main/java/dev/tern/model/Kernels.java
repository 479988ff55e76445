package dev.tern.model;

import dev.tern.tensor.Aligned;
import dev.tern.tensor.BatchMatmul;
import dev.tern.tensor.F32Format;
import dev.tern.tensor.Tensor;
import dev.tern.tensor.TensorFormat;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;

/** The element-wise and matrix operations of the forward pass, over rows of tokens. */
final class Kernels {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    /** Multiply-adds below which a share of a matmul is not worth handing to another thread. */
    private static final int MIN_PARALLEL_WORK = 1 << 14;
    /** Rows per unit of decode work: a multiple of the formats' row tiles. */
    private static final int ROW_GROUP = 4;

    private Kernels() {
    }

    /**
     * out[t·rows + r] = w[r] · x[xOff + t·cols ..] for n tokens, rows split across the pool's threads.
     * x[xOff] should start a cache line ({@link Aligned}): the batched tiles' loads then never
     * straddle two. One token goes through the format's several-rows-at-a-time matrix × vector
     * kernel (decode is bound by reading the weights once); a batch goes through {@link BatchMatmul},
     * which decodes each weight block once for all the tokens. F32 weights, which need no decoding,
     * take BatchMatmul's path for one token too: its F32 tiles read each row through a segment of
     * its own, checked once per row (F32 decode, alternated: stories15M 436–513 → 464–560 t/s in 5
     * of 6 pairs faster; 110M, bound by memory, unchanged within the noise: 44–50 either way).
     * With {@code batchInvariant}, one token goes through the format's kernels in the tiles' order
     * ({@link TensorFormat#inTileOrder}), and a batch that the tiles would still give other arithmetic
     * goes through those kernels token by token ({@link BatchMatmul#byToken}), so that each token
     * gets the bits of its one-token step.
     */
    static void matmul(WorkerPool pool, Tensor w, float[] x, int xOff, int n, float[] out, boolean batchInvariant) {
        int rows = w.rows(), cols = w.cols();
        boolean matrixVector = n == 1 && w.format() != F32Format.INSTANCE;
        int group = matrixVector ? ROW_GROUP : BatchMatmul.rowGroup(w, n);
        int groups = (rows + group - 1) / group;
        long work = (long) group * cols * n;
        int minGroups = (int) Math.max(1, MIN_PARALLEL_WORK / work);
        if (matrixVector) {
            TensorFormat f = batchInvariant ? w.kernelFormat().inTileOrder() : w.kernelFormat();
            MemorySegment data = w.data();
            long rowBytes = w.rowBytes();
            pool.parallelFor(groups, minGroups, (from, to) -> {
                int r0 = from * group, r1 = Math.min(rows, to * group);
                // The share goes over as four parts, read side by side (four memory streams) by the
                // kernels that need them (TensorFormat.dotRowsFour).
                int part = (r1 - r0) / 4;
                long[] offsets = new long[4];
                int[] outs = new int[4];
                for (int i = 0; i < 4; i++) {
                    outs[i] = r0 + i * part;
                    offsets[i] = outs[i] * rowBytes;
                }
                f.dotRowsFour(data, offsets, rowBytes, part, x, xOff, cols, out, outs);
                int done = r0 + 4 * part;
                f.dotRows(data, done * rowBytes, rowBytes, r1 - done, x, xOff, cols, out, done);
            });
        } else if (batchInvariant && !BatchMatmul.batchInvariant(w, n)) {
            TensorFormat f = w.format().inTileOrder();
            pool.parallelFor(groups, minGroups, (from, to) ->
                    BatchMatmul.byToken(f, w, from * group, Math.min(rows, to * group), x, xOff, n, out, rows));
        } else {
            float[] panels = BatchMatmul.panels(w, x, xOff, n);
            // Claims of several groups, so that a thread's next rows are fetched while it works on these (BatchMatmul.touch).
            pool.parallelFor(groups, minGroups, (from, to) ->
                    BatchMatmul.multiply(w, from * group, Math.min(rows, to * group), x, xOff, n, panels, out, rows));
        }
    }

    /** Adds bias to each of n rows of width bias.length, when there is a bias. */
    static void addBias(float[] x, int n, float[] bias) {
        if (bias == null) {
            return;
        }
        for (int t = 0; t < n; t++) {
            int off = t * bias.length;
            for (int i = 0; i < bias.length; i++) {
                x[off + i] += bias[i];
            }
        }
    }

    /** out[outOff ..] = RMSNorm of n rows of x of width dim, times weight; sums in double as ggml does. */
    static void rmsNorm(float[] out, int outOff, float[] x, int n, int dim, float[] weight, float eps) {
        for (int t = 0; t < n; t++) {
            int off = t * dim;
            double sum = 0;
            for (int i = 0; i < dim; i++) {
                sum += x[off + i] * x[off + i];
            }
            float scale = (float) (1.0 / Math.sqrt((float) (sum / dim) + eps));
            for (int i = 0; i < dim; i++) {
                out[outOff + off + i] = x[off + i] * scale * weight[i];
            }
        }
    }

    /**
     * out[outOff + i] = silu(gate[i]) · up[i] for the first n values: SwiGLU. The vector exp (as
     * ggml's, not correctly rounded; within an ulp of Math.exp) because scalar Math.exp calls were
     * 3.5% of an 8-sequence decode step of the 1B shape (JFR).
     */
    static void swiglu(float[] out, int outOff, float[] gate, float[] up, int n) {
        int i = 0;
        for (int bound = S.loopBound(n); i < bound; i += S.length()) {
            FloatVector g = FloatVector.fromArray(S, gate, i);
            FloatVector silu = g.div(g.neg().lanewise(VectorOperators.EXP).add(1f));
            silu.mul(FloatVector.fromArray(S, up, i)).intoArray(out, outOff + i);
        }
        for (; i < n; i++) {
            float g = gate[i];
            out[outOff + i] = g / (1f + (float) Math.exp(-g)) * up[i];
        }
    }

    /** x[i] += y[i] for the first n values. */
    static void add(float[] x, float[] y, int n) {
        for (int i = 0; i < n; i++) {
            x[i] += y[i];
        }
    }

    /** x[xOff + i] += s·y[yOff + i] for i < n. */
    static void addScaled(float[] x, int xOff, float[] y, int yOff, float s, int n) {
        for (int i = 0; i < n; i++) {
            x[xOff + i] += s * y[yOff + i];
        }
    }

    static float dot(float[] a, int aOff, float[] b, int bOff, int n) {
        int i = 0;
        float sum = 0f;
        if (n >= S.length()) {
            FloatVector acc = FloatVector.zero(S);
            for (int bound = S.loopBound(n); i < bound; i += S.length()) {
                acc = FloatVector.fromArray(S, a, aOff + i).fma(FloatVector.fromArray(S, b, bOff + i), acc);
            }
            sum = acc.reduceLanes(VectorOperators.ADD);
        }
        for (; i < n; i++) {
            sum += a[aOff + i] * b[bOff + i];
        }
        return sum;
    }

    /** y[yOff..] += a·x[xOff..] over n values. */
    static void axpy(float[] y, int yOff, float a, float[] x, int xOff, int n) {
        for (int i = 0; i < n; i++) {
            y[yOff + i] += a * x[xOff + i];
        }
    }
}
