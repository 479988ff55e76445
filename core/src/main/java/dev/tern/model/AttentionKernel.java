package dev.tern.model;

import dev.tern.kv.BlockPool;
import dev.tern.kv.BlockTable;
import dev.tern.kv.HalfPairs;
import dev.tern.kv.KVCacheType;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

import java.util.Arrays;

/**
 * One thread's attention work on one (tile, KV heads [kvHead, kvHead + heads), chunk range).
 * Per KV head j the rows are the tile's tokens × the query heads sharing it: row R = j·rows + r,
 * r = token (r / group) and query head (kvHead + j)·group + r % group. Each block's keys and
 * values are widened a head at a time into buffers (Q8_0 values: all heads at once, as stored),
 * but for an F16 cache where the rows come in fours: its keys and values are widened in
 * registers, each vector serving the four. An F16 cache's halves are read two to a lane and
 * widened by shifts to their values times 2^-112 ({@link HalfPairs}), queries and probabilities
 * scaled by 2^112 to match: the same products, the same bits, a quarter of the exact
 * conversion's work. Keys come transposed, so a vector spans 16 positions and a score vector
 * needs no horizontal sum; four rows share each key load. Holds its scratch buffers.
 * <p>
 * Every row is computed the same way whatever else shares its pass — how many rows are scored
 * together, which blocks a thread scored, how many tokens the tile has — so a token's attention,
 * and with it its logits, do not depend on its batch: a verify pass agrees with one-token steps and a
 * sequence decoding among others with the same sequence alone, bit for bit — given the
 * same state of compilation: the Vector API's Java fallback adds a vector's lanes in order, C2's
 * compiled sums by halves (BatchInvarianceTest checks the order of our operations under C1).
 */
final class AttentionKernel {
    private static final int BLOCK = BlockPool.BLOCK_SIZE;
    /**
     * Blocks per chunk of the softmax: each row's max and sum are taken per fixed chunk of 256
     * positions and merged in chunk order, and its weighted values are summed per chunk, then the
     * chunks' sums in order, so that a split of the KV sequence between threads (at chunk
     * boundaries) changes no bit of a token's result.
     */
    static final int CHUNK_BLOCKS = 16;
    /** Lanes over the positions of a block. */
    private static final VectorSpecies<Float> P = FloatVector.SPECIES_PREFERRED.length() <= BLOCK
            ? FloatVector.SPECIES_PREFERRED : FloatVector.SPECIES_512;
    /** Lanes over the components of a head. */
    private static final VectorSpecies<Float> D = FloatVector.SPECIES_PREFERRED;
    /**
     * 0, 1, 2, … per lane: comparing it with a limit masks the causal diagonal. (P.indexInRange
     * has no compiled form here and ran in the Vector API's Java fallback: 3% of a 512-token prefill.)
     */
    private static final FloatVector LANE = FloatVector.zero(P).addIndex(1);
    /** {@link #LANE} over the components' lanes. */
    private static final FloatVector D_LANE = FloatVector.zero(D).addIndex(1);
    /** Two halves for each lane of P: one load of an F16 cache's pairs ({@link HalfPairs}). */
    private static final VectorSpecies<Short> PAIRS = VectorSpecies.of(short.class, VectorShape.forBitSize(P.vectorBitSize()));
    /** Lanes of P per half of a value group: the pairs loads one group takes. */
    private static final int UNITS_PER_GROUP = 16 / P.length();

    private final int group, headDim, qDim;
    /**
     * Whether a head's grouped values are whole pairs of {@link #PAIRS} loads, as {@link
     * #accumulateFourPairs} takes them (heads of 32 or 96 with 16-lane vectors go through the buffer).
     */
    private final boolean pairedLoads;
    private final float scale;
    private final float[] keys, values, probs = new float[4 * BLOCK];
    /** Where {@link #addHalves} adds up the lanes of a component. */
    private final float[] fold = new float[D.length()];
    /** {@link #attendWhole}'s scratch: scores; per row and chunk max, sum and factor; one chunk's output. */
    private float[] query = new float[0], scores = new float[0], stats = new float[0], partial = new float[0];
    /**
     * Per row of a KV head (the current call's tile): the exclusive end of the positions it may
     * attend to, and where its output starts relative to the head's. Computed once per call rather
     * than per block: each takes integer divisions (docs/PERFORMANCE.md, thirty-seventh session).
     */
    private int[] rowLimit = new int[0], rowOut = new int[0];

    AttentionKernel(ModelConfig c) {
        group = c.heads() / c.kvHeads();
        headDim = c.headDim();
        pairedLoads = headDim % (4 * P.length()) == 0;
        qDim = c.qDim();
        scale = (float) (1.0 / Math.sqrt(headDim));
        keys = new float[headDim * BLOCK];
        values = new float[BLOCK * c.kvDim()];
    }

