package dev.tern.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

import static dev.tern.tensor.BatchMatmul.sum;

/**
 * F32 weights times one or a few tokens, read straight from the mapping, so each weight vector
 * loaded serves several tokens: register tiles of 4 rows × 4 tokens, then 4 × 2, then 4 × 1; from
 * eight tokens on, 4-row passes over the tokens past the last whole eight bring the rows into L1,
 * where tiles of 2 rows × 8 tokens run near the multiply-add peak (92 against 51 GFLOP/s per core,
 * in cache).
 * F32 weights need no decoding, so a buffer copy (as {@link BatchMatmul} makes for the other
 * formats) would only add a pass over them; reading them where they are lets a verify pass of a
 * few tokens cost little more than the single-token step, whose time is spent reading weights.
 * Past {@link #MAX_TOKENS} (rows of up to 768 columns: past 32 tokens) the buffered tiles win:
 * each row quad here streams every token's activations again, while a decoded block of 16 or 32
 * rows shares them. The tiles read each row
 * through its own segment ({@link Tensor#rowSegment}) and the packed tokens from one array: bounds
 * are then checked once per row, and the loop keeps its sixteen accumulators in registers.
 * <p>
 * Every tile computes a row's product with a token the same way (lane-wise multiply-adds in
 * column order, then the lanes' sum and the scalar tail), so a token's result does not depend on
 * how many others share the pass: a verify pass agrees bit for bit with single-token steps.
 */
final class F32Tiles {
    /**
     * The most tokens worth reading the mapping directly for (paired A/B, 768×768 F32, GFLOP/s
     * per core against the buffered tiles: 4 tokens +27%, 8 tokens +25%, 12 tokens −5%, 32 tokens
     * −20%, 512 tokens −32%).
     */
    static final int MAX_TOKENS = 10;
    /**
     * The widest rows for the two-row tiles over eight tokens: they run from L1, which must hold
     * the eight packed tokens and the quad's rows (`CpuTimeAB matmul F32 9 60 COLS` against four-row
     * tiles: 512 columns +27%, 768 +9%, 1024 −3%).
     */
    private static final int MAX_COLS_BY_PAIRS = 768;
    /**
     * The most tokens for the two-row tiles, against the buffered ones (`CpuTimeAB matmul F32 N 60
     * 512`: 12 tokens +28%, 16 +8%, 32 +4%, 64 −5%).
     */
    private static final int MAX_TOKENS_BY_PAIRS = 32;
    private static final VectorSpecies<Float> S = Vec.F;
    private static final int L = S.length();
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    private static final ThreadLocal<float[][]> PACKED = Aligned.holder();

    private F32Tiles() {
    }

    /** Whether these tiles, rather than {@link BatchMatmul}'s buffered ones, should multiply n tokens by rows of this width. */
    static boolean handles(int n, int cols) {
        return n <= MAX_TOKENS || n <= MAX_TOKENS_BY_PAIRS && cols <= MAX_COLS_BY_PAIRS;
    }

