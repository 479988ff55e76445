package dev.tern.engine;

import dev.tern.kv.BlockPool;
import dev.tern.kv.BlockTable;
import dev.tern.kv.KVCacheType;
import dev.tern.model.Batch;
import dev.tern.model.ForwardPass;
import dev.tern.model.Model;
import dev.tern.model.ModelConfig;
import dev.tern.model.Pooling;
import dev.tern.model.WorkerPool;

import java.util.ArrayList;
import java.util.List;

/**
 * A model ready to run: its worker threads, a paged KV cache shared by all its sequences, and
 * the forward pass. Hand it batches mixing any of its sequences ({@link #forward}), or open a
 * simple single-sequence {@link Session}. Forward passes are serialized.
 */
public final class Engine implements AutoCloseable {
    private final Model model;
    private final WorkerPool workers;
    private final BlockPool cache;
    private final ForwardPass pass;
    private final boolean batchInvariant;
    /** Tokens per forward pass of an embedding (a prompt-sized batch). */
    private static final int EMBED_CHUNK = 512;

    /**
     * @param threads     threads for matrix work (the caller's included)
     * @param maxKvBlocks upper bound of the KV cache in blocks of {@link BlockPool#BLOCK_SIZE} positions;
     *                    blocks are allocated as sequences grow
     * @param kvType      precision of the cache; F16 is llama.cpp's default and agrees with its logits
     */
    public Engine(Model model, int threads, int maxKvBlocks, KVCacheType kvType) {
        this(model, threads, maxKvBlocks, kvType, false);
    }

    /**
     * @param batchInvariant a token's logits have the same bits whatever shares its forward pass, also
     *                       with quantized weights, at the cost of their batched kernels ({@link ForwardPass})
     */
    public Engine(Model model, int threads, int maxKvBlocks, KVCacheType kvType, boolean batchInvariant) {
        this.model = model;
        this.workers = new WorkerPool(threads);
        this.cache = new BlockPool(model.config().layers(), model.config().kvDim(), model.config().headDim(), maxKvBlocks, kvType);
        this.pass = new ForwardPass(model, workers, batchInvariant);
        this.batchInvariant = batchInvariant;
    }

    /** Whether a token's logits have the same bits whatever shares its pass, for every weight type. */
    public boolean batchInvariant() {
        return batchInvariant;
    }

    /** An engine with an F16 cache that can hold 8 sequences of the model's full trained context. */
    public Engine(Model model, int threads) {
        this(model, threads, 8 * BlockPool.blocksFor(model.config().contextLength()), KVCacheType.F16);
    }

    public Model model() {
        return model;
    }

    public WorkerPool workers() {
        return workers;
    }

    public BlockPool cache() {
        return cache;
    }

    /** A new empty sequence in this engine's cache that may grow to {@code contextSize} positions. */
    public synchronized BlockTable newSequence(int contextSize) {
        return new BlockTable(cache, contextSize);
    }

    /** One forward pass; see {@link ForwardPass#forward}. */
    public synchronized float[] forward(Batch batch) {
        return pass.forward(batch);
    }

    /**
     * The embedding of {@code tokens}: their final hidden states pooled as {@code pooling} says,
     * scaled to unit length. Runs in a KV cache of its own, freed before it returns, so running
     * sequences keep every block; its passes of up to 512 tokens take turns with other forward
     * passes (a long input does not hold a batching loop up for its whole length).
     */
    public float[] embed(int[] tokens, Pooling pooling) {
        return embed(List.of(tokens), pooling).getFirst();
    }

    /**
     * {@link #embed(int[], Pooling)} of each input, short inputs sharing passes: consecutive
     * inputs run side by side, each a sequence of its own, in passes of up to 512 tokens, so that
     * the weights read for a pass serve all of them (one pass of many short inputs, not one each).
     */
    public List<float[]> embed(List<int[]> inputs, Pooling pooling) {
        return embed(inputs, pooling, EmbeddingNorm.EUCLIDEAN);
    }

    /** As above, each pooled vector scaled as {@link EmbeddingNorm#apply} says for {@code norm}. */
    public List<float[]> embed(List<int[]> inputs, Pooling pooling, int norm) {
        EmbeddingNorm.check(norm);
        int dim = model.config().dim();
        List<float[]> out = new ArrayList<>(inputs.size());
        for (int first = 0; first < inputs.size(); ) {
            int last = first + 1;
            int tokens = inputs.get(first).length;
            while (last < inputs.size() && tokens + inputs.get(last).length <= EMBED_CHUNK) {
                tokens += inputs.get(last++).length;
            }
            List<int[]> group = inputs.subList(first, last);
            double[][] sums = new double[group.size()][dim];
            int blocks = 0;
            for (int[] in : group) {
                if (in.length == 0) {
                    throw new IllegalArgumentException("no tokens to embed");
                }
                blocks += BlockPool.blocksFor(in.length);
            }
            ModelConfig c = model.config();
            BlockPool own = new BlockPool(c.layers(), c.kvDim(), c.headDim(), blocks, KVCacheType.F32);
            List<BlockTable> seqs = new ArrayList<>();
            try {
                for (int[] in : group) {
                    seqs.add(new BlockTable(own, in.length));
                }
                // One input longer than a pass runs alone, a pass at a time.
                int longest = group.stream().mapToInt(in -> in.length).max().orElseThrow();
                for (int from = 0; from < longest; from += EMBED_CHUNK) {
                    Batch batch = new Batch();
                    List<Integer> owners = new ArrayList<>();
                    for (int k = 0; k < group.size(); k++) {
                        int[] in = group.get(k);
                        for (int i = from; i < Math.min(in.length, from + EMBED_CHUNK); i++) {
                            boolean pooled = pooling == Pooling.MEAN || (pooling == Pooling.CLS ? i == 0 : i == in.length - 1);
                            batch.add(in[i], seqs.get(k), i, pooled);
                            if (pooled) {
                                owners.add(k);
                            }
                        }
                    }
                    float[] rows;
                    synchronized (this) {
                        rows = pass.hidden(batch);
                    }
                    for (int r = 0; r < owners.size(); r++) {
                        double[] sum = sums[owners.get(r)];
                        for (int j = 0; j < dim; j++) {
                            sum[j] += rows[r * dim + j];
                        }
                    }
                }
            } finally {
                seqs.forEach(BlockTable::close);
            }
            for (int k = 0; k < group.size(); k++) {
                double[] pooled = sums[k];
                int n = pooling == Pooling.MEAN ? group.get(k).length : 1;
                for (int j = 0; j < dim; j++) {
                    pooled[j] /= n;
                }
                out.add(EmbeddingNorm.apply(pooled, norm));
            }
            first = last;
        }
        return out;
    }

    /** A single-sequence session of at most {@code contextSize} positions. */
    public Session newSession(int contextSize) {
        return new Session(this, newSequence(contextSize));
    }

    /** Frees the sequence's blocks. */
    public synchronized void release(BlockTable sequence) {
        sequence.close();
    }

    /** Rolls a sequence back to its first {@code length} positions. */
    public synchronized void truncate(BlockTable sequence, int length) {
        sequence.truncate(length);
    }

    /** Stops the worker threads; the model stays open. */
    @Override
    public void close() {
        workers.close();
    }
}
