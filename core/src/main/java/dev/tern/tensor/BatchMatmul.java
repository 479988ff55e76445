package dev.tern.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Matrix × matrix for a batch of tokens (prompt processing, speculative verification, batched
 * decode), in any format: a block of 16 or 32 weight rows is decoded once into a per-thread
 * float buffer (which stays in L2), then register tiles of 4 rows × 4 tokens run over it, so every
 * weight decoded from memory serves the whole batch and every load from the buffer serves four
 * tokens. With 8-lane vectors, batches of 16 tokens or more go through {@link OuterProductTiles}
 * instead. The block is as tall as L2 allows: each token's activations are loaded once per block. Sums are in a different order than {@link TensorFormat#dot}'s, so results
 * agree with it to float rounding, not bit for bit. The buffer starts on a cache line and callers
 * pass activations that do too ({@link Aligned}): the tiles' loads then never straddle two lines.
 */
public final class BatchMatmul {
    /** Most rows decoded per buffer fill. */
    public static final int ROW_BLOCK = 32;
    /**
     * Half of this machine kind's L2 (2 MiB per core): while the batch's activations fit in it
     * beside the decoded rows, they are read from L2 for every block; beyond, they stream anyway.
     */
    private static final long L2_SHARE = 1 << 20;
    /** Batches below this size go through the formats' matrix × vector kernels (measured crossover). */
    private static final int SMALL_BATCH = 4;
    private static final VectorSpecies<Float> S = Vec.F;
    private static final int L = S.length();
    private static final ThreadLocal<float[][]> BUFFER = Aligned.holder();
    private static final ThreadLocal<float[][]> TAIL = Aligned.holder();
    /** Where {@link #touch}'s sums go, so that the JIT keeps its loads; never read. */
    private static long touchedBytes;

    private BatchMatmul() {
    }

    /**
     * The rows a thread's share of {@link #multiply} should be a multiple of: a decoded block, for
     * F32 weights of short rows a panel ({@link F32Panels}), or for other F32 weights times a few
     * tokens a quad ({@link F32Tiles}). Coarser shares of those would
     * split a 288-row matrix into five, three for one thread and two for the other.
     */
    public static int rowGroup(Tensor w, int n) {
        return F32Panels.handles(w) ? F32Panels.ROWS : f32Direct(w, n) ? 4 : ROW_BLOCK;
    }

    /** Whether n tokens times these F32 weights go through {@link F32Tiles}, straight from the mapping. */
    private static boolean f32Direct(Tensor w, int n) {
        return w.format() == F32Format.INSTANCE && F32Tiles.handles(n, w.cols());
    }

    /**
     * The n tokens at x[xOff] regrouped for {@link #multiply}'s tiles, or null when they take the
     * tokens as they are. Built once per matrix and shared by the threads: each thread's share of
     * rows meets every token.
     */
    public static float[] panels(Tensor w, float[] x, int xOff, int n) {
        return F32Panels.handles(w) || f32Direct(w, n) || !OuterProductTiles.handles(n) ? null : OuterProductTiles.panels(x, xOff, n, w.cols());
    }

    /**
     * {@code out[t·outStride + r] = w[r] · x[xOff + t·w.cols() ..]} for tokens t < n and rows r in
     * [rowFrom, rowTo).
     */
    public static void multiply(Tensor w, int rowFrom, int rowTo, float[] x, int xOff, int n, float[] out, int outStride) {
        multiply(w, rowFrom, rowTo, x, xOff, n, panels(w, x, xOff, n), out, outStride);
    }

