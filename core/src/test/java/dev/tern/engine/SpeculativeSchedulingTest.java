package dev.tern.engine;

import dev.tern.Tern;
import dev.tern.kv.KVCacheType;
import dev.tern.sampling.Grammar;
import dev.tern.sampling.GrammarConstraint;
import dev.tern.sampling.JsonSchema;
import dev.tern.sampling.Sampler;
import dev.tern.sampling.SamplerConfig;
import dev.tern.sampling.TextPattern;
import dev.tern.sampling.TriggeredGrammar;
import dev.tern.spec.Speculation;
import dev.tern.testing.Fixtures;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Speculation inside continuous batching: several requests verify their guesses in the same
 * forward passes, and each greedy output must still be the target's own, token for token, as the
 * plain single-sequence {@link Generator} produces it.
 */
class SpeculativeSchedulingTest {
    private static final String[] PROMPTS = {
            "Once upon a time", "Lily and Tom went to the park", "The little dog", "One day, a bird",
            "Sam had a big red ball. He liked to throw it", "There was a cat", "Mom said", "Tim found a box"};
    private static final int MAX_TOKENS = 120;
    private static Tern target;

    @BeforeAll
    static void load() {
        target = Tern.load(Fixtures.stories15M("stories15M-distilled-f32.gguf"), null,
                new Tern.Options(2, 256, PROMPTS.length, KVCacheType.F32));
    }

    @AfterAll
    static void close() {
        target.close();
    }

    private static int[] prompt(String text) {
        return target.tokenizer().encode(text, true, false);
    }

    private static int[] solo(int[] prompt) {
        try (Session s = target.newSession()) {
            return Generator.generate(s, target.tokenizer(), prompt,
                    new Sampler(SamplerConfig.greedy(), target.tokenizer().vocabSize()), MAX_TOKENS, (id, t) -> true).tokens();
        }
    }

    private static SchedulerStats runAll(Speculation speculation, SchedulerConfig config, List<SchedulerTest.Collector> out)
            throws Exception {
        Scheduler s = new Scheduler(target.engine(), target.tokenizer(), target.contextSize(), config, speculation);
        try (s) {
            for (String p : PROMPTS) {
                SchedulerTest.Collector c = new SchedulerTest.Collector();
                s.submit(Request.greedy(prompt(p), MAX_TOKENS), c);
                out.add(c);
            }
            s.start();
            for (SchedulerTest.Collector c : out) {
                assertEquals(null, c.await().error());
            }
        }
        assertEquals(0, target.engine().cache().usedBlocks(), "every block returned");
        return s.stats();
    }

    private static void assertSameAsSolo(List<SchedulerTest.Collector> got) {
        for (int i = 0; i < PROMPTS.length; i++) {
            assertArrayEquals(solo(prompt(PROMPTS[i])), got.get(i).ids(), PROMPTS[i]);
        }
    }

    @Test
    void promptLookupInABatchKeepsEveryGreedyOutput() throws Exception {
        List<SchedulerTest.Collector> got = new ArrayList<>();
        SchedulerStats stats = runAll(Speculation.ngram(1, 8), new SchedulerConfig(8, 64, 16, 0, true), got);
        assertSameAsSolo(got);
        // These stories repeat themselves: lookup must have found and kept some guesses.
        assertTrue(stats.proposalPasses() > 0 && stats.draftAccepted() > 0, stats.toString());
        assertTrue(stats.draftAccepted() <= stats.drafted());
    }

    @Test
    void draftModelInABatchKeepsEveryGreedyOutput() throws Exception {
        Tern draft = Tern.load(Fixtures.stories260K("stories260K-f32.gguf"), null,
                new Tern.Options(1, 256, PROMPTS.length, KVCacheType.F32));
        try (Speculation spec = Speculation.draftModel(draft, target.tokenizer(), "stories260K", 0.3f, 1, 6)) {
            List<SchedulerTest.Collector> got = new ArrayList<>();
            SchedulerStats stats = runAll(spec, new SchedulerConfig(8, 64, 16, 0, true), got);
            assertSameAsSolo(got);
            assertTrue(stats.draftAccepted() > 0, stats.toString());
            assertEquals(0, draft.engine().cache().usedBlocks(), "draft sessions closed with their requests");
        }
    }

    @Test
    void preemptedRequestsGiveBackTheirDraftSessions() throws Exception {
        // Draft room for exactly the 4 running requests; 8 requests and a 24-block target cache make
        // the scheduler preempt while others speculate, so a preempted request must not keep its session.
        Tern draft = Tern.load(Fixtures.stories260K("stories260K-f32.gguf"), null,
                new Tern.Options(1, 256, 4, KVCacheType.F32));
        try (Speculation spec = Speculation.draftModel(draft, target.tokenizer(), "stories260K", 0.3f, 1, 4)) {
            List<SchedulerTest.Collector> got = new ArrayList<>();
            SchedulerStats stats = runAll(spec, new SchedulerConfig(4, 16, 16, 24, true), got);
            assertSameAsSolo(got);
            assertTrue(stats.preemptions() > 0 && stats.drafted() > 0, stats.toString());
            assertEquals(0, draft.engine().cache().usedBlocks());
        }
    }

