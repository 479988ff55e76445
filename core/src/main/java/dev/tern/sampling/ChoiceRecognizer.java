package dev.tern.sampling;

import java.nio.charset.StandardCharsets;
import java.util.function.Function;

/**
 * Reads a {@link ChoiceGrammar}: the options whose prefixes the bytes still follow, until one
 * prefix is whole; then that option's grammar.
 */
final class ChoiceRecognizer implements Recognizer {
    private final byte[][] prefixes;
    private final Recognizer[] inner;
    private final Recognizer[] start;
    private final boolean[] alive;
    private int matched;
    private int chosen = -1;

    /** {@code recognizer} makes recognizers of the options' grammars. */
    ChoiceRecognizer(ChoiceGrammar g, Function<Grammar, Recognizer> recognizer) {
        int n = g.options().size();
        prefixes = new byte[n][];
        inner = new Recognizer[n];
        start = new Recognizer[n];
        alive = new boolean[n];
        for (int i = 0; i < n; i++) {
            ChoiceGrammar.Option o = g.options().get(i);
            prefixes[i] = o.prefix().getBytes(StandardCharsets.UTF_8);
            inner[i] = recognizer.apply(o.grammar());
            start[i] = recognizer.apply(o.grammar());
            alive[i] = true;
        }
    }

    @Override
    public boolean feed(int b) {
        if (chosen >= 0) {
            return inner[chosen].feed(b);
        }
        boolean any = false;
        for (int i = 0; i < prefixes.length; i++) {
            alive[i] = alive[i] && (prefixes[i][matched] & 0xFF) == b;
            any |= alive[i];
        }
        if (!any) {
            return false;
        }
        matched++;
        for (int i = 0; i < prefixes.length; i++) {
            if (alive[i] && prefixes[i].length == matched) {
                chosen = i;
                inner[i].copyFrom(start[i]);
            }
        }
        return true;
    }

    @Override
    public boolean complete() {
        return chosen >= 0 && inner[chosen].complete();
    }

    @Override
    public void copyFrom(Recognizer other) {
        ChoiceRecognizer o = (ChoiceRecognizer) other;
        matched = o.matched;
        chosen = o.chosen;
        System.arraycopy(o.alive, 0, alive, 0, alive.length);
        if (chosen >= 0) {
            inner[chosen].copyFrom(o.inner[chosen]);
        }
    }

    @Override
    public boolean takesAlmostAnything() {
        return chosen >= 0 && inner[chosen].takesAlmostAnything();
    }
}
