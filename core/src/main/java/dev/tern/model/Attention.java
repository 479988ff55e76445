package dev.tern.model;

import dev.tern.kv.BlockPool;
import dev.tern.kv.BlockTable;
import dev.tern.kv.KVCacheType;

/**
 * Causal multi-head attention of a batch of query tokens over each one's sequence in the
 * paged KV cache, with grouped-query sharing (query head h reads KV head h / (heads/kvHeads)).
 * Each (token, head) pair walks its sequence's blocks up to its own position: scores, then a
 * softmax, then the weighted sum of values — the order llama.cpp's non-flash path uses, so
 * that with an F16 cache the same values are rounded the same way.
 */
final class Attention {
    private Attention() {
    }

    static void run(WorkerPool pool, ModelConfig c, int layer, Batch batch, float[] q, float[] out) {
        int heads = c.heads(), headDim = c.headDim(), group = heads / c.kvHeads(), qDim = c.qDim();
        float scale = (float) (1.0 / Math.sqrt(headDim));
        int maxLength = 0;
        for (int t = 0; t < batch.size(); t++) {
            maxLength = Math.max(maxLength, batch.position(t) + 1);
        }
        int scoreLength = maxLength;
        pool.parallelFor(batch.size() * heads, Math.max(1, 64 / headDim), (from, to) -> {
            float[] scores = new float[scoreLength];
            float[] query = new float[headDim];
            for (int item = from; item < to; item++) {
                int t = item / heads, h = item % heads;
                int qOff = t * qDim + h * headDim;
                attendOne(batch.sequence(t), layer, batch.position(t), (h / group) * headDim, headDim, scale,
                        q, qOff, query, scores, out);
            }
        });
    }

    /** out[qOff..] = softmax(q·K[0..pos]ᵀ · scale) · V[0..pos] for one head. */
    private static void attendOne(BlockTable seq, int layer, int pos, int kvOff, int headDim, float scale,
                                  float[] q, int qOff, float[] query, float[] scores, float[] out) {
        BlockPool pool = seq.pool();
        KVCacheType type = pool.type();
        System.arraycopy(q, qOff, query, 0, headDim);
        type.round(query, 0, headDim);
        float max = Float.NEGATIVE_INFINITY;
        for (int start = 0; start <= pos; start += BlockPool.BLOCK_SIZE) {
            float[] keys = pool.keys(seq.block(start), layer);
            int end = Math.min(pos + 1, start + BlockPool.BLOCK_SIZE);
            for (int p = start; p < end; p++) {
                float s = Kernels.dot(query, 0, keys, seq.slotOffset(p) + kvOff, headDim) * scale;
                scores[p] = s;
                max = Math.max(max, s);
            }
        }
        double sum = 0;
        for (int p = 0; p <= pos; p++) {
            scores[p] = (float) Math.exp(scores[p] - max);
            sum += scores[p];
        }
        float inv = (float) (1.0 / sum);
        java.util.Arrays.fill(out, qOff, qOff + headDim, 0f);
        for (int start = 0; start <= pos; start += BlockPool.BLOCK_SIZE) {
            float[] values = pool.values(seq.block(start), layer);
            int end = Math.min(pos + 1, start + BlockPool.BLOCK_SIZE);
            for (int p = start; p < end; p++) {
                Kernels.axpy(out, qOff, type.round(scores[p] * inv), values, seq.slotOffset(p) + kvOff, headDim);
            }
        }
    }
}
