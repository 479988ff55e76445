package dev.tern.sampling;

import dev.tern.tokenizer.Tokenizer;
import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link Sampler#probabilities} under a constraint is the distribution {@link Sampler#sample}
 * draws from (speculative verification relies on it): checked by drawing many samples, each from
 * a fresh sampler of its own seed, against it with a chi-square test; also with llama.cpp's other
 * samplers, where XTC's cut enters the distribution with its chance.
 */
class ConstrainedProbabilitiesTest {

    @Test
    void sampleDrawsFromProbabilities() {
        Tokenizer tokenizer = GrammarConstraintTest.storiesTokenizer();
        GrammarConstraint.Vocabulary vocab = new GrammarConstraint.Vocabulary(tokenizer);
        TextPattern pattern = TextPattern.regex("[a-m ][a-z ]*");
        int n = tokenizer.vocabSize();
        SplittableRandom rnd = new SplittableRandom(21);
        SamplerConfig plain = new SamplerConfig(1f, 0, 1f, 0f, 1f, 64, 0f, 0f, 0);
        for (SamplerConfig config : new SamplerConfig[]{
                new SamplerConfig(0.9f, 40, 0.95f, 0f, 1f, 64, 0f, 0f, 0),
                new SamplerConfig(1.3f, 0, 1f, 0.02f, 1f, 64, 0f, 0f, 0),
                plain.withAdvanced(new AdvancedSampling(1f, -1f, 0.5f, 0.05f, 0f, 1f, 0, 5f, 0.1f, DrySampling.NONE, 0, SamplerStage.DEFAULT)),
                plain.withAdvanced(new AdvancedSampling(0.8f, 2f, 0.3f, 0.03f, 0.4f, 1.5f, 0, 5f, 0.1f, DrySampling.NONE, 0, SamplerStage.DEFAULT))}) {
            float[] logits = new float[n];
            for (int i = 0; i < n; i++) {
                logits[i] = (float) rnd.nextGaussian() * 2.5f;
            }
            float[] q = new Sampler(config, n, new GrammarConstraint(vocab, pattern)).probabilities(logits);
            if (!config.advanced().equals(AdvancedSampling.NONE)) {
                float[] without = new Sampler(plain, n, new GrammarConstraint(vocab, pattern)).probabilities(logits);
                assertFalse(java.util.Arrays.equals(q, without), "the samplers change this distribution: " + config.advanced());
            }
            double total = 0;
            GrammarConstraint check = new GrammarConstraint(vocab, pattern);
            for (int id = 0; id < n; id++) {
                total += q[id];
                assertTrue(q[id] == 0 || check.allows(id), "mass on refused token " + id);
            }
            assertEquals(1.0, total, 1e-4);
            int draws = 60000;
            int[] counts = new int[n];
            for (int s = 0; s < draws; s++) {
                Sampler sampler = new Sampler(config.withSeed(1000 + s), n, new GrammarConstraint(vocab, pattern));
                counts[sampler.sample(logits.clone())]++;
            }
            double chi2 = 0;
            int bins = 0;
            double restExpected = 0;
            int restCount = 0;
            for (int id = 0; id < n; id++) {
                double expected = q[id] * draws;
                if (expected == 0) {
                    assertEquals(0, counts[id], "drawn where probabilities says never: " + id);
                } else if (expected < 5) {
                    restExpected += expected;
                    restCount += counts[id];
                } else {
                    chi2 += (counts[id] - expected) * (counts[id] - expected) / expected;
                    bins++;
                }
            }
            if (restExpected > 0) {
                chi2 += (restCount - restExpected) * (restCount - restExpected) / restExpected;
                bins++;
            }
            int df = bins - 1;
            // About five standard deviations above the mean of a chi-square with df degrees of freedom.
            assertTrue(df > 5 && chi2 < df + 5 * Math.sqrt(2.0 * df), "chi2 " + chi2 + " with " + df + " degrees of freedom");
        }
    }
}
