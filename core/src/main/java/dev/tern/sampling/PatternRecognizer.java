package dev.tern.sampling;

/**
 * Reads an output for a {@link TextPattern}: bytes are decoded as UTF-8 and each code point
 * moves the pattern's automaton; a byte that cannot begin or continue a code point, or a code
 * point that leaves no state alive, is refused.
 */
final class PatternRecognizer implements Recognizer {
    private final StringPattern pattern;
    private long[] states;
    private long[] spare;
    /** The code point being decoded, and how many continuation bytes it still needs. */
    private int codePoint;
    private int pending;
    /** The least code point the sequence being decoded may encode (shorter forms are overlong). */
    private int least;

    PatternRecognizer(TextPattern grammar) {
        this.pattern = grammar.pattern();
        this.states = new long[pattern.words()];
        this.spare = new long[pattern.words()];
        pattern.start(states);
    }

    @Override
    public boolean feed(int b) {
        if (pending == 0) {
            if (b < 0x80) {
                return step(b);
            }
            if (b >= 0xC2 && b < 0xE0) {
                codePoint = b & 0x1F;
                pending = 1;
            } else if (b >= 0xE0 && b < 0xF0) {
                codePoint = b & 0x0F;
                pending = 2;
            } else if (b >= 0xF0 && b < 0xF5) {
                codePoint = b & 0x07;
                pending = 3;
            } else {
                return false;
            }
            least = StringPattern.leastEncoded(pending);
            return pattern.canContinue(states, codePoint, pending, least);
        }
        if ((b & 0xC0) != 0x80) {
            return false;
        }
        codePoint = codePoint << 6 | b & 0x3F;
        if (--pending > 0) {
            return pattern.canContinue(states, codePoint, pending, least);
        }
        return StringPattern.validEncoded(codePoint, least) && step(codePoint);
    }

    private boolean step(int c) {
        boolean alive = pattern.step(states, c, spare);
        long[] t = states;
        states = spare;
        spare = t;
        return alive;
    }

    @Override
    public boolean complete() {
        return pending == 0 && pattern.accepts(states);
    }

    @Override
    public void copyFrom(Recognizer other) {
        PatternRecognizer o = (PatternRecognizer) other;
        System.arraycopy(o.states, 0, states, 0, states.length);
        codePoint = o.codePoint;
        pending = o.pending;
        least = o.least;
    }

    @Override
    public boolean takesAlmostAnything() {
        return false;
    }
}
