package dev.tern.sampling;

/** Reads an output for a {@link TextPattern}: each character moves the pattern's automaton. */
final class PatternRecognizer extends CodePointRecognizer {
    private final StringPattern pattern;
    private long[] states;
    private long[] spare;

    PatternRecognizer(TextPattern grammar) {
        this.pattern = grammar.pattern();
        this.states = new long[pattern.words()];
        this.spare = new long[pattern.words()];
        pattern.start(states);
    }

    @Override
    protected boolean step(int c) {
        boolean alive = pattern.step(states, c, spare);
        long[] t = states;
        states = spare;
        spare = t;
        return alive;
    }

    @Override
    protected boolean takesAny(int lo, int hi) {
        return pattern.consumesAny(states, lo, hi);
    }

    @Override
    protected boolean accepts() {
        return pattern.accepts(states);
    }

    @Override
    protected void copyStateFrom(CodePointRecognizer other) {
        System.arraycopy(((PatternRecognizer) other).states, 0, states, 0, states.length);
    }
}
