package dev.tern.sampling;

import dev.tern.TernException;
import dev.tern.tokenizer.Tokenizer;

import java.util.Map;

/**
 * Picks the next token from logits with llama.cpp's common sampler chain: logit biases, then the
 * stages in their order (by default llama.cpp's: repetition / frequency / presence penalties, DRY,
 * top-n-sigma, top-k, typical-p, top-p, min-p, XTC, (dynamic) temperature), and a seeded draw
 * (adaptive-p's when the order lists it); or, with Mirostat, logit biases, temperature and Mirostat alone. The default order has the filters
 * see the logits before temperature, as llama.cpp's. The draws are llama.cpp's too (its dist
 * sampler, and XTC's and Mirostat's, each on its own std::mt19937 with the seed's low 32 bits), so
 * a seed picks the tokens llama.cpp picks with that seed wherever the two compute the same
 * logits. A temperature {@code <= 0} with a temperature stage in the chain is greedy: the argmax
 * after biases, penalties and DRY, ties to the lowest id.
 *
 * <p>Not thread-safe; one instance per generation stream.
 */
public final class Sampler {
    private final SamplerConfig config;
    private final int vocabSize;
    private final PenaltyHistory history;
    private final Candidates cand;
    private final Mt19937 rng;
    /** XTC's own generator: llama.cpp seeds one per sampler. */
    private final Mt19937 xtcRng;
    private final Mirostat mirostat;
    /** The DRY penalty, null when off. */
    private final Dry dry;
    /** adaptive-p in place of the plain draw, null when off. */
    private final AdaptiveP adaptive;
    /** The infill stage, null unless the order lists it. */
    private final Infill infill;
    private final GrammarConstraint constraint;
    /** XTC's decision for the token being drawn (null: not drawn yet), kept for a constraint's second draw. */
    private Boolean xtcCut;
    private float[] scratch;

    /**
     * A sampler with an empty history and its random generator seeded from {@code config.seed()}.
     * Without the tokenizer there is no DRY (its sequence breakers are text): see
     * {@link #Sampler(SamplerConfig, Tokenizer, GrammarConstraint)}.
     */
    public Sampler(SamplerConfig config, int vocabSize) {
        this(config, vocabSize, null);
    }

    /**
     * A sampler that only draws tokens {@code constraint} allows (null: any). As llama.cpp applies a
     * grammar, the chain first draws freely; only a token the constraint refuses makes it draw again
     * with every refused token removed, so a model that keeps to the format pays nothing.
     */
    public Sampler(SamplerConfig config, int vocabSize, GrammarConstraint constraint) {
        this(config, vocabSize, null, constraint);
    }

    /** As {@link #Sampler(SamplerConfig, int, GrammarConstraint)}, with DRY where the settings ask for it. */
    public Sampler(SamplerConfig config, Tokenizer tokenizer, GrammarConstraint constraint) {
        this(config, tokenizer.vocabSize(), tokenizer, constraint);
    }

    private Sampler(SamplerConfig config, int vocabSize, Tokenizer tokenizer, GrammarConstraint constraint) {
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
        this.xtcRng = new Mt19937(config.seed());
        AdvancedSampling a = config.advanced();
        this.mirostat = a.mirostat() == 0 ? null : new Mirostat(a.mirostat(), a.mirostatTau(), a.mirostatEta(), vocabSize);
        if (a.dry().on() && mirostat == null && tokenizer == null) {
            throw new IllegalArgumentException("DRY needs the tokenizer (its sequence breakers are text)");
        }
        this.dry = a.dry().on() && mirostat == null ? new Dry(a.dry(), tokenizer) : null;
        this.adaptive = a.adaptiveOn() ? new AdaptiveP(a.adaptiveTarget(), a.adaptiveDecay(), vocabSize) : null;
        boolean infillListed = a.order().contains(SamplerStage.INFILL);
        if (infillListed && mirostat == null && tokenizer == null) {
            throw new IllegalArgumentException("the infill sampler needs the tokenizer (it compares the tokens' text)");
        }
        this.infill = infillListed && mirostat == null ? new Infill(tokenizer) : null;
        this.constraint = constraint;
    }

    /** The settings this sampler was made with. */
    public SamplerConfig config() {
        return config;
    }

