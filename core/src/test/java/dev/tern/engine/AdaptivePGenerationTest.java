package dev.tern.engine;

import dev.tern.Tern;
import dev.tern.kv.KVCacheType;
import dev.tern.sampling.AdvancedSampling;
import dev.tern.sampling.SamplerConfig;
import dev.tern.sampling.SamplerStage;
import dev.tern.testing.Fixtures;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What adaptive-p is for, on a real model: the chosen tokens' probabilities under the model
 * average near a low target, and move below or above what the plain draw of the same chain takes
 * as the target is low or high.
 */
class AdaptivePGenerationTest {
    private static final int TOKENS = 160;

    private static double meanChosenProbability(Tern tern, SamplerConfig sampling) throws Exception {
        int[] prompt = tern.tokenizer().encode("Once upon a time", true, true);
        List<TokenLogprob> scores = new ArrayList<>();
        CompletableFuture<RequestResult> done = new CompletableFuture<>();
        try (Scheduler s = new Scheduler(tern.engine(), tern.tokenizer(), tern.contextSize(), new SchedulerConfig(1, 64, 4, 0, true))) {
            // min_tokens keeps the end-of-text token out, so that every run is as long.
            s.submit(new Request(prompt, sampling, TOKENS, List.of(), 0, OutputFormat.TEXT, new int[0], TOKENS), new RequestListener() {
                @Override
                public synchronized void onOutput(RequestOutput output) {
                    scores.addAll(output.logprobs());
                }

                @Override
                public void onFinish(RequestResult result) {
                    done.complete(result);
                }
            });
            s.start();
            done.get(120, TimeUnit.SECONDS);
        }
        assertEquals(TOKENS, scores.size());
        double sum = 0;
        for (TokenLogprob t : scores) {
            sum += Math.exp(t.logprob());
        }
        return sum / TOKENS;
    }

    @Test
    void chosenTokensAverageNearTheTarget() throws Exception {
        try (Tern tern = Tern.load(Fixtures.stories15M("stories15M-distilled-f32.gguf"), null,
                new Tern.Options(2, 256, 4, KVCacheType.F32))) {
            // min-p cuts the long tail first, as adaptive-p is meant to be used: else, at a confident step,
            // thousands of unlikely tokens each score above the one far from the target.
            List<SamplerStage> order = List.of(SamplerStage.MIN_P, SamplerStage.TEMPERATURE, SamplerStage.ADAPTIVE_P);
            SamplerConfig base = new SamplerConfig(1f, 0, 1f, 0.05f, 1f, 64, 0f, 0f, 9);
            double plain = meanChosenProbability(tern, base.withAdvanced(AdvancedSampling.NONE.withChain(0, order)));
            double low = meanChosenProbability(tern, base.withAdvanced(AdvancedSampling.NONE.withChain(0, order).withAdaptive(0.2f, 0.9f)));
            double high = meanChosenProbability(tern, base.withAdvanced(AdvancedSampling.NONE.withChain(0, order).withAdaptive(0.7f, 0.9f)));
            String means = "targets 0.2 and 0.7: " + low + " and " + high + "; plain " + plain;
            // A low target is reachable at most steps; a high one only where the model is confident,
            // so that average moves towards it without reaching it.
            assertTrue(Math.abs(low - 0.2) < 0.1, means);
            assertTrue(low < plain - 0.1 && high > plain + 0.1, means);
        }
    }
}
