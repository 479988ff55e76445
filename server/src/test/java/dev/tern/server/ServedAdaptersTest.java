package dev.tern.server;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tern.Tern;
import dev.tern.kv.KVCacheType;
import dev.tern.testing.Adapters;
import dev.tern.testing.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

/**
 * LoRA adapters served as models of their own (vLLM's {@code --lora-modules}): a request naming
 * one gets what a server with that adapter applied to everything answers, the base model's
 * requests what a plain server answers, in one server, with the prefix cache shared by both. And
 * llama-server's scales of the adapters applied to everything, per request ({@code lora}) and for
 * all ({@code /lora-adapters}): each answer is what a server that loaded the adapters at those
 * scales gives.
 */
class ServedAdaptersTest {
    private static final String PROMPT = "Once upon a time, there was a little girl named Lily. She loved to play outside";

    private static String greedy(LoopbackServer s, String model) throws Exception {
        return greedy(s, model, "");
    }

    private static String greedy(LoopbackServer s, String model, String extra) throws Exception {
        String body = "{\"model\": \"" + model + "\", \"prompt\": \"" + PROMPT + "\", \"max_tokens\": 24, \"temperature\": 0" + extra + "}";
        var r = s.post("/v1/completions", body, false);
        assertEquals(200, r.statusCode(), r.body());
        JsonNode answer = Json.MAPPER.readTree(r.body());
        assertEquals(model, answer.path("model").asText(), "the answer names the model asked for");
        return answer.path("choices").path(0).path("text").asText();
    }

    private static LoopbackServer server(List<Tern.Lora> loras) {
        return LoopbackServer.start(Fixtures.stories260K("stories260K-f32.gguf"), new Tern.Options(1, 256, 4, KVCacheType.F32, null, loras),
                ServerConfig.loopback(0, LoopbackServer.MODEL));
    }

    @Test
    void aRequestNamingAnAdapterGetsItAlone(@TempDir Path dir) throws Exception {
        Path adapter = Adapters.stories260KQuery(dir.resolve("a.gguf"), 2f);
        String plain, adapted;
        try (LoopbackServer s = server(List.of())) {
            plain = greedy(s, LoopbackServer.MODEL);
        }
        try (LoopbackServer s = server(List.of(new Tern.Lora(adapter, 1f)))) {
            adapted = greedy(s, LoopbackServer.MODEL);
        }
        assertNotEquals(plain, adapted, "the adapter changes the story");
        try (LoopbackServer s = server(List.of(new Tern.Lora(adapter, 1f, "lily")))) {
            // The plain prompt's blocks are cached first: the adapter's request must not reuse them.
            assertEquals(plain, greedy(s, LoopbackServer.MODEL));
            assertEquals(adapted, greedy(s, "lily"));
            assertEquals(plain, greedy(s, LoopbackServer.MODEL));
            JsonNode models = Json.MAPPER.readTree(s.http().send(java.net.http.HttpRequest.newBuilder(
                    java.net.URI.create(s.server().url() + "/v1/models")).build(), java.net.http.HttpResponse.BodyHandlers.ofString()).body());
            assertEquals("lily", models.path("data").path(1).path("id").asText());
            assertEquals(LoopbackServer.MODEL, models.path("data").path(1).path("parent").asText());
            assertEquals(404, s.post("/v1/completions", "{\"model\": \"nobody\", \"prompt\": \"a\"}", false).statusCode());
        }
    }

