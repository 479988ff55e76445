package dev.tern.sampling;

import dev.tern.TernException;
import dev.tern.tokenizer.Tokenizer;

import java.util.Arrays;
import java.util.stream.IntStream;

/**
 * Keeps one generation to the texts of a {@link Grammar}: a single JSON value of a
 * {@link JsonSchema} (OpenAI's {@code response_format} {@code json_object} or
 * {@code json_schema}), a text a {@link TextPattern} matches (vLLM's {@code guided_regex} and
 * {@code guided_choice}), or a text of a {@link GbnfGrammar} (llama.cpp's {@code grammar}). A token is allowed when its bytes continue the text written so far; an
 * end-of-generation token only once the text is whole. Control tokens never are.
 *
 * <p>One instance per generation stream; {@link Vocabulary} is shared.
 */
public final class GrammarConstraint {
    private final Vocabulary vocab;
    private final Grammar grammar;
    private final Recognizer state;
    /** Where a token is tried: {@link #accept} takes its state after {@link #allows}. */
    private final Recognizer trial;
    /** One recognizer per prefix length of the token being tried, made at the first mask. */
    private Recognizer[] paths;

    public GrammarConstraint(Vocabulary vocab, Grammar grammar) {
        this.vocab = vocab;
        this.grammar = grammar;
        this.state = recognizer(grammar);
        this.trial = recognizer(grammar);
    }

    private static Recognizer recognizer(Grammar grammar) {
        return switch (grammar) {
            case JsonSchema schema -> new JsonGrammar(schema);
            case TextPattern pattern -> new PatternRecognizer(pattern);
            case GbnfGrammar gbnf -> new GbnfRecognizer(gbnf);
            case ChoiceGrammar c -> new ChoiceRecognizer(c, GrammarConstraint::recognizer);
            case TriggeredGrammar t -> new TriggeredRecognizer(t, () -> recognizer(t.grammar()));
        };
    }

    /**
     * Each token's bytes, read once per tokenizer, and the text tokens in byte order with the
     * length each shares with the one before: a mask then feeds a shared prefix once, and skips
     * every token that begins with a prefix already refused.
     */
    public static final class Vocabulary {
        private final byte[][] bytes;
        private final boolean[] endOfGeneration;
        private final int[] sorted;
        private final int[] shared;
        private final int longest;

        public Vocabulary(Tokenizer tokenizer) {
            int n = tokenizer.vocabSize();
            bytes = new byte[n][];
            endOfGeneration = new boolean[n];
            for (int id = 0; id < n; id++) {
                endOfGeneration[id] = tokenizer.isEndOfGeneration(id);
                // Control tokens print as their names (e.g. "<s>"), which are not text the model writes.
                byte[] b = tokenizer.isControl(id) ? null : tokenizer.tokenBytes(id);
                bytes[id] = b == null || b.length == 0 || endOfGeneration[id] ? null : b;
            }
            sorted = IntStream.range(0, n).filter(id -> bytes[id] != null).boxed()
                    .sorted((a, b) -> Arrays.compareUnsigned(bytes[a], bytes[b])).mapToInt(Integer::intValue).toArray();
            shared = new int[sorted.length];
            int max = 0;
            for (int i = 0; i < sorted.length; i++) {
                byte[] b = bytes[sorted[i]];
                max = Math.max(max, b.length);
                if (i > 0) {
                    int m = Arrays.mismatch(bytes[sorted[i - 1]], b);
                    shared[i] = m < 0 ? b.length : m;
                }
            }
            longest = max;
        }
    }

    /** Whether {@code token} may come next. */
    public boolean allows(int token) {
        if (vocab.endOfGeneration[token]) {
            return state.complete();
        }
        byte[] b = vocab.bytes[token];
        if (b == null) {
            return false;
        }
        trial.copyFrom(state);
        return trial.feed(b);
    }

    /** Sets the logit of every token not {@link #allows allowed} to -∞. */
    public void mask(float[] logits) {
        boolean[] allowed = new boolean[logits.length];
        if (state.takesAlmostAnything()) {
            // Nearly every token may continue a string: trying each in turn beats sharing prefixes.
            for (int id = 0; id < allowed.length; id++) {
                allowed[id] = allows(id);
            }
        } else {
            maskSorted(allowed);
        }
        boolean complete = state.complete();
        boolean any = false;
        for (int id = 0; id < logits.length; id++) {
            if (vocab.endOfGeneration[id] ? complete : allowed[id]) {
                any = any || logits[id] > Float.NEGATIVE_INFINITY;
            } else {
                logits[id] = Float.NEGATIVE_INFINITY;
            }
        }
        if (!any) {
            throw new TernException("no token of this vocabulary can continue the " + what());
        }
    }

    /** Which text tokens may come next, trying them in byte order so that shared prefixes are read once. */
    private void maskSorted(boolean[] allowed) {
        if (paths == null) {
            paths = new Recognizer[vocab.longest + 1];
            for (int d = 0; d < paths.length; d++) {
                paths[d] = recognizer(grammar);
            }
        }
        // paths[d] has read the first d bytes of the token being tried, as far as a later token
        // shares them; beyond that the trial recognizer reads on.
        paths[0].copyFrom(state);
        int refusedAt = Integer.MAX_VALUE;
        int[] sorted = vocab.sorted;
        for (int i = 0; i < sorted.length; i++) {
            int id = sorted[i];
            byte[] b = vocab.bytes[id];
            int d = vocab.shared[i];
            if (d >= refusedAt) {
                continue;
            }
            refusedAt = Integer.MAX_VALUE;
            int keep = Math.min(i + 1 < sorted.length ? vocab.shared[i + 1] : 0, b.length);
            boolean ok = true;
            for (; d < keep && ok; d++) {
                paths[d + 1].copyFrom(paths[d]);
                ok = paths[d + 1].feed(b[d] & 0xFF);
            }
            if (ok && d < b.length) {
                trial.copyFrom(paths[d]);
                for (; d < b.length && ok; d++) {
                    ok = trial.feed(b[d] & 0xFF);
                }
            }
            if (!ok) {
                // Every following token that starts with the bytes read so far is refused too.
                refusedAt = d;
            }
            allowed[id] = ok;
        }
    }

    /** Moves past a token that {@link #allows} said may come next. */
    public void accept(int token) {
        if (!allows(token)) {
            throw new IllegalArgumentException("token " + token + " does not continue the " + what());
        }
        if (!vocab.endOfGeneration[token]) {
            state.copyFrom(trial);
        }
    }

    private String what() {
        return switch (grammar) {
            case JsonSchema _ -> "JSON value";
            case TextPattern _ -> "text the pattern matches";
            case GbnfGrammar _ -> "text of the grammar";
            case ChoiceGrammar _ -> "text of one of the options";
            case TriggeredGrammar t -> "constrained part after '" + t.trigger() + "'";
        };
    }

    /** Whether the text is whole (an end-of-generation token may come). */
    public boolean complete() {
        return state.complete();
    }
}
