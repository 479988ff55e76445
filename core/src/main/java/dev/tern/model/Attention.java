package dev.tern.model;

import dev.tern.kv.BlockPool;

import java.util.Arrays;

/**
 * Causal attention of a batch of query tokens over their sequences' paged KV cache, tiled and
 * grouped-query aware. A tile is up to {@link #TILE_TOKENS} consecutive tokens of one sequence;
 * its rows for a KV head are every query head of those tokens that shares it, so each key and
 * value block is widened once for all of them. With enough tiles (prefill, batched decode) each
 * (tile, KV head) is one work item. Otherwise (decode of few sequences at depth) the scoring is
 * split too: each tile's KV sequence into runs of blocks, one work item each covering every head,
 * so that each thread streams its own contiguous part of the keys; then each (tile, KV head)
 * normalises its rows and weighs the values over the whole sequence. Either way a row's softmax
 * and its sum of values run over all its positions in order, so the split changes no bit
 * (flash-decoding's merge of partial sums would: a token's result would depend on how its
 * sequence was split, and so on its batch).
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
    /** Fewest blocks a split of the KV sequence gets: a shorter run of keys is not worth a work item of its own. */
    static final int MIN_SPLIT_BLOCKS = 8;
    private static final int ITEMS_PER_THREAD = 4;
    private static final int BLOCK = BlockPool.BLOCK_SIZE;

    private final ModelConfig c;
    private final ThreadLocal<AttentionKernel> kernels;
    private int[] tileFirst = new int[16], tileEnd = new int[16], tileSplits = new int[16];
    private int[] itemTile = new int[16], itemSplit = new int[16];
    /** Per tile of the split path: where its scores start in {@link #scores}, and its positions (the row stride). */
    private int[] tileScores = new int[16], tileLength = new int[16];
    private float[] scores = new float[0];

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
        layoutItems(batch, tiles, items);
        pool.parallelFor(items, 1, (from, to) -> {
            AttentionKernel k = kernels.get();
            for (int i = from; i < to; i++) {
                int tile = itemTile[i];
                long r = range(batch, tile, itemSplit[i]);
                k.scores(batch, layer, tileFirst[tile], tileEnd[tile], 0, kvHeads, (int) (r >>> 32), (int) r, q,
                        scores, tileScores[tile], tileLength[tile]);
            }
        });
        pool.parallelFor(tiles * kvHeads, 1, (from, to) -> {
            AttentionKernel k = kernels.get();
            for (int i = from; i < to; i++) {
                int tile = i / kvHeads, kvHead = i % kvHeads, len = tileLength[tile];
                int rows = (tileEnd[tile] - tileFirst[tile]) * c.heads() / kvHeads;
                k.weigh(batch, layer, tileFirst[tile], tileEnd[tile], kvHead, scores, tileScores[tile] + kvHead * rows * len,
                        len, att, attOff);
            }
        });
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

    /** Lists the (tile, split) items and gives each tile its slice of the shared score buffer. */
    private void layoutItems(Batch batch, int tiles, int items) {
        if (itemTile.length < items) {
            int n = Math.max(items, 2 * itemTile.length);
            itemTile = new int[n];
            itemSplit = new int[n];
        }
        if (tileScores.length < tiles) {
            tileScores = new int[tileFirst.length];
            tileLength = new int[tileFirst.length];
        }
        int i = 0, scoreSize = 0;
        for (int tile = 0; tile < tiles; tile++) {
            for (int s = 0; s < tileSplits[tile]; s++, i++) {
                itemTile[i] = tile;
                itemSplit[i] = s;
            }
            tileLength[tile] = BlockPool.blocksFor(limit(batch, tileEnd[tile] - 1)) * BLOCK;
            tileScores[tile] = scoreSize;
            scoreSize += (tileEnd[tile] - tileFirst[tile]) * c.heads() * tileLength[tile];
        }
        if (scores.length < scoreSize) {
            scores = new float[scoreSize];
        }
    }
}
