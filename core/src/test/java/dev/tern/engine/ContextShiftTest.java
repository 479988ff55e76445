package dev.tern.engine;

import dev.tern.Tern;
import dev.tern.kv.KVCacheType;
import dev.tern.sampling.Sampler;
import dev.tern.sampling.SamplerConfig;
import dev.tern.spec.AdaptiveDraftLength;
import dev.tern.spec.NgramProposer;
import dev.tern.spec.Speculation;
import dev.tern.spec.SpeculativeGenerator;
import dev.tern.testing.Fixtures;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Context shifting: the generation goes on past a full context, and each token is what a fresh
 * session fed the shortened text predicts, the shortening done here by a transcription of
 * llama-server's formula rather than by {@link ContextShift}.
 */
class ContextShiftTest {
    private static final int CONTEXT = 64;
    private static Tern tern;

    @BeforeAll
    static void load() {
        tern = Tern.load(Fixtures.stories260K("stories260K-f32.gguf"), null, new Tern.Options(2, 256, 16, KVCacheType.F32));
    }

    @AfterAll
    static void close() {
        tern.close();
    }

    /**
     * llama-server's shift: n_keep = (n_keep &lt; 0 ? prompt tokens : n_keep) + BOS, at most n_ctx - 4;
     * n_left = n_past - n_keep; n_discard = n_discard or n_left / 2, clamped to [0, n_left - 1].
     * (With n_keep = -1 llama-server counts the BOS twice; here the prompt, BOS included, is kept.)
     */
    private static List<Integer> shortened(List<Integer> held, int keep, int discard, int promptLength, int ctx) {
        int nKeep = keep < 0 ? promptLength : keep + 1;
        nKeep = Math.min(ctx - 4, nKeep);
        int nLeft = held.size() - nKeep;
        int nDiscard = discard != 0 ? discard : nLeft / 2;
        nDiscard = Math.max(0, Math.min(nDiscard, Math.max(0, nLeft - 1)));
        List<Integer> out = new ArrayList<>(held.subList(0, nKeep));
        out.addAll(held.subList(nKeep + nDiscard, held.size()));
        return out;
    }

    @Test
    void gapMatchesLlamaServer() {
        int[] tokens = new int[CONTEXT];
        tokens[0] = tern.tokenizer().bos();
        for (int i = 1; i < CONTEXT; i++) {
            tokens[i] = 300 + i;
        }
        List<Integer> held = Arrays.stream(tokens).boxed().toList();
        int[][] cases = {{0, 0, 5}, {3, 0, 5}, {-1, 0, 9}, {-1, 0, 1}, {10, 7, 5}, {100, 0, 5}, {58, 0, 5}, {0, 200, 5}};
        for (int[] c : cases) {
            ContextShift.Gap gap = ContextShift.keeping(c[0], c[1]).gap(tokens, CONTEXT, c[2], tern.tokenizer().bos(), CONTEXT);
            int[] mine = tokens.clone();
            int length = gap.removeFrom(mine, CONTEXT);
            List<Integer> expected = shortened(held, c[0], c[1], c[2], CONTEXT);
            assertEquals(expected, Arrays.stream(mine, 0, length).boxed().toList(), Arrays.toString(c));
            assertTrue(gap.count() > 0, "a full context of " + CONTEXT + " always has something to drop: " + Arrays.toString(c));
        }
        // Without a BOS the kept tokens start at the first.
        ContextShift.Gap noBos = ContextShift.keeping(2, 0).gap(tokens, CONTEXT, 5, -1, CONTEXT);
        assertEquals(new ContextShift.Gap(2, 31), noBos);
        assertEquals(0, ContextShift.NONE.gap(tokens, CONTEXT, 5, tokens[0], CONTEXT).count());
        assertThrows(IllegalArgumentException.class, () -> ContextShift.keeping(-2, 0));
    }

    /** Greedy, with the end-of-text token banned, so that the generation runs through several shifts. */
    private static Sampler greedyForever() {
        return new Sampler(SamplerConfig.greedy().withLogitBias(Map.of(tern.tokenizer().eos(), SamplerConfig.NEVER)),
                tern.tokenizer().vocabSize());
    }

