package dev.tern.sampling;

import dev.tern.TernException;
import dev.tern.tokenizer.Tokenizer;

/**
 * Keeps one generation to a single JSON value of a {@link JsonSchema} (OpenAI's
 * {@code response_format} {@code json_object} or {@code json_schema}): a token is allowed when its
 * bytes continue the value written so far; an end-of-generation token only once the value is
 * whole. Control tokens never are.
 *
 * <p>One instance per generation stream; {@link Vocabulary} is shared.
 */
public final class JsonConstraint {
    private final Vocabulary vocab;
    private final JsonGrammar state;
    private final JsonGrammar trial;

    public JsonConstraint(Vocabulary vocab, JsonSchema schema) {
        this.vocab = vocab;
        this.state = new JsonGrammar(schema);
        this.trial = new JsonGrammar(schema);
    }

    /** Each token's bytes, read once per tokenizer. */
    public static final class Vocabulary {
        private final byte[][] bytes;
        private final boolean[] endOfGeneration;

        public Vocabulary(Tokenizer tokenizer) {
            int n = tokenizer.vocabSize();
            bytes = new byte[n][];
            endOfGeneration = new boolean[n];
            for (int id = 0; id < n; id++) {
                endOfGeneration[id] = tokenizer.isEndOfGeneration(id);
                // Control tokens print as their names (e.g. "<s>"), which are not text the model writes.
                bytes[id] = tokenizer.isControl(id) ? null : tokenizer.tokenBytes(id);
            }
        }
    }

    /** Whether {@code token} may come next. */
    public boolean allows(int token) {
        if (vocab.endOfGeneration[token]) {
            return state.complete();
        }
        byte[] b = vocab.bytes[token];
        if (b == null || b.length == 0) {
            return false;
        }
        trial.copyFrom(state);
        return trial.feed(b);
    }

    /** Sets the logit of every token not {@link #allows allowed} to -∞. */
    public void mask(float[] logits) {
        boolean any = false;
        for (int id = 0; id < logits.length; id++) {
            if (allows(id)) {
                any = any || logits[id] > Float.NEGATIVE_INFINITY;
            } else {
                logits[id] = Float.NEGATIVE_INFINITY;
            }
        }
        if (!any) {
            throw new TernException("no token of this vocabulary can continue the JSON value");
        }
    }

    /** Moves past a token that {@link #allows} said may come next. */
    public void accept(int token) {
        if (!allows(token)) {
            throw new IllegalArgumentException("token " + token + " does not continue the JSON value");
        }
        if (!vocab.endOfGeneration[token]) {
            state.copyFrom(trial);
        }
    }

    /** Whether the JSON value is whole (an end-of-generation token may come). */
    public boolean complete() {
        return state.complete();
    }
}
