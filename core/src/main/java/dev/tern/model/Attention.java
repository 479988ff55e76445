package dev.tern.model;

import dev.tern.kv.BlockPool;

import java.util.Arrays;

/**
 * Causal attention of a batch of query tokens over their sequences' paged KV cache, tiled and
 * grouped-query aware. A tile is up to {@link #TILE_TOKENS} consecutive tokens of one sequence;
 * its rows for a KV head are every query head of those tokens that shares it, so each key and
 * value block is widened once for all of them. With enough tiles (prefill, batched decode) each
 * (tile, KV head) is one work item. Otherwise (decode of few sequences at depth) each tile's KV
 * sequence is split into runs of blocks, one work item each covering every head — each thread
 * streams its own contiguous part of the cache — and the splits' partial results are merged
 * (flash-decoding): their (max, sum of exponentials), then their weighted values.
 *
 * <p>Each item makes two passes over its blocks — scores, then probabilities · values — rather
 * than a single online-softmax pass: with an F16 cache llama.cpp rounds every normalized
 * probability to half precision before multiplying it by V, which needs the global max and
 * sum first. Dropping that rounding moves stories15M's logits by 1.1e-3 and stories260K's by
 * 1.6e-2, over the reference tolerances. Keys and values are still read once each; only the
 * scores (rows × positions floats) are kept between the passes.
 */
final class Attention {
    /** Query tokens of one sequence that share each widened K/V block. */
    static final int TILE_TOKENS = 32;
    /** Fewest blocks a split of the KV sequence gets, so merging stays cheap. */
    static final int MIN_SPLIT_BLOCKS = 8;
    private static final int ITEMS_PER_THREAD = 4;
    private static final int BLOCK = BlockPool.BLOCK_SIZE;

    private final ModelConfig c;
    private final ThreadLocal<AttentionKernel> kernels;
    private int[] tileFirst = new int[16], tileEnd = new int[16], tileSplits = new int[16];
    private int[] itemTile = new int[16], itemSplit = new int[16];
    private int[] itemScores = new int[16], itemStats = new int[16], itemAcc = new int[16];
    private float[] scores = new float[0], max = new float[0], sum = new float[0], acc = new float[0];
    /** Per split and row: what turns its numerators exp(s - m_j) into probabilities, exp(m_j - M) / Σ. */
    private float[] factor = new float[0];

    Attention(ModelConfig c) {
        this.c = c;
        this.kernels = ThreadLocal.withInitial(() -> new AttentionKernel(c));
    }

    /**
     * att[attOff + t·qDim + h·headDim ..] = attention of query q[t·qDim + h·headDim ..] for every
     * token and head.
     */
    void run(WorkerPool pool, int layer, Batch batch, float[] q, float[] att, int attOff) {
        run(pool, layer, batch, q, att, attOff, 0);
    }

    /**
     * As {@link #run(WorkerPool, int, Batch, float[], float[], int)}; {@code splits} > 0 forces the
     * split path with that many splits per tile (tests), 0 chooses.
     */
    void run(WorkerPool pool, int layer, Batch batch, float[] q, float[] att, int attOff, int splits) {
        int tiles = makeTiles(batch);
        int kvHeads = c.kvHeads();
        int wanted = (ITEMS_PER_THREAD * pool.threads() + tiles - 1) / tiles;
        int items = 0, maxSplits = 1;
        for (int i = 0; i < tiles; i++) {
            int blocks = BlockPool.blocksFor(limit(batch, tileEnd[i] - 1));
            int s = splits > 0 ? Math.min(splits, blocks) : Math.max(1, Math.min(wanted, blocks / MIN_SPLIT_BLOCKS));
            tileSplits[i] = s;
            maxSplits = Math.max(maxSplits, s);
            items += s;
        }
        if (maxSplits == 1 && splits == 0) {
            int count = tiles * kvHeads;
            WorkerPool.Range whole = (from, to) -> {
                AttentionKernel k = kernels.get();
                for (int i = from; i < to; i++) {
                    // Last tiles first: in a prefill they attend to the most positions, and the
                    // small early ones then fill the end of the loop.
                    int item = count - 1 - i;
                    k.attendWhole(batch, layer, tileFirst[item / kvHeads], tileEnd[item / kvHeads], item % kvHeads, q, att, attOff);
                }
            };
            if (batch.size() > tiles) {
                // Some tile holds several tokens (a prefill): items are long and uneven.
                pool.parallelForEach(count, whole);
            } else {
                pool.parallelFor(count, 1, whole);
            }
            return;
        }
        int itemCount = items, qDim = c.qDim();
        layoutItems(batch, tiles, itemCount);
        pool.parallelFor(itemCount, 1, (from, to) -> {
            AttentionKernel k = kernels.get();
            for (int i = from; i < to; i++) {
                int tile = itemTile[i];
                k.scores(batch, layer, tileFirst[tile], tileEnd[tile], 0, kvHeads, range(batch, tile, itemSplit[i]), q,
                        scores, itemScores[i], max, sum, itemStats[i]);
            }
        });
        mergeStatistics(itemCount);
        pool.parallelFor(itemCount, 1, (from, to) -> {
            AttentionKernel k = kernels.get();
            for (int i = from; i < to; i++) {
                int tile = itemTile[i];
                Arrays.fill(acc, itemAcc[i], itemAcc[i] + (tileEnd[tile] - tileFirst[tile]) * qDim, 0f);
                k.weightedValues(batch, layer, tileFirst[tile], tileEnd[tile], 0, kvHeads, range(batch, tile, itemSplit[i]),
                        scores, itemScores[i], factor, itemStats[i], acc, itemAcc[i], qDim);
            }
        });
        sumSplits(itemCount, att, attOff);
    }

