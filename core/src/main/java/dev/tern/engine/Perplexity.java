package dev.tern.engine;

import dev.tern.TernException;
import dev.tern.kv.KVCacheType;
import dev.tern.model.Model;
import dev.tern.model.WorkerPool;

/**
 * Perplexity as llama.cpp's {@code llama-perplexity} computes it: the tokens (BOS first) are
 * cut into whole chunks of {@code ctx} (a partial tail is dropped); each chunk runs in a fresh
 * cache with its first token replaced by BOS; the logits at positions ctx/2 … ctx-2 are scored
 * against the token that follows (with llama.cpp's default F16 KV cache); perplexity = exp(mean negative log-likelihood).
 */
public final class Perplexity {
    private Perplexity() {
    }

    /** Perplexity on one thread per core; {@code tokens[0]} is the BOS token. */
    public static double perplexity(Model model, int[] tokens, int ctx) {
        try (WorkerPool workers = new WorkerPool(WorkerPool.defaultThreads())) {
            return perplexity(model, workers, tokens, ctx);
        }
    }

    public static double perplexity(Model model, WorkerPool workers, int[] tokens, int ctx) {
        if (ctx < 3) {
            throw new TernException("perplexity needs a context of at least 3 tokens, got " + ctx);
        }
        if (tokens.length < 2 * ctx) {
            throw new TernException("perplexity needs at least " + 2 * ctx + " tokens for a context of " + ctx
                    + ", the text has " + tokens.length);
        }
        int bos = tokens[0];
        int vocab = model.config().vocab();
        int first = ctx / 2;
        Recompute runner = new Recompute(model, workers, KVCacheType.F16);
        double nll = 0;
        long count = 0;
        for (int start = 0; start + ctx <= tokens.length; start += ctx) {
            int[] chunk = java.util.Arrays.copyOfRange(tokens, start, start + ctx);
            chunk[0] = bos;
            float[] logits = runner.logits(chunk, first);
            for (int j = first; j < ctx - 1; j++) {
                nll -= logSoftmax(logits, (j - first) * vocab, vocab, tokens[start + j + 1]);
                count++;
            }
        }
        return Math.exp(nll / count);
    }

    /** log p(target) from one row of logits; the sum of exponentials in double, as llama.cpp. */
    static double logSoftmax(float[] logits, int off, int vocab, int target) {
        float max = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < vocab; i++) {
            max = Math.max(max, logits[off + i]);
        }
        double sum = 0;
        for (int i = 0; i < vocab; i++) {
            sum += (float) Math.exp(logits[off + i] - max);
        }
        return logits[off + target] - max - Math.log(sum);
    }
}