    /** {@link #multiply}, given the tokens' {@link #panels}. */
    public static void multiply(Tensor w, int rowFrom, int rowTo, float[] x, int xOff, int n, float[] panels, float[] out,
                                int outStride) {
        int cols = w.cols();
        if (F32Panels.handles(w)) {
            F32Panels.multiply(w, rowFrom, rowTo, x, xOff, n, out, outStride);
            return;
        }
        if (f32Direct(w, n)) {
            F32Tiles.multiply(w, rowFrom, rowTo, x, xOff, n, out, outStride);
            return;
        }
        if (w.format() == Q8_0Format.INSTANCE && Q8_0Tiles.handles(n)) {
            Q8_0Tiles.multiply(w, rowFrom, rowTo, x, xOff, n, out, outStride);
            return;
        }
        if (n < SMALL_BATCH) {
            // Too few tokens to pay for decoding into the buffer.
            byToken(w.format(), w, rowFrom, rowTo, x, xOff, n, out, outStride);
            return;
        }
        int block = rowsPerFill(n, cols);
        float[] buf = Aligned.scratch(BUFFER, block * cols);
        int b0 = Aligned.OFFSET;
        long touched = 0;
        for (int rb = rowFrom; rb < rowTo; rb += block) {
            int nr = Math.min(block, rowTo - rb);
            for (int i = 0; i < nr; i++) {
                w.dequantizeRow(rb + i, buf, b0 + i * cols);
            }
            if (rb + block < rowTo) {
                touched += touch(w.data(), (rb + block) * w.rowBytes(), Math.min(rowTo, rb + 2 * block) * w.rowBytes());
            }
            if (panels != null) {
                OuterProductTiles.multiply(buf, b0, nr, cols, panels, n, out, rb, outStride);
                // The matrix's last rows past a whole tile: one way for every token, as the tiles are.
                for (int r = nr / OuterProductTiles.ROWS * OuterProductTiles.ROWS; r < nr; r++) {
                    for (int t = 0; t < n; t++) {
                        out[t * outStride + rb + r] = dot(buf, b0 + r * cols, x, xOff + t * cols, cols);
                    }
                }
                continue;
            }
            for (int t = 0, g; t < n; t += g) {
                g = tileTokens(n - t);
                int xt = xOff + t * cols;
                int r = 0;
                for (; r + 4 <= nr; r += 4) {
                    int w0 = b0 + r * cols, o = t * outStride + rb + r;
                    switch (g) {
                        case 4 -> tile4x4(buf, w0, x, xt, cols, out, o, outStride);
                        case 3 -> tile4x3(buf, w0, x, xt, cols, out, o, outStride);
                        case 2 -> tile4x2(buf, w0, x, xt, cols, out, o, outStride);
                        default -> tile4x1(buf, w0, x, xt, cols, out, o);
                    }
                }
                for (; r < nr; r++) {
                    for (int j = 0; j < g; j++) {
                        out[(t + j) * outStride + rb + r] = dot(buf, b0 + r * cols, x, xt + j * cols, cols);
                    }
                }
            }
            addTails(buf, b0, nr / 4 * 4, x, xOff, n, cols, out, rb, outStride);
        }
        touchedBytes = touched;
    }

    /**
     * Whether {@link #multiply} gives each of n tokens of w the bits of its one-token product: always
     * for F32 rows short enough for {@link F32Panels} (whose one-token product adds otherwise than
     * dot), else as {@link #batchInvariant(TensorFormat, int)} says for w's format in tile order.
     */
    public static boolean batchInvariant(Tensor w, int n) {
        return F32Panels.handles(w) || batchInvariant(w.format().inTileOrder(), n);
    }