    /** Splits the batch into runs of at most TILE_TOKENS consecutive tokens of one sequence. */
    private int makeTiles(Batch batch) {
        int tiles = 0;
        for (int t = 0; t < batch.size(); ) {
            int end = t + 1;
            while (end < batch.size() && end - t < TILE_TOKENS && batch.sequence(end) == batch.sequence(t)) {
                end++;
            }
            if (tiles == tileFirst.length) {
                tileFirst = Arrays.copyOf(tileFirst, 2 * tiles);
                tileEnd = Arrays.copyOf(tileEnd, 2 * tiles);
                tileSplits = Arrays.copyOf(tileSplits, 2 * tiles);
            }
            tileFirst[tiles] = t;
            tileEnd[tiles++] = end;
            t = end;
        }
        return tiles;
    }

    private static int limit(Batch batch, int token) {
        return batch.position(token) + 1;
    }

    /** Block range [from, to) of split {@code split} of a tile's KV sequence, packed as from·2^32 | to. */
    private long range(Batch batch, int tile, int split) {
        int blocks = BlockPool.blocksFor(limit(batch, tileEnd[tile] - 1)), s = tileSplits[tile];
        return ((long) (split * blocks / s) << 32) | ((split + 1) * blocks / s);
    }

    /** Assigns each (tile, split) its slices of the shared score, statistic and accumulator buffers. */
    private void layoutItems(Batch batch, int tiles, int items) {
        if (itemTile.length < items) {
            int n = Math.max(items, 2 * itemTile.length);
            itemTile = new int[n];
            itemSplit = new int[n];
            itemScores = new int[n];
            itemStats = new int[n];
            itemAcc = new int[n];
        }
        int i = 0, scoreSize = 0, statSize = 0, accSize = 0;
        for (int tile = 0; tile < tiles; tile++) {
            int tokens = tileEnd[tile] - tileFirst[tile], rows = tokens * c.heads();
            for (int s = 0; s < tileSplits[tile]; s++, i++) {
                long r = range(batch, tile, s);
                itemTile[i] = tile;
                itemSplit[i] = s;
                itemScores[i] = scoreSize;
                itemStats[i] = statSize;
                itemAcc[i] = accSize;
                scoreSize += rows * ((int) r - (int) (r >>> 32)) * BLOCK;
                statSize += rows;
                accSize += tokens * c.qDim();
            }
        }
        if (scores.length < scoreSize) {
            scores = new float[scoreSize];
        }
        if (max.length < statSize) {
            max = new float[statSize];
            sum = new float[statSize];
            factor = new float[statSize];
        }
        if (acc.length < accSize) {
            acc = new float[accSize];
        }
    }

    /**
     * Merges the splits' (max m_j, sum l_j of exp(s - m_j)) of each row into the global max M and
     * sum S = Σ l_j·exp(m_j - M), and gives each split its factor exp(m_j - M) / S. With one split
     * that is (float) (1 / S), as ggml scales its softmax.
     */
    private void mergeStatistics(int items) {
        for (int i = 0; i < items; ) {
            int tile = itemTile[i], splits = tileSplits[tile], rows = (tileEnd[tile] - tileFirst[tile]) * c.heads();
            for (int r = 0; r < rows; r++) {
                float m = Float.NEGATIVE_INFINITY;
                for (int s = 0; s < splits; s++) {
                    m = Math.max(m, max[itemStats[i + s] + r]);
                }
                double total = 0;
                for (int s = 0; s < splits; s++) {
                    int at = itemStats[i + s] + r;
                    if (sum[at] > 0) {
                        total += sum[at] * Math.exp(max[at] - m);
                    }
                }
                float inv = (float) (1.0 / total);
                for (int s = 0; s < splits; s++) {
                    int at = itemStats[i + s] + r;
                    factor[at] = max[at] == m ? inv : (float) (Math.exp(max[at] - m) * inv);
                }
            }
            i += splits;
        }
    }

    /** att from attOff = Σ over splits of each tile's partial weighted values (laid out like att). */
    private void sumSplits(int items, float[] att, int attOff) {
        int qDim = c.qDim();
        for (int i = 0; i < items; ) {
            int tile = itemTile[i], splits = tileSplits[tile];
            int n = (tileEnd[tile] - tileFirst[tile]) * qDim, out = attOff + tileFirst[tile] * qDim;
            System.arraycopy(acc, itemAcc[i], att, out, n);
            for (int s = 1; s < splits; s++) {
                for (int k = 0, from = itemAcc[i + s]; k < n; k++) {
                    att[out + k] += acc[from + k];
                }
            }
            i += splits;
        }
    }
}
