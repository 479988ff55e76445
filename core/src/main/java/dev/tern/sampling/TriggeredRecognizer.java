package dev.tern.sampling;

import java.nio.charset.StandardCharsets;
import java.util.function.Supplier;

/**
 * Reads an output for a {@link TriggeredGrammar}: bytes pass freely while the trigger is looked
 * for (a Knuth–Morris–Pratt matcher over bytes); once it is whole, the inner grammar takes over;
 * when the inner text is whole and the next byte cannot continue it, the byte is free text again.
 */
final class TriggeredRecognizer implements Recognizer {
    private final byte[] trigger;
    /** fail[i]: the length of the longest proper border of trigger[0..i]. */
    private final int[] fail;
    private final Recognizer inner;
    private final Recognizer start;
    /** Where a byte is tried against a whole inner text (feeding spends a state it refuses). */
    private final Recognizer before;
    private final boolean atStart;
    private int matched;
    private boolean inside;
    /** With a trigger at the start: the text began otherwise, or its one grammar text is over. */
    private boolean missed;

    /** {@code inner} makes recognizers of the grammar after the trigger. */
    TriggeredRecognizer(TriggeredGrammar g, Supplier<Recognizer> inner) {
        this.trigger = g.trigger().getBytes(StandardCharsets.UTF_8);
        this.atStart = g.atStart();
        this.inner = inner.get();
        this.start = inner.get();
        this.before = inner.get();
        this.fail = new int[trigger.length];
        for (int i = 1, k = 0; i < trigger.length; i++) {
            while (k > 0 && trigger[i] != trigger[k]) {
                k = fail[k - 1];
            }
            if (trigger[i] == trigger[k]) {
                k++;
            }
            fail[i] = k;
        }
    }

    @Override
    public boolean feed(int b) {
        if (inside) {
            if (!inner.complete()) {
                return inner.feed(b);
            }
            before.copyFrom(inner);
            if (inner.feed(b)) {
                return true;
            }
            inner.copyFrom(before);
            inside = false;
            matched = 0;
            missed = atStart;
        }
        if (atStart) {
            return feedAtStart(b);
        }
        while (matched > 0 && (trigger[matched] & 0xFF) != b) {
            matched = fail[matched - 1];
        }
        if ((trigger[matched] & 0xFF) == b) {
            matched++;
        }
        if (matched == trigger.length) {
            inside = true;
            matched = 0;
            inner.copyFrom(start);
        }
        return true;
    }

    /** Whitespace, then the trigger (fed to the grammar as its first text) or free text for good. */
    private boolean feedAtStart(int b) {
        if (missed || (matched == 0 && (b == ' ' || b == '\n' || b == '\t' || b == '\r'))) {
            return true;
        }
        if ((trigger[matched] & 0xFF) != b) {
            missed = true;
            return true;
        }
        if (++matched == trigger.length) {
            inside = true;
            matched = 0;
            inner.copyFrom(start);
            for (byte t : trigger) {
                if (!inner.feed(t & 0xFF)) {
                    throw new IllegalStateException("the grammar's text cannot begin with its trigger");
                }
            }
        }
        return true;
    }

    @Override
    public boolean complete() {
        return !inside || inner.complete();
    }

    @Override
    public void copyFrom(Recognizer other) {
        TriggeredRecognizer o = (TriggeredRecognizer) other;
        matched = o.matched;
        inside = o.inside;
        missed = o.missed;
        inner.copyFrom(o.inner);
    }

    @Override
    public boolean takesAlmostAnything() {
        return !inside || inner.takesAlmostAnything();
    }
}
