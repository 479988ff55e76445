package dev.tern.engine;

import java.util.Arrays;

/** A sampled token's log-probability and its top alternatives: under the model or under the sampler. */
final class Logprobs {
    private Logprobs() {
    }

    static TokenLogprob of(float[] logits, int token, int top) {
        float max = Float.NEGATIVE_INFINITY;
        for (float l : logits) {
            max = Math.max(max, l);
        }
        double sum = 0;
        for (float l : logits) {
            sum += Math.exp(l - max);
        }
        float lse = (float) (max + Math.log(sum));
        int k = Math.min(top, logits.length);
        int[] ids = new int[k];
        float[] lps = new float[k];
        boolean[] taken = new boolean[logits.length];
        for (int j = 0; j < k; j++) {
            int best = -1;
            for (int i = 0; i < logits.length; i++) {
                if (!taken[i] && (best < 0 || logits[i] > logits[best])) {
                    best = i;
                }
            }
            taken[best] = true;
            ids[j] = best;
            lps[j] = logits[best] - lse;
        }
        int rank = 1;
        for (float l : logits) {
            if (l > logits[token]) {
                rank++;
            }
        }
        return new TokenLogprob(token, logits[token] - lse, rank, ids, lps);
    }

    /**
     * The same from the distribution the sampler drew {@code token} from (one probability per
     * vocabulary token): the alternatives are the likeliest tokens it gives a chance, at most {@code top}.
     */
    static TokenLogprob sampled(float[] probs, int token, int top) {
        int support = 0;
        for (float p : probs) {
            if (p > 0f) {
                support++;
            }
        }
        Integer[] order = new Integer[support];
        for (int i = 0, n = 0; i < probs.length; i++) {
            if (probs[i] > 0f) {
                order[n++] = i;
            }
        }
        Arrays.sort(order, (a, b) -> Float.compare(probs[b], probs[a]));
        int k = Math.min(top, support);
        int[] ids = new int[k];
        float[] lps = new float[k];
        for (int j = 0; j < k; j++) {
            ids[j] = order[j];
            lps[j] = (float) Math.log(probs[order[j]]);
        }
        int rank = 1;
        for (float p : probs) {
            if (p > probs[token]) {
                rank++;
            }
        }
        return new TokenLogprob(token, (float) Math.log(probs[token]), rank, ids, lps);
    }
}
