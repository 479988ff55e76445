package dev.tern.model;

import dev.tern.TernException;
import dev.tern.kv.BlockTable;
import dev.tern.tensor.Aligned;
import dev.tern.tensor.Tensor;

import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.IntPredicate;

/**
 * The transformer's forward pass over a {@link Batch}: embeds the tokens, runs every layer
 * (RMSNorm → q/k/v projections (+biases) → RoPE → write K,V to each token's cache slot →
 * attention over the cache → output projection → residual; RMSNorm → SwiGLU feed-forward →
 * residual), and returns logits only for the tokens that asked. Weights are read once per
 * batch. Scratch buffers are reused between calls: one forward pass at a time per instance.
 * The matrix products' inputs (xb, att, hs) start at {@link Aligned#OFFSET}, on a cache line,
 * where the batched tiles want them, so they are written there rather than copied. The model's
 * LoRA adapters add their low-rank products to the weights' (see {@link LoraAdapter}).
 */
public final class ForwardPass {
    private final ModelConfig c;
    private final ModelWeights w;
    private final WorkerPool pool;
    private final Rope rope;
    private final Attention attention;
    private final List<LoraAdapter> adapters;
    private InputObserver observer;
    private final boolean batchInvariant;
    /** A LoRA pair's A·x and B·(A·x) for a whole batch. */
    private float[] loraMid = new float[0], loraOut = new float[0];
    /** (cos, sin) of each rotated pair at each token's position, token t's from t·ropeDims. */
    private float[] cs;
    private int capacity;
    private float[] x, xb, xb2, q, k, v, att, hb, hb2, hs;
    private static final int A = Aligned.OFFSET;

    public ForwardPass(Model model, WorkerPool pool) {
        this(model, pool, false);
    }

    /**
     * @param batchInvariant give every token the bits of its one-token step whatever its batch, also
     *                       with quantized weights (their batches then take the one-token kernels)
     */
    public ForwardPass(Model model, WorkerPool pool, boolean batchInvariant) {
        this.batchInvariant = batchInvariant;
        this.c = model.config();
        this.w = model.weights();
        this.pool = pool;
        this.rope = new Rope(c, w.ropeFreqFactors());
        this.attention = new Attention(c);
        this.adapters = model.adapters();
    }

    public ModelConfig config() {
        return c;
    }

    /** Sees the input of every weight matrix's product, as llama-imatrix's callback on each MUL_MAT does. */
    @FunctionalInterface
    public interface InputObserver {
        /** The product weight × in for {@code tokens} rows of weight.cols() values from in[inOff..] is about to run. */
        void inputs(Tensor weight, float[] in, int inOff, int tokens);
    }

    /** Shows every later pass's matrix inputs (not the LoRA adapters') to {@code observer}; null: to none. */
    public void observeInputs(InputObserver observer) {
        this.observer = observer;
    }

    /**
     * Runs the batch, extending each token's sequence by its position. Returns the logits of
     * the tokens that asked for them, in batch order: row j is [j·vocab, (j+1)·vocab). On a
     * one-line TernException (context or cache full, bad token id) no sequence has changed.
     */
    public float[] forward(Batch batch) {
        return run(batch, true);
    }

    /**
     * As {@link #forward}, but returns the final hidden states (after the output norm) of the tokens
     * that asked for logits, row j being [j·dim, (j+1)·dim): what embeddings are pooled from.
     */
    public float[] hidden(Batch batch) {
        return run(batch, false);
    }