    /** As {@link BatchMatmul#multiply}, for an F32 tensor. */
    static void multiply(Tensor w, int rowFrom, int rowTo, float[] x, int xOff, int n, float[] out, int outStride) {
        int cols = w.cols();
        MemorySegment data = w.data();
        long rowBytes = w.rowBytes();
        // A tile's four rows come from the four quarters of the share: four memory streams, where
        // four adjacent rows are one (stories15M decode on one thread: 164-208 -> 316-377 t/s).
        int quarter = (rowTo - rowFrom) / 4;
        int bound = S.loopBound(cols);
        // Eight tokens for the two-row tiles, else each whole group of four for the four-row ones.
        boolean pairs = n >= 8 && cols <= MAX_COLS_BY_PAIRS;
        int packedTokens = pairs ? n / 8 * 8 : n / 4 * 4;
        float[] packed = Aligned.scratch(PACKED, packedTokens * bound);
        int p0 = Aligned.OFFSET;
        for (int g = 0; g < packedTokens; g += pairs ? 8 : 4) {
            pack(x, xOff + g * cols, cols, bound, pairs ? 8 : 4, packed, p0 + g * bound);
        }
        for (int i = 0; i < quarter; i++) {
            int r = rowFrom + i;
            MemorySegment r0 = w.rowSegment(r), r1 = w.rowSegment(r + quarter), r2 = w.rowSegment(r + 2 * quarter), r3 = w.rowSegment(r + 3 * quarter);
            int t = 0;
            if (pairs) {
                // The two-row tiles stall on rows from memory: four-row passes over the tokens past
                // the last whole eight bring the quad into L1 first (with none past them, over the
                // last token, which is then computed twice).
                t = Math.min(n - 1, packedTokens);
            } else {
                for (; t < packedTokens; t += 4) {
                    tile4x4(r0, r1, r2, r3, packed, p0 + t * bound, cols, out, t * outStride + r, quarter, outStride);
                }
            }
            for (; t + 2 <= n; t += 2) {
                tile4x2(r0, r1, r2, r3, x, xOff + t * cols, cols, out, t * outStride + r, quarter, outStride);
            }
            if (t < n) {
                tile4x1(r0, r1, r2, r3, x, xOff + t * cols, cols, out, t * outStride + r, quarter);
            }
            for (int g = 0; pairs && g < packedTokens; g += 8) {
                int pg = p0 + g * bound, og = g * outStride + r;
                tile2x8(r0, r1, packed, pg, cols, out, og, og + quarter, outStride);
                tile2x8(r2, r3, packed, pg, cols, out, og + 2 * quarter, og + 3 * quarter, outStride);
            }
        }
        if (bound < cols) {
            addTails(data, rowBytes, rowFrom, rowFrom + 4 * quarter, x, xOff, cols, bound, n, out, outStride);
        }
        int r = rowFrom + 4 * quarter;
        for (int t = 0; t < n && r < rowTo; t++) {
            F32Format.INSTANCE.dotRows(data, r * rowBytes, rowBytes, rowTo - r, x, xOff + t * cols, cols, out, t * outStride + r);
        }
    }

    /**
     * The first {@code tokens} tokens' whole vectors interleaved, a vector of each in turn, so that
     * a tile loads them at constant offsets from one index: with a base per token the loop ran out
     * of general registers and kept accumulators on the stack.
     */
    private static void pack(float[] x, int x0, int k, int bound, int tokens, float[] packed, int p0) {
        for (int i = 0, p = p0; i < bound; i += L) {
            for (int t = 0; t < tokens; t++, p += L) {
                // A vector's copy, not System.arraycopy: its call per 16 floats cost as much as
                // the tiles' work on a 32-row share.
                FloatVector.fromArray(S, x, x0 + t * k + i).intoArray(packed, p);
            }
        }
    }

    /** Rows ra and rb times eight tokens of k values packed from p0: their products with token t go to out[oa + t·stride] and out[ob + t·stride]. */
    private static void tile2x8(MemorySegment ra, MemorySegment rb, float[] packed, int p0, int k, float[] out, int oa, int ob, int stride) {
        FloatVector a0 = FloatVector.zero(S), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
        FloatVector b0 = a0, b1 = a0, b2 = a0, b3 = a0, b4 = a0, b5 = a0, b6 = a0, b7 = a0;
        int bound = S.loopBound(k);
        for (int i = 0, p = p0; i < bound; i += L, p += 8 * L) {
            long wi = 4L * i;
            FloatVector wa = FloatVector.fromMemorySegment(S, ra, wi, LE);
            FloatVector wb = FloatVector.fromMemorySegment(S, rb, wi, LE);
            FloatVector xv = FloatVector.fromArray(S, packed, p);
            a0 = wa.fma(xv, a0);
            b0 = wb.fma(xv, b0);
            xv = FloatVector.fromArray(S, packed, p + L);
            a1 = wa.fma(xv, a1);
            b1 = wb.fma(xv, b1);
            xv = FloatVector.fromArray(S, packed, p + 2 * L);
            a2 = wa.fma(xv, a2);
            b2 = wb.fma(xv, b2);
            xv = FloatVector.fromArray(S, packed, p + 3 * L);
            a3 = wa.fma(xv, a3);
            b3 = wb.fma(xv, b3);
            xv = FloatVector.fromArray(S, packed, p + 4 * L);
            a4 = wa.fma(xv, a4);
            b4 = wb.fma(xv, b4);
            xv = FloatVector.fromArray(S, packed, p + 5 * L);
            a5 = wa.fma(xv, a5);
            b5 = wb.fma(xv, b5);
            xv = FloatVector.fromArray(S, packed, p + 6 * L);
            a6 = wa.fma(xv, a6);
            b6 = wb.fma(xv, b6);
            xv = FloatVector.fromArray(S, packed, p + 7 * L);
            a7 = wa.fma(xv, a7);
            b7 = wb.fma(xv, b7);
        }
        out[oa] = sum(a0);
        out[ob] = sum(b0);
        out[oa + stride] = sum(a1);
        out[ob + stride] = sum(b1);
        out[oa + 2 * stride] = sum(a2);
        out[ob + 2 * stride] = sum(b2);
        out[oa + 3 * stride] = sum(a3);
        out[ob + 3 * stride] = sum(b3);
        out[oa + 4 * stride] = sum(a4);
        out[ob + 4 * stride] = sum(b4);
        out[oa + 5 * stride] = sum(a5);
        out[ob + 5 * stride] = sum(b5);
        out[oa + 6 * stride] = sum(a6);
        out[ob + 6 * stride] = sum(b6);
        out[oa + 7 * stride] = sum(a7);
        out[ob + 7 * stride] = sum(b7);
    }