    /**
     * Whether {@link #multiply} gives each of n tokens the bits of its one-token product (the formats'
     * {@link TensorFormat#dot}): for weights that decode to floats exactly, whose tiles add in the dot
     * products' order, but for the outer-product tiles; with 512-bit vectors for Q4_0, IQ4_NL and Q4_1,
     * whose kernels look up weights in a table of levels times the block's scale ({@link NibbleBlocks},
     * plus its min for Q4_1) and add as the tiles do; for the formats' variants in tile order ({@link TensorFormat#inTileOrder}:
     * Q8_0's, Q4_K's, Q5_K's, Q6_K's, IQ4_XS's, Q5_0's and Q5_1's own kernels with 512-bit vectors, the others' rows decoded
     * first) where the buffered tiles take the batch (a smaller one goes by token through the
     * format's own kernels; with AVX2, Q8_0's unbuffered tiles and the outer-product ones add
     * otherwise). Other formats' tiles multiply decoded weights, where their dot products scale each
     * block's sum.
     */
    public static boolean batchInvariant(TensorFormat format, int n) {
        if (format == Q8_0Format.TILE_ORDER) {
            return n >= SMALL_BATCH;
        }
        if (format instanceof TileOrderFormat t) {
            return n >= SMALL_BATCH && !OuterProductTiles.handles(n) && !(t.decoded() == Q8_0Format.INSTANCE && Q8_0Tiles.handles(n));
        }
        if (format == Q4_0Format.INSTANCE || format == IQ4_NLFormat.INSTANCE || format == Q4_1Format.INSTANCE) {
            return L == 16;
        }
        return (format == F32Format.INSTANCE || format == F16Format.INSTANCE || format == BF16Format.INSTANCE)
                && !OuterProductTiles.handles(n);
    }

    /**
     * {@link #multiply} through format f's matrix × vector kernels (w's, or its {@link
     * TensorFormat#inTileOrder}), one token after another, a row block at a time so that the later
     * tokens find the block in cache: each token gets its one-token product's bits, whatever the
     * batch ({@code tern --batch-invariant}), and batches too small to pay for a buffer fill take it
     * anyway.
     */
    public static void byToken(TensorFormat f, Tensor w, int rowFrom, int rowTo, float[] x, int xOff, int n, float[] out,
                               int outStride) {
        int cols = w.cols();
        long rowBytes = w.rowBytes();
        for (int rb = rowFrom; rb < rowTo; rb += ROW_BLOCK) {
            int nr = Math.min(ROW_BLOCK, rowTo - rb);
            int t = 0;
            for (; t + 2 <= n; t += 2) {
                f.dotRows2(w.data(), rb * rowBytes, rowBytes, nr, x, xOff + t * cols, xOff + (t + 1) * cols, cols, out,
                        t * outStride + rb, (t + 1) * outStride + rb);
            }
            if (t < n) {
                f.dotRows(w.data(), rb * rowBytes, rowBytes, nr, x, xOff + t * cols, cols, out, t * outStride + rb);
            }
        }
    }

    /**
     * Reads one byte of each cache line of data[from, to) and returns their sum. The buffer fill's
     * stores leave few of its loads in flight, so a fill straight from memory ran at half its speed
     * from cache; these loads, with nothing waiting on them, keep many misses in flight and bring
     * the next block's rows into cache for its fill (`CpuTimeAB matmul Q8_0 8 400 2048`, one
     * thread, alternated: 52.7–56.6 → 58.6–64.1 GFLOP/s).
     */
    private static long touch(MemorySegment data, long from, long to) {
        long sum = 0;
        for (long p = from; p < to; p += 64) {
            sum += data.get(ValueLayout.JAVA_BYTE, p);
        }
        return sum;
    }

    /**
     * How many of {@code left} tokens the next tiles take: four at a time, then one; with 8-lane
     * vectors three, then two or one, as sixteen accumulators would spill there ({@link #tile4x3}).
     */
    private static int tileTokens(int left) {
        return L == 8 ? Math.min(left, 3) : left >= 4 ? 4 : 1;
    }

    /**
     * 32 rows when the activations stream from beyond L2 anyway (a taller block reuses each of
     * their loads more), else 32 only while the block leaves them room in L2: measured with
     * Q8_0, 32 rows beat 16 by about 20% at 8 tokens × 2048 columns and at 512 tokens, and lost by
     * 26% at 16 tokens × 8192 columns.
     */
    private static int rowsPerFill(int n, int cols) {
        long activations = 4L * n * cols;
        if (activations > L2_SHARE || activations + 4L * ROW_BLOCK * cols <= L2_SHARE) {
            return ROW_BLOCK;
        }
        return ROW_BLOCK / 2;
    }

