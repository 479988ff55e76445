package dev.tern.engine;

import dev.tern.Tern;
import dev.tern.kv.KVCacheType;
import dev.tern.sampling.AdvancedSampling;
import dev.tern.sampling.DrySampling;
import dev.tern.sampling.SamplerConfig;
import dev.tern.sampling.SamplerStage;
import dev.tern.testing.Fixtures;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Probabilities after the sampler's chain (llama-server's {@code post_sampling_probs}): at top-k 3
 * and temperature 0.7 each step's reported distribution must be the softmax of llama.cpp's three
 * largest logits at that step divided by 0.7, and asking for it must not change what is drawn.
 */
class SampledProbabilitiesTest {
    private static final float TEMPERATURE = 0.7f;
    private static Tern tern;
    private static ReferenceDecode reference;

    @BeforeAll
    static void load() throws Exception {
        // llama.cpp's references were made with its default F16 cache.
        tern = Tern.load(Fixtures.stories15M("stories15M-distilled-f32.gguf"), null, new Tern.Options(2, 256, 8, KVCacheType.F16));
        reference = ReferenceDecode.read(Fixtures.stories15M("reference/once.f32.txt"));
    }

    @AfterAll
    static void close() {
        tern.close();
    }

    private static List<SchedulerTest.Collector> run(Request... requests) throws Exception {
        List<SchedulerTest.Collector> out = new ArrayList<>();
        try (Scheduler s = new Scheduler(tern.engine(), tern.tokenizer(), tern.contextSize(), new SchedulerConfig(8, 256, 64, 0, true))) {
            for (Request r : requests) {
                SchedulerTest.Collector c = new SchedulerTest.Collector();
                s.submit(r, c);
                out.add(c);
            }
            s.start();
            for (SchedulerTest.Collector c : out) {
                c.await();
            }
        }
        return out;
    }

    private static Request request(int[] prompt, SamplerConfig sampling, int maxTokens, int top, boolean sampledProbs) {
        return new Request(prompt, sampling, maxTokens, List.of(), top, OutputFormat.TEXT, new int[0], 0, -1, null, sampledProbs);
    }

    @Test
    void topKDistributionIsTheSoftmaxOfLlamaCppsLargestLogits() throws Exception {
        int steps = Math.min(40, reference.divergence(0.05f));
        assertTrue(steps >= 20, "the reference agrees long enough to test: " + steps);
        List<Request> requests = new ArrayList<>();
        List<Integer> at = new ArrayList<>();
        for (int s = 0; s < steps; s += 5) {
            int[] p = reference.promptIds();
            int[] prompt = Arrays.copyOf(p, p.length + s);
            System.arraycopy(reference.ids(), 0, prompt, p.length, s);
            SamplerConfig topK3 = new SamplerConfig(TEMPERATURE, 3, 1f, 0f, 1f, 64, 0f, 0f, 1000 + s);
            requests.add(request(prompt, topK3, 1, 5, true));
            at.add(s);
        }
        List<SchedulerTest.Collector> got = run(requests.toArray(Request[]::new));
        for (int i = 0; i < at.size(); i++) {
            int s = at.get(i);
            TokenLogprob lp = got.get(i).logprobs.getFirst();
            float[] logits = reference.topLogits()[s];
            double z = 0;
            for (int j = 0; j < 3; j++) {
                z += Math.exp((logits[j] - logits[0]) / TEMPERATURE);
            }
            assertEquals(3, lp.topTokens().length, "step " + s + ": only the tokens top-k leaves, though five were asked for");
            for (int j = 0; j < 3; j++) {
                if (j > 0 && logits[j - 1] - logits[j] > 2e-3f) {
                    assertEquals(reference.topIds()[s][j], lp.topTokens()[j], "step " + s + " alternative " + j);
                }
                double expected = Math.exp((logits[j] - logits[0]) / TEMPERATURE) / z;
                assertEquals(expected, Math.exp(lp.topLogprobs()[j]), 3e-3, "step " + s + " alternative " + j);
            }
            int drawn = got.get(i).tokens.getFirst();
            int k = Arrays.stream(lp.topTokens()).boxed().toList().indexOf(drawn);
            assertTrue(k >= 0, "step " + s + ": the drawn token " + drawn + " is one the chain left");
            assertEquals(lp.topLogprobs()[k], lp.logprob(), 0f, "step " + s);
            assertEquals(k + 1, lp.rank(), "step " + s);
        }
    }

    @Test
    void reportingSampledProbabilitiesDrawsTheSameTokens() throws Exception {
        int[] prompt = reference.promptIds();
        SamplerConfig sampling = new SamplerConfig(1f, 40, 0.9f, 0.02f, 1.1f, 64, 0f, 0f, 77);
        List<SchedulerTest.Collector> got = run(request(prompt, sampling, 48, 3, false), request(prompt, sampling, 48, 3, true),
                request(prompt, sampling, 48, -1, true));
        assertEquals(48, got.get(0).tokens.size());
        assertEquals(got.get(0).tokens, got.get(1).tokens);
        assertEquals(got.get(0).tokens, got.get(2).tokens);
        assertTrue(got.get(2).logprobs.isEmpty(), "no log-probabilities asked for");
        int differ = 0;
        for (int j = 0; j < 48; j++) {
            TokenLogprob model = got.get(0).logprobs.get(j);
            TokenLogprob sampled = got.get(1).logprobs.get(j);
            assertEquals(model.token(), sampled.token());
            double sum = 0;
            for (float l : sampled.topLogprobs()) {
                sum += Math.exp(l);
            }
            assertTrue(sum <= 1 + 1e-5, "step " + j + ": at most the whole distribution, " + sum);
            assertTrue(sampled.logprob() > Float.NEGATIVE_INFINITY && sampled.logprob() <= 0f, "step " + j);
            differ += Math.abs(sampled.logprob() - model.logprob()) > 1e-3f ? 1 : 0;
        }
        assertTrue(differ > 24, "the filters and the penalty change most steps' probabilities: " + differ + " of 48");
    }

    @Test
    void greedyStepsReportCertainty() throws Exception {
        int[] prompt = reference.promptIds();
        SchedulerTest.Collector c = run(request(prompt, SamplerConfig.greedy(), 20, 2, true)).getFirst();
        assertArrayEquals(Arrays.copyOf(reference.ids(), 20), c.tokens.stream().mapToInt(Integer::intValue).toArray());
        for (TokenLogprob lp : c.logprobs) {
            assertEquals(0f, lp.logprob(), 0f);
            assertArrayEquals(new int[]{lp.token()}, lp.topTokens());
        }
    }

    @Test
    void mirostatHasNoProbabilitiesToReport() {
        SamplerConfig mirostat = SamplerConfig.defaults().withAdvanced(new AdvancedSampling(1f, -1f, 0f, 0.1f, 0f, 1f, 2, 5f, 0.1f,
                DrySampling.NONE, 0, SamplerStage.DEFAULT));
        assertThrows(IllegalArgumentException.class, () -> request(reference.promptIds(), mirostat, 4, 1, true));
    }
}
