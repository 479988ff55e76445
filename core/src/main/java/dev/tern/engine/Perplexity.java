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
        return perplexity(new Recompute(model, workers, KVCacheType.F16), model.config().vocab(), tokens, ctx,
                Integer.MAX_VALUE, ctx / 2);
    }

    /**
     * Perplexity over at most {@code maxChunks} chunks, each computing logits from position {@code logitsFrom}
     * (≤ ctx/2) on, so that an observer of {@code runner} sees the output matrix's inputs for those positions
     * too (llama-imatrix's run, {@link ImportanceCollector}).
     */
    public static double perplexity(Recompute runner, int vocab, int[] tokens, int ctx, int maxChunks, int logitsFrom) {
        double[] nll = new double[1];
        long count = forEachScored(runner, vocab, tokens, ctx, maxChunks, logitsFrom,
                (logits, off, next) -> nll[0] -= logSoftmax(logits, off, vocab, next));
        return Math.exp(nll[0] / count);
    }

    /** Receives each scored position's logits, in order: the row at logits[off, off + vocab) and the token that follows. */
    @FunctionalInterface
    public interface Scorer {
        void score(float[] logits, int off, int next);
    }

    /**
     * llama-perplexity's chunk loop: every scored position (ctx/2 … ctx-2 of each chunk) to {@code scorer}.
     * Returns how many there were.
     */
    public static long forEachScored(Recompute runner, int vocab, int[] tokens, int ctx, int maxChunks, int logitsFrom,
                                     Scorer scorer) {
        requireChunks(tokens, ctx);
        int bos = tokens[0];
        int first = ctx / 2;
        long count = 0;
        for (int start = 0, chunk = 0; start + ctx <= tokens.length && chunk < maxChunks; start += ctx, chunk++) {
            int[] part = java.util.Arrays.copyOfRange(tokens, start, start + ctx);
            part[0] = bos;
            float[] logits = runner.logits(part, logitsFrom);
            for (int j = first; j < ctx - 1; j++) {
                scorer.score(logits, (j - logitsFrom) * vocab, tokens[start + j + 1]);
                count++;
            }
        }
        return count;
    }

    /** Fails with a one-line message unless the tokens make two chunks of ctx, as llama-perplexity requires. */
    public static void requireChunks(int[] tokens, int ctx) {
        // Worded for every tool on this chunk loop (perplexity, KL divergence, imatrix).
        if (ctx < 3) {
            throw new TernException("the chunks need a context of at least 3 tokens, got " + ctx);
        }
        if (tokens.length < 2 * ctx) {
            throw new TernException("the text must have at least " + 2 * ctx + " tokens (two chunks of the context of " + ctx
                    + "), it has " + tokens.length);
        }
    }

    /** log p(target) from one row of logits; the sum of exponentials in double, as llama.cpp. */
    static double logSoftmax(float[] logits, int off, int vocab, int target) {
        float max = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < vocab; i++) {
            max = Math.max(max, logits[off + i]);
        }
        return logits[off + target] - max - Math.log(sumExp(logits, off, vocab, max));
    }

    /** Σ exp(logit − max) over a row, each term in float and the sum in double, as llama.cpp's log_softmax. */
    static double sumExp(float[] logits, int off, int vocab, float max) {
        double sum = 0;
        for (int i = 0; i < vocab; i++) {
            sum += (float) Math.exp(logits[off + i] - max);
        }
        return sum;
    }
}
