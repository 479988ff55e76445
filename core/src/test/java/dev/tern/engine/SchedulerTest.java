package dev.tern.engine;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tern.Tern;
import dev.tern.kv.KVCacheType;
import dev.tern.sampling.JsonSchema;
import dev.tern.sampling.Sampler;
import dev.tern.sampling.SamplerConfig;
import dev.tern.testing.Fixtures;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The scheduler against the single-sequence {@link Generator} (an independent loop over one
 * session): batching, chunked prefill, preemption and prefix caching must not change a greedy
 * output.
 */
class SchedulerTest {
    private static final String[] PROMPTS = {
            "Once upon a time", "Lily and Tom went to the park", "The little dog", "One day, a bird",
            "Sam had a big red ball. He liked to throw it", "There was a cat", "Mom said", "The sun was hot",
            "Tim found a box", "A girl named Sue", "The tree was tall and green", "Ben wanted to play",
            "It was a rainy day", "The fish swam", "Anna saw a star in the sky. She wished", "Max and his dad"};
    private static Tern tern;

    @BeforeAll
    static void load() {
        tern = Tern.load(Fixtures.stories260K("stories260K-f32.gguf"), null, new Tern.Options(2, 256, 32, KVCacheType.F32));
    }

    @AfterAll
    static void close() {
        tern.close();
    }

    static int[] prompt(String text) {
        return tern.tokenizer().encode(text, true, false);
    }

    static int[] solo(int[] prompt, int maxTokens) {
        return soloResult(prompt, maxTokens).tokens();
    }

    static GenerationResult soloResult(int[] prompt, int maxTokens) {
        try (Session s = tern.newSession()) {
            return Generator.generate(s, tern.tokenizer(), prompt, new Sampler(SamplerConfig.greedy(), tern.tokenizer().vocabSize()),
                    maxTokens, (id, t) -> true);
        }
    }

    /** Collects a request's streamed tokens, text and log-probabilities. */
    static final class Collector implements RequestListener {
        final List<Integer> tokens = new ArrayList<>();
        final StringBuilder text = new StringBuilder();
        final List<TokenLogprob> logprobs = new ArrayList<>();
        final CompletableFuture<RequestResult> done = new CompletableFuture<>();

        @Override
        public synchronized void onOutput(RequestOutput output) {
            for (int t : output.tokens()) {
                tokens.add(t);
            }
            text.append(output.text());
            logprobs.addAll(output.logprobs());
        }

        @Override
        public void onFinish(RequestResult result) {
            done.complete(result);
        }

        RequestResult await() throws Exception {
            return done.get(60, TimeUnit.SECONDS);
        }

        synchronized int[] ids() {
            return tokens.stream().mapToInt(Integer::intValue).toArray();
        }
    }

    private static List<Collector> runAll(SchedulerConfig config, int maxTokens) throws Exception {
        List<Collector> out = new ArrayList<>();
        Scheduler s = new Scheduler(tern.engine(), tern.tokenizer(), tern.contextSize(), config);
        try (s) {
            for (String p : PROMPTS) {
                Collector c = new Collector();
                s.submit(Request.greedy(prompt(p), maxTokens), c);
                out.add(c);
            }
            s.start();
            for (Collector c : out) {
                c.await();
            }
        }
        assertEquals(0, s.stats().running());
        assertEquals(0, tern.engine().cache().usedBlocks(), "every block returned");
        return out;
    }

    @Test
    void sixteenBatchedRequestsMatchTheirSoloOutputs() throws Exception {
        // A small budget forces chunked prefill and prompt chunks beside decode tokens.
        List<Collector> got = runAll(new SchedulerConfig(16, 24, 64, 0, false), 40);
        for (int i = 0; i < PROMPTS.length; i++) {
            GenerationResult solo = soloResult(prompt(PROMPTS[i]), 40);
            int[] want = solo.tokens();
            assertArrayEquals(want, got.get(i).ids(), PROMPTS[i]);
            assertEquals(solo.text(), got.get(i).text.toString(), PROMPTS[i]);
            RequestResult r = got.get(i).await();
            assertEquals(want.length, r.completionTokens());
            assertEquals(want.length == 40 ? FinishReason.LENGTH : FinishReason.STOP, r.reason());
        }
    }

