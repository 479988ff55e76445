package dev.tern.sampling;

import dev.tern.TernException;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.IntStream;

import static org.junit.jupiter.api.Assertions.*;

class SamplerTest {
    private static final float EPS = 1e-6f;

    /** Only the named filter active, temperature 1 so the distribution is the plain softmax. */
    private static SamplerConfig only(int topK, float topP, float minP, float temperature) {
        return new SamplerConfig(temperature, topK, topP, minP, 1f, 64, 0f, 0f, 42);
    }

    private static float ln(double p) {
        return (float) Math.log(p);
    }

    @Test
    void defaultsMatchLlamaCpp() {
        SamplerConfig d = SamplerConfig.defaults();
        assertEquals(0.8f, d.temperature());
        assertEquals(40, d.topK());
        assertEquals(0.95f, d.topP());
        assertEquals(0.05f, d.minP());
        assertEquals(1f, d.repeatPenalty());
        assertEquals(64, d.repeatLastN());
        assertTrue(SamplerConfig.greedy().temperature() <= 0f);
    }

    @Test
    void invalidConfigIsATernException() {
        assertThrows(TernException.class, () -> new SamplerConfig(1f, 0, 1f, 1.5f, 1f, 64, 0f, 0f, 0));
        assertThrows(TernException.class, () -> new SamplerConfig(1f, 0, 1f, 0f, 0f, 64, 0f, 0f, 0));
        assertThrows(TernException.class, () -> new SamplerConfig(Float.NaN, 0, 1f, 0f, 1f, 64, 0f, 0f, 0));
    }

    @Test
    void noFiltersIsSoftmax() {
        float[] p = new Sampler(only(0, 1f, 0f, 1f), 4).probabilities(new float[]{ln(0.1), ln(0.2), ln(0.3), ln(0.4)});
        assertArrayEquals(new float[]{0.1f, 0.2f, 0.3f, 0.4f}, p, EPS);
    }

    @Test
    void topKKeepsTheKLargest() {
        float[] p = new Sampler(only(2, 1f, 0f, 1f), 5).probabilities(new float[]{1, 4, 3, 2, 0});
        double a = 1 / (1 + Math.exp(-1)); // e^4 / (e^4 + e^3)
        assertArrayEquals(new float[]{0, (float) a, (float) (1 - a), 0, 0}, p, EPS);
    }

    @Test
    void topPKeepsTheShortestPrefixReachingP() {
        // probabilities 0.1, 0.5, 0.05, 0.2, 0.15 in shuffled id order
        float[] logits = {ln(0.1), ln(0.5), ln(0.05), ln(0.2), ln(0.15)};
        // cumulative in sorted order: 0.5, 0.7, 0.85 -> p = 0.8 keeps three
        float[] p = new Sampler(only(0, 0.8f, 0f, 1f), 5).probabilities(logits);
        assertArrayEquals(new float[]{0, 0.5f / 0.85f, 0, 0.2f / 0.85f, 0.15f / 0.85f}, p, EPS);
        // p = 0.6 keeps two
        p = new Sampler(only(0, 0.6f, 0f, 1f), 5).probabilities(logits);
        assertArrayEquals(new float[]{0, 0.5f / 0.7f, 0, 0.2f / 0.7f, 0}, p, EPS);
    }

    @Test
    void minPDropsTokensBelowAFractionOfTheBest() {
        float[] logits = {ln(0.1), ln(0.5), ln(0.05), ln(0.2), ln(0.15)};
        // threshold 0.35 * 0.5 = 0.175 keeps 0.5 and 0.2
        float[] p = new Sampler(only(0, 1f, 0.35f, 1f), 5).probabilities(logits);
        assertArrayEquals(new float[]{0, 0.5f / 0.7f, 0, 0.2f / 0.7f, 0}, p, EPS);
        // threshold 0.25 * 0.5 = 0.125 keeps 0.5, 0.2 and 0.15
        p = new Sampler(only(0, 1f, 0.25f, 1f), 5).probabilities(logits);
        assertArrayEquals(new float[]{0, 0.5f / 0.85f, 0, 0.2f / 0.85f, 0.15f / 0.85f}, p, EPS);
    }

    @Test
    void temperatureScalesLogits() {
        float[] logits = {0, ln(2), ln(4)};
        // T = 0.5 squares the odds: 1 : 4 : 16
        float[] p = new Sampler(only(0, 1f, 0f, 0.5f), 3).probabilities(logits);
        assertArrayEquals(new float[]{1 / 21f, 4 / 21f, 16 / 21f}, p, EPS);
        // T = 2 takes square roots: 1 : sqrt 2 : 2
        p = new Sampler(only(0, 1f, 0f, 2f), 3).probabilities(logits);
        double s = 1 + Math.sqrt(2) + 2;
        assertArrayEquals(new float[]{(float) (1 / s), (float) (Math.sqrt(2) / s), (float) (2 / s)}, p, EPS);
    }

