package dev.tern.spec;

/**
 * Chooses how many tokens to propose from the recent acceptance rate. Treating each drafted token
 * as accepted independently with probability α, the k-th one is used with probability α^k; the
 * length is the largest k for which that stays at least {@code threshold} (the break-even point of
 * one more drafted token), clamped to [min, max]. α is estimated from decayed counts of accepted
 * tokens over verified ones (a rejected token counts as one verified, drafts after it as none).
 */
public final class AdaptiveDraftLength {
    /** Weight of the previous rounds in the estimate: about the last ten rounds matter. */
    private static final double DECAY = 0.9;

    private final int min;
    private final int max;
    private final double logThreshold;
    private double accepted;
    private double verified;

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
        if (alpha >= 1) {
            return max;
        }
        if (alpha <= 0) {
            return min;
        }
        double k = Math.floor(logThreshold / Math.log(alpha));
        return (int) Math.max(min, Math.min(max, k));
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
