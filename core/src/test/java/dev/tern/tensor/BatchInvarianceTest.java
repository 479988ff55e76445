package dev.tern.tensor;

import dev.tern.tensor.MatrixKernelsTest.Matrix;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.lang.foreign.Arena;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * A token's product does not depend on the kernel its batch takes: with F32, F16 and BF16 weights,
 * with 512-bit vectors Q4_0, IQ4_NL and Q4_1, and every format's variant in tile order ({@link
 * TensorFormat#inTileOrder}), wherever {@link BatchMatmul#batchInvariant} says so, with every
 * format through {@link BatchMatmul#byToken}.
 * Runs only in its own JVM with the JIT stopped at C1 (core/pom.xml), where the Vector API's
 * operations all run their Java fallbacks, so that the comparison checks the order of our
 * operations: compiled, C2 sums a vector's lanes by halves instead of in order, the same in every
 * kernel where it compiles the sum, but a kernel's first calls run before that. Run with 512-bit
 * and with 256-bit vectors: with 8 lanes, 16 tokens and more take the outer-product tiles, which
 * sum in another order.
 */
class BatchInvarianceTest {
    /**
     * Weights that decode to floats exactly, Q4_0, IQ4_NL and Q4_1, and every format in tile order, give a token
     * the same bits in a batch of any size the tiles add in the dot products' order ({@link
     * BatchMatmul#batchInvariant}) as in a one-token step (the decode kernels' dotRows and dotRowsFour, or for F32 the one-token
     * tiles, or for F32 rows of up to {@link F32Panels#MAX_COLS} one token's panels): so a verify pass and a sequence decoding
     * among others agree with one-token steps. Rows with tails, batches through every tile and past them.
     */
    @ParameterizedTest
    @MethodSource("exactFormats")
    void aTokensProductDoesNotDependOnItsBatch(TensorFormat format) {
        Random rnd = new Random(37 + format.type().id);
        int bs = format.type().blockSize;
        try (Arena arena = Arena.ofConfined()) {
            // The formats' tile-order variants (about twenty): fewer sizes, as C1 is slow, still through every tile.
            boolean decoded = format != TensorFormat.of(format.type());
            for (int cols : bs == 1 ? new int[]{45, 172, 301} : decoded ? new int[]{bs, 3 * bs, 512} : new int[]{bs, 3 * bs, 10 * bs}) {
                Matrix m = Matrix.random(arena, format, 2 * BatchMatmul.ROW_BLOCK + 8, cols, rnd);
                int rows = m.rows(), quarter = rows / 4;
                for (int n : decoded ? new int[]{4, 5, 9} : new int[]{2, 3, 4, 5, 8, 9, 10, 12, 20, 33}) {
                    if (!F32Panels.handles(m.tensor()) && !BatchMatmul.batchInvariant(format, n)) {
                        continue;
                    }
                    float[] x = DotKernelTest.gaussian(rnd, n * cols);
                    float[] batch = new float[n * rows];
                    BatchMatmul.multiply(asLoaded(m), 0, rows, x, 0, n, batch, rows);
                    long differing = 0;
                    for (int t = 0; t < n; t++) {
                        float[] one = new float[rows], byRows = new float[rows], four = new float[rows];
                        BatchMatmul.multiply(m.tensor(), 0, rows, x, t * cols, 1, one, rows);
                        format.dotRows(m.data(), m.skip() * m.rowBytes(), m.rowBytes(), rows, x, t * cols, cols, byRows, 0);
                        long first = m.skip() * m.rowBytes();
                        format.dotRowsFour(m.data(), new long[]{first, first + quarter * m.rowBytes(), first + 2 * quarter * m.rowBytes(),
                                first + 3 * quarter * m.rowBytes()}, m.rowBytes(), quarter, x, t * cols, cols, four, new int[]{0, quarter,
                                2 * quarter, 3 * quarter});
                        // F32 rows short enough for panels add otherwise than the format's kernels, the same in every batch.
                        boolean kernels = !F32Panels.handles(m.tensor());
                        for (int r = 0; r < rows; r++) {
                            int bits = Float.floatToRawIntBits(batch[t * rows + r]);
                            differing += (bits != Float.floatToRawIntBits(one[r]) ? 1 : 0)
                                    + (kernels && bits != Float.floatToRawIntBits(byRows[r]) ? 1 : 0)
                                    + (kernels && r < 4 * quarter && bits != Float.floatToRawIntBits(four[r]) ? 1 : 0);
                        }
                    }
                    assertEquals(0, differing, format.type() + " cols=" + cols + " n=" + n + ": products whose bits depend on the batch");
                }
            }
        }
    }

    /**
     * Every format's products through {@link BatchMatmul#byToken} (what {@code --batch-invariant}
     * sends the batches of quantized weights the tiles do not match through), Q8_0's in tile order
     * too, have the bits of the one-token kernels: its dotRows2 and dotRows add each row as dot does,
     * and so does dotRowsFour, the kernel of a one-token step. An odd row count, odd batches.
     */
    @ParameterizedTest
    @MethodSource("allFormats")
    void byTokenGivesEachTokenItsOneTokenProduct(TensorFormat format) {
        Random rnd = new Random(41 + format.type().id);
        int bs = format.type().blockSize;
        try (Arena arena = Arena.ofConfined()) {
            for (int cols : bs == 1 ? new int[]{45, 172} : new int[]{bs, 3 * bs}) {
                Matrix m = Matrix.random(arena, format, BatchMatmul.ROW_BLOCK + 13, cols, rnd);
                int rows = m.rows(), quarter = rows / 4;
                long first = m.skip() * m.rowBytes();
                for (int n : new int[]{2, 4, 5, 6, 9}) {
                    float[] x = DotKernelTest.gaussian(rnd, n * cols);
                    float[] batch = new float[n * rows];
                    BatchMatmul.byToken(format, m.tensor(), 0, rows, x, 0, n, batch, rows);
                    long differing = 0;
                    for (int t = 0; t < n; t++) {
                        float[] four = new float[rows];
                        format.dotRowsFour(m.data(), new long[]{first, first + quarter * m.rowBytes(), first + 2 * quarter * m.rowBytes(),
                                first + 3 * quarter * m.rowBytes()}, m.rowBytes(), quarter, x, t * cols, cols, four, new int[]{0, quarter,
                                2 * quarter, 3 * quarter});
                        for (int r = 0; r < rows; r++) {
                            int bits = Float.floatToRawIntBits(batch[t * rows + r]);
                            float dot = format.dot(m.data(), first + r * m.rowBytes(), x, t * cols, cols);
                            differing += (bits != Float.floatToRawIntBits(dot) ? 1 : 0)
                                    + (r < 4 * quarter && bits != Float.floatToRawIntBits(four[r]) ? 1 : 0);
                        }
                    }
                    assertEquals(0, differing, format.type() + " cols=" + cols + " n=" + n + ": products whose bits depend on the batch");
                }
            }
        }
    }

    /** m as a model holds it: a tile-order variant's weights are a tensor of its type's format. */
    private static Tensor asLoaded(Matrix m) {
        Tensor t = m.tensor();
        return new Tensor("m", TensorFormat.of(m.format().type()), t.data(), t.rows(), t.cols());
    }

    static List<TensorFormat> allFormats() {
        return Stream.concat(AllFormats.readable().stream(), inTileOrder().stream()).toList();
    }

    /**
     * F32, F16 (also its kernel for weights known finite, which skips the watch for infinities) and BF16, with
     * 512-bit vectors also Q4_0, IQ4_NL and Q4_1; and every other format in tile order.
     */
    static List<TensorFormat> exactFormats() {
        Stream<TensorFormat> exact = Stream.of(F32Format.INSTANCE, F16Format.INSTANCE, F16Format.FINITE, BF16Format.INSTANCE);
        exact = Stream.concat(exact, Vec.FL == 16 ? Stream.of(Q4_0Format.INSTANCE, IQ4_NLFormat.INSTANCE, Q4_1Format.INSTANCE) : Stream.empty());
        return Stream.concat(exact, inTileOrder().stream()).toList();
    }

    /** The formats' variants whose one-token kernels add in the tiles' order: Q8_0's own with 512-bit vectors, the others' rows decoded first. */
    private static List<TensorFormat> inTileOrder() {
        return AllFormats.readable().stream().filter(f -> f.inTileOrder() != f).map(TensorFormat::inTileOrder).toList();
    }
}