    /** Rows r0 .. r3 times four tokens of k values packed from p0: row j's product with token t goes to out[o0 + t·stride + j·dq]. */
    private static void tile4x4(MemorySegment r0, MemorySegment r1, MemorySegment r2, MemorySegment r3, float[] packed, int p0, int k, float[] out, int o0, int dq, int stride) {
        FloatVector c00 = FloatVector.zero(S), c01 = c00, c02 = c00, c03 = c00;
        FloatVector c10 = c00, c11 = c00, c12 = c00, c13 = c00;
        FloatVector c20 = c00, c21 = c00, c22 = c00, c23 = c00;
        FloatVector c30 = c00, c31 = c00, c32 = c00, c33 = c00;
        int bound = S.loopBound(k);
        for (int i = 0, p = p0; i < bound; i += L, p += 4 * L) {
            long wi = 4L * i;
            FloatVector w0v = FloatVector.fromMemorySegment(S, r0, wi, LE);
            FloatVector w1v = FloatVector.fromMemorySegment(S, r1, wi, LE);
            FloatVector w2v = FloatVector.fromMemorySegment(S, r2, wi, LE);
            FloatVector w3v = FloatVector.fromMemorySegment(S, r3, wi, LE);
            FloatVector xv = FloatVector.fromArray(S, packed, p);
            c00 = w0v.fma(xv, c00);
            c10 = w1v.fma(xv, c10);
            c20 = w2v.fma(xv, c20);
            c30 = w3v.fma(xv, c30);
            xv = FloatVector.fromArray(S, packed, p + L);
            c01 = w0v.fma(xv, c01);
            c11 = w1v.fma(xv, c11);
            c21 = w2v.fma(xv, c21);
            c31 = w3v.fma(xv, c31);
            xv = FloatVector.fromArray(S, packed, p + 2 * L);
            c02 = w0v.fma(xv, c02);
            c12 = w1v.fma(xv, c12);
            c22 = w2v.fma(xv, c22);
            c32 = w3v.fma(xv, c32);
            xv = FloatVector.fromArray(S, packed, p + 3 * L);
            c03 = w0v.fma(xv, c03);
            c13 = w1v.fma(xv, c13);
            c23 = w2v.fma(xv, c23);
            c33 = w3v.fma(xv, c33);
        }
        out[o0] = sum(c00);
        out[o0 + dq] = sum(c10);
        out[o0 + 2 * dq] = sum(c20);
        out[o0 + 3 * dq] = sum(c30);
        int o = o0 + stride;
        out[o] = sum(c01);
        out[o + dq] = sum(c11);
        out[o + 2 * dq] = sum(c21);
        out[o + 3 * dq] = sum(c31);
        o += stride;
        out[o] = sum(c02);
        out[o + dq] = sum(c12);
        out[o + 2 * dq] = sum(c22);
        out[o + 3 * dq] = sum(c32);
        o += stride;
        out[o] = sum(c03);
        out[o + dq] = sum(c13);
        out[o + 2 * dq] = sum(c23);
        out[o + 3 * dq] = sum(c33);
    }