    @Test
    void topPSeesLogitsBeforeTemperature() {
        // Untempered cumulative 0.4, 0.75 -> top-p 0.72 keeps two. Had temperature 2 come
        // first, the flattened cumulative (0.367, 0.710) would keep all three.
        float[] logits = {ln(0.4), ln(0.35), ln(0.25)};
        float[] p = new Sampler(only(0, 0.72f, 0f, 2f), 3).probabilities(logits);
        double a = Math.sqrt(0.4), b = Math.sqrt(0.35);
        assertArrayEquals(new float[]{(float) (a / (a + b)), (float) (b / (a + b)), 0}, p, EPS);
    }

    @Test
    void greedyIsArgmaxWithTiesToLowestId() {
        Random r = new Random(7);
        for (int trial = 0; trial < 20; trial++) {
            float[] logits = new float[1000];
            for (int i = 0; i < logits.length; i++) {
                logits[i] = (float) r.nextGaussian();
            }
            int expected = 0;
            for (int i = 1; i < logits.length; i++) {
                if (logits[i] > logits[expected]) {
                    expected = i;
                }
            }
            assertEquals(expected, new Sampler(SamplerConfig.greedy(), 1000).sample(logits.clone()));
        }
        assertEquals(2, new Sampler(SamplerConfig.greedy(), 5).sample(new float[]{1, 0, 3, 3, 3}));
        float[] p = new Sampler(SamplerConfig.greedy(), 5).probabilities(new float[]{1, 0, 3, 3, 3});
        assertArrayEquals(new float[]{0, 0, 1, 0, 0}, p);
    }

    /**
     * The logits the draw sees, read back from the probabilities at temperature 1 with no filter
     * (ln p, shifted so that token {@code ref}'s is its given value).
     */
    private static float[] drawnLogits(SamplerConfig penalties, int[] history, float[] logits, int ref, float refValue) {
        SamplerConfig t1 = new SamplerConfig(1f, 0, 1f, 0f, penalties.repeatPenalty(), penalties.repeatLastN(),
                penalties.frequencyPenalty(), penalties.presencePenalty(), 1, penalties.logitBias());
        Sampler s = new Sampler(t1, logits.length);
        for (int t : history) {
            s.accept(t);
        }
        float[] p = s.probabilities(logits);
        float[] out = new float[p.length];
        for (int i = 0; i < p.length; i++) {
            out[i] = p[i] == 0 ? Float.NEGATIVE_INFINITY : (float) (Math.log(p[i]) - Math.log(p[ref]) + refValue);
        }
        return out;
    }

    @Test
    void repeatPenaltyOnKnownHistory() {
        // window of 3 over history 0,1,0,3 is [1,0,3]: positive logits divided, negative multiplied
        SamplerConfig c = new SamplerConfig(0f, 0, 1f, 0f, 2f, 3, 0f, 0f, 1);
        Sampler s = new Sampler(c, 5);
        int[] history = {0, 1, 0, 3};
        for (int t : history) {
            s.accept(t);
        }
        float[] logits = {2, -1, 3, 0.5f, 1};
        assertEquals(2, s.sample(logits.clone()));
        assertArrayEquals(new float[]{1, -2, 3, 0.25f, 1}, drawnLogits(c, history, logits, 2, 3), EPS);
    }

    /**
     * Penalties after a stage that sorts every token (a top-k of the whole vocabulary): they reach
     * each candidate by its token, not its place.
     */
    @Test
    void penaltiesAfterAFullSortPenaliseTheRightTokens() {
        SamplerConfig c = new SamplerConfig(1f, 100, 1f, 0f, 2f, 3, 0f, 0f, 1).withAdvanced(AdvancedSampling.NONE.withChain(0,
                List.of(SamplerStage.TOP_K, SamplerStage.PENALTIES, SamplerStage.TEMPERATURE)));
        Sampler s = new Sampler(c, 5);
        for (int t : new int[]{0, 1, 0, 3}) {
            s.accept(t);
        }
        float[] p = s.probabilities(new float[]{2, -1, 3, 0.5f, 1});
        float[] want = {1, -2, 3, 0.25f, 1};
        for (int i = 0; i < 5; i++) {
            assertEquals(want[i] - want[2], Math.log(p[i]) - Math.log(p[2]), 1e-5, "token " + i);
        }
    }

