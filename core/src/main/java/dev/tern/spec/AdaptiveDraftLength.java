package dev.tern.spec;

/**
 * Chooses how many tokens to propose from the recent acceptance rate. Treating each drafted token
 * as accepted independently with probability α, a round proposing k tokens yields
 * E(k) = 1 + α + … + α^k tokens. α is estimated from decayed counts of accepted tokens over
 * verified ones (a rejected token counts as one verified, drafts after it as none).
 * <p>
 * Once {@link #observeCost} has seen passes of different widths, the length maximises tokens per
 * time, E(k) / (C(k+1) + d·k), with C(n) the time of a target pass feeding n tokens ({@link
 * PassCosts}, over the last {@link #STALE_AFTER} passes) and d the time per proposed token: the
 * right length depends on how much a wider verify pass costs on this machine. Until then the
 * length is the largest k whose last token is used with probability α^k ≥ {@code threshold}.
 * Either way it is clamped to [min, max]. A length kept short by the costs proposes the maximum
 * every {@link #EXPLORE_EVERY} rounds, so that the wide passes are measured again.
 */
public final class AdaptiveDraftLength {
    /** Weight of the previous rounds in the estimate: about the last ten rounds matter. */
    private static final double DECAY = 0.9;
    /** Passes the cost fit needs before it is trusted (of at least two widths). */
    private static final int MIN_PASSES = 6;
    private static final int EXPLORE_EVERY = 16;
    private static final int STALE_AFTER = 32;

    private final int min;
    private final int max;
    private final double logThreshold;
    private double accepted;
    private double verified;
    private final PassCosts passCosts;
    /** Estimated time of proposing one token, ns. */
    private double proposeNanos;
    private int rounds;

    /**
     * @param min       fewest tokens to propose (at least 1, so the rate keeps being measured)
     * @param max       most tokens to propose
     * @param threshold in (0, 1): propose the k-th token while α^k is at least this
     */
    public AdaptiveDraftLength(int min, int max, double threshold) {
        if (min < 1 || max < min) {
            throw new IllegalArgumentException("need 1 <= min <= max, got " + min + ", " + max);
        }
        if (!(threshold > 0 && threshold < 1)) {
            throw new IllegalArgumentException("threshold must be in (0, 1), got " + threshold);
        }
        this.min = min;
        this.max = max;
        this.logThreshold = Math.log(threshold);
        this.passCosts = new PassCosts(max + 1, MIN_PASSES, STALE_AFTER);
    }

    /**
     * For a draft model: one more drafted token costs a draft step plus a little verify work,
     * a fraction of a target step, so it is worth it while it is used at least 20% of the time.
     */
    public static AdaptiveDraftLength forDraftModel(int min, int max) {
        return new AdaptiveDraftLength(min, max, 0.2);
    }

    /** For prompt lookup: proposing is free, only the verify pass grows, so the bar is lower. */
    public static AdaptiveDraftLength forLookup(int min, int max) {
        return new AdaptiveDraftLength(min, max, 0.1);
    }

    /** A fixed length: always {@code k}. */
    public static AdaptiveDraftLength fixed(int k) {
        return new AdaptiveDraftLength(k, k, 0.5);
    }

    /** The number of tokens to propose next; {@code max} until something has been verified. */
    public int next() {
        if (verified == 0) {
            return max;
        }
        double alpha = acceptanceRate();
        double[] costs = passCosts.costs(max + 1);
        if (costs != null) {
            int k = fastest(alpha, costs, proposeNanos);
            return k < max && ++rounds % EXPLORE_EVERY == 0 ? max : k;
        }
        if (alpha >= 1) {
            return max;
        }
        if (alpha <= 0) {
            return min;
        }
        double k = Math.floor(logThreshold / Math.log(alpha));
        return (int) Math.max(min, Math.min(max, k));
    }

    /** The k in [min, max] with the most expected tokens per unit of time, a pass of n tokens costing cost[n]. */
    private int fastest(double alpha, double[] cost, double d) {
        int best = min;
        double bestRate = -1;
        double expected = 1;
        double power = 1;
        for (int k = 1; k <= max; k++) {
            power *= alpha;
            expected += power;
            double rate = expected / (cost[k + 1] + d * k);
            if (k >= min && rate > bestRate * (1 + 1e-9)) {
                best = k;
                bestRate = rate;
            }
        }
        return best;
    }

    /**
     * Records the cost of one round: a target pass feeding {@code width} tokens took
     * {@code passNanos}, and proposing its {@code proposed} tokens took {@code proposeNanos}.
     */
    public void observeCost(int width, long passNanos, int proposed, long proposeNanos) {
        if (width < 1 || width > max + 1 || passNanos <= 0) {
            return;
        }
        passCosts.observe(width, passNanos);
        if (proposed > 0) {
            this.proposeNanos = PassCosts.follow(this.proposeNanos, (double) proposeNanos / proposed);
        }
    }

    /** Records one round: {@code drafted} tokens proposed, the first {@code accepted} of them kept. */
    public void update(int drafted, int accepted) {
        if (accepted < 0 || accepted > drafted) {
            throw new IllegalArgumentException("accepted " + accepted + " of " + drafted);
        }
        if (drafted == 0) {
            return;
        }
        int checked = accepted == drafted ? drafted : accepted + 1;
        this.accepted = DECAY * this.accepted + accepted;
        this.verified = DECAY * this.verified + checked;
    }

    /** The current estimate of α, the chance that a drafted token is accepted (1 before any data). */
    public double acceptanceRate() {
        return verified == 0 ? 1.0 : accepted / verified;
    }

    public int min() {
        return min;
    }

    public int max() {
        return max;
    }
}
