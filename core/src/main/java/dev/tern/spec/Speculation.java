package dev.tern.spec;

import dev.tern.Tern;
import dev.tern.sampling.SamplerConfig;
import dev.tern.tokenizer.Tokenizer;

import java.util.function.Supplier;

/**
 * How a {@link dev.tern.engine.Scheduler} speculates: every request gets a proposer of its own
 * (a draft model keeps one KV cache per request) and its own adaptive draft length, since
 * acceptance differs from prompt to prompt.
 */
public final class Speculation implements AutoCloseable {
    /** Makes a request's proposer for its sampler settings. */
    @FunctionalInterface
    private interface ProposerFactory {
        Proposer open(SamplerConfig config);
    }

    private final ProposerFactory proposers;
    private final Supplier<AdaptiveDraftLength> lengths;
    private final Tern draft;

    private Speculation(ProposerFactory proposers, Supplier<AdaptiveDraftLength> lengths, int min, int max, Tern draft) {
        if (min < 1 || max < min) {
            throw new IllegalArgumentException("need 1 <= min <= max draft tokens, got " + min + ", " + max);
        }
        this.proposers = proposers;
        this.lengths = lengths;
        this.draft = draft;
    }

    /** Prompt lookup ({@link NgramProposer}): proposing costs nothing but the verify width. */
    public static Speculation ngram(int min, int max) {
        return new Speculation(config -> new NgramProposer(), () -> AdaptiveDraftLength.forLookup(min, max), min, max, null);
    }

    /**
     * A draft model, already loaded with room for one session per running request; refused
     * unless its vocabulary is the target's. Takes the draft model over: it is closed with this,
     * or at once when refused.
     */
    public static Speculation draftModel(Tern draft, Tokenizer target, String draftName, float minConfidence, int min,
                                         int max) {
        try {
            DraftModelProposer.requireSameVocabulary(target, draft.tokenizer(), draftName);
        } catch (RuntimeException e) {
            draft.close();
            throw e;
        }
        int vocab = target.vocabSize();
        return new Speculation(config -> new DraftModelProposer(draft.newSession(), vocab, config,
                DraftModelProposer.seedFor(config.seed()), minConfidence, DraftModelProposer.MIN_USE_CHANCE),
                () -> AdaptiveDraftLength.forDraftModel(min, max), min, max, draft);
    }

    /** A new request's proposer; close it when the request ends. */
    public Proposer open(SamplerConfig config) {
        return proposers.open(config);
    }

    /** A new request's draft length policy. */
    public AdaptiveDraftLength lengths() {
        return lengths.get();
    }

    @Override
    public void close() {
        if (draft != null) {
            draft.close();
        }
    }
}