    /** Attention of tokens [first, end) (one sequence) for the heads of {@code kvHead}, written to att from attOff. */
    void attendWhole(Batch batch, int layer, int first, int end, int kvHead, float[] q, float[] att, int attOff) {
        int rows = (end - first) * group, width = group * headDim;
        int blocks = BlockPool.blocksFor(batch.position(end - 1) + 1), len = blocks * BLOCK, chunks = chunks(blocks);
        if (scores.length < rows * len) {
            scores = new float[Math.max(rows * len, 2 * scores.length)];
        }
        if (stats.length < 3 * rows * chunks) {
            stats = new float[3 * rows * chunks];
        }
        if (chunks > 1 && partial.length < rows * headDim) {
            partial = new float[rows * headDim];
        }
        int l = rows * chunks, f = 2 * rows * chunks;
        scores(batch, layer, first, end, kvHead, 1, 0, chunks, q, scores, 0, len, stats, 0, stats, l, chunks);
        factors(stats, 0, stats, l, stats, f, rows, chunks);
        for (int t = first; t < end; t++) {
            int from = attOff + t * qDim + kvHead * width;
            Arrays.fill(att, from, from + width, 0f);
        }
        // The first chunk's sums go straight to the zeroed output: adding them to zeros gives the same
        // bits (a sum begun at +0 is never -0). Later chunks are summed apart, then added in order.
        weightedValues(batch, layer, first, end, kvHead, 1, 0, scores, 0, len, stats, f, chunks, att,
                attOff + first * qDim + kvHead * width, qDim);
        for (int c = 1; c < chunks; c++) {
            Arrays.fill(partial, 0, rows * headDim, 0f);
            weightedValues(batch, layer, first, end, kvHead, 1, c, scores, 0, len, stats, f, chunks, partial, 0, width);
            for (int t = first; t < end; t++) {
                int to = attOff + t * qDim + kvHead * width, from = (t - first) * width;
                for (int i = 0; i < width; i++) {
                    att[to + i] += partial[from + i];
                }
            }
        }
    }

    /** The chunks of {@link #CHUNK_BLOCKS} blocks (the last maybe shorter) that {@code blocks} blocks make. */
    static int chunks(int blocks) {
        return (blocks + CHUNK_BLOCKS - 1) / CHUNK_BLOCKS;
    }

    /**
     * Softmax numerators of the tile's rows for KV heads [kvHead, kvHead + heads) over chunks
     * [c0, c1): row R = j·rows + r's exp(score - m) at position p go to sc[scOff + R·stride + p],
     * where scores are scaled and causally masked (masked ones give 0) and m is the row's max over
     * the chunk, written to m[mOff + R·chunks + c]; l[lOff + R·chunks + c] gets the chunk's sum of
     * the exponentials. A chunk's statistics depend on its own positions only, so any run of chunks
     * may be scored apart from the others.
     */
    void scores(Batch batch, int layer, int first, int end, int kvHead, int heads, int c0, int c1, float[] q,
                float[] sc, int scOff, int stride, float[] m, int mOff, float[] l, int lOff, int chunks) {
        BlockTable seq = batch.sequence(first);
        BlockPool pool = seq.pool();
        int rows = (end - first) * group, blocks = BlockPool.blocksFor(batch.position(end - 1) + 1);
        int b0 = c0 * CHUNK_BLOCKS, b1 = Math.min(blocks, c1 * CHUNK_BLOCKS);
        // An F16 cache's keys are read as stored, two rows a lane; scaled by 2^-112 where all its halves are finite.
        boolean pairs = pool.type() == KVCacheType.F16 && headDim % 2 == 0;
        boolean scaled = pairs && pool.halvesFinite();
        loadQueries(q, first, end, kvHead, heads, pool.type(), scaled);
        loadRows(batch, first, rows, 0);
        // Widened in registers as they are scored where every row is in a group of four (or, at the
        // end, two) that shares each widened vector; otherwise a head at a time into a buffer that
        // stays in L1 while they are scored (one row per key widens faster so).
        boolean inRegisters = scaled && rows % 2 == 0;
        for (int b = b0; b < b1; b++) {
            int start = b * BLOCK, block = seq.block(start);
            short[] halves = pairs ? pool.halfKeys(block, layer) : null;
            for (int j = 0; j < heads; j++) {
                int at = 0;
                if (pairs) {
                    at = pool.halfKeyAt(block, (kvHead + j) * headDim);
                    if (!inRegisters) {
                        widenKeys(halves, at, scaled);
                    }
                } else {
                    pool.keys(block, layer, (kvHead + j) * headDim, headDim, keys);
                }
                scoreHead(rows, j, start, inRegisters ? halves : null, at, sc, scOff + j * rows * stride + start, stride);
            }
        }
        for (int row = 0; row < heads * rows; row++) {
            for (int c = c0; c < c1; c++) {
                int from = scOff + row * stride + c * CHUNK_BLOCKS * BLOCK;
                int to = scOff + row * stride + Math.min(blocks, (c + 1) * CHUNK_BLOCKS) * BLOCK;
                FloatVector rowMax = FloatVector.broadcast(P, Float.NEGATIVE_INFINITY);
                for (int i = from; i < to; i += P.length()) {
                    rowMax = rowMax.max(FloatVector.fromArray(P, sc, i));
                }
                float mx = rowMax.reduceLanes(VectorOperators.MAX);
                m[mOff + row * chunks + c] = mx;
                if (mx == Float.NEGATIVE_INFINITY) {
                    // the row's token precedes this whole chunk: nothing to weigh (and -inf - -inf is NaN)
                    Arrays.fill(sc, from, to, 0f);
                    l[lOff + row * chunks + c] = 0;
                    continue;
                }
                FloatVector max = FloatVector.broadcast(P, mx), sum = FloatVector.zero(P);
                // Lane-wise sums, added across lanes once per chunk rather than once per vector.
                for (int i = from; i < to; i += P.length()) {
                    FloatVector x = FloatVector.fromArray(P, sc, i).sub(max).lanewise(VectorOperators.EXP);
                    x.intoArray(sc, i);
                    sum = sum.add(x);
                }
                l[lOff + row * chunks + c] = sum.reduceLanes(VectorOperators.ADD);
            }
        }
    }