    private static int[] prompt() {
        return tern.tokenizer().encode("Once upon a time, there was a little girl named Lily", true, false);
    }

    private static int argmaxAfter(List<Integer> held) {
        try (Session fresh = tern.engine().newSession(CONTEXT)) {
            return greedyForever().sample(fresh.forward(held.stream().mapToInt(Integer::intValue).toArray()));
        }
    }

    /**
     * Each generated token against a fresh session over the text as llama-server would have shortened it;
     * returns how many times it was shortened.
     */
    private static int assertFollowsShortenedText(int[] prompt, int[] generated, int keep, int discard) {
        List<Integer> held = new ArrayList<>(Arrays.stream(prompt).boxed().toList());
        int shifts = 0;
        for (int i = 0; i < generated.length; i++) {
            assertEquals(argmaxAfter(held), generated[i], "token " + i + " after " + shifts + " shifts");
            if (held.size() >= CONTEXT) {
                held = shortened(held, keep, discard, prompt.length, CONTEXT);
                shifts++;
            }
            held.add(generated[i]);
        }
        assertTrue(shifts >= 3, "only " + shifts + " shifts in " + generated.length + " tokens");
        return shifts;
    }

    @Test
    void generatorGoesOnAsAFreshRunOnTheShortenedText() {
        int[] prompt = prompt();
        for (int[] kd : new int[][]{{0, 0}, {-1, 0}, {4, 10}}) {
            ContextShift shift = ContextShift.keeping(kd[0], kd[1]);
            try (Session s = tern.engine().newSession(CONTEXT)) {
                GenerationResult r = Generator.generate(s, tern.tokenizer(), prompt, greedyForever(), 160, List.of(), shift, (id, t) -> true);
                assertEquals(GenerationResult.StopReason.MAX_TOKENS, r.stopReason());
                assertEquals(160, r.tokens().length);
                assertEquals(assertFollowsShortenedText(prompt, r.tokens(), kd[0], kd[1]), r.contextShifts());
                assertTrue(s.position() <= CONTEXT);
            }
        }
    }

    @Test
    void withoutShiftAFullContextEndsTheGeneration() {
        try (Session s = tern.engine().newSession(CONTEXT)) {
            GenerationResult r = Generator.generate(s, tern.tokenizer(), prompt(), greedyForever(), 160, (id, t) -> true);
            assertEquals(GenerationResult.StopReason.CONTEXT_FULL, r.stopReason());
            assertEquals(CONTEXT - prompt().length + 1, r.tokens().length);
            assertEquals(0, r.contextShifts());
        }
    }

    @Test
    void speculativeGeneratorShiftsAsThePlainOne() {
        int[] prompt = prompt();
        ContextShift shift = ContextShift.keeping(2, 0);
        int[] plain;
        try (Session s = tern.engine().newSession(CONTEXT)) {
            plain = Generator.generate(s, tern.tokenizer(), prompt, greedyForever(), 150, List.of(), shift, (id, t) -> true).tokens();
        }
        try (Session s = tern.engine().newSession(CONTEXT)) {
            GenerationResult r = SpeculativeGenerator.generate(s, tern.tokenizer(), new int[0], prompt, greedyForever(),
                    new NgramProposer(3, 1), AdaptiveDraftLength.forDraftModel(1, 6), 150, List.of(), shift, (id, t) -> true).generation();
            assertArrayEquals(plain, r.tokens());
            assertEquals(GenerationResult.StopReason.MAX_TOKENS, r.stopReason());
        }
    }

