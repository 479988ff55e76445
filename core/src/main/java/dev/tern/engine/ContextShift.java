package dev.tern.engine;

/**
 * What a generation does when its sequence fills the context: stop ({@link #NONE}), or drop some of
 * the older tokens and go on (llama.cpp's context shift, {@code --context-shift}). The first
 * {@code keep} tokens after a leading BOS stay; of the rest, {@code discard} go (half of them when
 * 0), as llama-server computes its {@code n_keep} and {@code n_discard}.
 * <p>
 * llama.cpp re-rotates the cached keys of the tokens after the gap. Tern computes those tokens again
 * at their new positions instead: a prompt pass over about half the context per shift, in exchange
 * for a result that is exactly a fresh run's on the shortened text, so that batching, preemption
 * and the prefix cache cannot change an output.
 *
 * @param enabled whether a full context shifts rather than ends the generation
 * @param keep    tokens kept at the start after a leading BOS; -1 keeps the whole prompt
 * @param discard tokens dropped per shift; 0 drops half of those after the kept ones
 */
public record ContextShift(boolean enabled, int keep, int discard) {
    /** A full context ends the generation. */
    public static final ContextShift NONE = new ContextShift(false, 0, 0);
    /**
     * Positions a shift always leaves free for generating, as llama-server caps {@code n_keep} at
     * {@code n_ctx - 4}.
     */
    private static final int FREE_AT_LEAST = 4;

    public ContextShift {
        if (keep < -1 || discard < 0) {
            throw new IllegalArgumentException("keep must be -1 or more and discard 0 or more, got " + keep + " and " + discard);
        }
    }

    /** Shifting, keeping {@code keep} tokens (-1: the prompt) and dropping {@code discard} (0: half the rest) per shift. */
    public static ContextShift keeping(int keep, int discard) {
        return new ContextShift(true, keep, discard);
    }

    /**
     * The positions to drop from a sequence {@code tokens[0, length)} that fills a context of
     * {@code contextSize}; its prompt was its first {@code promptLength} tokens and {@code bos}
     * is the vocabulary's BOS id (negative: none). The gap is empty when this shift keeps them all.
     */
    public Gap gap(int[] tokens, int length, int promptLength, int bos, int contextSize) {
        if (!enabled) {
            return new Gap(length, 0);
        }
        int first = length > 0 && bos >= 0 && tokens[0] == bos ? 1 : 0;
        int kept = keep < 0 ? Math.max(first, promptLength) : first + keep;
        kept = Math.min(Math.min(kept, contextSize - FREE_AT_LEAST), length);
        int left = length - Math.max(0, kept);
        int count = discard > 0 ? discard : left / 2;
        count = Math.clamp(count, 0, Math.max(0, left - 1));
        return new Gap(Math.max(0, kept), count);
    }

    /** Positions [from, from + count) of a sequence, to be dropped. */
    public record Gap(int from, int count) {
        /** Removes the gap from {@code tokens[0, length)} in place; returns the new length. */
        public int removeFrom(int[] tokens, int length) {
            System.arraycopy(tokens, from + count, tokens, from, length - from - count);
            return length - count;
        }
    }
}
