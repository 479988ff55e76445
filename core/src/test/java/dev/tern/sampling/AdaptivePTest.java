package dev.tern.sampling;

import dev.tern.TernException;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * llama.cpp's adaptive-p draw (PR 17927): listed in the chain with a target, it draws from the
 * softmax of 5 - 10 d² / (1 + d), d = |p - target'| / 0.3, over the chain's probabilities p, where
 * target' = 2 · target - the decaying average of the chosen tokens' p (primed at the target).
 */
class AdaptivePTest {
    private static final List<SamplerStage> WITH_ADAPTIVE = List.of(SamplerStage.TOP_K, SamplerStage.TEMPERATURE,
            SamplerStage.ADAPTIVE_P);

    private static SamplerConfig config(float target, float decay, long seed, List<SamplerStage> order) {
        return new SamplerConfig(1f, 0, 1f, 0f, 1f, 64, 0f, 0f, seed)
                .withAdvanced(AdvancedSampling.NONE.withChain(0, order).withAdaptive(target, decay));
    }

    /** The documented transform, in doubles, of softmax(logits) for an adapted target. */
    private static double[] transformed(float[] logits, double target) {
        double max = Double.NEGATIVE_INFINITY;
        for (float l : logits) {
            max = Math.max(max, l);
        }
        double z = 0;
        double[] p = new double[logits.length];
        for (int i = 0; i < logits.length; i++) {
            p[i] = Math.exp(logits[i] - max);
            z += p[i];
        }
        double[] w = new double[logits.length];
        double wz = 0;
        for (int i = 0; i < logits.length; i++) {
            double d = Math.abs(p[i] / z - target) / 0.3;
            w[i] = Math.exp(5 - 10 * d * d / (1 + d));
            wz += w[i];
        }
        for (int i = 0; i < logits.length; i++) {
            w[i] /= wz;
        }
        return w;
    }

    @Test
    void firstDrawFollowsTheTransformAtTheTarget() {
        // Probabilities about 0.55, 0.25, 0.12, 0.05, 0.02, 0.01: at target 0.2 the second and third are favoured.
        float[] logits = {3.3f, 2.5f, 1.8f, 0.9f, 0f, -0.7f};
        double[] expected = transformed(logits, 0.2);
        int n = 20_000;
        int[] counts = new int[logits.length];
        for (int s = 0; s < n; s++) {
            Sampler sampler = new Sampler(config(0.2f, 0.9f, s, WITH_ADAPTIVE), logits.length);
            counts[sampler.sample(logits.clone())]++;
        }
        double chi = 0;
        for (int i = 0; i < logits.length; i++) {
            double e = expected[i] * n;
            chi += (counts[i] - e) * (counts[i] - e) / e;
        }
        // 5 degrees of freedom: 20.5 is the 0.999 quantile.
        assertTrue(chi < 20.5, "chi-square " + chi + ", counts " + Arrays.toString(counts));
        assertTrue(counts[1] > counts[0], "the token nearest the target beats the most likely one");
    }

    @Test
    void theAverageOfChosenProbabilitiesSteersTheTarget() {
        // Two equally likely tokens (p just under 0.5 each) and a third far below: the first draw aims
        // at 0.2 (the average is primed there: 0.2 / (1 - 0.9) over 1 / (1 - 0.9)); choosing one of the
        // two moves the next step's aim to 2·0.2 - (p + 0.9·2) / (1 + 0.9·10), about 0.17.
        float[] logits = {0f, 0f, -6f};
        int n = 20_000;
        int[] counts = new int[3];
        for (int s = 0; s < n; s++) {
            Sampler sampler = new Sampler(config(0.2f, 0.9f, s, WITH_ADAPTIVE), 3);
            int first = sampler.sample(logits.clone());
            if (first == 2) {
                continue;
            }
            counts[sampler.sample(logits.clone())]++;
        }
        double p = 1 / (2 + Math.exp(-6));
        double adapted = 2 * 0.2 - (p + 0.9 * 2) / (1 + 0.9 * 10);
        double[] expected = transformed(logits, adapted);
        int total = counts[0] + counts[1] + counts[2];
        double chi = 0;
        for (int i = 0; i < 3; i++) {
            double e = expected[i] * total;
            chi += (counts[i] - e) * (counts[i] - e) / e;
        }
        // 2 degrees of freedom: 13.8 is the 0.999 quantile.
        assertTrue(chi < 13.8, "chi-square " + chi + ", counts " + Arrays.toString(counts) + ", expected "
                + Arrays.toString(expected));
    }

