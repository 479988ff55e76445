package dev.tern.sampling;

/**
 * Reads an output byte by byte and says whether it can still be one of a {@link Grammar}'s
 * texts: what {@link GrammarConstraint} asks of each grammar kind. Trying a token is a
 * {@link #copyFrom} of the current state and a few feeds, so implementations allocate nothing there.
 */
interface Recognizer {
    /** Takes one byte (0..255); false if it cannot continue the text (the state is then spent). */
    boolean feed(int b);

    /** Takes the bytes in order; false as soon as one cannot continue the text (the state is then spent). */
    default boolean feed(byte[] bytes) {
        for (byte b : bytes) {
            if (!feed(b & 0xFF)) {
                return false;
            }
        }
        return true;
    }

    /** Whether the bytes so far are a whole text of the grammar (an end may come). */
    boolean complete();

    /** Becomes a copy of {@code other}, a recognizer of the same grammar. */
    void copyFrom(Recognizer other);

    /** Whether nearly any byte may come next (inside a JSON string): trying each token then beats sharing prefixes. */
    boolean takesAlmostAnything();
}
