package dev.tern.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

import java.lang.foreign.MemorySegment;

/**
 * Matrix × vector for the 512-bit kernels that fold an offset or a min into sums of the
 * activations over groups of 16 or 32 values (Q4_K, Q5_K, Q6_K): the sums are computed once
 * per matrix, then the row kernel runs on every row. A row is thousands of operations, so the
 * kernel is called, not inlined. Formats with a 256-bit row kernel use it with 8-lane vectors; otherwise
 * the format's generic {@code dot} serves.
 */
final class RowsWithSums {
    /**
     * Σ w·x of the row at {@code row}, given the activations' group {@code sums}, over
     * {@code blocks} blocks; {@code scales} is scratch for a super-block's sixteen scales.
     */
    interface RowKernel {
        float dot(MemorySegment w, long row, float[] x, int xOff, float[] sums, float[] scales, int blocks);
    }

    /** Scratch for a row kernel's scales: stored once per super-block, each broadcast by a load, not a shuffle. */
    static float[] scales() {
        return new float[16];
    }

    private RowsWithSums() {
    }

    /** Σ x over each group of {@code group} values (a multiple of 16), in one vector's lanes then across them. */
    static float[] sums(float[] x, int xOff, int n, int group) {
        float[] sums = new float[n / group];
        for (int j = 0; j < sums.length; j++) {
            int xi = xOff + group * j;
            FloatVector v = FloatVector.fromArray(Vec.F, x, xi);
            for (int i = Vec.FL; i < group; i += Vec.FL) {
                v = v.add(FloatVector.fromArray(Vec.F, x, xi + i));
            }
            sums[j] = v.reduceLanes(VectorOperators.ADD);
        }
        return sums;
    }

    /** {@link TensorFormat#dotRows} of format f through its 512-bit row kernel. */
    static void dotRows(TensorFormat f, RowKernel kernel, int group, MemorySegment w, long byteOffset, long rowBytes,
                        int rows, float[] x, int xOff, int n, float[] out, int outOff) {
        dotRows(f, kernel, null, group, w, byteOffset, rowBytes, rows, x, xOff, n, out, outOff);
    }

    /** The same with a 256-bit row kernel as well (null: none, f's dot serves). */
    static void dotRows(TensorFormat f, RowKernel k512, RowKernel k256, int group, MemorySegment w, long byteOffset, long rowBytes,
                        int rows, float[] x, int xOff, int n, float[] out, int outOff) {
        Blocks.requireBlocks(f.type(), n);
        RowKernel kernel = kernel(k512, k256);
        rows(f, kernel, w, byteOffset, rowBytes, rows, x, xOff, n, kernel != null ? sums(x, xOff, n, group) : null, scales(),
                out, outOff);
    }

    /** The row kernel for these vectors: 512-bit, 256-bit, or none. */
    private static RowKernel kernel(RowKernel k512, RowKernel k256) {
        return Vec.FL == 16 ? k512 : Vec.FL == 8 ? k256 : null;
    }

    /**
     * {@link TensorFormat#dotRowsFour} of format f through its row kernel: the ranges one after
     * the other, the sums of x computed once. These kernels read 4–6 GB/s per core, which one
     * memory stream supplies; a row of each range in turn (four streams, as the Q8_0 and Q4_0
     * kernels want) made them slower (`CpuTimeAB matvec`, one thread, from memory: Q4_K 5.56
     * against 6.04 GB/s, Q5_K 4.77 against 5.48, Q6_K 3.83 against 6.17).
     */
    static void dotRowsFour(TensorFormat f, RowKernel kernel, int group, MemorySegment w, long[] offsets, long rowBytes,
                            int rows, float[] x, int xOff, int n, float[] out, int[] outs) {
        dotRowsFour(f, kernel, null, group, w, offsets, rowBytes, rows, x, xOff, n, out, outs);
    }

    /** The same with a 256-bit row kernel as well (null: none, f's dot serves). */
    static void dotRowsFour(TensorFormat f, RowKernel k512, RowKernel k256, int group, MemorySegment w, long[] offsets,
                            long rowBytes, int rows, float[] x, int xOff, int n, float[] out, int[] outs) {
        Blocks.requireBlocks(f.type(), n);
        RowKernel kernel = kernel(k512, k256);
        float[] sums = kernel != null ? sums(x, xOff, n, group) : null, scales = scales();
        for (int i = 0; i < 4; i++) {
            rows(f, kernel, w, offsets[i], rowBytes, rows, x, xOff, n, sums, scales, out, outs[i]);
        }
    }

    /** {@code rows} rows from {@code start} into out[outOff ..]: the row kernel, or without 512-bit vectors (sums null) f's dot. */
    private static void rows(TensorFormat f, RowKernel kernel, MemorySegment w, long start, long rowBytes, int rows,
                             float[] x, int xOff, int n, float[] sums, float[] scales, float[] out, int outOff) {
        int blocks = n / f.type().blockSize;
        for (int r = 0; r < rows; r++) {
            long row = start + r * rowBytes;
            out[outOff + r] = sums != null ? kernel.dot(w, row, x, xOff, sums, scales, blocks) : f.dot(w, row, x, xOff, n);
        }
    }
}
