package dev.tern.engine;

import dev.tern.Tern;
import dev.tern.kv.KVCacheType;
import dev.tern.sampling.SamplerConfig;
import dev.tern.testing.Fixtures;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Prompt log-probabilities (what OpenAI's {@code echo} and vLLM's {@code prompt_logprobs} return,
 * and what evaluation harnesses score answers with), against llama.cpp's logits: a prompt made of
 * a reference decode's prompt and generated tokens must score each generated token as llama.cpp's
 * top choice, with its top-5 alternatives in llama.cpp's order and their log-probability gaps
 * equal to its logit gaps.
 */
class PromptLogprobsTest {
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

    /** Collects the prompt's scores, the generated tokens and the end. */
    static final class Scores implements RequestListener {
        final CompletableFuture<List<TokenLogprob>> prompt = new CompletableFuture<>();
        final List<Integer> tokens = new ArrayList<>();
        final CompletableFuture<RequestResult> done = new CompletableFuture<>();
        volatile boolean outputBeforeScores;
        final java.util.concurrent.atomic.AtomicInteger deliveries = new java.util.concurrent.atomic.AtomicInteger();

        @Override
        public void onPromptLogprobs(List<TokenLogprob> logprobs) {
            deliveries.incrementAndGet();
            prompt.complete(logprobs);
        }

        @Override
        public synchronized void onOutput(RequestOutput output) {
            outputBeforeScores |= !prompt.isDone();
            for (int t : output.tokens()) {
                tokens.add(t);
            }
        }

        @Override
        public void onFinish(RequestResult result) {
            done.complete(result);
        }

        List<TokenLogprob> await() throws Exception {
            done.get(60, TimeUnit.SECONDS);
            return prompt.getNow(null);
        }
    }

    /** The reference's prompt followed by its first {@code steps} generated tokens. */
    private static int[] referenceText(int steps) {
        int[] p = reference.promptIds();
        int[] all = Arrays.copyOf(p, p.length + steps);
        System.arraycopy(reference.ids(), 0, all, p.length, steps);
        return all;
    }

    private static Request scoring(int[] prompt, int top, int maxTokens) {
        return new Request(prompt, SamplerConfig.greedy(), maxTokens, List.of(), -1, OutputFormat.TEXT, new int[0], 0, top);
    }

    /** The counters of the last {@link #run}. */
    private static SchedulerStats lastStats;

    private static List<Scores> run(SchedulerConfig config, Request... requests) throws Exception {
        List<Scores> out = new ArrayList<>();
        Scheduler s = new Scheduler(tern.engine(), tern.tokenizer(), tern.contextSize(), config);
        try (s) {
            for (Request r : requests) {
                Scores c = new Scores();
                s.submit(r, c);
                out.add(c);
            }
            s.start();
            for (Scores c : out) {
                c.await();
            }
        }
        lastStats = s.stats();
        assertEquals(0, tern.engine().cache().usedBlocks(), "every block returned");
        return out;
    }

    @Test
    void generatedTokensScoreAsLlamaCppsTopChoices() throws Exception {
        int steps = Math.min(60, reference.divergence(0.05f));
        assertTrue(steps >= 20, "the reference agrees long enough to test: " + steps);
        int[] prompt = referenceText(steps);
        Scores got = run(new SchedulerConfig(4, 256, 64, 0, true), scoring(prompt, 5, 0)).getFirst();
        List<TokenLogprob> lps = got.await();
        assertEquals(prompt.length - 1, lps.size());
        assertEquals(FinishReason.LENGTH, got.done.get().reason());
        assertEquals(0, got.done.get().completionTokens());
        assertTrue(got.tokens.isEmpty());
        int first = reference.promptIds().length - 1;
        for (int s = 0; s < steps; s++) {
            TokenLogprob lp = lps.get(first + s);
            assertEquals(reference.ids()[s], lp.token(), "step " + s);
            assertEquals(lp.topLogprobs()[0], lp.logprob(), 0f, "step " + s + ": the greedy token is the top one");
            for (int j = 1; j < 5; j++) {
                if (reference.topLogits()[s][j - 1] - reference.topLogits()[s][j] > 2e-3f) {
                    assertEquals(reference.topIds()[s][j], lp.topTokens()[j], "step " + s + " alternative " + j);
                }
                float gap = reference.topLogits()[s][j] - reference.topLogits()[s][0];
                float ours = lp.topLogprobs()[j] - lp.topLogprobs()[0];
                assertEquals(gap, ours, 2e-3f, "step " + s + " alternative " + j);
            }
            assertTrue(lp.logprob() < 0 && lp.logprob() > -20, "a log-probability: " + lp.logprob());
        }
    }

