package dev.tern.tensor;

import java.lang.foreign.MemorySegment;

/**
 * Matrix × vector for the 512-bit kernels that fold an offset or a min into per-block sums of the
 * activations (Q4_0, Q4_K, Q5_K, Q6_K): the sums are computed once per matrix, then the row kernel
 * runs on every row. A row is thousands of operations, so the kernel is called, not inlined.
 */
final class RowsWithSums {
    /** Σ w·x of the row at {@code row}, given the activations' block {@code sums}. */
    interface RowKernel {
        float dot(MemorySegment w, long row, float[] x, int xOff, float[] sums, int blocks);
    }

    private RowsWithSums() {
    }

    /** {@link TensorFormat#dotRows} through the row kernel. */
    static void dotRows(RowKernel kernel, float[] sums, int blocks, MemorySegment w, long byteOffset, long rowBytes,
                        int rows, float[] x, int xOff, float[] out, int outOff) {
        for (int r = 0; r < rows; r++) {
            out[outOff + r] = kernel.dot(w, byteOffset + r * rowBytes, x, xOff, sums, blocks);
        }
    }

    /** {@link TensorFormat#dotRowsFour} through the row kernel: a row of each range in turn. */
    static void dotRowsFour(RowKernel kernel, float[] sums, int blocks, MemorySegment w, long[] offsets, long rowBytes,
                            int rows, float[] x, int xOff, float[] out, int[] outs) {
        for (int r = 0; r < rows; r++) {
            for (int i = 0; i < 4; i++) {
                out[outs[i] + r] = kernel.dot(w, offsets[i] + r * rowBytes, x, xOff, sums, blocks);
            }
        }
    }
}
