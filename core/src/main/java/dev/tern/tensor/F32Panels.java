package dev.tern.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * F32 matrices of short rows (a draft model's: stories260K's 64 and 172 columns), copied once into
 * panels of as many rows as a vector has lanes, column-major within a panel: column c of a panel is
 * one vector of its rows' values. A token's products with a panel's rows are then one chain of
 * multiply-adds over the columns, each lane a row, with no lane sums; {@link F32Tiles} pays a
 * 16-lane sum per row every 4 to 11 vectors of such rows, and checks four row segments per tile,
 * which made its matrices take half of stories260K's decode step.
 * <p>
 * Every batch goes through here, and each (row, token) product is the same chain from zero over
 * the columns in order, whatever else shares the pass: a token's result does not depend on its
 * batch. Sums are in another order than {@link F32Format#dot}'s, so the two agree to float
 * rounding, not bit for bit.
 */
final class F32Panels {
    /** The widest rows copied into panels: the copy doubles their memory, which only small matrices can spare. */
    static final int MAX_COLS = 256;
    private static final VectorSpecies<Float> S = Vec.F;
    /** Rows per panel. */
    static final int ROWS = S.length();
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private F32Panels() {
    }

    /** Whether w's products go through panels. */
    static boolean handles(Tensor w) {
        return w.format() == F32Format.INSTANCE && w.cols() <= MAX_COLS;
    }

    /**
     * w's rows as panels: row r's value in column c at {@link Aligned#OFFSET} + ((r / ROWS)·cols +
     * c)·ROWS + r % ROWS, rows past the last padded with zeros; each column of a panel is then one
     * cache line, not two halves.
     */
    static float[] pack(Tensor w) {
        int rows = w.rows(), cols = w.cols(), panels = (rows + ROWS - 1) / ROWS;
        float[] packed = new float[Math.addExact(Aligned.OFFSET, Math.multiplyExact(panels * ROWS, cols))];
        MemorySegment data = w.data();
        for (int r = 0; r < rows; r++) {
            int base = Aligned.OFFSET + r / ROWS * cols * ROWS + r % ROWS;
            for (int c = 0; c < cols; c++) {
                packed[base + c * ROWS] = data.get(F32, 4L * ((long) r * cols + c));
            }
        }
        return packed;
    }

    /**
     * As {@link BatchMatmul#multiply}, for a tensor {@link #handles} takes. Four panels at a time
     * (four independent chains), two tokens after two (a draft catching up on accepted tokens).
     */
    static void multiply(Tensor w, int rowFrom, int rowTo, float[] x, int xOff, int n, float[] out, int outStride) {
        float[] packed = w.panels();
        int cols = w.cols(), size = cols * ROWS, at = Aligned.OFFSET;
        int first = rowFrom / ROWS, end = (rowTo + ROWS - 1) / ROWS;
        for (int p = first; p < end; p += 4) {
            int count = Math.min(4, end - p);
            // Fewer than four panels left: the last one stands in for the missing ones, its sums unused.
            int p1 = Math.min(p + 1, end - 1), p2 = Math.min(p + 2, end - 1), p3 = Math.min(p + 3, end - 1);
            int t = 0;
            for (; t + 2 <= n; t += 2) {
                fourTwo(packed, at + p * size, at + p1 * size, at + p2 * size, at + p3 * size, cols, x, xOff + t * cols, out,
                        t * outStride, outStride, p * ROWS, count, rowFrom, rowTo);
            }
            if (t < n) {
                four(packed, at + p * size, at + p1 * size, at + p2 * size, at + p3 * size, cols, x, xOff + t * cols, out, t * outStride,
                        p * ROWS, count, rowFrom, rowTo);
            }
        }
    }

    /**
     * One token's products with the panels at packed[a], [b], [c] and [d] (of rows from r0, r0 +
     * ROWS, ...): the first {@code count} panels' go to out[o + r] for rows r in [rowFrom, rowTo).
     */
    private static void four(float[] packed, int a, int b, int c, int d, int cols, float[] x, int x0, float[] out, int o,
                             int r0, int count, int rowFrom, int rowTo) {
        FloatVector s0 = FloatVector.zero(S), s1 = s0, s2 = s0, s3 = s0;
        for (int i = 0, k = 0; i < cols; i++, k += ROWS) {
            FloatVector xv = FloatVector.broadcast(S, x[x0 + i]);
            s0 = FloatVector.fromArray(S, packed, a + k).fma(xv, s0);
            s1 = FloatVector.fromArray(S, packed, b + k).fma(xv, s1);
            s2 = FloatVector.fromArray(S, packed, c + k).fma(xv, s2);
            s3 = FloatVector.fromArray(S, packed, d + k).fma(xv, s3);
        }
        storeFour(s0, s1, s2, s3, out, o, r0, count, rowFrom, rowTo);
    }

    /**
     * {@link #four} for two tokens, at x[x0] and x[x0 + cols], into out[o + r] and out[o + stride + r]:
     * each panel load serves both, and each (row, token) is the same chain as {@link #four}'s.
     */
    private static void fourTwo(float[] packed, int a, int b, int c, int d, int cols, float[] x, int x0, float[] out, int o,
                                int stride, int r0, int count, int rowFrom, int rowTo) {
        FloatVector s0 = FloatVector.zero(S), s1 = s0, s2 = s0, s3 = s0, u0 = s0, u1 = s0, u2 = s0, u3 = s0;
        for (int i = 0, k = 0; i < cols; i++, k += ROWS) {
            FloatVector xv = FloatVector.broadcast(S, x[x0 + i]), yv = FloatVector.broadcast(S, x[x0 + cols + i]);
            FloatVector w0 = FloatVector.fromArray(S, packed, a + k), w1 = FloatVector.fromArray(S, packed, b + k);
            FloatVector w2 = FloatVector.fromArray(S, packed, c + k), w3 = FloatVector.fromArray(S, packed, d + k);
            s0 = w0.fma(xv, s0);
            s1 = w1.fma(xv, s1);
            s2 = w2.fma(xv, s2);
            s3 = w3.fma(xv, s3);
            u0 = w0.fma(yv, u0);
            u1 = w1.fma(yv, u1);
            u2 = w2.fma(yv, u2);
            u3 = w3.fma(yv, u3);
        }
        storeFour(s0, s1, s2, s3, out, o, r0, count, rowFrom, rowTo);
        storeFour(u0, u1, u2, u3, out, o + stride, r0, count, rowFrom, rowTo);
    }

    /** The first {@code count} of four panels' sums (rows from r0, r0 + ROWS, ...) through {@link #store}. */
    private static void storeFour(FloatVector s0, FloatVector s1, FloatVector s2, FloatVector s3, float[] out, int o, int r0,
                                  int count, int rowFrom, int rowTo) {
        store(s0, out, o, r0, rowFrom, rowTo);
        if (count > 1) {
            store(s1, out, o, r0 + ROWS, rowFrom, rowTo);
        }
        if (count > 2) {
            store(s2, out, o, r0 + 2 * ROWS, rowFrom, rowTo);
        }
        if (count > 3) {
            store(s3, out, o, r0 + 3 * ROWS, rowFrom, rowTo);
        }
    }

    /**
     * A panel's sums for rows r0.. to out[o + r], those in [rowFrom, rowTo). A part of a panel goes
     * through an array of its own: a masked store whose vector reaches past the end of out (the last
     * panel of a matrix whose rows are not whole panels) runs the Vector API's Java fallback (2.6% of
     * stories260K's decode step, JFR), and a per-thread scratch array's look-up cost about as much.
     */
    private static void store(FloatVector sums, float[] out, int o, int r0, int rowFrom, int rowTo) {
        if (r0 >= rowFrom && r0 + ROWS <= rowTo) {
            sums.intoArray(out, o + r0);
            return;
        }
        float[] part = new float[ROWS];
        sums.intoArray(part, 0);
        int from = Math.max(rowFrom, r0), to = Math.min(rowTo, r0 + ROWS);
        System.arraycopy(part, from - r0, out, o + from, to - from);
    }
}