    @Test
    void llamaServersLoraScalesPerRequestAndForAll(@TempDir Path dir) throws Exception {
        Path a = Adapters.stories260KQuery(dir.resolve("a.gguf"), 2f);
        Path b = Adapters.stories260KQuery(dir.resolve("b.gguf"), -1.5f);
        String plain, aHalf, bothScaled;
        try (LoopbackServer s = server(List.of())) {
            plain = greedy(s, LoopbackServer.MODEL);
        }
        try (LoopbackServer s = server(List.of(new Tern.Lora(a, 0.5f)))) {
            aHalf = greedy(s, LoopbackServer.MODEL);
        }
        try (LoopbackServer s = server(List.of(new Tern.Lora(a, 0.25f), new Tern.Lora(b, 2f)))) {
            bothScaled = greedy(s, LoopbackServer.MODEL);
        }
        String both;
        try (LoopbackServer s = server(List.of(new Tern.Lora(a, 1f), new Tern.Lora(b, 1f)))) {
            both = greedy(s, LoopbackServer.MODEL);
            assertNotEquals(plain, aHalf);
            assertNotEquals(aHalf, bothScaled);
            assertNotEquals(both, bothScaled);
            // An adapter the list leaves out gets scale 0, as in llama-server.
            assertEquals(aHalf, greedy(s, LoopbackServer.MODEL, ", \"lora\": [{\"id\": 0, \"scale\": 0.5}]"));
            assertEquals(bothScaled, greedy(s, LoopbackServer.MODEL, ", \"lora\": [{\"id\": 1, \"scale\": 2}, {\"id\": 0, \"scale\": 0.25}]"));
            assertEquals(plain, greedy(s, LoopbackServer.MODEL, ", \"lora\": [{\"id\": 0, \"scale\": 0}]"));
            assertEquals(both, greedy(s, LoopbackServer.MODEL), "a request's scales are its own");
            assertEquals(aHalf, completion(s, "/completion", "{\"prompt\": \"" + PROMPT + "\", \"n_predict\": 24, \"temperature\": 0,"
                    + " \"lora\": [{\"id\": 0, \"scale\": 0.5}]}").path("content").asText());

            JsonNode listed = Json.MAPPER.readTree(get(s, "/lora-adapters"));
            assertEquals(2, listed.size());
            assertEquals(a.toString(), listed.path(0).path("path").asText());
            assertEquals(1.0, listed.path(1).path("scale").asDouble());
            var set = s.post("/lora-adapters", "[{\"id\": 0, \"scale\": 0.5}]", false);
            assertEquals(200, set.statusCode(), set.body());
            assertEquals(0.0, Json.MAPPER.readTree(get(s, "/lora-adapters")).path(1).path("scale").asDouble());
            assertEquals(aHalf, greedy(s, LoopbackServer.MODEL), "the scales set for all");
            assertEquals(both, greedy(s, LoopbackServer.MODEL, ", \"lora\": [{\"id\": 0, \"scale\": 1}, {\"id\": 1, \"scale\": 1}]"));

            for (String bad : new String[]{"{\"id\": 2, \"scale\": 1}", "{\"id\": 0}", "{\"scale\": 1}", "{\"id\": 0, \"scale\": \"x\"}"}) {
                var r = s.post("/v1/completions", "{\"prompt\": \"a\", \"lora\": [" + bad + "]}", false);
                assertEquals(400, r.statusCode(), bad);
                assertEquals("lora", Json.MAPPER.readTree(r.body()).path("error").path("param").asText(), bad);
            }
            assertEquals(400, s.post("/lora-adapters", "{\"id\": 0}", false).statusCode());
            assertEquals(400, s.post("/lora-adapters", "not json", false).statusCode());
        }
        try (LoopbackServer s = server(List.of())) {
            assertEquals(400, s.post("/v1/completions", "{\"prompt\": \"a\", \"lora\": [{\"id\": 0, \"scale\": 1}]}", false).statusCode());
            assertEquals("[]", get(s, "/lora-adapters"));
        }
    }

    private static JsonNode completion(LoopbackServer s, String path, String body) throws Exception {
        var r = s.post(path, body, false);
        assertEquals(200, r.statusCode(), r.body());
        return Json.MAPPER.readTree(r.body());
    }

    private static String get(LoopbackServer s, String path) throws Exception {
        return s.http().send(java.net.http.HttpRequest.newBuilder(java.net.URI.create(s.server().url() + path)).build(),
                java.net.http.HttpResponse.BodyHandlers.ofString()).body();
    }
}
