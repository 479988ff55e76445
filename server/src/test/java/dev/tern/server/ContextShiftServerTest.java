package dev.tern.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tern.Tern;
import dev.tern.engine.ContextShift;
import dev.tern.engine.GenerationResult;
import dev.tern.engine.Generator;
import dev.tern.engine.Session;
import dev.tern.kv.KVCacheType;
import dev.tern.sampling.Sampler;
import dev.tern.sampling.SamplerConfig;
import dev.tern.testing.Fixtures;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A server started with --context-shift (a 64-position context): answers go on past a full context,
 * each as {@link Generator} alone writes it with the same shift, the request's n_keep and n_discard
 * adjusting the server's.
 */
class ContextShiftServerTest {
    private static final int CONTEXT = 64;
    private static LoopbackServer s;
    /** The same model loaded apart, for the single-sequence runs the answers are checked against. */
    private static Tern reference;

    @BeforeAll
    static void start() {
        Tern.Options options = new Tern.Options(1, CONTEXT, 4, KVCacheType.F32);
        s = LoopbackServer.start(options, ServerConfig.loopback(0, LoopbackServer.MODEL).withContextShift(ContextShift.keeping(0, 0)));
        reference = Tern.load(Fixtures.stories260K("stories260K-f32.gguf"), null, options);
    }

    @AfterAll
    static void stop() {
        s.close();
        reference.close();
    }

    private static String alone(String prompt, ContextShift shift, int n) {
        Tern tern = reference;
        Sampler greedy = new Sampler(SamplerConfig.greedy().withLogitBias(Map.of(tern.tokenizer().eos(), SamplerConfig.NEVER)),
                tern.tokenizer().vocabSize());
        try (Session session = tern.newSession()) {
            GenerationResult r = Generator.generate(session, tern.tokenizer(), tern.tokenizer().encode(prompt, true, false), greedy,
                    n, List.of(), shift, (id, t) -> true);
            assertEquals(n, r.tokens().length);
            return r.text();
        }
    }

    private static ObjectNode completion(String prompt, int n) {
        return Json.object().put("prompt", prompt).put("n_predict", n).put("temperature", 0).put("ignore_eos", true);
    }

    @Test
    void answersGoOnPastAFullContextAsTheGeneratorWrites() throws Exception {
        JsonNode r = s.postOk("/completion", completion("Once upon a time", 150));
        assertEquals(150, r.path("tokens_predicted").asInt(), r.toString());
        assertEquals(alone("Once upon a time", ContextShift.keeping(0, 0), 150), r.path("content").asText());
        assertTrue(r.path("truncated").asBoolean(), "a shifted answer is truncated, as llama-server marks it: " + r);
        JsonNode whole = s.postOk("/completion", completion("Once upon a time", 20));
        assertFalse(whole.path("truncated").asBoolean(true), whole.toString());

        JsonNode kept = s.postOk("/completion", completion("Lily and Tom went to the park", 150).put("n_keep", -1).put("n_discard", 9));
        assertEquals(alone("Lily and Tom went to the park", ContextShift.keeping(-1, 9), 150), kept.path("content").asText());

        JsonNode oai = s.postOk("/v1/completions", Json.object().put("prompt", "The little dog").put("max_tokens", 120)
                .put("temperature", 0).put("ignore_eos", true));
        assertEquals("length", oai.path("choices").path(0).path("finish_reason").asText());
        assertEquals(120, oai.path("usage").path("completion_tokens").asInt());
        assertEquals(alone("The little dog", ContextShift.keeping(0, 0), 120), oai.path("choices").path(0).path("text").asText());

        String metrics = s.get("/metrics").body();
        assertTrue(metrics.lines().anyMatch(l -> l.startsWith("tern_context_shifts ") && !l.endsWith(" 0.0")), metrics);
    }

    @Test
    void badShiftParametersAreRefused() throws Exception {
        assertEquals(400, s.post("/completion", Json.write(completion("Hi", 4).put("n_keep", -2)), false).statusCode());
        assertEquals(400, s.post("/completion", Json.write(completion("Hi", 4).put("n_discard", -1)), false).statusCode());
        JsonNode props = Json.MAPPER.readTree(s.get("/props").body());
        assertEquals(0, props.path("default_generation_settings").path("params").path("n_keep").asInt(-5));
    }
}