    /**
     * Merges each of {@code rows} rows' chunk statistics (max m_c, sum l_c of exp(s - m_c)) into the
     * global max M and sum S = Σ l_c·exp(m_c - M), in chunk order, and gives each chunk its factor
     * exp(m_c - M) / S at f[fOff + R·chunks + c]. With one chunk that is (float) (1 / S), as ggml
     * scales its softmax.
     */
    static void factors(float[] m, int mOff, float[] l, int lOff, float[] f, int fOff, int rows, int chunks) {
        for (int r = 0; r < rows; r++) {
            int at = r * chunks;
            float max = Float.NEGATIVE_INFINITY;
            for (int c = 0; c < chunks; c++) {
                max = Math.max(max, m[mOff + at + c]);
            }
            double total = 0;
            for (int c = 0; c < chunks; c++) {
                if (l[lOff + at + c] > 0) {
                    total += l[lOff + at + c] * Math.exp(m[mOff + at + c] - max);
                }
            }
            float inv = (float) (1.0 / total);
            for (int c = 0; c < chunks; c++) {
                float mc = m[mOff + at + c];
                f[fOff + at + c] = mc == max ? inv : (float) (Math.exp(mc - max) * inv);
            }
        }
    }

    /**
     * Scaled scores of KV head j's rows for the block at {@code start}; row r's go to
     * sc[base0 + r·len ..], positions past the row's token -inf. The keys are halves[at ..] as
     * stored in an F16 cache (rows in pairs, {@link HalfPairs}; only where rows is even and the
     * queries are scaled), or the widened ones in {@link #keys} where halves is null.
     */
    private void scoreHead(int rows, int j, int start, short[] halves, int at, float[] sc, int base0, int len) {
        int qOff = j * rows;
        int r = 0;
        for (; r + 4 <= rows; r += 4) {
            if (rowLimit[r + 3] > start) {
                for (int c = 0; c < BLOCK; c += P.length()) {
                    if (halves != null) {
                        scoreFourPairs(qOff + r, halves, at + 2 * c, sc, base0 + r * len + c, len);
                    } else {
                        scoreFour(qOff + r, c, sc, base0 + r * len + c, len);
                    }
                }
            }
        }
        if (halves != null && r < rows) {
            if (rowLimit[r + 1] > start) {
                for (int c = 0; c < BLOCK; c += P.length()) {
                    scoreTwoPairs(qOff + r, halves, at + 2 * c, sc, base0 + r * len + c, len);
                }
            }
            r += 2;
        }
        for (; r < rows; r++) {
            if (rowLimit[r] > start) {
                for (int c = 0; c < BLOCK; c += P.length()) {
                    scoreOne(qOff + r, c, sc, base0 + r * len + c);
                }
            }
        }
        for (r = 0; r < rows; r++) {
            int valid = rowLimit[r] - start;
            if (valid >= BLOCK) {
                continue;
            }
            int base = base0 + r * len;
            if (valid <= 0) {
                Arrays.fill(sc, base, base + BLOCK, Float.NEGATIVE_INFINITY);
                continue;
            }
            for (int c = valid & -P.length(); c < BLOCK; c += P.length()) {
                FloatVector s = FloatVector.fromArray(P, sc, base + c);
                s.blend(Float.NEGATIVE_INFINITY, LANE.compare(VectorOperators.GE, (float) (valid - c))).intoArray(sc, base + c);
            }
        }
    }

    /** Scaled q·k of rows r..r+3 for the positions of lanes starting at keys[c] (c includes the head's offset). */
    private void scoreFour(int r, int c, float[] sc, int at, int len) {
        FloatVector a0 = FloatVector.zero(P), a1 = a0, a2 = a0, a3 = a0;
        int q0 = r * headDim;
        for (int d = 0; d < headDim; d++) {
            FloatVector k = FloatVector.fromArray(P, keys, d * BLOCK + c);
            a0 = k.fma(FloatVector.broadcast(P, query[q0 + d]), a0);
            a1 = k.fma(FloatVector.broadcast(P, query[q0 + headDim + d]), a1);
            a2 = k.fma(FloatVector.broadcast(P, query[q0 + 2 * headDim + d]), a2);
            a3 = k.fma(FloatVector.broadcast(P, query[q0 + 3 * headDim + d]), a3);
        }
        a0.mul(scale).intoArray(sc, at);
        a1.mul(scale).intoArray(sc, at + len);
        a2.mul(scale).intoArray(sc, at + 2 * len);
        a3.mul(scale).intoArray(sc, at + 3 * len);
    }

    /**
     * Scaled q·k of row r, in {@link #scoreFour}'s order (one chain over the components), so that a
     * token's scores do not depend on how many rows share the pass. Two chains were faster for a lone
     * row, but four rows in two chains each were slower than in one (1B shape, depth 2048: 5-8% of
     * decode attention), and most rows are scored four at a time.
     */
    private void scoreOne(int r, int c, float[] sc, int at) {
        FloatVector a = FloatVector.zero(P);
        int q0 = r * headDim;
        for (int d = 0; d < headDim; d++) {
            a = FloatVector.fromArray(P, keys, d * BLOCK + c).fma(FloatVector.broadcast(P, query[q0 + d]), a);
        }
        a.mul(scale).intoArray(sc, at);
    }