    @Test
    void sampledRequestsWithLogprobsSpeculateAndStayConsistent() throws Exception {
        Tern draft = Tern.load(Fixtures.stories260K("stories260K-f32.gguf"), null,
                new Tern.Options(1, 256, 4, KVCacheType.F32));
        try (Speculation spec = Speculation.draftModel(draft, target.tokenizer(), "stories260K", 0.3f, 1, 6);
             Scheduler s = new Scheduler(target.engine(), target.tokenizer(), target.contextSize(),
                     new SchedulerConfig(4, 64, 16, 0, true), spec)) {
            List<RequestOutput> outputs = java.util.Collections.synchronizedList(new ArrayList<>());
            List<java.util.concurrent.CompletableFuture<RequestResult>> done = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                SamplerConfig sampling = SamplerConfig.defaults().withSeed(100 + i);
                var finished = new java.util.concurrent.CompletableFuture<RequestResult>();
                done.add(finished);
                s.submit(new Request(prompt(PROMPTS[i]), sampling, 60, List.of(), 2), new RequestListener() {
                    @Override
                    public void onOutput(RequestOutput output) {
                        outputs.add(output);
                    }

                    @Override
                    public void onFinish(RequestResult result) {
                        finished.complete(result);
                    }
                });
            }
            s.start();
            int completion = 0;
            for (var f : done) {
                RequestResult r = f.get(60, java.util.concurrent.TimeUnit.SECONDS);
                assertEquals(null, r.error());
                completion += r.completionTokens();
            }
            int tokens = 0;
            for (RequestOutput o : outputs) {
                // Every streamed token carries its own log-probability, drawn from a real distribution.
                assertEquals(o.tokens().length, o.logprobs().size());
                for (int j = 0; j < o.tokens().length; j++) {
                    assertEquals(o.tokens()[j], o.logprobs().get(j).token());
                    assertTrue(o.logprobs().get(j).logprob() <= 0f);
                }
                tokens += o.tokens().length;
            }
            assertEquals(completion, tokens);
            assertTrue(s.stats().drafted() > 0, s.stats().toString());
        }
        assertEquals(0, target.engine().cache().usedBlocks(), "every block returned");
    }

    @Test
    void aTightBudgetAndCacheStillKeepOutputs() throws Exception {
        // A budget barely above the running count leaves little room for guesses, and 40 blocks
        // force preemption while requests speculate.
        List<SchedulerTest.Collector> got = new ArrayList<>();
        runAll(Speculation.ngram(1, 8), new SchedulerConfig(8, 12, 16, 40, true), got);
        assertSameAsSolo(got);
    }

    /**
     * Stop tokens end an answer where the token comes, unseen; min_tokens bans them and the end
     * of generation until that many tokens are out. With and without prompt lookup, against
     * single-sequence greedy runs: plain, and with the end of generation banned by a bias.
     */
    /** Greedy constrained requests speculate too, and keep the constrained solo output token for token. */
    @Test
    void greedyConstrainedRequestsSpeculateAndKeepTheirOutput() throws Exception {
        GrammarConstraint.Vocabulary vocab = new GrammarConstraint.Vocabulary(target.tokenizer());
        Grammar[] grammars = {TextPattern.regex("[A-Za-z ,.!?'\"\n-]*"), JsonSchema.ANY_OBJECT,
                new TriggeredGrammar("ball", TextPattern.regex(" [a-z]+\\."))};
        Scheduler s = new Scheduler(target.engine(), target.tokenizer(), target.contextSize(), new SchedulerConfig(8, 64, 16, 0, true),
                Speculation.ngram(1, 8));
        try (s) {
            s.start();
            for (Grammar g : grammars) {
                List<SchedulerTest.Collector> got = new ArrayList<>();
                for (String p : PROMPTS) {
                    SchedulerTest.Collector c = new SchedulerTest.Collector();
                    s.submit(new Request(prompt(p), SamplerConfig.greedy(), 60, List.of(), -1, OutputFormat.of(g)), c);
                    got.add(c);
                }
                for (int i = 0; i < PROMPTS.length; i++) {
                    assertEquals(null, got.get(i).await().error());
                    int[] solo;
                    try (Session session = target.newSession()) {
                        solo = Generator.generate(session, target.tokenizer(), prompt(PROMPTS[i]), new Sampler(SamplerConfig.greedy(),
                                target.tokenizer().vocabSize(), new GrammarConstraint(vocab, g)), 60, (id, t) -> true).tokens();
                    }
                    assertArrayEquals(solo, got.get(i).ids(), g + ": " + PROMPTS[i]);
                }
            }
        }
        assertTrue(s.stats().proposalPasses() > 0 && s.stats().draftAccepted() > 0, s.stats().toString());
        assertEquals(0, target.engine().cache().usedBlocks(), "every block returned");
    }

    /**
     * Sampled constrained requests speculate as well: each row is verified against the distribution
     * the constrained sampler draws from (its exactness is ConstrainedProbabilitiesTest's), so the
     * answers keep to the grammar.
     */
    @Test
    void sampledConstrainedRequestsSpeculateWithinTheirGrammar() throws Exception {
        java.util.regex.Pattern letters = java.util.regex.Pattern.compile("[a-z ,.]*");
        Scheduler s = new Scheduler(target.engine(), target.tokenizer(), target.contextSize(), new SchedulerConfig(8, 64, 16, 0, true),
                Speculation.ngram(1, 8));
        try (s) {
            s.start();
            List<SchedulerTest.Collector> got = new ArrayList<>();
            for (int i = 0; i < PROMPTS.length; i++) {
                SchedulerTest.Collector c = new SchedulerTest.Collector();
                SamplerConfig sampling = new SamplerConfig(0.7f, 40, 0.95f, 0f, 1f, 64, 0f, 0f, 11 + i);
                s.submit(new Request(prompt(PROMPTS[i]), sampling, 60, List.of(), -1, OutputFormat.of(TextPattern.regex("[a-z ,.]*"))), c);
                got.add(c);
            }
            for (SchedulerTest.Collector c : got) {
                assertEquals(null, c.await().error());
                String text = target.tokenizer().decode(c.ids());
                assertTrue(letters.matcher(text).matches(), text);
            }
        }
        assertTrue(s.stats().proposalPasses() > 0, s.stats().toString());
        assertEquals(0, target.engine().cache().usedBlocks(), "every block returned");
    }

    @Test
    void stopTokensAndMinTokensHoldWithAndWithoutSpeculation() throws Exception {
        // A prompt that repeats itself, so that prompt lookup proposes from the first step on.
        int[] p = prompt("Tom had a red ball. He liked to play with it. Tom had a red ball. He liked to play with it. Tom had");
        int[] greedy = solo(p);
        int k = 3;
        while (contains(greedy, k, greedy[k])) {
            k++;
        }
        int stopToken = greedy[k];
        int eos = 0;
        while (!target.tokenizer().isEndOfGeneration(eos)) {
            eos++;
        }
        // The end of generation pushed to the top: without min_tokens an answer would end at once.
        SamplerConfig toEnd = SamplerConfig.greedy().withLogitBias(java.util.Map.of(eos, 100f));
        int[] noEnd;
        try (Session s = target.newSession()) {
            noEnd = Generator.generate(s, target.tokenizer(), p, new Sampler(SamplerConfig.greedy()
                    .withLogitBias(java.util.Map.of(eos, -1e30f)), target.tokenizer().vocabSize()), 7, (id, t) -> true).tokens();
        }
        for (Speculation spec : new Speculation[] {null, Speculation.ngram(1, 8)}) {
            try (Scheduler s = new Scheduler(target.engine(), target.tokenizer(), target.contextSize(), SchedulerConfig.defaults(), spec)) {
                s.start();
                SchedulerTest.Collector stopped = new SchedulerTest.Collector();
                s.submit(new Request(p, SamplerConfig.greedy(), MAX_TOKENS, List.of(), -1, OutputFormat.TEXT,
                        new int[] {stopToken}, 0), stopped);
                assertEquals(FinishReason.STOP, stopped.await().reason());
                assertArrayEquals(java.util.Arrays.copyOf(greedy, k), stopped.ids(), "cut before the stop token");

                SchedulerTest.Collector late = new SchedulerTest.Collector();
                s.submit(new Request(p, SamplerConfig.greedy(), MAX_TOKENS, List.of(), -1, OutputFormat.TEXT,
                        new int[] {stopToken}, k + 5), late);
                assertEquals(null, late.await().error());
                int[] ids = late.ids();
                assertTrue(ids.length >= k + 5 && !contains(ids, k + 5, stopToken), "no stop token among the first k + 5");
                assertArrayEquals(java.util.Arrays.copyOf(greedy, k), java.util.Arrays.copyOf(ids, k));

                SchedulerTest.Collector atLeast = new SchedulerTest.Collector();
                s.submit(new Request(p, toEnd, 20, List.of(), -1, OutputFormat.TEXT, new int[0], 7), atLeast);
                RequestResult r = atLeast.await();
                assertEquals(FinishReason.STOP, r.reason());
                assertArrayEquals(noEnd, atLeast.ids(), "seven tokens as if the end were banned, then the end");
                SchedulerTest.Collector atOnce = new SchedulerTest.Collector();
                s.submit(new Request(p, toEnd, 20, List.of(), -1), atOnce);
                assertEquals(0, atOnce.await().completionTokens());
            }
        }
        assertEquals(0, target.engine().cache().usedBlocks(), "every block returned");
    }

    private static boolean contains(int[] ids, int before, int token) {
        for (int i = 0; i < before; i++) {
            if (ids[i] == token) {
                return true;
            }
        }
        return false;
    }
}
