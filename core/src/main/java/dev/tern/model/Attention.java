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
 * (flash-decoding). The partial results are per fixed chunk of {@link AttentionKernel#CHUNK_BLOCKS}
 * blocks, whether split or not: each row's max and sum of exponentials per chunk, merged in chunk
 * order, and its weighted values per chunk, summed in chunk order. So where a split falls changes
 * no bit, and a token's result does not depend on what else shares its pass.
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
    /** Positions per chunk of the softmax ({@link AttentionKernel#CHUNK_BLOCKS}): splits fall between chunks. */
    private static final int CHUNK = AttentionKernel.CHUNK_BLOCKS * BlockPool.BLOCK_SIZE;
    private static final int ITEMS_PER_THREAD = 4;

    private final ModelConfig c;
    private final ThreadLocal<AttentionKernel> kernels;
    private int[] tileFirst = new int[16], tileEnd = new int[16], tileSplits = new int[16];
    private int[] itemTile = new int[16], itemSplit = new int[16];
    /** Per tile: its chunks; on the split path, where its scores, statistics and chunk outputs start. */
    private int[] tileChunks = new int[16], tileScores = new int[16], tileStats = new int[16], tileAcc = new int[16];
    /** The split path's scores; per row and chunk max, sum and factor; per chunk the weighted values. */
    private float[] scores = new float[0], max = new float[0], sum = new float[0], factor = new float[0], acc = new float[0];

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
            int blocks = BlockPool.blocksFor(limit(batch, tileEnd[i] - 1)), chunks = AttentionKernel.chunks(blocks);
            int s = splits > 0 ? Math.min(splits, chunks) : Math.max(1, Math.min(wanted, blocks / AttentionKernel.CHUNK_BLOCKS));
            tileChunks[i] = chunks;
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
        layoutItems(tiles, items);
        pool.parallelFor(items, 1, (from, to) -> {
            AttentionKernel k = kernels.get();
            for (int i = from; i < to; i++) {
                int tile = itemTile[i], chunks = tileChunks[tile];
                k.scores(batch, layer, tileFirst[tile], tileEnd[tile], 0, kvHeads, firstChunk(tile, itemSplit[i]),
                        firstChunk(tile, itemSplit[i] + 1), q, scores, tileScores[tile], chunks * CHUNK, max, tileStats[tile],
                        sum, tileStats[tile], chunks);
            }
        });
        for (int tile = 0; tile < tiles; tile++) {
            AttentionKernel.factors(max, tileStats[tile], sum, tileStats[tile], factor, tileStats[tile],
                    (tileEnd[tile] - tileFirst[tile]) * c.heads(), tileChunks[tile]);
        }
        int qDim = c.qDim();
        pool.parallelFor(items, 1, (from, to) -> {
            AttentionKernel k = kernels.get();
            for (int i = from; i < to; i++) {
                int tile = itemTile[i], chunks = tileChunks[tile], size = (tileEnd[tile] - tileFirst[tile]) * qDim;
                for (int ch = firstChunk(tile, itemSplit[i]); ch < firstChunk(tile, itemSplit[i] + 1); ch++) {
                    int at = tileAcc[tile] + ch * size;
                    Arrays.fill(acc, at, at + size, 0f);
                    k.weightedValues(batch, layer, tileFirst[tile], tileEnd[tile], 0, kvHeads, ch, scores, tileScores[tile],
                            chunks * CHUNK, factor, tileStats[tile], chunks, acc, at, qDim);
                }
            }
        });
        for (int tile = 0; tile < tiles; tile++) {
            int size = (tileEnd[tile] - tileFirst[tile]) * qDim, out = attOff + tileFirst[tile] * qDim;
            // The first chunk's sums as they are: the same bits as added to zeros (AttentionKernel.attendWhole).
            System.arraycopy(acc, tileAcc[tile], att, out, size);
            for (int ch = 1; ch < tileChunks[tile]; ch++) {
                for (int k = 0, from = tileAcc[tile] + ch * size; k < size; k++) {
                    att[out + k] += acc[from + k];
                }
            }
        }
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
                tileChunks = Arrays.copyOf(tileChunks, 2 * tiles);
                tileScores = Arrays.copyOf(tileScores, 2 * tiles);
                tileStats = Arrays.copyOf(tileStats, 2 * tiles);
                tileAcc = Arrays.copyOf(tileAcc, 2 * tiles);
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

    /** The first chunk of split {@code split} of a tile's KV sequence (of the split after the last: the chunk count). */
    private int firstChunk(int tile, int split) {
        return split * tileChunks[tile] / tileSplits[tile];
    }

    /** Lists the (tile, split) items and gives each tile its slices of the shared buffers. */
    private void layoutItems(int tiles, int items) {
        if (itemTile.length < items) {
            int n = Math.max(items, 2 * itemTile.length);
            itemTile = new int[n];
            itemSplit = new int[n];
        }
        int i = 0, scoreSize = 0, statSize = 0, accSize = 0;
        for (int tile = 0; tile < tiles; tile++) {
            for (int s = 0; s < tileSplits[tile]; s++, i++) {
                itemTile[i] = tile;
                itemSplit[i] = s;
            }
            int tokens = tileEnd[tile] - tileFirst[tile], rows = tokens * c.heads();
            tileScores[tile] = scoreSize;
            tileStats[tile] = statSize;
            tileAcc[tile] = accSize;
            scoreSize += rows * tileChunks[tile] * CHUNK;
            statSize += rows * tileChunks[tile];
            accSize += tileChunks[tile] * tokens * c.qDim();
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
}