    /**
     * {@link #scoreFour} over an F16 cache's keys as stored, from halves[at ..] (the pair of
     * components d, d + 1 at at + d·BLOCK, two halves for each lane), widened in registers to
     * their values times 2^-112 against queries scaled by 2^112: the same sums in the same order.
     */
    private void scoreFourPairs(int r, short[] halves, int at, float[] sc, int out, int len) {
        FloatVector a0 = FloatVector.zero(P), a1 = a0, a2 = a0, a3 = a0;
        int q0 = r * headDim;
        for (int d = 0; d < headDim; d += 2) {
            IntVector x = ShortVector.fromArray(PAIRS, halves, at + d * BLOCK).reinterpretAsInts();
            FloatVector k = HalfPairs.scaledLow(x);
            a0 = k.fma(FloatVector.broadcast(P, query[q0 + d]), a0);
            a1 = k.fma(FloatVector.broadcast(P, query[q0 + headDim + d]), a1);
            a2 = k.fma(FloatVector.broadcast(P, query[q0 + 2 * headDim + d]), a2);
            a3 = k.fma(FloatVector.broadcast(P, query[q0 + 3 * headDim + d]), a3);
            k = HalfPairs.scaledHigh(x);
            a0 = k.fma(FloatVector.broadcast(P, query[q0 + d + 1]), a0);
            a1 = k.fma(FloatVector.broadcast(P, query[q0 + headDim + d + 1]), a1);
            a2 = k.fma(FloatVector.broadcast(P, query[q0 + 2 * headDim + d + 1]), a2);
            a3 = k.fma(FloatVector.broadcast(P, query[q0 + 3 * headDim + d + 1]), a3);
        }
        a0.mul(scale).intoArray(sc, out);
        a1.mul(scale).intoArray(sc, out + len);
        a2.mul(scale).intoArray(sc, out + 2 * len);
        a3.mul(scale).intoArray(sc, out + 3 * len);
    }

    /** {@link #scoreFourPairs} for two rows (a group of two query heads, one token: a draft's or stories15M's). */
    private void scoreTwoPairs(int r, short[] halves, int at, float[] sc, int out, int len) {
        FloatVector a0 = FloatVector.zero(P), a1 = a0;
        int q0 = r * headDim;
        for (int d = 0; d < headDim; d += 2) {
            IntVector x = ShortVector.fromArray(PAIRS, halves, at + d * BLOCK).reinterpretAsInts();
            FloatVector k = HalfPairs.scaledLow(x);
            a0 = k.fma(FloatVector.broadcast(P, query[q0 + d]), a0);
            a1 = k.fma(FloatVector.broadcast(P, query[q0 + headDim + d]), a1);
            k = HalfPairs.scaledHigh(x);
            a0 = k.fma(FloatVector.broadcast(P, query[q0 + d + 1]), a0);
            a1 = k.fma(FloatVector.broadcast(P, query[q0 + headDim + d + 1]), a1);
        }
        a0.mul(scale).intoArray(sc, out);
        a1.mul(scale).intoArray(sc, out + len);
    }

    /** {@link #keys} = one head's keys of a block from an F16 cache's pairs at halves[at ..], times 2^-112 where scaled, else exact. */
    private void widenKeys(short[] halves, int at, boolean scaled) {
        for (int d = 0; d < headDim; d += 2) {
            for (int c = 0; c < BLOCK; c += P.length()) {
                IntVector x = ShortVector.fromArray(PAIRS, halves, at + d * BLOCK + 2 * c).reinterpretAsInts();
                (scaled ? HalfPairs.scaledLow(x) : HalfPairs.low(x)).intoArray(keys, d * BLOCK + c);
                (scaled ? HalfPairs.scaledHigh(x) : HalfPairs.high(x)).intoArray(keys, (d + 1) * BLOCK + c);
            }
        }
    }

