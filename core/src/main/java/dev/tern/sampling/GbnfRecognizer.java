package dev.tern.sampling;

import dev.tern.TernException;

import java.util.ArrayList;
import java.util.List;

/**
 * Reads an output for a {@link GbnfGrammar} as llama.cpp does: the state is the set of parses in
 * progress, each a stack of positions in the rules whose top waits on a character class; a
 * character advances the stacks whose class takes it, and each is expanded again (finished
 * rules popped, rules about to start pushed) until its top waits on characters once more. The
 * stacks are immutable, so a copy shares them.
 */
final class GbnfRecognizer extends CodePointRecognizer {
    /** A position: the next element of alternative {@code alt} of {@code rule}; {@code parent} resumes after it. */
    private record Frame(int rule, int alt, int pos, Frame parent) {
    }

    private static final Frame[] NONE = new Frame[0];

    private final GbnfGrammar.Element[][][] rules;
    /** The parses in progress, each waiting on the characters at its top. */
    private Frame[] stacks;
    /** Whether some parse has read a whole text of root. */
    private boolean done;

    GbnfRecognizer(GbnfGrammar grammar) {
        this.rules = grammar.rules();
        List<Frame> start = new ArrayList<>();
        boolean[] finished = new boolean[1];
        for (int a = 0; a < rules[grammar.root()].length; a++) {
            expand(new Frame(grammar.root(), a, 0, null), start, finished);
        }
        this.stacks = start.toArray(NONE);
        this.done = finished[0];
    }

    /** Adds f's parses, each expanded until its top waits on characters; a finished root sets finished[0]. */
    private void expand(Frame f, List<Frame> out, boolean[] finished) {
        while (f != null && f.pos == rules[f.rule][f.alt].length) {
            Frame p = f.parent;
            f = p == null ? null : new Frame(p.rule, p.alt, p.pos + 1, p.parent);
        }
        if (f == null) {
            finished[0] = true;
            return;
        }
        GbnfGrammar.Element e = rules[f.rule][f.alt][f.pos];
        if (e instanceof GbnfGrammar.Ref ref) {
            for (int a = 0; a < rules[ref.rule()].length; a++) {
                expand(new Frame(ref.rule(), a, 0, f), out, finished);
            }
        } else if (!out.contains(f)) {
            // A list, not a hash set: there are few parses, and equal ones mostly share their parents, which equals
            // compares by reference first, where hashing walks every stack to its bottom.
            if (out.size() == GbnfGrammar.MAX_STACKS) {
                throw new TernException("grammar: more than " + GbnfGrammar.MAX_STACKS + " parses at once (too ambiguous to follow)");
            }
            out.add(f);
        }
    }

    private GbnfGrammar.Chars top(Frame f) {
        return (GbnfGrammar.Chars) rules[f.rule][f.alt][f.pos];
    }

    @Override
    protected boolean step(int c) {
        List<Frame> next = new ArrayList<>();
        boolean[] finished = new boolean[1];
        for (Frame f : stacks) {
            if (top(f).contains(c)) {
                expand(new Frame(f.rule, f.alt, f.pos + 1, f.parent), next, finished);
            }
        }
        stacks = next.toArray(NONE);
        done = finished[0];
        return stacks.length > 0 || done;
    }

    @Override
    protected boolean takesAny(int lo, int hi) {
        for (Frame f : stacks) {
            if (top(f).intersects(lo, hi)) {
                return true;
            }
        }
        return false;
    }

    @Override
    protected boolean accepts() {
        return done;
    }

    @Override
    protected void copyStateFrom(CodePointRecognizer other) {
        GbnfRecognizer o = (GbnfRecognizer) other;
        stacks = o.stacks;
        done = o.done;
    }
}
