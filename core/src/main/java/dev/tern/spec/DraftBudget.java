package dev.tern.spec;

/**
 * Whether the speculating requests of one batched step should guess at all: every guessed token
 * widens the one forward pass all the step's requests share, so whether guessing pays depends on
 * how wide the pass already is. A pass that reads the weights for a few tokens costs little more
 * for a few more, one that is already many tokens wide is bound by its multiply-adds (each guess
 * costs its full share), and then plain decoding is faster, as vLLM's speculative_disable_by_batch_size
 * acknowledges with a fixed bound; here the bound follows the measured costs.
 * <p>
 * Request r guessing k_r tokens is expected to add α_r + … + α_r^k_r tokens ({@link
 * AdaptiveDraftLength}'s model); the step guesses when (yield + Σ gains) / (C(width + Σk) + d·Σk)
 * beats yield / C(width), C being the pass time by width ({@link PassCosts}) and d the time to
 * propose one token. All of the requests' own lengths or none: that model undervalues long
 * guesses, acceptance coming in runs, and cutting each request's length by it lost to the
 * requests' own rule with one client (thirty-ninth session, docs/PERFORMANCE.md).
 */
public final class DraftBudget {
    private DraftBudget() {
    }

    /**
     * @param alpha        per request, its estimated chance that a guess is accepted
     * @param k            per request, the tokens it would guess
     * @param cost         the estimated time of a pass by width (index = width)
     * @param width        the tokens the step feeds without any guess (at least 1)
     * @param yield        the tokens the step yields without any guess (one per decoding request)
     * @param proposeNanos the time to propose one token, in the units of cost
     */
    public static boolean pays(double[] alpha, int[] k, double[] cost, int width, int yield, double proposeNanos) {
        int guesses = 0;
        double tokens = yield;
        for (int i = 0; i < alpha.length; i++) {
            double p = 1;
            for (int j = 0; j < k[i]; j++) {
                p *= alpha[i];
                tokens += p;
            }
            guesses += k[i];
        }
        if (width < 1 || width + guesses >= cost.length) {
            return false;
        }
        return tokens / (cost[width + guesses] + proposeNanos * guesses) > yield / cost[width];
    }
}