    @Test
    void frequencyAndPresencePenaltiesOnKnownHistory() {
        // window of 4 over 0,1,0,3: counts 0->2, 1->1, 3->1; repeat first, then subtract count * 0.5 + 0.25
        SamplerConfig c = new SamplerConfig(0f, 0, 1f, 0f, 2f, 4, 0.5f, 0.25f, 1);
        assertArrayEquals(new float[]{2 / 2f - 1.25f, -1 * 2f - 0.75f, 3, 0.5f / 2 - 0.75f, 1},
                drawnLogits(c, new int[]{0, 1, 0, 3}, new float[]{2, -1, 3, 0.5f, 1}, 2, 3), EPS);
    }

    @Test
    void logitBiasIsAddedBeforeThePenalties() {
        // token 0 seen twice in the window: repeat penalty 2 divides its biased logit, then 2 * 0.5 + 0.25 off
        SamplerConfig c = new SamplerConfig(0f, 0, 1f, 0f, 2f, 4, 0.5f, 0.25f, 1, Map.of(0, 4f, 2, -100f));
        Sampler s = new Sampler(c, 3);
        s.accept(0);
        s.accept(0);
        float[] logits = {2, 1, 3};
        assertEquals(0, s.sample(logits.clone()), "the bias outweighs token 2's lead, the ban removes it");
        assertArrayEquals(new float[]{(2 + 4) / 2f - 1.25f, 1, 3 - 100}, drawnLogits(c, new int[]{0, 0}, logits, 1, 1), 0.01f);
        float[] p = new Sampler(only(0, 1f, 0f, 1f).withLogitBias(Map.of(1, (float) Math.log(3))), 2)
                .probabilities(new float[]{0, 0});
        assertArrayEquals(new float[]{0.25f, 0.75f}, p, EPS);
        assertThrows(TernException.class, () -> new Sampler(SamplerConfig.greedy().withLogitBias(Map.of(3, 1f)), 3));
        assertThrows(TernException.class, () -> SamplerConfig.greedy().withLogitBias(Map.of(1, Float.NaN)));
    }

    @Test
    void sampledTokensEnterTheHistoryAndOldOnesLeave() {
        Sampler s = new Sampler(new SamplerConfig(0f, 0, 1f, 0f, 2f, 1, 0f, 0f, 1), 3);
        assertEquals(0, s.sample(new float[]{3, 2.9f, 0}));
        assertEquals(1, s.sample(new float[]{3, 2.9f, 0})); // 0 penalised to 1.5
        assertEquals(0, s.sample(new float[]{3, 2.9f, 0})); // window of 1 now holds only 1
    }

    @Test
    void penaltiesOffWhenLastNIsZero() {
        Sampler s = new Sampler(new SamplerConfig(0f, 0, 1f, 0f, 2f, 0, 1f, 1f, 1), 3);
        s.accept(0);
        float[] logits = {3, 2, 1};
        assertEquals(0, s.sample(logits));
        assertArrayEquals(new float[]{3, 2, 1}, logits);
    }

    @Test
    void probabilitiesLeaveInputsAndHistoryAlone() {
        Sampler s = new Sampler(new SamplerConfig(1f, 0, 1f, 0f, 2f, 4, 0f, 0f, 1), 2);
        s.accept(0);
        float[] logits = {ln(0.8), ln(0.2)};
        float[] before = logits.clone();
        float[] p1 = s.probabilities(logits);
        float[] p2 = s.probabilities(logits);
        assertArrayEquals(before, logits);
        assertArrayEquals(p1, p2);
        // logit of 0 is negative, so the penalty multiplies it: 0.8^2 : 0.2
        assertArrayEquals(new float[]{0.64f / 0.84f, 0.2f / 0.84f}, p1, EPS);
    }

    @Test
    void topKOnALargeVocabularyMatchesAFullSort() {
        int v = 150_000, k = 40;
        Random r = new Random(3);
        float[] logits = new float[v];
        for (int i = 0; i < v; i++) {
            logits[i] = (float) (r.nextGaussian() * 3);
        }
        Integer[] order = IntStream.range(0, v).boxed().toArray(Integer[]::new);
        Arrays.sort(order, Comparator.comparingDouble((Integer i) -> -logits[i]));
        double max = logits[order[0]], sum = 0;
        for (int i = 0; i < k; i++) {
            sum += Math.exp(logits[order[i]] - max);
        }
        float[] expected = new float[v];
        for (int i = 0; i < k; i++) {
            expected[order[i]] = (float) (Math.exp(logits[order[i]] - max) / sum);
        }
        float[] p = new Sampler(only(k, 1f, 0f, 1f), v).probabilities(logits);
        assertArrayEquals(expected, p, EPS);
    }

