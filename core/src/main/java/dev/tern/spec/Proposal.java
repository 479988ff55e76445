package dev.tern.spec;

/**
 * Tokens a {@link Proposer} guesses will follow, in order. {@code distributions[i]} is the
 * vocabulary-sized distribution token i was drawn from; {@code distributions} is null when the
 * guesses are deterministic (greedy drafting, prompt lookup), which the sampling rule treats as
 * one-hot.
 */
public record Proposal(int[] tokens, float[][] distributions) {
    /** Nothing to propose: the step becomes a plain decode step. */
    public static final Proposal NONE = new Proposal(new int[0], null);

    public Proposal {
        if (distributions != null && distributions.length != tokens.length) {
            throw new IllegalArgumentException(tokens.length + " tokens but " + distributions.length + " distributions");
        }
    }

    public int size() {
        return tokens.length;
    }

    /** The distribution of token i, or null when deterministic. */
    public float[] distribution(int i) {
        return distributions == null ? null : distributions[i];
    }
}