    private float[] run(Batch batch, boolean toLogits) {
        int n = batch.size();
        float[] logits = new float[batch.logitCount() * (toLogits ? c.vocab() : c.dim())];
        if (n == 0) {
            return logits;
        }
        reserve(batch);
        ensureCapacity(n);
        int dim = c.dim(), qDim = c.qDim(), kvDim = c.kvDim(), ffn = c.ffnDim();
        int rd = c.ropeDims();
        LoraAdapter[] own = null;
        if (batch.hasAdapters()) {
            own = new LoraAdapter[n];
            for (int t = 0; t < n; t++) {
                own[t] = batch.adapter(t);
            }
        }
        for (int t = 0; t < n; t++) {
            w.tokenEmbedding().dequantizeRow(batch.token(t), x, t * dim);
            embeddingDelta(batch.token(t), t * dim, batch.adapter(t));
            // Every layer turns a position by the same angles: their sines and cosines once per pass.
            rope.angles(batch.position(t), cs, t * rd);
        }
        for (int l = 0; l < c.layers(); l++) {
            LayerWeights lw = w.layers()[l];
            Kernels.rmsNorm(xb, A, x, n, dim, lw.attnNorm(), c.rmsEps());
            project(lw.wq(), xb, A, n, q, own);
            project(lw.wk(), xb, A, n, k, own);
            project(lw.wv(), xb, A, n, v, own);
            Kernels.addBias(q, n, lw.bq());
            Kernels.addBias(k, n, lw.bk());
            Kernels.addBias(v, n, lw.bv());
            if (lw.qNorm() != null) {
                // Qwen3: each head of q and k normalised on its own, in place, before RoPE.
                Kernels.rmsNorm(q, 0, q, n * c.heads(), c.headDim(), lw.qNorm(), c.rmsEps());
                Kernels.rmsNorm(k, 0, k, n * c.kvHeads(), c.headDim(), lw.kNorm(), c.rmsEps());
            }
            for (int t = 0; t < n; t++) {
                rope.rotate(q, t * qDim, c.heads(), c.headDim(), cs, t * rd);
                rope.rotate(k, t * kvDim, c.kvHeads(), c.headDim(), cs, t * rd);
                store(batch.sequence(t), l, batch.position(t), t * kvDim);
            }
            attention.run(pool, l, batch, q, att, A);
            project(lw.wo(), att, A, n, xb2, own);
            Kernels.add(x, xb2, n * dim);

            Kernels.rmsNorm(xb, A, x, n, dim, lw.ffnNorm(), c.rmsEps());
            project(lw.gate(), xb, A, n, hb, own);
            project(lw.up(), xb, A, n, hb2, own);
            Kernels.swiglu(hs, A, hb, hb2, n * ffn);
            project(lw.down(), hs, A, n, xb2, own);
            Kernels.add(x, xb2, n * dim);
        }
        int rows = 0;
        for (int t = 0; t < n; t++) {
            if (batch.wantsLogits(t)) {
                if (own != null) {
                    own[rows] = own[t];
                }
                System.arraycopy(x, t * dim, x, rows++ * dim, dim);
            }
        }
        if (rows > 0) {
            Kernels.rmsNorm(xb, A, x, rows, dim, w.outputNorm(), c.rmsEps());
            if (toLogits) {
                project(w.output(), xb, A, rows, logits, own);
            } else {
                System.arraycopy(xb, A, logits, 0, rows * dim);
            }
        }
        return logits;
    }

    /**
     * out = weight · in for n tokens ({@link Kernels#matmul}), plus s·B·(A·in) of each of the model's
     * adapters' pairs for this weight (but on rows whose own adapter stands in for them), and for the
     * rows whose token has an adapter of its own ({@code rowAdapters}, null when none has) that adapter's.
     */
    private void project(Tensor weight, float[] in, int inOff, int n, float[] out, LoraAdapter[] rowAdapters) {
        if (observer != null) {
            observer.inputs(weight, in, inOff, n);
        }
        Kernels.matmul(pool, weight, in, inOff, n, out, batchInvariant);
        for (LoraAdapter adapter : adapters) {
            for (LoraAdapter.Pair p : adapter.of(weight)) {
                addDelta(p, weight.rows(), in, inOff, n, out, t -> rowAdapters == null || rowAdapters[t] == null
                        || !rowAdapters[t].replacesApplied());
            }
        }
        if (rowAdapters != null) {
            for (LoraAdapter own : distinct(rowAdapters, n)) {
                for (LoraAdapter.Pair p : own.of(weight)) {
                    addDelta(p, weight.rows(), in, inOff, n, out, t -> rowAdapters[t] == own);
                }
            }
        }
    }

