package dev.tern.spec;

import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The speculative sampling rule against its defining property: whatever the draft distribution,
 * the tokens it returns follow the target distribution. Chi-square goodness of fit over many
 * draws at a fixed seed (deterministic, so not flaky); the critical values are those of the
 * chi-square distribution at p = 0.001.
 */
class SpeculativeSamplingTest {
    private static final int TRIALS = 200_000;
    /** Chi-square 0.999 quantile with 4 degrees of freedom (the 5 tokens the target allows). */
    private static final double CRITICAL = 18.467;

    // Token 4 only the draft proposes, token 5 only the target allows.
    private static final float[] P = {0.30f, 0.05f, 0.25f, 0.20f, 0.00f, 0.20f};
    private static final float[] Q = {0.10f, 0.40f, 0.25f, 0.05f, 0.20f, 0.00f};

    @Test
    void outputFollowsTheTargetWhateverTheDraft() {
        SplittableRandom rng = new SplittableRandom(12345);
        long[] counts = new long[P.length];
        for (int t = 0; t < TRIALS; t++) {
            int d = SpeculativeSampling.draw(Q, rng);
            counts[SpeculativeSampling.verify(P, Q, d, rng)]++;
        }
        assertEquals(0, counts[4], "a token the target forbids was produced");
        assertFits(counts, P);
    }

    /** The same test fails for "always keep the draft": the check has power. */
    @Test
    void chiSquareRejectsTheDraftDistribution() {
        SplittableRandom rng = new SplittableRandom(12345);
        long[] counts = new long[P.length];
        for (int t = 0; t < TRIALS; t++) {
            counts[SpeculativeSampling.draw(Q, rng)]++;
        }
        assertTrue(chiSquare(counts, P) > CRITICAL);
    }

    /** Prompt lookup proposes a fixed token: accepted with probability p[d], else p without d. */
    @Test
    void deterministicProposalFollowsTheTarget() {
        SplittableRandom rng = new SplittableRandom(777);
        long[] counts = new long[P.length];
        long kept = 0;
        for (int t = 0; t < TRIALS; t++) {
            int x = SpeculativeSampling.verify(P, null, 2, rng);
            counts[x]++;
        }
        assertFits(counts, P);
        for (int t = 0; t < TRIALS; t++) {
            if (SpeculativeSampling.verify(P, null, 0, rng) == 0) {
                kept++;
            }
        }
        // Binomial(200000, 0.3): standard deviation ~205, 5 sigma ~1025.
        assertEquals(0.3 * TRIALS, kept, 1025);
    }

    @Test
    void draftEqualToTargetIsAlwaysAccepted() {
        SplittableRandom rng = new SplittableRandom(99);
        for (int t = 0; t < 20_000; t++) {
            int d = SpeculativeSampling.draw(P, rng);
            assertEquals(d, SpeculativeSampling.verify(P, P.clone(), d, rng));
        }
    }

    @Test
    void drawFollowsItsDistribution() {
        SplittableRandom rng = new SplittableRandom(4);
        long[] counts = new long[P.length];
        for (int t = 0; t < TRIALS; t++) {
            counts[SpeculativeSampling.draw(P, rng)]++;
        }
        assertEquals(0, counts[4]);
        assertFits(counts, P);
    }

    private static void assertFits(long[] counts, float[] p) {
        double chi2 = chiSquare(counts, p);
        assertTrue(chi2 < CRITICAL, "chi-square " + chi2 + " over " + CRITICAL);
    }

    /** Pearson's statistic over the categories with expected mass. */
    private static double chiSquare(long[] counts, float[] p) {
        long total = 0;
        for (long c : counts) {
            total += c;
        }
        double chi2 = 0;
        for (int i = 0; i < p.length; i++) {
            if (p[i] > 0) {
                double e = total * (double) p[i];
                chi2 += (counts[i] - e) * (counts[i] - e) / e;
            }
        }
        return chi2;
    }
}
