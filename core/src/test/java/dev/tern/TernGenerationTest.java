package dev.tern;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tern.chat.ChatMessage;
import dev.tern.engine.FinishReason;
import dev.tern.engine.GenerationResult;
import dev.tern.engine.Generator;
import dev.tern.engine.OutputFormat;
import dev.tern.engine.Session;
import dev.tern.kv.KVCacheType;
import dev.tern.sampling.JsonSchema;
import dev.tern.sampling.Sampler;
import dev.tern.sampling.SamplerConfig;
import dev.tern.testing.Fixtures;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The library's one-call generation ({@link Tern#complete}, {@link Tern#chat}) against the
 * single-sequence {@link Generator} loop, alone and from many threads at once.
 */
class TernGenerationTest {
    private static final String[] PROMPTS = {"Once upon a time", "Lily and Tom went to the park", "The little dog",
            "One day, a bird", "There was a cat", "Mom said", "The sun was hot", "Tim found a box"};
    private static Tern tern;

    @BeforeAll
    static void load() {
        tern = Tern.load(Fixtures.stories260K("stories260K-f32.gguf"), null, new Tern.Options(2, 256, 8, KVCacheType.F32));
    }

    @AfterAll
    static void close() {
        tern.close();
    }

    private static GenerationResult solo(int[] prompt, int maxTokens) {
        try (Session s = tern.newSession()) {
            return Generator.generate(s, tern.tokenizer(), prompt, new Sampler(SamplerConfig.greedy(), tern.tokenizer().vocabSize()),
                    maxTokens, (id, t) -> true);
        }
    }

    @Test
    void aCompletionIsTheGreedyLoopsAndStreamsItsText() {
        StringBuilder streamed = new StringBuilder();
        Completion c = tern.complete("Once upon a time", GenerateOptions.greedy(40), streamed::append);
        GenerationResult want = solo(tern.tokenizer().encode("Once upon a time", true, true), 40);
        assertArrayEquals(want.tokens(), c.tokens());
        assertEquals(want.text(), c.text());
        assertEquals(c.text(), streamed.toString());
        assertEquals(want.tokens().length == 40 ? FinishReason.LENGTH : FinishReason.STOP, c.finishReason());
        assertEquals(want.promptTokens().length, c.promptTokens());
    }

    @Test
    void threadsAtOnceGetWhatEachGetsAlone() throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(PROMPTS.length);
        try {
            List<Future<Completion>> futures = new ArrayList<>();
            for (String p : PROMPTS) {
                futures.add(pool.submit(() -> tern.complete(p, GenerateOptions.greedy(30))));
            }
            for (int i = 0; i < PROMPTS.length; i++) {
                assertArrayEquals(solo(tern.tokenizer().encode(PROMPTS[i], true, true), 30).tokens(), futures.get(i).get().tokens(), PROMPTS[i]);
            }
        } finally {
            pool.shutdown();
        }
    }

    @Test
    void chatRendersTheTemplateOnce() {
        List<ChatMessage> messages = List.of(new ChatMessage("user", "Tell me a story."));
        Completion c = tern.chat(messages, GenerateOptions.greedy(20), null);
        String rendered = tern.chatTemplate().render(messages, true);
        int[] prompt = tern.encodeRendered(rendered);
        assertArrayEquals(solo(prompt, 20).tokens(), c.tokens());
        assertEquals(prompt.length, c.promptTokens());
        assertEquals(1, java.util.Arrays.stream(prompt).filter(t -> t == tern.tokenizer().bos()).count(), "one BOS");
    }

    @Test
    void stopStringsFormatsAndErrors() throws Exception {
        Completion whole = tern.complete("Once upon a time", GenerateOptions.greedy(40));
        String stop = whole.text().substring(10, 14);
        Completion stopped = tern.complete("Once upon a time", GenerateOptions.greedy(40).withStop(List.of(stop)));
        assertEquals(whole.text().substring(0, whole.text().indexOf(stop)), stopped.text());
        assertEquals(FinishReason.STOP, stopped.finishReason());

        JsonSchema schema = JsonSchema.parse("{\"type\": \"object\", \"properties\": {\"name\": {\"type\": \"string\", \"maxLength\": 8}},"
                + " \"required\": [\"name\"], \"additionalProperties\": false}");
        Completion json = tern.complete("Once upon a time", GenerateOptions.sampled(80).withFormat(OutputFormat.of(schema)));
        assertTrue(new ObjectMapper().readTree(json.text()).get("name").isTextual(), json.text());

        String tooLong = "Once upon a time. ".repeat(60);
        assertThrows(TernException.class, () -> tern.complete(tooLong, GenerateOptions.greedy(5)));
    }
}
