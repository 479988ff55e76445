package dev.tern.spec;

/**
 * Chooses how many tokens to propose from the recent acceptance rate. Treating each drafted token
 * as accepted independently with probability α, a round proposing k tokens yields
 * E(k) = 1 + α + … + α^k tokens. α is estimated from decayed counts of accepted tokens over
 * verified ones (a rejected token counts as one verified, drafts after it as none).
 * <p>
 * Once {@link #observeCost} has seen passes of different widths, the length maximises tokens per
 * time, E(k) / (C(k+1) + d·k), with C(n) the time of a target pass feeding n tokens and d the
 * time per proposed token: the right length depends on how much a wider verify pass costs on this
 * machine. C is each width's own measured time where it has one, else found between the measured
 * widths around it or, past them, along the least-squares line through them: the kernels change
 * tiles at some widths, so the time steps up rather than growing along a line (stories15M's F32
 * passes: 4 tokens 1.16× a step, 8 tokens 2.07×), and a line through the steps made short drafts
 * look cheaper than they are. Until then the length is the largest k whose last token is used
 * with probability α^k ≥ {@code threshold}. Either way it is clamped to [min, max].
 * <p>
 * A fresh process's first passes of each width run before the JIT has compiled their code,
 * many times slower than later ones; with plain averages those few made wide passes look too
 * dear to try again for the rest of a short run. So the line is fitted through the widths seen
 * in the last {@link #STALE_AFTER} passes only, each width's time a low estimate that drops to
 * a faster pass at once and rises slowly towards slower ones; and a length kept short by the
 * costs proposes the maximum every {@link #EXPLORE_EVERY} rounds, so that the wide passes are
 * measured again.
 */
public final class AdaptiveDraftLength {
    /** Weight of the previous rounds in the estimate: about the last ten rounds matter. */
    private static final double DECAY = 0.9;
    /** How far a time estimate moves towards a slower observation (to a faster one it moves all the way). */
    private static final double TOWARDS_SLOWER = 0.05;
    /** Passes the cost fit needs before it is trusted (of at least two widths). */
    private static final int MIN_PASSES = 6;
    private static final int EXPLORE_EVERY = 16;
    private static final int STALE_AFTER = 32;

    private final int min;
    private final int max;
    private final double logThreshold;
    private double accepted;
    private double verified;
    /** Per width of a target pass, its estimated time in ns (0: not seen). */
    private final double[] passNanos;
    /** Per width, the number of passes seen when it was last seen. */
    private final int[] lastSeen;
    private int passes;
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
        this.passNanos = new double[max + 2];
        this.lastSeen = new int[max + 2];
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
        double[] costs = passCosts();
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
     * The estimated time of a pass by width, 1 to max + 1: a recently measured width's own time;
     * between two measured widths, the straight line joining them; past the last (or before the
     * first), the fitted line's slope from it. Never cheaper with width. Null until enough passes of
     * two widths have been seen.
     */
    private double[] passCosts() {
        double slope = slope();
        if (slope < 0) {
            return null;
        }
        double[] cost = new double[max + 2];
        for (int n = 1; n <= max + 1; n++) {
            int below = n, above = n;
            while (below >= 1 && !recent(below)) {
                below--;
            }
            while (above <= max + 1 && !recent(above)) {
                above++;
            }
            if (below >= 1 && above <= max + 1) {
                cost[n] = below == above ? passNanos[n]
                        : passNanos[below] + (passNanos[above] - passNanos[below]) * (n - below) / (above - below);
            } else if (below >= 1) {
                cost[n] = passNanos[below] + slope * (n - below);
            } else {
                // A pass always costs something.
                cost[n] = Math.max(passNanos[above] - slope * (above - n), 0.05 * passNanos[above]);
            }
            cost[n] = Math.max(cost[n], cost[n - 1]);
        }
        return cost;
    }

    private boolean recent(int width) {
        return passNanos[width] > 0 && passes - lastSeen[width] < STALE_AFTER;
    }

    /** The slope of the least-squares line through the recent widths' times, or -1 while fewer than two were seen. */
    private double slope() {
        double w = 0, sumN = 0, sumT = 0, sumNN = 0, sumNT = 0;
        for (int n = 0; n < passNanos.length; n++) {
            if (recent(n)) {
                w++;
                sumN += n;
                sumT += passNanos[n];
                sumNN += (double) n * n;
                sumNT += n * passNanos[n];
            }
        }
        if (passes < MIN_PASSES || w < 2) {
            return -1;
        }
        double meanN = sumN / w, meanT = sumT / w;
        double var = sumNN / w - meanN * meanN;
        // Noise can tilt the line; a pass never gets cheaper with width.
        return Math.max(0, (sumNT / w - meanN * meanT) / var);
    }

    /** An estimate moved towards an observation: all the way when it is the first or faster. */
    private static double follow(double estimate, double observed) {
        if (estimate == 0 || observed < estimate) {
            return observed;
        }
        return estimate + TOWARDS_SLOWER * (observed - estimate);
    }

    /**
     * Records the cost of one round: a target pass feeding {@code width} tokens took
     * {@code passNanos}, and proposing its {@code proposed} tokens took {@code proposeNanos}.
     */
    public void observeCost(int width, long passNanos, int proposed, long proposeNanos) {
        if (width < 1 || width >= this.passNanos.length || passNanos <= 0) {
            return;
        }
        boolean stale = passes - lastSeen[width] >= STALE_AFTER;
        this.passNanos[width] = follow(stale ? 0 : this.passNanos[width], passNanos);
        lastSeen[width] = ++passes;
        if (proposed > 0) {
            this.proposeNanos = follow(this.proposeNanos, (double) proposeNanos / proposed);
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
