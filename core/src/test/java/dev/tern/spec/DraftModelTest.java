package dev.tern.spec;

import dev.tern.Tern;
import dev.tern.TernException;
import dev.tern.engine.Engine;
import dev.tern.engine.Session;
import dev.tern.gguf.GGUFFile;
import dev.tern.gguf.RandomModel;
import dev.tern.kv.KVCacheType;
import dev.tern.model.Model;
import dev.tern.sampling.Sampler;
import dev.tern.sampling.SamplerConfig;
import dev.tern.testing.Fixtures;
import dev.tern.tokenizer.Tokenizer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The draft-model proposer with real models: vocabulary checks, a draft identical to the target,
 * and the distribution of sampled tokens through the whole loop (stories260K as target at
 * temperature 1 with a hotter copy of itself as the draft, so drafts are often rejected).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class DraftModelTest {
    private Model model;
    private Engine engine;
    private Tokenizer tokenizer;

    @TempDir
    Path dir;

    @BeforeAll
    void load() {
        model = Model.load(Fixtures.stories260K("stories260K-f32.gguf"));
        engine = new Engine(model, 1);
        try (GGUFFile f = GGUFFile.open(Fixtures.stories260K("stories260K-f32.gguf"))) {
            tokenizer = Tokenizer.fromGGUF(f);
        }
    }

    @AfterAll
    void close() {
        engine.close();
        model.close();
    }

    private static Tern.Options options() {
        return new Tern.Options(1, 0, 1, KVCacheType.F16);
    }

    @Test
    void refusesAVocabularyOfAnotherSize() {
        Path vocab = Fixtures.tokenizers().resolve("llama.cpp-vocab/ggml-vocab-llama-spm.gguf");
        Tokenizer other;
        try (GGUFFile f = GGUFFile.open(vocab)) {
            other = Tokenizer.fromGGUF(f);
        }
        TernException e = assertThrows(TernException.class,
                () -> DraftModelProposer.requireSameVocabulary(tokenizer, other, vocab.toString()));
        assertTrue(e.getMessage().contains(vocab.toString()) && e.getMessage().contains("32000"), e.getMessage());
        assertFalse(e.getMessage().contains("\n"));
    }

    @Test
    void refusesADraftWithOtherTokenTexts() {
        // Same size (512), but RandomModel synthesizes filler tokens where stories260K has its merges.
        Path p = dir.resolve("random-512.gguf");
        RandomModel.builder().vocab(512).layers(1).build().write(p);
        TernException e = assertThrows(TernException.class,
                () -> DraftModelProposer.load(p, tokenizer, SamplerConfig.greedy(), 1, 0f, options()));
        assertTrue(e.getMessage().startsWith(p.toString()) && e.getMessage().contains("differs"), e.getMessage());
        assertFalse(e.getMessage().contains("\n"));
    }

    @Test
    void acceptsTheSameVocabularyInAnotherModel() {
        try (DraftModelProposer p = DraftModelProposer.load(Fixtures.stories15M("stories15M-distilled-f32.gguf"),
                tokenizer, SamplerConfig.greedy(), 1, 0f, options())) {
            int[] history = tokenizer.encode("Once upon a time", true, false);
            assertEquals(3, p.propose(history, history.length, 3).size());
        }
    }

    @Test
    void draftEqualToTargetIsAlwaysAcceptedWhenGreedy() {
        try (Session s = engine.newSession(256);
             DraftModelProposer p = new DraftModelProposer(engine.newSession(256), 512, SamplerConfig.greedy(), 1, 0f, 0)) {
            SpeculativeResult r = SpeculativeGenerator.generate(s, tokenizer, tokenizer.encode("Once upon a time", true, false),
                    new Sampler(SamplerConfig.greedy(), 512), p, AdaptiveDraftLength.fixed(6), 120, (id, t) -> true);
            assertEquals(120, r.generation().tokens().length);
            assertEquals(r.stats().drafted(), r.stats().accepted());
            assertTrue(r.stats().tokensPerPass() > 6, "tokens per pass " + r.stats().tokensPerPass());
        }
    }

    /**
     * A round stops where the chance that every guess so far is used falls below minUseChance: at
     * 1 no guess passes (a chance is at most 0.99), at 0 every one up to the length asked.
     */
    @Test
    void guessesStopWhereTheirChanceOfUseFallsBelowTheBar() {
        int[] history = tokenizer.encode("Once upon a time", true, false);
        try (DraftModelProposer never = new DraftModelProposer(engine.newSession(256), 512, SamplerConfig.greedy(), 1, 0f, 1);
             DraftModelProposer always = new DraftModelProposer(engine.newSession(256), 512, SamplerConfig.greedy(), 1, 0f, 0)) {
            assertEquals(0, never.propose(history, history.length, 6).size());
            assertEquals(6, always.propose(history, history.length, 6).size());
        }
    }

    /**
     * A draft identical to the target has every guess accepted: the chance learnt from the target's
     * tokens rises above where it starts (0.35 + 0.65·confidence).
     */
    @Test
    void learnsFromTheTargetsTokensThatItsGuessesAreUsed() {
        try (Session s = engine.newSession(256);
             DraftModelProposer p = new DraftModelProposer(engine.newSession(256), 512, SamplerConfig.greedy(), 1, 0f, 0.5)) {
            SpeculativeResult r = SpeculativeGenerator.generate(s, tokenizer, tokenizer.encode("Once upon a time", true, false),
                    new Sampler(SamplerConfig.greedy(), 512), p, AdaptiveDraftLength.fixed(8), 150, (id, t) -> true);
            assertEquals(r.stats().drafted(), r.stats().accepted());
            assertTrue(p.learnedChance(0.5f) > 0.9, "learnt chance " + p.learnedChance(0.5f));
        }
    }

    /**
     * The token after the first, given the first: speculative decoding verifies it against one
     * drafted token, and it must follow the target's conditional distribution, which one target
     * forward over prompt + first token gives. Chi-square over the tokens expected at least 10
     * times, the rest pooled, at a fixed seed.
     */
    @Test
    void sampledTokensFollowTheTargetDistribution() {
        SamplerConfig targetConfig = new SamplerConfig(1.5f, 0, 1f, 0f, 1f, 64, 0f, 0f, 0);
        SamplerConfig draftConfig = new SamplerConfig(0.7f, 0, 1f, 0f, 1f, 64, 0f, 0f, 0);
        int[] prompt = tokenizer.encode("Once upon a time", true, false);
        int first = 432; // stories260K's most likely token here (" there"), p ≈ 0.86 at temperature 1.5
        float[] expected;
        try (Session s = engine.newSession(256)) {
            int[] context = java.util.Arrays.copyOf(prompt, prompt.length + 1);
            context[prompt.length] = first;
            expected = new Sampler(targetConfig, 512).probabilities(s.forward(context));
        }
        int runs = 1500;
        long[] counts = new long[512];
        int conditioned = 0;
        long drafted = 0, accepted = 0;
        for (int run = 0; run < runs; run++) {
            try (Session s = engine.newSession(256);
                 DraftModelProposer p = new DraftModelProposer(engine.newSession(256), 512, draftConfig.withSeed(run), run, 0f, 0)) {
                SpeculativeResult r = SpeculativeGenerator.generate(s, tokenizer, prompt,
                        new Sampler(targetConfig.withSeed(1_000_000 + run), 512), p, AdaptiveDraftLength.fixed(1), 3,
                        (id, t) -> true);
                drafted += r.stats().drafted();
                accepted += r.stats().accepted();
                int[] ids = r.generation().tokens();
                if (ids.length >= 2 && ids[0] == first) {
                    counts[ids[1]]++;
                    conditioned++;
                }
            }
        }
        assertTrue(conditioned > runs / 2, "first token " + first + " in only " + conditioned + " runs");
        double chi2 = 0, otherObserved = 0, otherExpected = 0;
        int categories = 0;
        for (int t = 0; t < 512; t++) {
            double e = expected[t] * conditioned;
            if (e >= 10) {
                chi2 += (counts[t] - e) * (counts[t] - e) / e;
                categories++;
            } else {
                otherObserved += counts[t];
                otherExpected += e;
            }
        }
        chi2 += (otherObserved - otherExpected) * (otherObserved - otherExpected) / otherExpected;
        assertTrue(categories >= 3, "too few categories: " + categories);
        assertTrue(chi2 < chiSquareQuantile999(categories), "chi-square " + chi2 + " with " + categories + " degrees of freedom");
        assertTrue(accepted < drafted * 0.95 && accepted > drafted * 0.2,
                "want both accepted and rejected drafts: " + accepted + " of " + drafted);
    }

    /** The 0.999 quantile of chi-square with df degrees of freedom (Wilson–Hilferty; within 2% for df >= 3). */
    private static double chiSquareQuantile999(int df) {
        double z = 3.0902;
        double a = 2.0 / (9 * df);
        return df * Math.pow(1 - a + z * Math.sqrt(a), 3);
    }
}