    @Test
    void chunkingAndTheOtherRequestsOfAStepDoNotChangeScores() throws Exception {
        int[] prompt = referenceText(30);
        List<TokenLogprob> whole = run(new SchedulerConfig(4, 256, 64, 0, false), scoring(prompt, 3, 0)).getFirst().await();
        // A budget of 8 cuts the prompt into chunks that share steps with another request's decode.
        List<Scores> chunked = run(new SchedulerConfig(4, 8, 64, 0, false),
                Request.greedy(tern.tokenizer().encode("The little dog", true, false), 40), scoring(prompt, 3, 0));
        List<TokenLogprob> got = chunked.get(1).await();
        assertEquals(whole.size(), got.size());
        for (int i = 0; i < whole.size(); i++) {
            assertEquals(whole.get(i).token(), got.get(i).token());
            assertEquals(whole.get(i).logprob(), got.get(i).logprob(), 1e-4f, "token " + (i + 1));
            assertArrayEquals(whole.get(i).topTokens(), got.get(i).topTokens(), "token " + (i + 1));
        }
    }

    @Test
    void scoredPromptsAreComputedWholeButStillFeedThePrefixCache() throws Exception {
        int[] prompt = referenceText(40);
        try (Scheduler s = new Scheduler(tern.engine(), tern.tokenizer(), tern.contextSize(), new SchedulerConfig(4, 256, 64, 0, true))) {
            s.start();
            List<Scores> got = new ArrayList<>();
            for (Request r : List.of(scoring(prompt, 0, 0), scoring(prompt, 0, 0), Request.greedy(prompt, 3))) {
                Scores c = new Scores();
                s.submit(r, c);
                c.await();
                got.add(c);
            }
            List<TokenLogprob> a = got.get(0).prompt.get();
            List<TokenLogprob> b = got.get(1).prompt.get();
            assertEquals(prompt.length - 1, b.size(), "a second scoring of a cached prompt scores every token");
            for (int i = 0; i < a.size(); i++) {
                assertEquals(a.get(i).logprob(), b.get(i).logprob(), 1e-5f);
                assertEquals(0, b.get(i).topTokens().length);
            }
            assertEquals(0, got.get(1).done.get().cachedTokens());
            assertTrue(got.get(2).done.get().cachedTokens() >= 32, "a plain request reuses the scored prompt's blocks");
        }
    }

    @Test
    void scoresComeBeforeTheGeneratedTokensWhichAreUnchanged() throws Exception {
        int[] prompt = reference.promptIds();
        Scores got = run(new SchedulerConfig(4, 256, 64, 0, true), scoring(prompt, 2, 20)).getFirst();
        assertEquals(prompt.length - 1, got.await().size());
        assertTrue(!got.outputBeforeScores);
        assertArrayEquals(Arrays.copyOf(reference.ids(), 20), got.tokens.stream().mapToInt(Integer::intValue).toArray());
    }

    @Test
    void preemptedRequestsAreScoredOnceAndAsAlone() throws Exception {
        int[][] prompts = {referenceText(40), Arrays.copyOf(referenceText(40), 35), referenceText(30), referenceText(45)};
        Request[] requests = new Request[prompts.length];
        for (int i = 0; i < prompts.length; i++) {
            requests[i] = scoring(prompts[i], 1, 40);
        }
        // 10 blocks of 16 hold about two of these requests of 70-90 positions: the newest are preempted.
        List<Scores> crowded = run(new SchedulerConfig(8, 64, 64, 10, true), requests);
        assertTrue(lastStats.preemptions() > 0, "some request was preempted");
        for (int i = 0; i < prompts.length; i++) {
            List<TokenLogprob> alone = run(new SchedulerConfig(4, 256, 64, 0, false), requests[i]).getFirst().await();
            List<TokenLogprob> got = crowded.get(i).await();
            assertEquals(1, crowded.get(i).deliveries.get());
            assertEquals(alone.size(), got.size());
            for (int j = 0; j < alone.size(); j++) {
                assertEquals(alone.get(j).logprob(), got.get(j).logprob(), 1e-4f, "request " + i + " token " + (j + 1));
            }
        }
    }

    @Test
    void aOneTokenPromptHasNothingToScore() throws Exception {
        Scores got = run(new SchedulerConfig(4, 256, 64, 0, true), scoring(new int[]{1}, 2, 0)).getFirst();
        assertEquals(List.of(), got.await());
    }
}