    /**
     * Samples a token, records it in the penalty history (do not {@link #accept} it again) and
     * returns it. Overwrites {@code logits} with the biased (and, if constrained, masked) logits.
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
        applyBias(logits);
        xtcCut = null;
        int token = draw(logits);
        if (constraint != null && !constraint.allows(token)) {
            constraint.mask(logits);
            token = draw(logits);
        }
        return token;
    }

    /** The chain after the biases: greedy, Mirostat, or the stages and a seeded draw. */
    private int draw(float[] logits) {
        if (greedy()) {
            return greedyPick(logits);
        }
        if (mirostat != null) {
            cand.fill(logits);
            cand.scale(config.temperature());
            return cand.ids[mirostat.draw(cand, rng)];
        }
        chain(logits, null);
        if (adaptive != null) {
            adaptive.transform(cand);
        }
        int i = cand.draw(rng.nextDouble());
        if (adaptive != null) {
            adaptive.drawn(cand, i);
        }
        return cand.ids[i];
    }

    /**
     * Greedy: a temperature at or below 0 where the chain has a temperature (llama.cpp's keeps the
     * largest logit there), or with Mirostat.
     */
    private boolean greedy() {
        return config.temperature() <= 0f && (mirostat != null || config.advanced().order().contains(SamplerStage.TEMPERATURE));
    }

    /** The largest logit after the penalties and DRY (none with Mirostat), ties to the lowest id. */
    private int greedyPick(float[] logits) {
        cand.fill(logits);
        if (mirostat == null) {
            for (SamplerStage stage : config.advanced().order()) {
                if (stage == SamplerStage.PENALTIES || stage == SamplerStage.DRY) {
                    apply(stage, null);
                }
            }
        }
        int best = 0;
        for (int i = 1; i < cand.size; i++) {
            if (cand.logits[i] > cand.logits[best]) {
                best = i;
            }
        }
        return cand.ids[best];
    }

    /**
     * Records a token drawn outside {@link #sample} from {@link #probabilities} (speculative
     * verification) as sample would: in the penalty history, and past the constraint.
     */
    public void chosen(int token) {
        accept(token);
        if (adaptive != null) {
            adaptive.accept(token);
        }
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
        if (dry != null) {
            dry.accept(token);
        }
    }

    /** Forgets the penalty history (a new conversation). The random stream continues. */
    public void resetHistory() {
        history.clear();
        if (dry != null) {
            dry.clear();
        }
    }