    /**
     * Adds Σ_p prob(R, p)·V[p] over the positions of chunk {@code chunk} to row R = j·rows + r's
     * output at dst[dstOff + (r / group)·tokenStride + (j·group + r % group)·headDim ..], where
     * prob is the numerator at sc[scOff + R·stride + p] times f[fOff + R·chunks + chunk], rounded to
     * half precision for an F16 cache as ggml rounds the probabilities it multiplies with f16
     * values. The caller sums the chunks' outputs in chunk order.
     */
    void weightedValues(Batch batch, int layer, int first, int end, int kvHead, int heads, int chunk, float[] sc, int scOff,
                        int stride, float[] f, int fOff, int chunks, float[] dst, int dstOff, int tokenStride) {
        BlockTable seq = batch.sequence(first);
        BlockPool pool = seq.pool();
        boolean half = pool.type().roundsToHalf();
        int rows = (end - first) * group;
        loadRows(batch, first, rows, tokenStride);
        int lastLimit = rowLimit[rows - 1];
        // Values a head at a time where the pool stores each head's together, else all heads at once.
        boolean byHead = pool.valueWidth() == headDim;
        int vStride = byHead ? headDim : heads * headDim;
        // An F16 cache's heads of whole groups are read as stored, two halves a lane; scaled by
        // 2^-112 (and the probabilities by 2^112) where all its halves are finite.
        boolean grouped = byHead && pool.valuesGrouped();
        boolean narrow = narrow(vStride);
        boolean scaled = grouped && pool.halvesFinite();
        for (int b = chunk * CHUNK_BLOCKS; b < (chunk + 1) * CHUNK_BLOCKS; b++) {
            int start = b * BLOCK, slots = Math.min(BLOCK, lastLimit - start);
            if (slots <= 0) {
                break;
            }
            int block = seq.block(start);
            if (!byHead) {
                pool.values(block, layer, kvHead * headDim, vStride, slots, values);
            }
            short[] halves = grouped ? pool.halfValues(block, layer) : null;
            // Every row weighs the whole block four at a time: the values widen in registers, else into the buffer.
            boolean inRegisters = scaled && pairedLoads && rows % 4 == 0 && rowLimit[0] - start >= slots;
            for (int j = 0; j < heads; j++) {
                int at = 0;
                if (grouped) {
                    at = pool.halfValueAt(block, (kvHead + j) * headDim);
                    if (!inRegisters) {
                        widenValues(halves, at, slots, scaled);
                    }
                } else if (byHead) {
                    pool.values(block, layer, (kvHead + j) * headDim, headDim, slots, values);
                }
                int vOff = byHead ? 0 : j * headDim, o = dstOff + j * group * headDim;
                for (int r = 0; r < rows; ) {
                    int row = j * rows + r, n = Math.min(slots, rowLimit[r] - start);
                    // Four rows of one head that all weigh the whole block share each value load; so do two
                    // rows weighing the same slots of a head half a vector wide.
                    int count = r + 4 <= rows && n == slots ? 4
                            : narrow && r + 2 <= rows && Math.min(slots, rowLimit[r + 1] - start) == n ? 2 : 1;
                    if (n > 0) {
                        for (int i = 0; i < count; i++) {
                            int base = scOff + (row + i) * stride + start;
                            float p0 = f[fOff + (row + i) * chunks + chunk];
                            for (int c = 0; c < BLOCK; c += P.length()) {
                                FloatVector p = FloatVector.fromArray(P, sc, base + c).mul(p0);
                                p = half ? roundToHalf(p) : p;
                                (scaled ? p.mul(HalfPairs.SCALE) : p).intoArray(probs, i * BLOCK + c);
                            }
                        }
                        if (count == 4 && inRegisters) {
                            accumulateFourPairs(n, halves, at, dst, o + rowOut[r], o + rowOut[r + 1], o + rowOut[r + 2], o + rowOut[r + 3]);
                        } else if (count == 4) {
                            accumulateFour(n, vOff, vStride, dst, o + rowOut[r], o + rowOut[r + 1], o + rowOut[r + 2], o + rowOut[r + 3]);
                        } else if (count == 2) {
                            accumulateNarrowTwo(n, vOff, dst, o + rowOut[r], o + rowOut[r + 1]);
                        } else {
                            accumulate(n, 0, vOff, vStride, dst, o + rowOut[r], 0);
                        }
                    }
                    r += count;
                }
            }
        }
    }

    /**
     * {@link #values} = the head's values of a block's first {@code slots} slots from an F16 cache's
     * groups at halves[at ..] (slot s's from at + s·headDim), times 2^-112 where scaled, else exact.
     */
    private void widenValues(short[] halves, int at, int slots, boolean scaled) {
        for (int s = 0; s < slots; s++) {
            for (int u = 0; u < headDim / (2 * P.length()); u++) {
                IntVector x = ShortVector.fromArray(PAIRS, halves, at + s * headDim + pairsAt(u)).reinterpretAsInts();
                int low = s * headDim + lowAt(u);
                (scaled ? HalfPairs.scaledLow(x) : HalfPairs.low(x)).intoArray(values, low);
                (scaled ? HalfPairs.scaledHigh(x) : HalfPairs.high(x)).intoArray(values, low + 16);
            }
        }
    }

    /** Where the u-th pairs load of a head's grouped values starts: group u / UNITS_PER_GROUP, lanes from (u % UNITS_PER_GROUP)·P. */
    private static int pairsAt(int u) {
        return u / UNITS_PER_GROUP * 32 + 2 * (u % UNITS_PER_GROUP) * P.length();
    }

    /** The first component the u-th pairs load's low halves are (its high halves' is 16 further). */
    private static int lowAt(int u) {
        return u / UNITS_PER_GROUP * 32 + (u % UNITS_PER_GROUP) * P.length();
    }

