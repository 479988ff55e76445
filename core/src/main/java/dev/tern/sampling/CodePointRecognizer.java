package dev.tern.sampling;

/**
 * A {@link Recognizer} for grammars over characters (a {@link TextPattern}, a
 * {@link GbnfGrammar}): decodes the bytes as UTF-8 and hands each code point to the grammar. A
 * byte that cannot begin or continue a character the grammar takes next is refused at once, so
 * that sampling never takes a byte after which no token can go on.
 */
abstract class CodePointRecognizer implements Recognizer {
    /** The character being decoded, how many continuation bytes it still needs, and the least code point it may be. */
    private int codePoint;
    private int pending;
    private int least;

    /** Moves past code point c; false if the grammar cannot take it here. */
    protected abstract boolean step(int c);

    /** Whether the grammar may take some code point in [lo, hi] next. */
    protected abstract boolean takesAny(int lo, int hi);

    /** Whether the characters so far are a whole text of the grammar. */
    protected abstract boolean accepts();

    /** Copies the grammar's state from {@code other}, a recognizer of the same grammar. */
    protected abstract void copyStateFrom(CodePointRecognizer other);

    @Override
    public final boolean feed(int b) {
        if (pending == 0) {
            int n = Utf8.continuations(b);
            if (n <= 0) {
                return n == 0 && step(b);
            }
            codePoint = Utf8.leadBits(b, n);
            pending = n;
            least = Utf8.least(n);
            return canFinish();
        }
        if ((b & 0xC0) != 0x80) {
            return false;
        }
        codePoint = codePoint << 6 | b & 0x3F;
        if (--pending > 0) {
            return canFinish();
        }
        return Utf8.valid(codePoint, least) && step(codePoint);
    }

    private boolean canFinish() {
        return Utf8.encodable(codePoint, pending, least)
                && takesAny(Utf8.low(codePoint, pending, least), Utf8.high(codePoint, pending));
    }

    @Override
    public final boolean complete() {
        return pending == 0 && accepts();
    }

    @Override
    public final void copyFrom(Recognizer other) {
        CodePointRecognizer o = (CodePointRecognizer) other;
        codePoint = o.codePoint;
        pending = o.pending;
        least = o.least;
        copyStateFrom(o);
    }

    @Override
    public boolean takesAlmostAnything() {
        return false;
    }
}