    /** The default chain written out plainly: full sort, then each cut, in double precision. */
    private static double[] referenceDefaultChain(float[] logits) {
        int v = logits.length;
        Integer[] order = IntStream.range(0, v).boxed().toArray(Integer[]::new);
        Arrays.sort(order, Comparator.comparingDouble((Integer i) -> -logits[i]));
        int n = Math.min(40, v); // top-k
        double max = logits[order[0]], sum = 0;
        for (int i = 0; i < n; i++) {
            sum += Math.exp(logits[order[i]] - max);
        }
        double cum = 0; // top-p 0.95 on the untempered softmax
        for (int i = 0; i < n; i++) {
            cum += Math.exp(logits[order[i]] - max) / sum;
            if (cum >= 0.95) {
                n = i + 1;
                break;
            }
        }
        int kept = 0; // min-p 0.05 relative to the best
        while (kept < n && Math.exp(logits[order[kept]] - max) >= 0.05) {
            kept++;
        }
        double[] p = new double[v];
        double z = 0;
        for (int i = 0; i < kept; i++) {
            p[order[i]] = Math.exp((logits[order[i]] - max) / 0.8);
            z += p[order[i]];
        }
        for (int i = 0; i < kept; i++) {
            p[order[i]] /= z;
        }
        return p;
    }

    @Test
    void defaultChainMatchesAPlainReference() {
        Random r = new Random(5);
        for (double scale : new double[]{0.5, 2, 6}) {
            float[] logits = new float[2000];
            for (int i = 0; i < logits.length; i++) {
                logits[i] = (float) (r.nextGaussian() * scale);
            }
            double[] expected = referenceDefaultChain(logits);
            float[] p = new Sampler(SamplerConfig.defaults(), logits.length).probabilities(logits);
            for (int i = 0; i < logits.length; i++) {
                assertEquals(expected[i], p[i], 1e-5, "token " + i + " at scale " + scale);
            }
        }
    }

    /** Pearson's statistic of observed counts against expected probabilities. */
    private static double chiSquare(int[] counts, double[] expected, int n) {
        double chi = 0;
        for (int i = 0; i < counts.length; i++) {
            if (expected[i] == 0) {
                assertEquals(0, counts[i], "token " + i + " was filtered out but drawn");
                continue;
            }
            double e = expected[i] * n;
            chi += (counts[i] - e) * (counts[i] - e) / e;
        }
        return chi;
    }

    private static double[] softmax(double[] l, double temperature, boolean[] keep) {
        double[] p = new double[l.length];
        double sum = 0;
        for (int i = 0; i < l.length; i++) {
            p[i] = keep[i] ? Math.exp(l[i] / temperature) : 0;
            sum += p[i];
        }
        for (int i = 0; i < l.length; i++) {
            p[i] /= sum;
        }
        return p;
    }

    private static int[] draw(Sampler s, float[] logits, int n) {
        int[] counts = new int[logits.length];
        for (int i = 0; i < n; i++) {
            counts[s.sample(logits.clone())]++;
        }
        return counts;
    }

    @Test
    void drawFrequenciesMatchProbabilities() {
        double[] l = {0.1, 1.2, -0.5, 0.8, 2.0, 0.0};
        float[] logits = new float[l.length];
        for (int i = 0; i < l.length; i++) {
            logits[i] = (float) l[i];
        }
        int n = 20_000;
        double[] expected = softmax(l, 0.7, new boolean[]{true, true, true, true, true, true});
        int[] counts = draw(new Sampler(only(0, 1f, 0f, 0.7f), l.length), logits, n);
        assertTrue(chiSquare(counts, expected, n) < 20.52, "chi-square, 5 dof, p = 0.001");

        // top-k 4 keeps ids 4, 1, 3, 0; min-p 0.2 then drops id 0 (e^(0.1-2.0) = 0.15 < 0.2)
        expected = softmax(l, 0.7, new boolean[]{false, true, false, true, true, false});
        counts = draw(new Sampler(only(4, 1f, 0.2f, 0.7f), l.length), logits, n);
        assertTrue(chiSquare(counts, expected, n) < 13.82, "chi-square, 2 dof, p = 0.001");
    }

    @Test
    void sameSeedSameTokens() {
        Random r = new Random(11);
        float[][] steps = new float[50][100];
        for (float[] step : steps) {
            for (int i = 0; i < step.length; i++) {
                step[i] = (float) r.nextGaussian();
            }
        }
        SamplerConfig c = new SamplerConfig(1.5f, 0, 1f, 0f, 1.1f, 64, 0f, 0f, 1234);
        int[] a = run(new Sampler(c, 100), steps);
        int[] b = run(new Sampler(c, 100), steps);
        int[] other = run(new Sampler(c.withSeed(1235), 100), steps);
        assertArrayEquals(a, b);
        assertFalse(Arrays.equals(a, other));
    }

    private static int[] run(Sampler s, float[][] steps) {
        int[] out = new int[steps.length];
        for (int i = 0; i < steps.length; i++) {
            out[i] = s.sample(steps[i].clone());
        }
        return out;
    }
}