    /**
     * The distribution {@link #sample} draws from given the current history and constraint state:
     * one entry per vocabulary token, zero for filtered or refused tokens; one-hot when greedy.
     * With a constraint, sample draws from the filtered distribution and, when it draws a refused
     * token, again from the filtered masked one: so this is the first with its refused tokens'
     * mass R removed, plus R times the second. XTC's cut enters with its probability. Does not
     * modify {@code logits}, the history, the constraint or the random state. Not for Mirostat or
     * adaptive-p, whose state follows each drawn token ({@link SamplerConfig#allowsSpeculation}).
     */
    public float[] probabilities(float[] logits) {
        checkLength(logits);
        if (!config.allowsSpeculation()) {
            throw new IllegalStateException("Mirostat's and adaptive-p's distributions depend on the tokens drawn; they have no fixed probabilities");
        }
        if (scratch == null) {
            scratch = new float[vocabSize];
        }
        System.arraycopy(logits, 0, scratch, 0, vocabSize);
        applyBias(scratch);
        float[] out = new float[vocabSize];
        if (greedy()) {
            int best = greedyPick(scratch);
            if (constraint != null && !constraint.allows(best)) {
                constraint.mask(scratch);
                best = greedyPick(scratch);
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
        // XTC decides once per token when the first draw's candidates let it; else the second draw's may.
        double cut = xtcChance(scratch);
        double[] sum = new double[vocabSize];
        add(sum, scratch, masked, false, 1 - cut, cut == 0);
        add(sum, scratch, masked, true, cut, false);
        for (int id = 0; id < vocabSize; id++) {
            out[id] = (float) sum[id];
        }
        return out;
    }

    /**
     * Adds w times the distribution of a token drawn with XTC's decision {@code cut}: the first
     * draw's allowed tokens, and its refused mass times the second draw's distribution over the
     * masked logits (with a fresh XTC decision if {@code secondDecides}).
     */
    private void add(double[] sum, float[] logits, float[] masked, boolean cut, double w, boolean secondDecides) {
        if (w == 0) {
            return;
        }
        chain(logits, cut);
        cand.softmax();
        double refused = 0;
        for (int i = 0; i < cand.size; i++) {
            int id = cand.ids[i];
            if (masked != null && masked[id] == Float.NEGATIVE_INFINITY) {
                refused += cand.probs[i];
            } else {
                sum[id] += w * cand.probs[i];
            }
        }
        if (refused > 0) {
            double secondCut = secondDecides ? xtcChance(masked) : cut ? 1 : 0;
            addChain(sum, masked, false, w * refused * (1 - secondCut));
            addChain(sum, masked, true, w * refused * secondCut);
        }
    }

    /**
     * XTC's chance of cutting a draw from these logits: its probability when it could cut, else 0;
     * the chain runs only to learn that when XTC is on.
     */
    private double xtcChance(float[] logits) {
        AdvancedSampling a = config.advanced();
        return a.xtcOn() && chain(logits, false) ? a.xtcProbability() : 0;
    }

    /** Adds w times the chain's distribution over these logits, with or without XTC's cut. */
    private void addChain(double[] sum, float[] logits, boolean cut, double w) {
        if (w == 0) {
            return;
        }
        chain(logits, cut);
        cand.softmax();
        for (int i = 0; i < cand.size; i++) {
            sum[cand.ids[i]] += w * cand.probs[i];
        }
    }

    /**
     * Runs the chain's stages, in their order, over these logits into {@link #cand}. XTC cuts as
     * {@code cut} says, or (null) as its chance decides, drawn once per token whenever it could cut
     * (as llama.cpp's draws it; llama.cpp draws again for a constraint's second draw, and its two
     * generators of one seed then make that chance follow the first draw, so that no fixed
     * distribution describes the token). Returns whether XTC could cut: it is on and at least two
     * candidates reached it.
     */
    private boolean chain(float[] logits, Boolean cut) {
        cand.fill(logits);
        boolean xtcCould = false;
        for (SamplerStage stage : config.advanced().order()) {
            xtcCould |= apply(stage, cut);
        }
        return xtcCould;
    }

    /** One stage over {@link #cand}; returns whether it was XTC and could cut. */
    private boolean apply(SamplerStage stage, Boolean cut) {
        AdvancedSampling a = config.advanced();
        switch (stage) {
            case PENALTIES -> {
                float repeat = config.repeatPenalty();
                float freq = config.frequencyPenalty();
                float presence = config.presencePenalty();
                if (config.repeatLastN() != 0 && (repeat != 1f || freq != 0f || presence != 0f)) {
                    history.apply(cand, repeat, freq, presence);
                }
            }
            case DRY -> {
                if (dry != null) {
                    dry.apply(cand);
                }
            }
            case TOP_N_SIGMA -> cand.topNSigma(a.topNSigma());
            case TOP_K -> cand.topK(config.topK());
            case TYPICAL_P -> cand.typical(a.typicalP(), a.minKeep());
            case TOP_P -> cand.topP(config.topP(), a.minKeep());
            case MIN_P -> cand.minP(config.minP(), a.minKeep());
            case XTC -> {
                if (!a.xtcOn() || cand.size < 2) {
                    return false;
                }
                if (cut == null && xtcCut == null) {
                    xtcCut = xtcRng.nextFloat() <= a.xtcProbability();
                }
                if (cut != null ? cut : xtcCut) {
                    cand.excludeTopChoices(a.xtcThreshold(), a.minKeep());
                }
                return true;
            }
            case TEMPERATURE -> cand.scale(config.temperature(), a.dynatempRange(), a.dynatempExponent());
            case INFILL -> infill.apply(cand);
            case ADAPTIVE_P -> {
                // Not a filter: the draw (see draw), last wherever it is listed.
            }
        }
        return false;
    }

    /** Logit biases, first in llama.cpp's chain. */
    private void applyBias(float[] logits) {
        checkLength(logits);
        for (Map.Entry<Integer, Float> e : config.logitBias().entrySet()) {
            logits[e.getKey()] += e.getValue();
        }
    }

    private void checkLength(float[] logits) {
        if (logits.length != vocabSize) {
            throw new IllegalArgumentException("expected " + vocabSize + " logits, got " + logits.length);
        }
    }
}