    /** Rows w0, w0+k, w0+2k, w0+3k of wb times tokens x0 .. x0+3k of x, into out[o0 + t·stride + r]. */
    private static void tile4x4(float[] wb, int w0, float[] x, int x0, int k, float[] out, int o0, int stride) {
        FloatVector c00 = FloatVector.zero(S), c01 = c00, c02 = c00, c03 = c00;
        FloatVector c10 = c00, c11 = c00, c12 = c00, c13 = c00;
        FloatVector c20 = c00, c21 = c00, c22 = c00, c23 = c00;
        FloatVector c30 = c00, c31 = c00, c32 = c00, c33 = c00;
        int bound = S.loopBound(k);
        for (int i = 0; i < bound; i += L) {
            FloatVector w0v = FloatVector.fromArray(S, wb, w0 + i);
            FloatVector w1v = FloatVector.fromArray(S, wb, w0 + k + i);
            FloatVector w2v = FloatVector.fromArray(S, wb, w0 + 2 * k + i);
            FloatVector w3v = FloatVector.fromArray(S, wb, w0 + 3 * k + i);
            FloatVector xv = FloatVector.fromArray(S, x, x0 + i);
            c00 = w0v.fma(xv, c00);
            c10 = w1v.fma(xv, c10);
            c20 = w2v.fma(xv, c20);
            c30 = w3v.fma(xv, c30);
            xv = FloatVector.fromArray(S, x, x0 + k + i);
            c01 = w0v.fma(xv, c01);
            c11 = w1v.fma(xv, c11);
            c21 = w2v.fma(xv, c21);
            c31 = w3v.fma(xv, c31);
            xv = FloatVector.fromArray(S, x, x0 + 2 * k + i);
            c02 = w0v.fma(xv, c02);
            c12 = w1v.fma(xv, c12);
            c22 = w2v.fma(xv, c22);
            c32 = w3v.fma(xv, c32);
            xv = FloatVector.fromArray(S, x, x0 + 3 * k + i);
            c03 = w0v.fma(xv, c03);
            c13 = w1v.fma(xv, c13);
            c23 = w2v.fma(xv, c23);
            c33 = w3v.fma(xv, c33);
        }
        out[o0] = sum(c00);
        out[o0 + 1] = sum(c10);
        out[o0 + 2] = sum(c20);
        out[o0 + 3] = sum(c30);
        out[o0 + stride] = sum(c01);
        out[o0 + stride + 1] = sum(c11);
        out[o0 + stride + 2] = sum(c21);
        out[o0 + stride + 3] = sum(c31);
        out[o0 + 2 * stride] = sum(c02);
        out[o0 + 2 * stride + 1] = sum(c12);
        out[o0 + 2 * stride + 2] = sum(c22);
        out[o0 + 2 * stride + 3] = sum(c32);
        out[o0 + 3 * stride] = sum(c03);
        out[o0 + 3 * stride + 1] = sum(c13);
        out[o0 + 3 * stride + 2] = sum(c23);
        out[o0 + 3 * stride + 3] = sum(c33);
    }