    @Test
    void aNegativeTargetOrAnUnlistedStageIsThePlainDraw() {
        Random r = new Random(3);
        float[] logits = new float[300];
        for (int i = 0; i < logits.length; i++) {
            logits[i] = (float) (r.nextGaussian() * 2);
        }
        List<SamplerStage> plainOrder = List.of(SamplerStage.TOP_K, SamplerStage.TEMPERATURE);
        for (SamplerConfig variant : new SamplerConfig[]{config(-1f, 0.9f, 11, WITH_ADAPTIVE), config(0.3f, 0.9f, 11, plainOrder)}) {
            Sampler plain = new Sampler(config(-1f, 0.9f, 11, plainOrder), logits.length);
            Sampler other = new Sampler(variant, logits.length);
            for (int step = 0; step < 50; step++) {
                assertEquals(plain.sample(logits.clone()), other.sample(logits.clone()), "step " + step);
            }
            assertTrue(variant.allowsSpeculation());
        }
        Sampler plain = new Sampler(config(-1f, 0.9f, 11, plainOrder), logits.length);
        Sampler adaptive = new Sampler(config(0.3f, 0.9f, 11, WITH_ADAPTIVE), logits.length);
        List<Integer> a = new ArrayList<>();
        List<Integer> b = new ArrayList<>();
        for (int step = 0; step < 50; step++) {
            a.add(plain.sample(logits.clone()));
            b.add(adaptive.sample(logits.clone()));
        }
        assertNotEquals(a, b);
    }

    @Test
    void adaptiveDrawsHaveNoFixedDistribution() {
        SamplerConfig c = config(0.3f, 0.9f, 1, WITH_ADAPTIVE);
        assertFalse(c.allowsSpeculation());
        assertThrows(IllegalStateException.class, () -> new Sampler(c, 4).probabilities(new float[4]));
        SamplerConfig greedy = new SamplerConfig(0f, 0, 1f, 0f, 1f, 64, 0f, 0f, 1)
                .withAdvanced(AdvancedSampling.NONE.withChain(0, WITH_ADAPTIVE).withAdaptive(0.3f, 0.9f));
        assertTrue(greedy.allowsSpeculation(), "at temperature 0 the draw is the largest logit's");
        assertEquals(2, new Sampler(greedy, 4).sample(new float[]{0f, 1f, 3f, 2f}));
    }

    @Test
    void namesAndLettersAsLlamaCpp() {
        assertEquals(SamplerStage.ADAPTIVE_P, SamplerStage.named("adaptive_p"));
        assertEquals(SamplerStage.ADAPTIVE_P, SamplerStage.named("adaptive-p"));
        assertArrayEquals(new SamplerStage[]{SamplerStage.TOP_K, SamplerStage.ADAPTIVE_P},
                SamplerStage.parseLetters("ka").toArray(SamplerStage[]::new));
        assertFalse(SamplerStage.DEFAULT.contains(SamplerStage.ADAPTIVE_P), "only used when listed");
        assertEquals(0.99f, AdvancedSampling.NONE.withAdaptive(0.5f, 1.5f).adaptiveDecay(), "decay clamped as llama.cpp's");
        assertThrows(TernException.class, () -> AdvancedSampling.NONE.withAdaptive(Float.NaN, 0.9f));
    }
}