    /** {@link #tile4x4} for two tokens. */
    private static void tile4x2(MemorySegment r0, MemorySegment r1, MemorySegment r2, MemorySegment r3, float[] x, int x0, int k, float[] out, int o0, int dq, int stride) {
        FloatVector c00 = FloatVector.zero(S), c01 = c00;
        FloatVector c10 = c00, c11 = c00;
        FloatVector c20 = c00, c21 = c00;
        FloatVector c30 = c00, c31 = c00;
        int bound = S.loopBound(k);
        for (int i = 0; i < bound; i += L) {
            long wi = 4L * i;
            FloatVector w0v = FloatVector.fromMemorySegment(S, r0, wi, LE);
            FloatVector w1v = FloatVector.fromMemorySegment(S, r1, wi, LE);
            FloatVector w2v = FloatVector.fromMemorySegment(S, r2, wi, LE);
            FloatVector w3v = FloatVector.fromMemorySegment(S, r3, wi, LE);
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
        out[o0 + dq] = sum(c10);
        out[o0 + 2 * dq] = sum(c20);
        out[o0 + 3 * dq] = sum(c30);
        int o = o0 + stride;
        out[o] = sum(c01);
        out[o + dq] = sum(c11);
        out[o + 2 * dq] = sum(c21);
        out[o + 3 * dq] = sum(c31);
    }

    /** {@link #tile4x4} for one token. */
    private static void tile4x1(MemorySegment r0, MemorySegment r1, MemorySegment r2, MemorySegment r3, float[] x, int x0,
                                int k, float[] out, int o0, int dq) {
        FloatVector c0 = FloatVector.zero(S), c1 = c0, c2 = c0, c3 = c0;
        int bound = S.loopBound(k);
        for (int i = 0; i < bound; i += L) {
            long wi = 4L * i;
            FloatVector xv = FloatVector.fromArray(S, x, x0 + i);
            c0 = FloatVector.fromMemorySegment(S, r0, wi, LE).fma(xv, c0);
            c1 = FloatVector.fromMemorySegment(S, r1, wi, LE).fma(xv, c1);
            c2 = FloatVector.fromMemorySegment(S, r2, wi, LE).fma(xv, c2);
            c3 = FloatVector.fromMemorySegment(S, r3, wi, LE).fma(xv, c3);
        }
        out[o0] = sum(c0);
        out[o0 + dq] = sum(c1);
        out[o0 + 2 * dq] = sum(c2);
        out[o0 + 3 * dq] = sum(c3);
    }

    /**
     * Adds to the tiles' sums of rows [from, to) each token's scalar tail past the last whole vector.
     * Apart from the tiles, which then compile in about half the time and are not thrown away when a
     * model whose rows have tails (a draft's) first uses them: a fresh run's kernels reach C2 sooner.
     */
    private static void addTails(MemorySegment data, long rowBytes, int from, int to, float[] x, int xOff, int k, int bound, int n,
                                 float[] out, int outStride) {
        for (int r = from; r < to; r++) {
            for (int t = 0; t < n; t++) {
                out[t * outStride + r] += tail(data, r * rowBytes, x, xOff + t * k, bound, k);
            }
        }
    }

    /**
     * Σ row[i]·x[x0+i] for i in [from, k), the row at rowOffset in w: the scalar tail past the last
     * whole vector, in four chains. One chain of dependent adds made stories260K's 12-column tails
     * 17% of its decode; four chains run as fast as half and quarter vectors did (paired), and,
     * unlike them, fast before the JIT has compiled the Vector API (a fresh `tern run`'s first token).
     */
    static float tail(MemorySegment w, long rowOffset, float[] x, int x0, int from, int k) {
        float s0 = 0f, s1 = 0f, s2 = 0f, s3 = 0f;
        int i = from;
        long b = rowOffset + 4L * from;
        for (; i + 4 <= k; i += 4, b += 16) {
            s0 += w.get(F32, b) * x[x0 + i];
            s1 += w.get(F32, b + 4) * x[x0 + i + 1];
            s2 += w.get(F32, b + 8) * x[x0 + i + 2];
            s3 += w.get(F32, b + 12) * x[x0 + i + 3];
        }
        for (; i < k; i++, b += 4) {
            s0 += w.get(F32, b) * x[x0 + i];
        }
        return (s0 + s1) + (s2 + s3);
    }
}