    @Test
    void preemptionUnderAScarceCacheKeepsOutputs() throws Exception {
        // 10 blocks hold about two requests of 60+ positions: the newest get preempted and recomputed.
        try (Scheduler probe = new Scheduler(tern.engine(), tern.tokenizer(), tern.contextSize(),
                new SchedulerConfig(8, 64, 64, 10, true))) {
            List<Collector> got = new ArrayList<>();
            for (int i = 0; i < 6; i++) {
                Collector c = new Collector();
                probe.submit(Request.greedy(prompt(PROMPTS[i]), 60), c);
                got.add(c);
            }
            probe.start();
            for (int i = 0; i < got.size(); i++) {
                got.get(i).await();
                assertArrayEquals(solo(prompt(PROMPTS[i]), 60), got.get(i).ids(), PROMPTS[i]);
            }
            assertTrue(probe.stats().preemptions() > 0, "expected preemptions with 10 blocks");
        }
    }

    @Test
    void sharedPrefixIsReusedAndGivesTheSameOutput() throws Exception {
        String base = "Once upon a time, there was a little girl named Lily. She loved to play outside in the park with her"
                + " friends. One day, she saw a big red ball";
        int[] first = prompt(base + ". She ran to get it.");
        int[] second = prompt(base + " and a small dog.");
        try (Scheduler s = new Scheduler(tern.engine(), tern.tokenizer(), tern.contextSize(), SchedulerConfig.defaults())) {
            s.start();
            Collector a = new Collector();
            s.submit(Request.greedy(first, 30), a);
            RequestResult ra = a.await();
            Collector b = new Collector();
            s.submit(Request.greedy(second, 30), b);
            RequestResult rb = b.await();
            assertEquals(0, ra.cachedTokens());
            int common = 0;
            while (first[common] == second[common]) {
                common++;
            }
            assertEquals(common / 16 * 16, rb.cachedTokens(), "whole shared blocks are reused");
            assertTrue(rb.cachedTokens() >= 16);
            assertArrayEquals(solo(second, 30), b.ids());
            assertArrayEquals(solo(first, 30), a.ids());
            assertTrue(s.stats().prefixHitRate() > 0);
        }
    }

    @Test
    void cancelFreesBlocksAndQueueIsBounded() throws Exception {
        try (Scheduler s = new Scheduler(tern.engine(), tern.tokenizer(), tern.contextSize(),
                new SchedulerConfig(4, 64, 2, 0, false))) {
            Collector c = new Collector();
            RequestHandle h = s.submit(Request.greedy(prompt("Once upon a time"), -1), c);
            s.submit(Request.greedy(prompt("The dog"), 1), new Collector());
            assertThrows(QueueFullException.class, () -> s.submit(Request.greedy(prompt("A cat"), 1), new Collector()));
            assertTrue(s.step());
            assertTrue(tern.engine().cache().usedBlocks() > 0);
            h.cancel();
            s.step();
            assertEquals(FinishReason.CANCELLED, c.await().reason());
            s.step();
            assertEquals(0, tern.engine().cache().usedBlocks());
        }
    }

    @Test
    void aRequestOutgrowingTheCacheEndsWithLength() throws Exception {
        int[] p = prompt("Once upon a time");
        try (Scheduler s = new Scheduler(tern.engine(), tern.tokenizer(), tern.contextSize(), new SchedulerConfig(2, 16, 4, 2, false))) {
            assertThrows(dev.tern.TernException.class, () -> s.submit(Request.greedy(new int[40], 1), new Collector()),
                    "a prompt needing 3 blocks can never run in 2");
            s.start();
            Collector c = new Collector();
            s.submit(Request.greedy(p, -1), c);
            RequestResult r = c.await();
            assertEquals(FinishReason.LENGTH, r.reason());
            // Two blocks hold 32 positions; the last generated token needs no cache slot.
            int n = 32 - p.length + 1;
            assertEquals(n, r.completionTokens());
            int[] want = solo(p, n);
            assertArrayEquals(want, c.ids());
        }
    }

