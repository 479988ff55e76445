package dev.tern.engine;

/**
 * Limits of a {@link Scheduler}.
 *
 * @param maxRunning    requests generating at once (the batch's decode width)
 * @param tokenBudget   tokens per forward pass (at least maxRunning): decode tokens first, then prompt chunks
 * @param maxWaiting    requests that may wait for a place; more are refused with {@link QueueFullException}
 * @param maxKvBlocks   KV blocks the scheduler may use (0: the whole pool)
 * @param prefixCaching reuse the KV blocks of common prompt prefixes
 */
public record SchedulerConfig(int maxRunning, int tokenBudget, int maxWaiting, int maxKvBlocks, boolean prefixCaching) {
    public SchedulerConfig {
        // A budget below the running count would starve the newest decoders every step.
        if (maxRunning < 1 || tokenBudget < maxRunning || maxWaiting < 0 || maxKvBlocks < 0) {
            throw new IllegalArgumentException("bad scheduler limits: running " + maxRunning + ", budget " + tokenBudget
                    + ", waiting " + maxWaiting + ", blocks " + maxKvBlocks);
        }
    }

    /** 16 running, 512 tokens per step, 256 waiting, the whole pool, prefix caching on. */
    public static SchedulerConfig defaults() {
        return new SchedulerConfig(16, 512, 256, 0, true);
    }
}