    /** With speculation in the scheduler (prompt lookup, and a draft model whose cache must follow the shifts), each as alone. */
    @Test
    void speculatingRequestsShiftAsTheGeneratorDoes() throws Exception {
        String[] texts = {"Once upon a time", "The little dog"};
        ContextShift shift = ContextShift.keeping(3, 0);
        SamplerConfig config = SamplerConfig.greedy().withLogitBias(Map.of(tern.tokenizer().eos(), SamplerConfig.NEVER));
        Tern draft = Tern.load(Fixtures.stories260K("stories260K-f32.gguf"), null, new Tern.Options(1, CONTEXT, 4, KVCacheType.F32));
        try (Speculation drafted = Speculation.draftModel(draft, tern.tokenizer(), "stories260K", 0.3f, 1, 6)) {
            for (Speculation speculation : new Speculation[]{Speculation.ngram(1, 6), drafted}) {
                try (Scheduler s = new Scheduler(tern.engine(), tern.tokenizer(), CONTEXT, new SchedulerConfig(2, 48, 8, 0, true),
                        speculation)) {
                    List<SchedulerTest.Collector> collectors = new ArrayList<>();
                    for (String text : texts) {
                        SchedulerTest.Collector c = new SchedulerTest.Collector();
                        s.submit(new Request(tern.tokenizer().encode(text, true, false), config, 130, List.of(), -1, OutputFormat.TEXT,
                                new int[0], 0, -1, null, false, LineLimits.NONE, shift), c);
                        collectors.add(c);
                    }
                    s.start();
                    for (int i = 0; i < texts.length; i++) {
                        assertEquals(FinishReason.LENGTH, collectors.get(i).done.get(2, TimeUnit.MINUTES).reason());
                        try (Session solo = tern.engine().newSession(CONTEXT)) {
                            int[] expected = Generator.generate(solo, tern.tokenizer(), tern.tokenizer().encode(texts[i], true, false),
                                    greedyForever(), 130, List.of(), shift, (id, t) -> true).tokens();
                            assertArrayEquals(expected, collectors.get(i).ids(), texts[i]);
                        }
                    }
                    assertTrue(s.stats().contextShifts() >= 2 && s.stats().draftAccepted() > 0, s.stats().toString());
                }
            }
        }
    }

    /** Several shifting requests among others, with few blocks (preemption) and the prefix cache, each as alone. */
    @Test
    void schedulerShiftsEachRequestAsTheGeneratorDoes() throws Exception {
        String[] texts = {"Once upon a time", "Lily and Tom went to the park", "The little dog", "One day, a bird"};
        ContextShift shift = ContextShift.keeping(0, 0);
        SamplerConfig config = SamplerConfig.greedy().withLogitBias(Map.of(tern.tokenizer().eos(), SamplerConfig.NEVER));
        try (Scheduler s = new Scheduler(tern.engine(), tern.tokenizer(), CONTEXT, new SchedulerConfig(4, 48, 16, 12, true))) {
            List<SchedulerTest.Collector> collectors = new ArrayList<>();
            for (String text : texts) {
                int[] p = tern.tokenizer().encode(text, true, false);
                SchedulerTest.Collector c = new SchedulerTest.Collector();
                s.submit(new Request(p, config, 120, List.of(), -1, OutputFormat.TEXT, new int[0], 0, -1, null, false,
                        LineLimits.NONE, shift), c);
                collectors.add(c);
            }
            s.start();
            for (int i = 0; i < texts.length; i++) {
                RequestResult result = collectors.get(i).done.get(2, TimeUnit.MINUTES);
                assertEquals(FinishReason.LENGTH, result.reason());
                int[] got = collectors.get(i).tokens.stream().mapToInt(Integer::intValue).toArray();
                try (Session solo = tern.engine().newSession(CONTEXT)) {
                    GenerationResult expected = Generator.generate(solo, tern.tokenizer(), tern.tokenizer().encode(texts[i], true, false),
                            greedyForever(), 120, List.of(), shift, (id, t) -> true);
                    assertArrayEquals(expected.tokens(), got, texts[i]);
                    assertEquals(expected.contextShifts(), result.contextShifts(), texts[i]);
                }
            }
            SchedulerStats stats = s.stats();
            assertTrue(stats.contextShifts() >= 4, stats.toString());
            assertTrue(stats.preemptions() > 0, "expected preemptions with 12 blocks: " + stats);
        }
    }
}
