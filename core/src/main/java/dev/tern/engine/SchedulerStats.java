package dev.tern.engine;

/**
 * A {@link Scheduler}'s counters.
 *
 * @param waiting           requests not running (queued or preempted)
 * @param running           requests generating
 * @param kvBlocksUsed      KV blocks in use, idle prefix-cache blocks included
 * @param kvBlocksLimit     KV blocks the scheduler may use
 * @param prefixCacheBlocks blocks the prefix cache knows
 * @param prefixQueried     prompt tokens looked up in the prefix cache
 * @param prefixHits        of those, tokens found there
 * @param preemptions       requests preempted so far
 * @param contextShifts     full contexts a request made room in ({@link ContextShift}) so far
 * @param drafted           speculative guesses verified so far
 * @param draftAccepted     of those, guesses the target agreed with
 * @param proposalPasses    request-steps that verified a proposal
 */
public record SchedulerStats(int waiting, int running, int kvBlocksUsed, int kvBlocksLimit, int prefixCacheBlocks,
                             long prefixQueried, long prefixHits, long preemptions, long contextShifts, long drafted, long draftAccepted,
                             long proposalPasses) {
    /** Fraction of looked-up prompt tokens found in the prefix cache (0 before any lookup). */
    public double prefixHitRate() {
        return prefixQueried == 0 ? 0 : (double) prefixHits / prefixQueried;
    }

    /** Fraction of speculative guesses accepted (0 before any). */
    public double acceptanceRate() {
        return drafted == 0 ? 0 : (double) draftAccepted / drafted;
    }

    /** Guesses accepted per verified proposal (0 before any). */
    public double meanAcceptedLength() {
        return proposalPasses == 0 ? 0 : (double) draftAccepted / proposalPasses;
    }
}