    /**
     * {@link #tile4x4} for three tokens, for 256-bit vectors: AVX2 has sixteen vector registers,
     * which twelve accumulators and the four rows fill, where the sixteen accumulators of a 4 × 4
     * tile spill (`CpuTimeAB matmul Q8_0 N 16 2048`, one thread, GFLOP/s: 64 tokens 40–45 → 46–50,
     * 512 tokens 45 → 50, 16 tokens 39 → 41; 2 rows × 6 tokens gained nothing).
     */
    private static void tile4x3(float[] wb, int w0, float[] x, int x0, int k, float[] out, int o0, int stride) {
        FloatVector c00 = FloatVector.zero(S), c01 = c00, c02 = c00;
        FloatVector c10 = c00, c11 = c00, c12 = c00;
        FloatVector c20 = c00, c21 = c00, c22 = c00;
        FloatVector c30 = c00, c31 = c00, c32 = c00;
        int bound = S.loopBound(k);
        for (int i = 0; i < bound; i += L) {
            FloatVector w0v = FloatVector.fromArray(S, wb, w0 + i);
            FloatVector w1v = FloatVector.fromArray(S, wb, w0 + k + i);
            FloatVector w2v = FloatVector.fromArray(S, wb, w0 + 2 * k + i);
            FloatVector w3v = FloatVector.fromArray(S, wb, w0 + 3 * k + i);
            FloatVector xv = FloatVector.fromArray(S, x, x0 + i);
            c00 = w0v.fma(xv, c00);
            c10 = w1v.fma(xv, c10);
            c20 = w2v.fma(xv, c20);
            c30 = w3v.fma(xv, c30);
            xv = FloatVector.fromArray(S, x, x0 + k + i);
            c01 = w0v.fma(xv, c01);
            c11 = w1v.fma(xv, c11);
            c21 = w2v.fma(xv, c21);
            c31 = w3v.fma(xv, c31);
            xv = FloatVector.fromArray(S, x, x0 + 2 * k + i);
            c02 = w0v.fma(xv, c02);
            c12 = w1v.fma(xv, c12);
            c22 = w2v.fma(xv, c22);
            c32 = w3v.fma(xv, c32);
        }
        out[o0] = sum(c00);
        out[o0 + 1] = sum(c10);
        out[o0 + 2] = sum(c20);
        out[o0 + 3] = sum(c30);
        out[o0 + stride] = sum(c01);
        out[o0 + stride + 1] = sum(c11);
        out[o0 + stride + 2] = sum(c21);
        out[o0 + stride + 3] = sum(c31);
        out[o0 + 2 * stride] = sum(c02);
        out[o0 + 2 * stride + 1] = sum(c12);
        out[o0 + 2 * stride + 2] = sum(c22);
        out[o0 + 2 * stride + 3] = sum(c32);
    }

    /** {@link #tile4x3} for two tokens. */
    private static void tile4x2(float[] wb, int w0, float[] x, int x0, int k, float[] out, int o0, int stride) {
        FloatVector c00 = FloatVector.zero(S), c01 = c00;
        FloatVector c10 = c00, c11 = c00;
        FloatVector c20 = c00, c21 = c00;
        FloatVector c30 = c00, c31 = c00;
        int bound = S.loopBound(k);
        for (int i = 0; i < bound; i += L) {
            FloatVector w0v = FloatVector.fromArray(S, wb, w0 + i);
            FloatVector w1v = FloatVector.fromArray(S, wb, w0 + k + i);
            FloatVector w2v = FloatVector.fromArray(S, wb, w0 + 2 * k + i);
            FloatVector w3v = FloatVector.fromArray(S, wb, w0 + 3 * k + i);
            FloatVector xv = FloatVector.fromArray(S, x, x0 + i);
            c00 = w0v.fma(xv, c00);
            c10 = w1v.fma(xv, c10);
            c20 = w2v.fma(xv, c20);
            c30 = w3v.fma(xv, c30);
            xv = FloatVector.fromArray(S, x, x0 + k + i);
            c01 = w0v.fma(xv, c01);
            c11 = w1v.fma(xv, c11);
            c21 = w2v.fma(xv, c21);
            c31 = w3v.fma(xv, c31);
        }
        out[o0] = sum(c00);
        out[o0 + 1] = sum(c10);
        out[o0 + 2] = sum(c20);
        out[o0 + 3] = sum(c30);
        out[o0 + stride] = sum(c01);
        out[o0 + stride + 1] = sum(c11);
        out[o0 + stride + 2] = sum(c21);
        out[o0 + stride + 3] = sum(c31);
    }

