package dev.tern.tensor;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The matrix × vector ({@link TensorFormat#dotRows}) and matrix × matrix ({@link BatchMatmul})
 * kernels against the scalar reference: dequantize each row, multiply in double.
 */
class MatrixKernelsTest {

    static List<TensorFormat> formats() {
        return AllFormats.readable();
    }

    /** Row lengths: with a scalar tail for element-wise formats, one and several blocks otherwise. */
    private static int[] lengths(TensorFormat format) {
        int bs = format.type().blockSize;
        return bs == 1 ? new int[]{7, 45, 301} : new int[]{bs, 3 * bs};
    }

    @ParameterizedTest
    @MethodSource("formats")
    void dotRowsMatchesReference(TensorFormat format) {
        Random rnd = new Random(5 + format.type().id);
        try (Arena arena = Arena.ofConfined()) {
            for (int cols : lengths(format)) {
                for (int rows : new int[]{1, 3, 4, 5, 9}) {
                    Matrix m = Matrix.random(arena, format, rows, cols, rnd);
                    int xOff = rnd.nextInt(3);
                    float[] x = DotKernelTest.gaussian(rnd, xOff + cols + 2);
                    float[] out = new float[rows + 3];
                    Arrays.fill(out, Float.NaN);
                    long first = m.rowBytes * m.skip;
                    format.dotRows(m.data, first, m.rowBytes, rows, x, xOff, cols, out, 1);
                    assertTrue(Float.isNaN(out[0]) && Float.isNaN(out[rows + 1]), "wrote outside its slots");
                    for (int r = 0; r < rows; r++) {
                        m.assertDot(r, x, xOff, out[1 + r], format + " rows=" + rows + " cols=" + cols + " r=" + r);
                    }
                }
            }
        }
    }

    /** Four ranges at once, each into its own slots, against the reference. */
    @ParameterizedTest
    @MethodSource("formats")
    void dotRowsFourEqualsDotRowsOfEachRange(TensorFormat format) {
        Random rnd = new Random(11 + format.type().id);
        try (Arena arena = Arena.ofConfined()) {
            for (int cols : lengths(format)) {
                for (int rows : new int[]{1, 3}) {
                    Matrix m = Matrix.random(arena, format, 4 * rows + 2, cols, rnd);
                    int xOff = rnd.nextInt(3);
                    float[] x = DotKernelTest.gaussian(rnd, xOff + cols + 2);
                    // Ranges out of order and apart, each writing to slots of its own.
                    int[] firstRows = {2 + 3 * rows, 0, 1 + rows, 2 + 2 * rows};
                    long[] offsets = new long[4];
                    int[] outs = new int[4];
                    for (int i = 0; i < 4; i++) {
                        offsets[i] = m.rowBytes * (m.skip + firstRows[i]);
                        outs[i] = 1 + i * (rows + 1);
                    }
                    float[] out = new float[4 * (rows + 1) + 1];
                    Arrays.fill(out, Float.NaN);
                    format.dotRowsFour(m.data, offsets, m.rowBytes, rows, x, xOff, cols, out, outs);
                    for (int i = 0; i < 4; i++) {
                        for (int r = 0; r < rows; r++) {
                            m.assertDot(firstRows[i] + r, x, xOff, out[outs[i] + r], format + " range " + i + " r=" + r);
                        }
                        assertTrue(Float.isNaN(out[outs[i] - 1]), "wrote outside its slots");
                    }
                }
            }
        }
    }

    @ParameterizedTest
    @MethodSource("formats")
    void batchMatmulMatchesReference(TensorFormat format) {
        Random rnd = new Random(17 + format.type().id);
        try (Arena arena = Arena.ofConfined()) {
            for (int cols : lengths(format)) {
                Matrix m = Matrix.random(arena, format, 2 * BatchMatmul.ROW_BLOCK + 8, cols, rnd);
                for (int n = 1; n <= 17; n++) {
                    checkBatch(m, n, 3, rnd);
                }
                // Two panels of 16 tokens (8-lane vectors) and three tokens past them.
                checkBatch(m, 35, 3, rnd);
                // Shares of a row count that is not a multiple of four, and of fewer rows than four.
                for (int n : new int[]{1, 3, 8}) {
                    checkBatch(m, n, 2, rnd);
                    checkBatch(m, n, m.rows - 4, rnd);
                }
            }
        }
    }

    /**
     * The outer-product tiles give every token of a batch the same arithmetic, a partial last panel
     * included: the same activations at two places in one batch give the same bits.
     */
    @ParameterizedTest
    @MethodSource("wideFormats")
    void outerProductTilesGiveATokenTheSameBitsAnywhereInTheBatch(TensorFormat format) {
        Random rnd = new Random(31 + format.type().id);
        try (Arena arena = Arena.ofConfined()) {
            int cols = 1024, rows = 2 * BatchMatmul.ROW_BLOCK + 8;
            Matrix m = Matrix.random(arena, format, rows, cols, rnd);
            for (int n : new int[]{19, 40}) {
                assumeTrue(OuterProductTiles.handles(n), "8-lane vectors only");
                float[] x = DotKernelTest.gaussian(rnd, n * cols);
                System.arraycopy(x, cols, x, (n - 1) * cols, cols);
                float[] out = new float[n * rows];
                BatchMatmul.multiply(m.tensor(), 0, rows, x, 0, n, out, rows);
                for (int r = 0; r < rows; r++) {
                    assertEquals(Float.floatToRawIntBits(out[rows + r]), Float.floatToRawIntBits(out[(n - 1) * rows + r]),
                            format + " n=" + n + " row " + r);
                    m.assertDot(r, x, cols, out[rows + r], format + " n=" + n + " row " + r);
                }
            }
        }
    }

    /** F32's two-row tiles take up to 32 tokens in groups of eight (and a few more), the buffered tiles more. */
    @Test
    void f32TilesUpToTheirLimitAndPastItMatchReference() {
        Random rnd = new Random(29);
        try (Arena arena = Arena.ofConfined()) {
            for (int cols : new int[]{45, 301}) {
                Matrix m = Matrix.random(arena, F32Format.INSTANCE, 2 * BatchMatmul.ROW_BLOCK + 8, cols, rnd);
                for (int n : new int[]{23, 31, 32, 33}) {
                    checkBatch(m, n, 3, rnd);
                }
            }
        }
    }

    /**
     * Rows of 8192 columns: too wide for F32's two-row tiles (up to ten tokens); batches of 11 and
     * 16 tokens fill only half-height row blocks (L2 budget).
     */
    static List<TensorFormat> wideFormats() {
        return List.of(F32Format.INSTANCE, Q8_0Format.INSTANCE);
    }

    @ParameterizedTest
    @MethodSource("wideFormats")
    void batchMatmulOfWideRowsMatchesReference(TensorFormat format) {
        Random rnd = new Random(23 + format.type().id);
        try (Arena arena = Arena.ofConfined()) {
            Matrix m = Matrix.random(arena, format, 2 * BatchMatmul.ROW_BLOCK + 8, 8192, rnd);
            for (int n : new int[]{7, 8, 9, 10, 11, 16}) {
                checkBatch(m, n, 3, rnd);
            }
        }
    }

    /** BatchMatmul over rows [from, last row) of m, for n random tokens, against the reference. */
    private static void checkBatch(Matrix m, int n, int from, Random rnd) {
        int rows = m.rows - 1, cols = m.cols;
        float[] x = DotKernelTest.gaussian(rnd, n * cols);
        // The tokens handed over 5 elements into a larger array, whose other values must not be read.
        int xOff = 5;
        float[] shifted = new float[xOff + n * cols + 3];
        Arrays.fill(shifted, Float.NaN);
        System.arraycopy(x, 0, shifted, xOff, n * cols);
        // A sub-range of rows that does not start at a row block boundary, as a thread's share.
        int to = rows;
        float[] out = new float[n * (rows + 1)];
        Arrays.fill(out, Float.NaN);
        BatchMatmul.multiply(m.tensor(), from, to, shifted, xOff, n, out, rows + 1);
        for (int t = 0; t < n; t++) {
            for (int r = 0; r < rows + 1; r++) {
                float v = out[t * (rows + 1) + r];
                if (r < from || r >= to) {
                    assertTrue(Float.isNaN(v), "wrote row " + r + " outside its range");
                } else {
                    m.assertDot(r, x, t * cols, v, m.format + " n=" + n + " cols=" + cols + " t=" + t + " r=" + r);
                }
            }
        }
    }

    /** A random matrix in a format, starting {@code skip} rows into its segment, with its dequantized rows. */
    record Matrix(TensorFormat format, MemorySegment data, long rowBytes, int skip, int rows, int cols, float[] deq) {
        static Matrix random(Arena arena, TensorFormat format, int rows, int cols, Random rnd) {
            long rowBytes = format.type().byteSize(cols);
            int skip = 1;
            MemorySegment data = arena.allocate(rowBytes * (rows + skip));
            float[] deq = new float[rows * cols];
            for (int r = 0; r < rows; r++) {
                AllFormats.write(format, DotKernelTest.gaussian(rnd, cols), 0, cols, data, (r + skip) * rowBytes);
                format.dequantize(data, (r + skip) * rowBytes, deq, r * cols, cols);
            }
            return new Matrix(format, data, rowBytes, skip, rows, cols, deq);
        }

        Tensor tensor() {
            return new Tensor("m", format, data.asSlice(skip * rowBytes), rows, cols);
        }

        /** actual ≈ row r · x[xOff..], within float summation error. */
        void assertDot(int r, float[] x, int xOff, float actual, String what) {
            double sum = 0, absSum = 0;
            for (int i = 0; i < cols; i++) {
                double p = (double) deq[r * cols + i] * x[xOff + i];
                sum += p;
                absSum += Math.abs(p);
            }
            assertEquals(sum, actual, 2.0 * cols * 0x1p-24 * absSum + 1e-30, what);
        }
    }
}
