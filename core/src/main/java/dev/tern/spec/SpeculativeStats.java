package dev.tern.spec;

/**
 * What speculation did during one generation.
 *
 * @param drafted        tokens proposed in all
 * @param accepted       proposed tokens the target kept
 * @param targetPasses   target forward passes after the prompt (each verifies a proposal, possibly empty)
 * @param proposalPasses those of them that verified at least one proposed token
 * @param passTokens     tokens produced by those passes (accepted ones plus the target's own)
 * @param proposeMs      time spent proposing (draft model or lookup)
 * @param verifyMs       time spent in target passes
 * @param passesBySize   passesBySize[n]: target passes that fed n tokens (1 = a plain decode step)
 * @param msBySize       msBySize[n]: their total time
 */
public record SpeculativeStats(long drafted, long accepted, int targetPasses, int proposalPasses, long passTokens,
                               double proposeMs, double verifyMs, int[] passesBySize, double[] msBySize) {

    /** Fraction of proposed tokens accepted (0 when nothing was proposed). */
    public double acceptanceRate() {
        return drafted == 0 ? 0 : (double) accepted / drafted;
    }

    /** Accepted tokens per pass that verified a proposal. */
    public double meanAcceptedLength() {
        return proposalPasses == 0 ? 0 : (double) accepted / proposalPasses;
    }

    /** Tokens produced per target pass; 1 would be plain decoding. */
    public double tokensPerPass() {
        return targetPasses == 0 ? 0 : (double) passTokens / targetPasses;
    }

    /** Mean time of a target pass feeding n tokens, NaN when there was none. */
    public double meanPassMs(int n) {
        return n < passesBySize.length && passesBySize[n] > 0 ? msBySize[n] / passesBySize[n] : Double.NaN;
    }
}