    /**
     * {@link #accumulateFour} over an F16 cache's grouped values as stored at halves[at ..] (slot s's
     * from at + s·headDim), widened in registers to their values times 2^-112 against probabilities
     * scaled by 2^112: two pairs loads (four vectors, sixteen accumulators) at a time, the same sums;
     * for heads of whole pairs of loads ({@link #pairedLoads}).
     */
    private void accumulateFourPairs(int n, short[] halves, int at, float[] out, int o0, int o1, int o2, int o3) {
        for (int u = 0; u < headDim / (2 * P.length()); u += 2) {
            int x0 = pairsAt(u), y0 = pairsAt(u + 1), d0 = lowAt(u), d1 = d0 + 16, d2 = lowAt(u + 1), d3 = d2 + 16;
            FloatVector a00 = FloatVector.fromArray(P, out, o0 + d0), a01 = FloatVector.fromArray(P, out, o0 + d1);
            FloatVector a02 = FloatVector.fromArray(P, out, o0 + d2), a03 = FloatVector.fromArray(P, out, o0 + d3);
            FloatVector a10 = FloatVector.fromArray(P, out, o1 + d0), a11 = FloatVector.fromArray(P, out, o1 + d1);
            FloatVector a12 = FloatVector.fromArray(P, out, o1 + d2), a13 = FloatVector.fromArray(P, out, o1 + d3);
            FloatVector a20 = FloatVector.fromArray(P, out, o2 + d0), a21 = FloatVector.fromArray(P, out, o2 + d1);
            FloatVector a22 = FloatVector.fromArray(P, out, o2 + d2), a23 = FloatVector.fromArray(P, out, o2 + d3);
            FloatVector a30 = FloatVector.fromArray(P, out, o3 + d0), a31 = FloatVector.fromArray(P, out, o3 + d1);
            FloatVector a32 = FloatVector.fromArray(P, out, o3 + d2), a33 = FloatVector.fromArray(P, out, o3 + d3);
            for (int s = 0; s < n; s++) {
                int v = at + s * headDim;
                IntVector x = ShortVector.fromArray(PAIRS, halves, v + x0).reinterpretAsInts();
                IntVector y = ShortVector.fromArray(PAIRS, halves, v + y0).reinterpretAsInts();
                FloatVector v0 = HalfPairs.scaledLow(x), v1 = HalfPairs.scaledHigh(x);
                FloatVector v2 = HalfPairs.scaledLow(y), v3 = HalfPairs.scaledHigh(y);
                FloatVector p = FloatVector.broadcast(P, probs[s]);
                a00 = v0.fma(p, a00);
                a01 = v1.fma(p, a01);
                a02 = v2.fma(p, a02);
                a03 = v3.fma(p, a03);
                p = FloatVector.broadcast(P, probs[BLOCK + s]);
                a10 = v0.fma(p, a10);
                a11 = v1.fma(p, a11);
                a12 = v2.fma(p, a12);
                a13 = v3.fma(p, a13);
                p = FloatVector.broadcast(P, probs[2 * BLOCK + s]);
                a20 = v0.fma(p, a20);
                a21 = v1.fma(p, a21);
                a22 = v2.fma(p, a22);
                a23 = v3.fma(p, a23);
                p = FloatVector.broadcast(P, probs[3 * BLOCK + s]);
                a30 = v0.fma(p, a30);
                a31 = v1.fma(p, a31);
                a32 = v2.fma(p, a32);
                a33 = v3.fma(p, a33);
            }
            a00.intoArray(out, o0 + d0);
            a01.intoArray(out, o0 + d1);
            a02.intoArray(out, o0 + d2);
            a03.intoArray(out, o0 + d3);
            a10.intoArray(out, o1 + d0);
            a11.intoArray(out, o1 + d1);
            a12.intoArray(out, o1 + d2);
            a13.intoArray(out, o1 + d3);
            a20.intoArray(out, o2 + d0);
            a21.intoArray(out, o2 + d1);
            a22.intoArray(out, o2 + d2);
            a23.intoArray(out, o2 + d3);
            a30.intoArray(out, o3 + d0);
            a31.intoArray(out, o3 + d1);
            a32.intoArray(out, o3 + d2);
            a33.intoArray(out, o3 + d3);
        }
    }

    /**
     * rowLimit and rowOut for the {@code rows} rows of a tile starting at token {@code first}: row r
     * is token r / group, query head r % group of the KV head's group; tokenStride is the output's
     * distance between tokens ({@link #scores} writes no output and passes 0: it reads only the limits).
     */
    private void loadRows(Batch batch, int first, int rows, int tokenStride) {
        if (rowLimit.length < rows) {
            rowLimit = new int[rows];
            rowOut = new int[rows];
        }
        for (int r = 0; r < rows; r++) {
            rowLimit[r] = batch.position(first + r / group) + 1;
            rowOut[r] = (r / group) * tokenStride + (r % group) * headDim;
        }
    }