    /** Adds a pair's s·B·(A·in) to the rows of out that {@code rows} takes. */
    private void addDelta(LoraAdapter.Pair p, int outRows, float[] in, int inOff, int n, float[] out, IntPredicate rows) {
        loraMid = atLeast(loraMid, n * p.a().rows());
        loraOut = atLeast(loraOut, n * outRows);
        Kernels.matmul(pool, p.a(), in, inOff, n, loraMid, batchInvariant);
        Kernels.matmul(pool, p.b(), loraMid, 0, n, loraOut, batchInvariant);
        for (int t = 0; t < n; t++) {
            if (rows.test(t)) {
                Kernels.addScaled(out, t * outRows, loraOut, t * outRows, p.scale(), outRows);
            }
        }
    }

    private static List<LoraAdapter> distinct(LoraAdapter[] rowAdapters, int n) {
        List<LoraAdapter> out = new ArrayList<>();
        for (int t = 0; t < n; t++) {
            if (rowAdapters[t] != null && !out.contains(rowAdapters[t])) {
                out.add(rowAdapters[t]);
            }
        }
        return out;
    }

    /**
     * Adds the model's adapters' s·B·A[token] (unless its own adapter stands in for them) and its own
     * adapter's (null: none) to the token's embedding at x[at..].
     */
    private void embeddingDelta(int token, int at, LoraAdapter own) {
        if (own == null || !own.replacesApplied()) {
            for (LoraAdapter adapter : adapters) {
                adapter.embedding().forEach(p -> embeddingDelta(p, token, at));
            }
        }
        if (own != null) {
            own.embedding().forEach(p -> embeddingDelta(p, token, at));
        }
    }

    private void embeddingDelta(LoraAdapter.Pair p, int token, int at) {
        loraMid = atLeast(loraMid, p.a().cols());
        loraOut = atLeast(loraOut, c.dim());
        p.a().dequantizeRow(token, loraMid, 0);
        Kernels.matmul(pool, p.b(), loraMid, 0, 1, loraOut, batchInvariant);
        Kernels.addScaled(x, at, loraOut, 0, p.scale(), c.dim());
    }

    private static float[] atLeast(float[] buffer, int length) {
        return buffer.length >= length ? buffer : new float[Math.max(length, 2 * buffer.length)];
    }

    /** Checks the whole batch, then grows every sequence to cover its new positions. */
    private void reserve(Batch batch) {
        Map<BlockTable, Integer> next = new IdentityHashMap<>();
        for (int t = 0; t < batch.size(); t++) {
            BlockTable seq = batch.sequence(t);
            if (seq.pool().kvDim() != c.kvDim() || seq.pool().layers() != c.layers()) {
                throw new IllegalArgumentException("the sequence's KV cache was made for another model");
            }
            int token = batch.token(t);
            if (token < 0 || token >= c.vocab()) {
                throw new TernException("token id " + token + " is out of range (vocabulary of " + c.vocab() + ")");
            }
            int expected = next.getOrDefault(seq, seq.length());
            int pos = batch.position(t);
            if (pos != expected) {
                throw new IllegalArgumentException("token " + t + " is at position " + pos + " but its sequence continues at " + expected);
            }
            if (pos >= seq.maxLength()) {
                throw new TernException("context length " + seq.maxLength() + " exceeded");
            }
            next.put(seq, pos + 1);
        }
        Map<BlockTable, Integer> grown = new IdentityHashMap<>();
        try {
            for (Map.Entry<BlockTable, Integer> e : next.entrySet()) {
                int before = e.getKey().length();
                e.getKey().grow(e.getValue());
                grown.put(e.getKey(), before);
            }
        } catch (TernException e) {
            grown.forEach(BlockTable::truncate);
            throw e;
        }
    }

    private void store(BlockTable seq, int layer, int pos, int from) {
        seq.pool().write(seq.block(pos), layer, seq.slot(pos), k, from, v, from);
    }

    private void ensureCapacity(int n) {
        if (n <= capacity) {
            return;
        }
        capacity = Math.max(n, 2 * capacity);
        x = new float[capacity * c.dim()];
        xb = new float[A + capacity * c.dim()];
        xb2 = new float[capacity * c.dim()];
        q = new float[capacity * c.qDim()];
        k = new float[capacity * c.kvDim()];
        v = new float[capacity * c.kvDim()];
        att = new float[A + capacity * c.qDim()];
        hb = new float[capacity * c.ffnDim()];
        hb2 = new float[capacity * c.ffnDim()];
        hs = new float[A + capacity * c.ffnDim()];
        cs = new float[capacity * c.ropeDims()];
    }
}
