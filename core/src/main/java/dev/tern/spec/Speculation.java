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

    private final String name;
    private final ProposerFactory proposers;
    private final Supplier<AdaptiveDraftLength> lengths;
    private final int min;
    private final int max;
    private final Tern draft;

    private Speculation(String name, ProposerFactory proposers, Supplier<AdaptiveDraftLength> lengths, int min, int max,
                        Tern draft) {
        if (min < 1 || max < min) {
            throw new IllegalArgumentException("need 1 <= min <= max draft tokens, got " + min + ", " + max);
        }
        this.name = name;
        this.proposers = proposers;
        this.lengths = lengths;
        this.min = min;
        this.max = max;
        this.draft = draft;
    }

    /** Prompt lookup ({@link NgramProposer}): proposing costs nothing but the verify width. */
    public static Speculation ngram(int min, int max) {
        return new Speculation("ngram", config -> new NgramProposer(), () -> AdaptiveDraftLength.forLookup(min, max), min, max,
                null);
    }

    /**
     * A draft model, already loaded with room for one session per running request; refused
     * unless its vocabulary is the target's. Closing this closes the draft model.
     */
    public static Speculation draftModel(Tern draft, Tokenizer target, String draftName, float minConfidence, int min,
                                         int max) {
        DraftModelProposer.requireSameVocabulary(target, draft.tokenizer(), draftName);
        int vocab = target.vocabSize();
        // The draft's own draws must not repeat the target's random stream.
        return new Speculation("draft", config -> new DraftModelProposer(draft.newSession(), vocab, config,
                config.seed() ^ 0x9E3779B97F4A7C15L, minConfidence),
                () -> AdaptiveDraftLength.forDraftModel(min, max), min, max, draft);
    }

    /** "ngram" or "draft". */
    public String name() {
        return name;
    }

    /** A new request's proposer; close it when the request ends. */
    public Proposer open(SamplerConfig config) {
        return proposers.open(config);
    }

    /** A new request's draft length policy. */
    public AdaptiveDraftLength lengths() {
        return lengths.get();
    }

    public int min() {
        return min;
    }

    public int max() {
        return max;
    }

    @Override
    public void close() {
        if (draft != null) {
            draft.close();
        }
    }
}