    /**
     * {@link #accumulate} for four rows at once, row i's probabilities at probs[i·BLOCK ..]: each
     * value vector loaded serves the four (sixteen accumulators), in the same order of sums.
     */
    private void accumulateFour(int n, int vOff, int stride, float[] out, int o0, int o1, int o2, int o3) {
        int d = 0, step = D.length();
        for (; d + 4 * step <= headDim; d += 4 * step) {
            FloatVector a00 = FloatVector.fromArray(D, out, o0 + d), a01 = FloatVector.fromArray(D, out, o0 + d + step);
            FloatVector a02 = FloatVector.fromArray(D, out, o0 + d + 2 * step), a03 = FloatVector.fromArray(D, out, o0 + d + 3 * step);
            FloatVector a10 = FloatVector.fromArray(D, out, o1 + d), a11 = FloatVector.fromArray(D, out, o1 + d + step);
            FloatVector a12 = FloatVector.fromArray(D, out, o1 + d + 2 * step), a13 = FloatVector.fromArray(D, out, o1 + d + 3 * step);
            FloatVector a20 = FloatVector.fromArray(D, out, o2 + d), a21 = FloatVector.fromArray(D, out, o2 + d + step);
            FloatVector a22 = FloatVector.fromArray(D, out, o2 + d + 2 * step), a23 = FloatVector.fromArray(D, out, o2 + d + 3 * step);
            FloatVector a30 = FloatVector.fromArray(D, out, o3 + d), a31 = FloatVector.fromArray(D, out, o3 + d + step);
            FloatVector a32 = FloatVector.fromArray(D, out, o3 + d + 2 * step), a33 = FloatVector.fromArray(D, out, o3 + d + 3 * step);
            for (int s = 0; s < n; s++) {
                int v = s * stride + vOff + d;
                FloatVector v0 = FloatVector.fromArray(D, values, v), v1 = FloatVector.fromArray(D, values, v + step);
                FloatVector v2 = FloatVector.fromArray(D, values, v + 2 * step), v3 = FloatVector.fromArray(D, values, v + 3 * step);
                FloatVector p = FloatVector.broadcast(D, probs[s]);
                a00 = v0.fma(p, a00);
                a01 = v1.fma(p, a01);
                a02 = v2.fma(p, a02);
                a03 = v3.fma(p, a03);
                p = FloatVector.broadcast(D, probs[BLOCK + s]);
                a10 = v0.fma(p, a10);
                a11 = v1.fma(p, a11);
                a12 = v2.fma(p, a12);
                a13 = v3.fma(p, a13);
                p = FloatVector.broadcast(D, probs[2 * BLOCK + s]);
                a20 = v0.fma(p, a20);
                a21 = v1.fma(p, a21);
                a22 = v2.fma(p, a22);
                a23 = v3.fma(p, a23);
                p = FloatVector.broadcast(D, probs[3 * BLOCK + s]);
                a30 = v0.fma(p, a30);
                a31 = v1.fma(p, a31);
                a32 = v2.fma(p, a32);
                a33 = v3.fma(p, a33);
            }
            a00.intoArray(out, o0 + d);
            a01.intoArray(out, o0 + d + step);
            a02.intoArray(out, o0 + d + 2 * step);
            a03.intoArray(out, o0 + d + 3 * step);
            a10.intoArray(out, o1 + d);
            a11.intoArray(out, o1 + d + step);
            a12.intoArray(out, o1 + d + 2 * step);
            a13.intoArray(out, o1 + d + 3 * step);
            a20.intoArray(out, o2 + d);
            a21.intoArray(out, o2 + d + step);
            a22.intoArray(out, o2 + d + 2 * step);
            a23.intoArray(out, o2 + d + 3 * step);
            a30.intoArray(out, o3 + d);
            a31.intoArray(out, o3 + d + step);
            a32.intoArray(out, o3 + d + 2 * step);
            a33.intoArray(out, o3 + d + 3 * step);
        }
        if (d < headDim) {
            accumulate(n, 0, vOff, stride, out, o0, d);
            accumulate(n, BLOCK, vOff, stride, out, o1, d);
            accumulate(n, 2 * BLOCK, vOff, stride, out, o2, d);
            accumulate(n, 3 * BLOCK, vOff, stride, out, o3, d);
        }
    }

    /**
     * out[o + d] += Σ_{s<n} probs[p0 + s]·values[s·stride + vOff + d] for d in [from, headDim);
     * four independent chains over the components.
     */
    private void accumulate(int n, int p0, int vOff, int stride, float[] out, int o, int from) {
        if (from == 0 && narrow(stride)) {
            accumulateNarrow(n, p0, vOff, out, o);
            return;
        }
        int d = from, step = D.length();
        for (; d + 4 * step <= headDim; d += 4 * step) {
            FloatVector a0 = FloatVector.fromArray(D, out, o + d), a1 = FloatVector.fromArray(D, out, o + d + step);
            FloatVector a2 = FloatVector.fromArray(D, out, o + d + 2 * step), a3 = FloatVector.fromArray(D, out, o + d + 3 * step);
            for (int s = 0; s < n; s++) {
                FloatVector p = FloatVector.broadcast(D, probs[p0 + s]);
                int v = s * stride + vOff + d;
                a0 = FloatVector.fromArray(D, values, v).fma(p, a0);
                a1 = FloatVector.fromArray(D, values, v + step).fma(p, a1);
                a2 = FloatVector.fromArray(D, values, v + 2 * step).fma(p, a2);
                a3 = FloatVector.fromArray(D, values, v + 3 * step).fma(p, a3);
            }
            a0.intoArray(out, o + d);
            a1.intoArray(out, o + d + step);
            a2.intoArray(out, o + d + 2 * step);
            a3.intoArray(out, o + d + 3 * step);
        }
        for (; d + step <= headDim; d += step) {
            FloatVector a = FloatVector.fromArray(D, out, o + d);
            for (int s = 0; s < n; s++) {
                a = FloatVector.fromArray(D, values, s * stride + vOff + d).fma(FloatVector.broadcast(D, probs[p0 + s]), a);
            }
            a.intoArray(out, o + d);
        }
        // Other heads narrower than a vector (of a Q8_0 cache, whose values are whole rows): four
        // scalar chains at a time rather than one per component. Narrower vectors were faster warm,
        // but run in the Vector API's slow fallback until compiled: a fresh run's first tokens.
        for (; d + 4 <= headDim; d += 4) {
            float a0 = out[o + d], a1 = out[o + d + 1], a2 = out[o + d + 2], a3 = out[o + d + 3];
            for (int s = 0; s < n; s++) {
                float p = probs[p0 + s];
                int v = s * stride + vOff + d;
                a0 += p * values[v];
                a1 += p * values[v + 1];
                a2 += p * values[v + 2];
                a3 += p * values[v + 3];
            }
            out[o + d] = a0;
            out[o + d + 1] = a1;
            out[o + d + 2] = a2;
            out[o + d + 3] = a3;
        }
        for (; d < headDim; d++) {
            float a = out[o + d];
            for (int s = 0; s < n; s++) {
                a += probs[p0 + s] * values[s * stride + vOff + d];
            }
            out[o + d] = a;
        }
    }

