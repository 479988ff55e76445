package dev.tern.spec;

import dev.tern.engine.Engine;
import dev.tern.engine.GenerationResult;
import dev.tern.engine.Generator;
import dev.tern.engine.Session;
import dev.tern.gguf.GGUFFile;
import dev.tern.model.Model;
import dev.tern.sampling.Sampler;
import dev.tern.sampling.SamplerConfig;
import dev.tern.testing.Fixtures;
import dev.tern.tokenizer.Tokenizer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Stopping as {@link Generator} does, on stories260K (greedy, prompt lookup over a prompt that
 * repeats itself, so proposals run into the limits): the same tokens, stop reason and session length (what a chat
 * continues from) when the context fills, the token budget runs out or the listener cancels.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class StopRulesTest {
    private Model model;
    private Engine engine;
    private Tokenizer tokenizer;
    private int[] prompt;

    @BeforeAll
    void load() {
        model = Model.load(Fixtures.stories260K("stories260K-f32.gguf"));
        engine = new Engine(model, 1);
        try (GGUFFile f = GGUFFile.open(Fixtures.stories260K("stories260K-f32.gguf"))) {
            tokenizer = Tokenizer.fromGGUF(f);
        }
        prompt = tokenizer.encode("Tom had a red ball. Tom had a red ball. Tom had a red ball. Tom had", true, false);
    }

    @AfterAll
    void close() {
        engine.close();
        model.close();
    }

    private record Run(int[] tokens, GenerationResult.StopReason reason, int position, long accepted) {
    }

    private Run run(int context, int maxTokens, Generator.Listener listener, boolean speculative) {
        try (Session s = engine.newSession(context)) {
            Sampler sampler = new Sampler(SamplerConfig.greedy(), tokenizer.vocabSize());
            if (!speculative) {
                GenerationResult r = Generator.generate(s, tokenizer, prompt, sampler, maxTokens, listener);
                return new Run(r.tokens(), r.stopReason(), s.position(), 0);
            }
            SpeculativeResult r = SpeculativeGenerator.generate(s, tokenizer, prompt, sampler, new NgramProposer(3, 1),
                    AdaptiveDraftLength.fixed(8), maxTokens, listener);
            GenerationResult g = r.generation();
            return new Run(g.tokens(), g.stopReason(), s.position(), r.stats().accepted());
        }
    }

    private void assertSameStop(int context, int maxTokens, Function<int[], Generator.Listener> listener) {
        Run plain = run(context, maxTokens, listener.apply(new int[1]), false);
        Run spec = run(context, maxTokens, listener.apply(new int[1]), true);
        assertArrayEquals(plain.tokens(), spec.tokens());
        assertEquals(plain.reason(), spec.reason());
        assertEquals(plain.position(), spec.position(), "session length");
    }

    @Test
    void contextFull() {
        assertSameStop(96, -1, c -> (id, t) -> true);
        Run spec = run(96, -1, (id, t) -> true, true);
        assertEquals(GenerationResult.StopReason.CONTEXT_FULL, spec.reason());
        assertTrue(spec.accepted() > 5, "lookup should have been accepted often, was " + spec.accepted());
    }

    @Test
    void tokenBudget() {
        for (int n : new int[]{0, 1, 2, 9, 37}) {
            assertSameStop(256, n, c -> (id, t) -> true);
        }
    }

    @Test
    void cancelledByTheListener() {
        for (int stopAt : new int[]{1, 5, 23}) {
            assertSameStop(256, 100, c -> (id, t) -> ++c[0] < stopAt);
        }
    }
}