    /** Rows w0 .. w0+3k of wb times one token at x0, into out[o0 + r]: the vector parts; the rows' tails are {@link #addTails}'. */
    static void tile4x1(float[] wb, int w0, float[] x, int x0, int k, float[] out, int o0) {
        FloatVector c0 = FloatVector.zero(S), c1 = c0, c2 = c0, c3 = c0;
        int bound = S.loopBound(k);
        for (int i = 0; i < bound; i += L) {
            FloatVector xv = FloatVector.fromArray(S, x, x0 + i);
            c0 = FloatVector.fromArray(S, wb, w0 + i).fma(xv, c0);
            c1 = FloatVector.fromArray(S, wb, w0 + k + i).fma(xv, c1);
            c2 = FloatVector.fromArray(S, wb, w0 + 2 * k + i).fma(xv, c2);
            c3 = FloatVector.fromArray(S, wb, w0 + 3 * k + i).fma(xv, c3);
        }
        out[o0] = sum(c0);
        out[o0 + 1] = sum(c1);
        out[o0 + 2] = sum(c2);
        out[o0 + 3] = sum(c3);
    }

    /**
     * A tile's sum of lanes (these tiles' and {@link F32Tiles}'); its rows' tails are added apart ({@link
     * #addTails}), so that the tiles compile small and are not thrown away when rows with tails (a draft
     * model's) first come. The + 0f is what adding an empty tail adds (−0 becomes +0): a product has the
     * same bits with or without a tail pass.
     */
    static float sum(FloatVector acc) {
        return acc.reduceLanes(VectorOperators.ADD) + 0f;
    }

    /**
     * Adds to the tiles' sums out[o0 + t·stride + r] of rows r < rows (row r of wb from w0 + r·k) each
     * token t's scalar tail past the last whole vector, for the n tokens from x0, when the rows have one.
     */
    static void addTails(float[] wb, int w0, int rows, float[] x, int x0, int n, int k, float[] out, int o0, int stride) {
        int bound = S.loopBound(k);
        if (bound == k) {
            return;
        }
        for (int r = 0; r < rows; r++) {
            for (int t = 0; t < n; t++) {
                out[o0 + t * stride + r] += tail(wb, w0 + r * k, x, x0 + t * k, bound, k);
            }
        }
    }

    /**
     * Σ w[w0+i]·x[x0+i] for i in [from, k): a row's scalar tail past its last whole vector, in
     * {@link F32Tiles#tail}'s four chains. Every kernel of the formats whose values decode to floats
     * exactly (F32, F16, BF16) adds its tail so to the lanes' sum, so that a token's product has the
     * same bits whichever kernel its batch took.
     */
    static float tail(float[] w, int w0, float[] x, int x0, int from, int k) {
        float s0 = 0f, s1 = 0f, s2 = 0f, s3 = 0f;
        int i = from;
        for (; i + 4 <= k; i += 4) {
            s0 += w[w0 + i] * x[x0 + i];
            s1 += w[w0 + i + 1] * x[x0 + i + 1];
            s2 += w[w0 + i + 2] * x[x0 + i + 2];
            s3 += w[w0 + i + 3] * x[x0 + i + 3];
        }
        for (; i < k; i++) {
            s0 += w[w0 + i] * x[x0 + i];
        }
        return (s0 + s1) + (s2 + s3);
    }

    /**
     * {@link #tail} of a row of an element-wise format at byteOffset: its values [from, n) decoded
     * into a per-thread scratch array (not one allocated per row), then summed so.
     */
    static float tail(TensorFormat format, MemorySegment w, long byteOffset, float[] x, int xOff, int from, int n) {
        if (from == n) {
            return 0f;
        }
        float[] values = Aligned.scratch(TAIL, n - from);
        format.dequantize(w, byteOffset + format.type().byteSize(from), values, 0, n - from);
        return tail(values, 0, x, xOff + from, 0, n - from);
    }

    static float dot(float[] a, int aOff, float[] b, int bOff, int n) {
        FloatVector acc = FloatVector.zero(S);
        int bound = S.loopBound(n);
        for (int i = 0; i < bound; i += L) {
            acc = FloatVector.fromArray(S, a, aOff + i).fma(FloatVector.fromArray(S, b, bOff + i), acc);
        }
        return acc.reduceLanes(VectorOperators.ADD) + tail(a, aOff, b, bOff, bound, n);
    }
}
