package dev.tern.spec;

/**
 * A cheap guesser of the target model's next tokens. Implementations keep whatever state helps
 * them (a draft model's KV cache) and resynchronise from the history they are given, since the
 * target may have rejected part of their previous proposal.
 */
public interface Proposer extends AutoCloseable {

    /**
     * Proposes up to {@code max} tokens to follow {@code history[0, length)} (prompt and accepted
     * output so far); fewer, or {@link Proposal#NONE}, when it has no good guess.
     */
    Proposal propose(int[] history, int length, int max);

    /** Releases resources such as a draft model's cache; the default holds none. */
    @Override
    default void close() {
    }
}
