package dev.tern.cli;

import dev.tern.Tern;
import dev.tern.TernException;
import dev.tern.kv.KVCacheType;
import dev.tern.sampling.SamplerConfig;
import dev.tern.spec.AdaptiveDraftLength;
import dev.tern.spec.DraftModelProposer;
import dev.tern.spec.NgramProposer;
import dev.tern.spec.Proposer;
import dev.tern.spec.Speculation;
import picocli.CommandLine.Option;

import java.nio.file.Path;

/** Speculative decoding flags, shared by run, bench and serve: which proposer, and how many tokens it may propose. */
final class SpeculationOptions {
    enum Mode { ngram, draft }

    @Option(names = "--spec", description = "Speculative decoding: ${COMPLETION-CANDIDATES} (default: draft with --draft-model, else off)")
    Mode speculation;

    @Option(names = {"--draft-model", "-md", "--model-draft"}, description = "Draft model for speculative decoding; must share the model's vocabulary")
    Path draftModel;

    @Option(names = {"--draft-max", "--draft", "--draft-n"}, description = "Most tokens proposed per step (default: ${DEFAULT-VALUE})")
    int draftMax = 8;

    @Option(names = {"--draft-min", "--draft-n-min"}, description = "Fewest tokens proposed per step (default: ${DEFAULT-VALUE})")
    int draftMin = 1;

    @Option(names = "--draft-p-min", description = "Also stop drafting where the draft's top token is less likely than this (llama.cpp's"
            + " stop, at 0.75 there); Tern's own stop is the learned chance that the guesses are used (default: ${DEFAULT-VALUE})")
    float draftPMin = 0f;

    @Option(names = {"--draft-threads", "-td", "--threads-draft"}, description = "Worker threads of the draft model (default: ${DEFAULT-VALUE})")
    int draftThreads = 1;

    Mode mode() {
        return speculation != null ? speculation : draftModel != null ? Mode.draft : null;
    }

    boolean enabled() {
        return mode() != null;
    }

    AdaptiveDraftLength lengths() {
        return mode() == Mode.draft ? AdaptiveDraftLength.forDraftModel(draftMin, draftMax)
                : AdaptiveDraftLength.forLookup(draftMin, draftMax);
    }

    Proposer proposer(Tern tern, SamplerConfig config, KVCacheType cacheType) {
        if (validate() == Mode.ngram) {
            return new NgramProposer();
        }
        long draftSeed = DraftModelProposer.seedFor(config.seed());
        return DraftModelProposer.load(draftModel, tern.tokenizer(), config, draftSeed, draftPMin,
                new Tern.Options(draftThreads, 0, 1, cacheType));
    }

    /**
     * What a scheduler serving up to {@code parallel} requests of {@code tern} speculates with,
     * or null when speculation is off: a draft model gets a session per running request.
     */
    Speculation forScheduler(Tern tern, int parallel) {
        if (!enabled()) {
            return null;
        }
        if (validate() == Mode.ngram) {
            return Speculation.ngram(draftMin, draftMax);
        }
        Tern draft = Tern.load(draftModel, null, new Tern.Options(draftThreads, tern.contextSize(), parallel,
                tern.engine().cache().type()));
        return Speculation.draftModel(draft, tern.tokenizer(), draftModel.toString(), draftPMin, draftMin, draftMax);
    }

    /** The mode, once the flags are known to go together. */
    private Mode validate() {
        Mode mode = mode();
        if (draftMin < 1 || draftMax < draftMin) {
            throw new TernException("need 1 <= --draft-min <= --draft-max, got " + draftMin + " and " + draftMax);
        }
        if (mode == Mode.ngram) {
            if (draftModel != null) {
                throw new TernException("--draft-model goes with --spec draft, not --spec ngram");
            }
            return mode;
        }
        if (draftModel == null) {
            throw new TernException("--spec draft needs --draft-model FILE");
        }
        if (!(draftPMin >= 0 && draftPMin <= 1)) {
            throw new TernException("--draft-p-min must be in [0, 1], got " + draftPMin);
        }
        if (draftThreads < 1) {
            throw new TernException("--draft-threads must be at least 1");
        }
        return mode;
    }
}
