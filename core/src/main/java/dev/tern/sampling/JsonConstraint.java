package dev.tern.sampling;

import dev.tern.TernException;
import dev.tern.tokenizer.Tokenizer;

/**
 * Keeps one generation to a single JSON object (OpenAI's {@code response_format: json_object}):
 * a token is allowed when its bytes continue the object written so far; once the object is
 * closed, only end-of-generation tokens are. Control tokens never are.
 *
 * <p>One instance per generation stream; {@link Vocabulary} is shared.
 */
public final class JsonConstraint {
    private final Vocabulary vocab;
    private final JsonGrammar state = new JsonGrammar();
    private final JsonGrammar trial = new JsonGrammar();

    public JsonConstraint(Vocabulary vocab) {
        this.vocab = vocab;
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
        if (state.complete()) {
            return vocab.endOfGeneration[token];
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
            throw new TernException("no token of this vocabulary can continue the JSON object");
        }
    }

    /** Moves past a token that {@link #allows} said may come next. */
    public void accept(int token) {
        if (state.complete()) {
            return;
        }
        if (!allows(token)) {
            throw new IllegalArgumentException("token " + token + " does not continue the JSON object");
        }
        state.copyFrom(trial);
    }

    /** Whether the JSON object is closed. */
    public boolean complete() {
        return state.complete();
    }
}