    /** Whether values {@code stride} apart are a head half a vector wide, slots side by side ({@link #accumulateNarrow}). */
    private boolean narrow(int stride) {
        return 2 * headDim == D.length() && stride == headDim;
    }

    /**
     * {@link #accumulate} of a head half a vector wide whose slots' values lie side by side (stride =
     * headDim): a vector spans two slots, each half weighed by its slot's probability, and the two
     * halves of each component are added at the end. stories260K's heads of 8 took a scalar chain
     * per component instead, 15–21% of its decode step at depth 100–200.
     */
    private void accumulateNarrow(int n, int p0, int vOff, float[] out, int o) {
        VectorMask<Float> second = D_LANE.compare(VectorOperators.GE, (float) headDim);
        FloatVector acc = FloatVector.zero(D);
        int s = 0;
        for (; s + 2 <= n; s += 2) {
            FloatVector p = FloatVector.broadcast(D, probs[p0 + s]).blend(probs[p0 + s + 1], second);
            acc = FloatVector.fromArray(D, values, vOff + s * headDim).fma(p, acc);
        }
        if (s < n) {
            // The last slot's values only: past them the buffer holds other values, maybe not finite.
            acc = FloatVector.fromArray(D, values, vOff + s * headDim, second.not()).fma(FloatVector.broadcast(D, probs[p0 + s]), acc);
        }
        addHalves(acc, out, o);
    }

    /**
     * {@link #accumulateNarrow} for two rows over the same n slots, their probabilities at probs[0 ..]
     * and probs[BLOCK ..]: each value load serves both, each row summed as there.
     */
    private void accumulateNarrowTwo(int n, int vOff, float[] out, int oa, int ob) {
        VectorMask<Float> second = D_LANE.compare(VectorOperators.GE, (float) headDim);
        FloatVector a = FloatVector.zero(D), b = a;
        int s = 0;
        for (; s + 2 <= n; s += 2) {
            FloatVector v = FloatVector.fromArray(D, values, vOff + s * headDim);
            a = v.fma(FloatVector.broadcast(D, probs[s]).blend(probs[s + 1], second), a);
            b = v.fma(FloatVector.broadcast(D, probs[BLOCK + s]).blend(probs[BLOCK + s + 1], second), b);
        }
        if (s < n) {
            FloatVector v = FloatVector.fromArray(D, values, vOff + s * headDim, second.not());
            a = v.fma(FloatVector.broadcast(D, probs[s]), a);
            b = v.fma(FloatVector.broadcast(D, probs[BLOCK + s]), b);
        }
        addHalves(a, out, oa);
        addHalves(b, out, ob);
    }

    /** out[o + d] += the two halves' lanes d of a narrow head's sums (in lane order), for its components d. */
    private void addHalves(FloatVector sums, float[] out, int o) {
        sums.intoArray(fold, 0);
        for (int d = 0; d < headDim; d++) {
            out[o + d] += fold[d] + fold[d + headDim];
        }
    }

    /**
     * Rounds non-negative floats below 65504 to the nearest half-precision value (ties to even),
     * as Float.float16ToFloat(Float.floatToFloat16(x)): half-normal values keep 11 significant
     * bits; below 2^-14 adding and removing 0.5 rounds to a multiple of 2^-24, the half subnormals.
     */
    static FloatVector roundToHalf(FloatVector x) {
        IntVector bits = x.reinterpretAsInts();
        IntVector odd = bits.lanewise(VectorOperators.LSHR, 13).and(1);
        FloatVector normal = bits.add(odd).add(0x0FFF).and(0xFFFFE000).reinterpretAsFloats();
        FloatVector subnormal = x.add(0.5f).sub(0.5f);
        return normal.blend(subnormal, x.lt(0x1p-14f));
    }

    /**
     * query[R·headDim ..] = the tile's query rows, rounded as the cache type's products round them,
     * and times 2^112 where {@code scaled} (the keys widened times 2^-112; a half-rounded query's
     * magnitude is at most 65504, so the product stays finite and exact).
     */
    private void loadQueries(float[] q, int first, int end, int kvHead, int heads, KVCacheType type, boolean scaled) {
        int rows = (end - first) * group, width = group * headDim;
        if (query.length < heads * rows * headDim) {
            query = new float[heads * rows * headDim];
        }
        for (int j = 0; j < heads; j++) {
            for (int t = first; t < end; t++) {
                int from = t * qDim + (kvHead + j) * width, to = (j * rows + (t - first) * group) * headDim;
                System.arraycopy(q, from, query, to, width);
                type.round(query, to, to + width);
                if (scaled) {
                    for (int i = to; i < to + width; i++) {
                        query[i] *= HalfPairs.SCALE;
                    }
                }
            }
        }
    }
}
