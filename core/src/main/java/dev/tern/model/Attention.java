package dev.tern.model;

import dev.tern.kv.BlockPool;
import dev.tern.kv.BlockTable;

/**
 * Causal multi-head attention of a batch of query tokens over each one's sequence in the
 * paged KV cache, with grouped-query sharing (query head h reads KV head h / (heads/kvHeads)).
 * Each (token, head) pair walks its sequence's blocks up to its own position with an online
 * softmax, so no score array is materialized.
 */
final class Attention {
    private Attention() {
    }

    static void run(WorkerPool pool, ModelConfig c, int layer, Batch batch, float[] q, float[] out) {
        int heads = c.heads(), headDim = c.headDim(), group = heads / c.kvHeads(), qDim = c.qDim();
        float scale = (float) (1.0 / Math.sqrt(headDim));
        int items = batch.size() * heads;
        pool.parallelFor(items, Math.max(1, 4096 / (headDim * 64)), (from, to) -> {
            for (int item = from; item < to; item++) {
                int t = item / heads, h = item % heads;
                int qOff = t * qDim + h * headDim;
                attendOne(batch.sequence(t), layer, batch.position(t), (h / group) * headDim, headDim, scale, q, qOff, out);
            }
        });
    }

    /** out[qOff..] = softmax(q·K[0..pos]ᵀ · scale) · V[0..pos] for one head. */
    private static void attendOne(BlockTable seq, int layer, int pos, int kvOff, int headDim, float scale,
                                  float[] q, int qOff, float[] out) {
        BlockPool pool = seq.pool();
        float max = Float.NEGATIVE_INFINITY;
        float sum = 0f;
        java.util.Arrays.fill(out, qOff, qOff + headDim, 0f);
        for (int start = 0; start <= pos; start += BlockPool.BLOCK_SIZE) {
            int block = seq.block(start);
            float[] keys = pool.keys(block, layer);
            float[] values = pool.values(block, layer);
            int end = Math.min(pos + 1, start + BlockPool.BLOCK_SIZE);
            for (int p = start; p < end; p++) {
                int row = seq.slotOffset(p) + kvOff;
                float s = Kernels.dot(q, qOff, keys, row, headDim) * scale;
                float rescale = 1f;
                if (s > max) {
                    rescale = (float) Math.exp(max - s);
                    max = s;
                    sum *= rescale;
                }
                float w = (float) Math.exp(s - max);
                sum += w;
                Kernels.scaleAdd(out, qOff, rescale, w, values, row, headDim);
            }
        }
        float inv = 1f / sum;
        for (int i = 0; i < headDim; i++) {
            out[qOff + i] *= inv;
        }
    }
}
