package dev.tern.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * Register tiles of 4 rows × 16 tokens for 8-lane vectors (AVX2), over {@link BatchMatmul}'s
 * decoded rows: the tokens lie across the lanes of two vectors and each weight is broadcast to
 * meet them, so a tile needs no horizontal sums and at most fourteen of AVX2's sixteen vector
 * registers (eight accumulators, two activation vectors, four broadcasts however C2 schedules
 * them). BatchMatmul's dot-product tiles (4 rows × 3 tokens) need sixteen or more, and C2 spills
 * an accumulator to the stack, whose store and reload every iteration pace the loop at about one
 * multiply-add a cycle of the two a Zen 3 core issues (read in the disassembly); so did 5 × 16
 * tiles here under one of the collectors. Q8_0, 480 tokens × 2048 columns, one thread, GFLOP/s
 * including the decoding and the regrouping: 52–69 against 41–55 with the parallel collector,
 * 39–51 against 35–44 with G1 (a scratch harness, alternated in one JVM; docs/PERFORMANCE.md).
 * <p>
 * The tokens come regrouped as {@link #panels}: for each 16 tokens, the columns in order, each
 * column's 16 values side by side; a last, partial panel is padded with zeros, so that every token of
 * a batch gets the same arithmetic wherever it sits in the batch (the same text twice in one batch
 * gives the same bits). A row's sum runs over the columns in order, a multiply-add at a time, so it
 * differs from {@link TensorFormat#dot}'s lane sums by float rounding.
 */
public final class OuterProductTiles {
    /** Tokens per panel: two vectors. */
    public static final int TOKENS = 16;
    /** Rows per tile. */
    static final int ROWS = 4;
    private static final VectorSpecies<Float> S = Vec.F;
    private static final int L = S.length();
    private static final ThreadLocal<float[][]> PANELS = Aligned.holder();
    private static final ThreadLocal<float[][]> SUMS = ThreadLocal.withInitial(() -> new float[1][ROWS * TOKENS]);

    private OuterProductTiles() {
    }

    /** Whether a batch of n tokens goes through these tiles: 8-lane vectors, a panel or more. */
    static boolean handles(int n) {
        return L == 8 && n >= TOKENS;
    }

    /**
     * The n tokens at x[xOff], t·cols apart, as panels of {@link #TOKENS} (the last one padded with zeros), in a
     * buffer of the calling thread from {@link Aligned#OFFSET} on (each column's 16 values on a cache line). The
     * caller keeps it while threads read it and builds it again for other activations.
     */
    static float[] panels(float[] x, int xOff, int n, int cols) {
        int panels = (n + TOKENS - 1) / TOKENS;
        float[] p = Aligned.scratch(PANELS, panels * TOKENS * cols);
        for (int g = 0; g < panels; g++) {
            int base = Aligned.OFFSET + g * TOKENS * cols;
            for (int j = 0; j < TOKENS; j++) {
                int t = g * TOKENS + j, src = xOff + t * cols;
                for (int k = 0; k < cols; k++) {
                    p[base + k * TOKENS + j] = t < n ? x[src + k] : 0f;
                }
            }
        }
        return p;
    }

    /**
     * {@code out[o0 + t·stride + r] = wb[w0 + r·cols ..] · token t} for the n tokens of the panels and the rows r in
     * whole tiles of the nr rows (a multiple of {@link #ROWS} of them: the caller does the rest).
     */
    static void multiply(float[] wb, int w0, int nr, int cols, float[] panels, int n, float[] out, int o0, int stride) {
        float[] sums = SUMS.get()[0];
        for (int g = 0; g * TOKENS < n; g++) {
            int p0 = Aligned.OFFSET + g * TOKENS * cols, tokens = Math.min(TOKENS, n - g * TOKENS);
            for (int r = 0; r + ROWS <= nr; r += ROWS) {
                tile(wb, w0 + r * cols, cols, panels, p0, sums);
                int o = o0 + g * TOKENS * stride + r;
                for (int i = 0; i < ROWS; i++) {
                    for (int j = 0; j < tokens; j++) {
                        out[o + j * stride + i] = sums[i * TOKENS + j];
                    }
                }
            }
        }
    }

    /** Rows w0, w0 + cols, w0 + 2·cols, w0 + 3·cols of wb times the panel at p0, into sums[row·16 + token]. */
    private static void tile(float[] wb, int w0, int cols, float[] p, int p0, float[] sums) {
        FloatVector c00 = FloatVector.zero(S), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
        int w1 = w0 + cols, w2 = w1 + cols, w3 = w2 + cols;
        for (int k = 0; k < cols; k++) {
            int pk = p0 + k * TOKENS;
            FloatVector x0 = FloatVector.fromArray(S, p, pk), x1 = FloatVector.fromArray(S, p, pk + L);
            FloatVector b = FloatVector.broadcast(S, wb[w0 + k]);
            c00 = x0.fma(b, c00);
            c01 = x1.fma(b, c01);
            b = FloatVector.broadcast(S, wb[w1 + k]);
            c10 = x0.fma(b, c10);
            c11 = x1.fma(b, c11);
            b = FloatVector.broadcast(S, wb[w2 + k]);
            c20 = x0.fma(b, c20);
            c21 = x1.fma(b, c21);
            b = FloatVector.broadcast(S, wb[w3 + k]);
            c30 = x0.fma(b, c30);
            c31 = x1.fma(b, c31);
        }
        c00.intoArray(sums, 0);
        c01.intoArray(sums, L);
        c10.intoArray(sums, TOKENS);
        c11.intoArray(sums, TOKENS + L);
        c20.intoArray(sums, 2 * TOKENS);
        c21.intoArray(sums, 2 * TOKENS + L);
        c30.intoArray(sums, 3 * TOKENS);
        c31.intoArray(sums, 3 * TOKENS + L);
    }
}
