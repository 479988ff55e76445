package dev.tern.sampling;

import dev.tern.TernException;

import java.util.Map;

/**
 * Picks the next token from logits with llama.cpp's common sampler chain: logit biases,
 * repetition / frequency / presence penalties, then top-k, top-p, min-p, temperature, and a
 * seeded draw. Top-p and min-p see the logits before temperature, as in llama.cpp. The draw is
 * llama.cpp's too (its dist sampler on std::mt19937 with the seed's low 32 bits), so a seed picks
 * the tokens llama.cpp picks with that seed wherever the two compute the same logits. A
 * temperature {@code <= 0} is greedy: the argmax after biases and penalties, ties to the lowest id.
 *
 * <p>Not thread-safe; one instance per generation stream.
 */
public final class Sampler {
    private final SamplerConfig config;
    private final int vocabSize;
    private final PenaltyHistory history;
    private final Candidates cand;
    private final Mt19937 rng;
    private final GrammarConstraint constraint;
    private float[] scratch;

    /** A sampler with an empty history and its random generator seeded from {@code config.seed()}. */
    public Sampler(SamplerConfig config, int vocabSize) {
        this(config, vocabSize, null);
    }

    /**
     * A sampler that only draws tokens {@code constraint} allows (null: any). As llama.cpp applies a
     * grammar, the chain first draws freely; only a token the constraint refuses makes it draw again
     * with every refused token removed, so a model that keeps to the format pays nothing.
     */
    public Sampler(SamplerConfig config, int vocabSize, GrammarConstraint constraint) {
        if (vocabSize <= 0) {
            throw new IllegalArgumentException("vocabulary size must be positive: " + vocabSize);
        }
        for (int token : config.logitBias().keySet()) {
            if (token >= vocabSize) {
                throw new TernException("logit bias for token " + token + " outside the vocabulary of " + vocabSize);
            }
        }
        this.config = config;
        this.vocabSize = vocabSize;
        this.history = new PenaltyHistory(vocabSize, config.repeatLastN());
        this.cand = new Candidates(vocabSize);
        this.rng = new Mt19937(config.seed());
        this.constraint = constraint;
    }

    /** The settings this sampler was made with. */
    public SamplerConfig config() {
        return config;
    }

    /**
     * Samples a token, records it in the penalty history (do not {@link #accept} it again) and
     * returns it. Overwrites {@code logits} with the penalised (and, if constrained, masked) logits.
     */
    public int sample(float[] logits) {
        int token = pick(logits);
        chosen(token);
        return token;
    }

    /**
     * The token {@link #sample} returns, without recording it: the caller records the token it
     * keeps with {@link #chosen} (a test that follows another engine's tokens records those).
     */
    int pick(float[] logits) {
        applyBiasAndPenalties(logits);
        int token = draw(logits);
        if (constraint != null && !constraint.allows(token)) {
            constraint.mask(logits);
            token = draw(logits);
        }
        return token;
    }

    /** The chain after the penalties: greedy, or filters and a seeded draw. */
    private int draw(float[] logits) {
        if (config.temperature() <= 0f) {
            return argmax(logits);
        }
        filter(logits);
        return cand.ids[cand.draw(rng.nextDouble())];
    }

    /**
     * Records a token drawn outside {@link #sample} from {@link #probabilities} (speculative
     * verification) as sample would: in the penalty history, and past the constraint.
     */
    public void chosen(int token) {
        accept(token);
        if (constraint != null) {
            constraint.accept(token);
        }
    }

    /** Records a token of the prompt in the penalty history. */
    public void accept(int token) {
        if (token < 0 || token >= vocabSize) {
            throw new IllegalArgumentException("token " + token + " outside vocabulary of " + vocabSize);
        }
        history.add(token);
    }

    /** Forgets the penalty history (a new conversation). The random stream continues. */
    public void resetHistory() {
        history.clear();
    }

    /**
     * The distribution {@link #sample} draws from given the current history and constraint state:
     * one entry per vocabulary token, zero for filtered or refused tokens; one-hot when greedy.
     * With a constraint, sample draws from the filtered distribution and, when it draws a refused
     * token, again from the filtered masked one: so this is the first with its refused tokens'
     * mass R removed, plus R times the second. Does not modify {@code logits}, the history, the
     * constraint or the random state.
     */
    public float[] probabilities(float[] logits) {
        checkLength(logits);
        if (scratch == null) {
            scratch = new float[vocabSize];
        }
        System.arraycopy(logits, 0, scratch, 0, vocabSize);
        applyBiasAndPenalties(scratch);
        float[] out = new float[vocabSize];
        if (config.temperature() <= 0f) {
            int best = argmax(scratch);
            if (constraint != null && !constraint.allows(best)) {
                constraint.mask(scratch);
                best = argmax(scratch);
            }
            out[best] = 1f;
            return out;
        }
        // One mask (which shares token prefixes) says what is refused: cheaper than asking token by token.
        float[] masked = null;
        if (constraint != null) {
            masked = scratch.clone();
            constraint.mask(masked);
        }
        filter(scratch);
        cand.softmax();
        double refused = 0;
        for (int i = 0; i < cand.size; i++) {
            int id = cand.ids[i];
            if (masked != null && masked[id] == Float.NEGATIVE_INFINITY) {
                refused += cand.probs[i];
            } else {
                out[id] = cand.probs[i];
            }
        }
        if (refused > 0) {
            filter(masked);
            cand.softmax();
            for (int i = 0; i < cand.size; i++) {
                out[cand.ids[i]] += (float) (refused * cand.probs[i]);
            }
        }
        return out;
    }

    /** Logit biases first (llama.cpp's order), then the repetition penalties. */
    private void applyBiasAndPenalties(float[] logits) {
        checkLength(logits);
        for (Map.Entry<Integer, Float> e : config.logitBias().entrySet()) {
            logits[e.getKey()] += e.getValue();
        }
        float repeat = config.repeatPenalty();
        float freq = config.frequencyPenalty();
        float presence = config.presencePenalty();
        if (config.repeatLastN() == 0 || (repeat == 1f && freq == 0f && presence == 0f)) {
            return;
        }
        history.apply(logits, repeat, freq, presence);
    }

    private void filter(float[] logits) {
        cand.fill(logits);
        cand.topK(config.topK());
        cand.topP(config.topP());
        cand.minP(config.minP());
        cand.scale(config.temperature());
    }

    private static int argmax(float[] logits) {
        int best = 0;
        for (int i = 1; i < logits.length; i++) {
            if (logits[i] > logits[best]) {
                best = i;
            }
        }
        return best;
    }

    private void checkLength(float[] logits) {
        if (logits.length != vocabSize) {
            throw new IllegalArgumentException("expected " + vocabSize + " logits, got " + logits.length);
        }
    }
}
