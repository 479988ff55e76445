package dev.tern.engine;

/** Log-softmax of raw logits for one sampled token and its top alternatives. */
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
}