    @Test
    void stopStringsEndTheTextBeforeThem() throws Exception {
        int[] p = prompt("Once upon a time");
        String full = soloResult(p, 40).text();
        String stop = full.substring(20, 24);
        int at = full.indexOf(stop);
        try (Scheduler s = new Scheduler(tern.engine(), tern.tokenizer(), tern.contextSize(), SchedulerConfig.defaults())) {
            s.start();
            Collector c = new Collector();
            s.submit(new Request(p, SamplerConfig.greedy(), 40, List.of("zzz", stop), -1), c);
            assertEquals(FinishReason.STOP, c.await().reason());
            assertEquals(full.substring(0, at), c.text.toString());
        }
    }

    @Test
    void jsonObjectRequestsWriteOneObjectAndEndWithIt() throws Exception {
        ObjectMapper strict = new ObjectMapper().enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);
        // A story model left alone writes one endless string; biases towards quotes and braces let it close.
        Map<Integer, Float> bias = new HashMap<>();
        for (int t = 0; t < tern.tokenizer().vocabSize(); t++) {
            String piece = new String(tern.tokenizer().tokenBytes(t), StandardCharsets.UTF_8);
            if (piece.equals("\"") || piece.equals("}")) {
                bias.put(t, piece.equals("}") ? 12f : 6f);
            }
        }
        assertTrue(bias.size() >= 2, "quote and brace tokens: " + bias.keySet());
        List<Collector> got = new ArrayList<>();
        try (Scheduler s = new Scheduler(tern.engine(), tern.tokenizer(), tern.contextSize(), SchedulerConfig.defaults())) {
            for (int seed = 0; seed < 8; seed++) {
                Collector c = new Collector();
                SamplerConfig sampling = new SamplerConfig(1f, 0, 1f, 0f, 1f, 64, 0f, 0f, seed, bias);
                s.submit(new Request(prompt("Once upon a time"), sampling, 200, List.of(), -1, OutputFormat.JSON_OBJECT), c);
                got.add(c);
            }
            // Submitted before the loop starts, so that every run batches them alike (sampled output depends on it).
            s.start();
            for (Collector c : got) {
                RequestResult r = c.await();
                String text = c.text.toString();
                assertEquals(FinishReason.STOP, r.reason(), text);
                assertTrue(strict.readTree(text).isObject(), text);
            }
        }
    }

    @Test
    void aRequestWhoseSchemaAdmitsNoTokenEndsAloneWithAnError() throws Exception {
        // Arrays that must each hold an array can only deepen, until the nesting bound refuses every token.
        JsonSchema endless = JsonSchema.parse("{\"type\": \"array\", \"minItems\": 1, \"items\": {\"$ref\": \"#\"}}");
        int[] p = prompt("Once upon a time");
        try (Scheduler s = new Scheduler(tern.engine(), tern.tokenizer(), tern.contextSize(), SchedulerConfig.defaults())) {
            Collector stuck = new Collector();
            Collector plain = new Collector();
            s.submit(new Request(p, SamplerConfig.greedy(), 200, List.of(), -1, OutputFormat.of(endless)), stuck);
            s.submit(Request.greedy(p, 150), plain);
            s.start();
            RequestResult failed = stuck.await();
            assertEquals(FinishReason.ERROR, failed.reason());
            assertTrue(failed.error().contains("no token of this vocabulary can continue"), failed.error());
            assertEquals(FinishReason.LENGTH, plain.await().reason(), "the other request runs on");
            assertArrayEquals(solo(p, 150), plain.ids());
        }
    }

    @Test
    void warmUpRunsForItsTimeAndLeavesNoTrace() {
        int[] p = prompt("The little dog");
        int[] before = solo(p, 30);
        int used = tern.engine().cache().usedBlocks();
        long t0 = System.nanoTime();
        tern.warmUp(0.3);
        assertTrue(System.nanoTime() - t0 >= 300_000_000L);
        assertEquals(used, tern.engine().cache().usedBlocks(), "the scratch session's blocks are returned");
        assertArrayEquals(before, solo(p, 30));
        // Told to stop (a chat's first message typed), it ends within a token, long before its time.
        int[] asked = new int[1];
        long t1 = System.nanoTime();
        tern.warmUp(60, () -> ++asked[0] > 3);
        assertTrue(System.nanoTime() - t1 < 30_000_000_000L && asked[0] <= 5, "asked " + asked[0] + " times");
        assertEquals(used, tern.engine().cache().usedBlocks());
    }
}
