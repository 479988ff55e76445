package dev.tern.engine;

import dev.tern.kv.BlockPool;
import dev.tern.kv.BlockTable;
import dev.tern.kv.KVCacheType;
import dev.tern.model.Batch;
import dev.tern.model.ForwardPass;
import dev.tern.model.Model;
import dev.tern.model.WorkerPool;

import java.util.Arrays;

/**
 * The naive path: every call runs the whole sequence from position 0 in a fresh cache, as
 * one batch. Slow and obviously right, it is the oracle the cached path is tested against.
 */
public final class Recompute {
    private final ForwardPass pass;
    private final Model model;
    private final KVCacheType kvType;

    public Recompute(Model model, WorkerPool workers, KVCacheType kvType) {
        this.model = model;
        this.kvType = kvType;
        this.pass = new ForwardPass(model, workers);
    }

    /** See {@link ForwardPass#observeInputs}. */
    public void observeInputs(ForwardPass.InputObserver observer) {
        pass.observeInputs(observer);
    }

    /** Logits after the last of {@code tokens}, computed from scratch. */
    public float[] lastLogits(int[] tokens) {
        float[] all = logits(tokens, tokens.length - 1);
        return Arrays.copyOf(all, model.config().vocab());
    }

    /** Logits after each token from {@code from} on, rows of vocab values, computed from scratch. */
    public float[] logits(int[] tokens, int from) {
        BlockPool pool = new BlockPool(model.config().layers(), model.config().kvDim(), model.config().headDim(),
                BlockPool.blocksFor(tokens.length), kvType);
        BlockTable seq = new BlockTable(pool, tokens.length);
        Batch batch = new Batch();
        for (int i = 0; i < tokens.length; i++) {
            batch.add(tokens[i], seq, i, i >= from);
        }
        return pass.forward(batch);
    }
}
