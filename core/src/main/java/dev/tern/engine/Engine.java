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
    /** Tokens per forward pass of an embedding (a prompt-sized batch). */
    private static final int EMBED_CHUNK = 512;

    /**
     * @param threads     threads for matrix work (the caller's included)
     * @param maxKvBlocks upper bound of the KV cache in blocks of {@link BlockPool#BLOCK_SIZE} positions;
     *                    blocks are allocated as sequences grow
     * @param kvType      precision of the cache; F16 is llama.cpp's default and agrees with its logits
     */
    public Engine(Model model, int threads, int maxKvBlocks, KVCacheType kvType) {
        this.model = model;
        this.workers = new WorkerPool(threads);
        this.cache = new BlockPool(model.config().layers(), model.config().kvDim(), model.config().headDim(), maxKvBlocks, kvType);
        this.pass = new ForwardPass(model, workers);
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
        if (tokens.length == 0) {
            throw new IllegalArgumentException("no tokens to embed");
        }
        ModelConfig c = model.config();
        int dim = c.dim();
        double[] sum = new double[dim];
        BlockPool own = new BlockPool(c.layers(), c.kvDim(), c.headDim(), BlockPool.blocksFor(tokens.length), KVCacheType.F32);
        try (BlockTable seq = new BlockTable(own, tokens.length)) {
            for (int from = 0; from < tokens.length; from += EMBED_CHUNK) {
                int to = Math.min(tokens.length, from + EMBED_CHUNK);
                Batch batch = new Batch();
                for (int i = from; i < to; i++) {
                    batch.add(tokens[i], seq, i, pooling == Pooling.MEAN || (pooling == Pooling.CLS ? i == 0 : i == tokens.length - 1));
                }
                float[] rows;
                synchronized (this) {
                    rows = pass.hidden(batch);
                }
                for (int r = 0; r < rows.length; r += dim) {
                    for (int j = 0; j < dim; j++) {
                        sum[j] += rows[r + j];
                    }
                }
            }
        }
        double norm = 0;
        for (double v : sum) {
            norm += v * v;
        }
        float[] out = new float[dim];
        double scale = norm > 0 ? 1 / Math.sqrt(norm) : 0;
        for (int j = 0; j < dim; j++) {
            out[j] = (float) (sum[j] * scale);
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
