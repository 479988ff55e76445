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
 * requests what a plain server answers, in one server, with the prefix cache shared by both.
 */
class ServedAdaptersTest {
    private static final String PROMPT = "Once upon a time, there was a little girl named Lily. She loved to play outside";

    private static String greedy(LoopbackServer s, String model) throws Exception {
        String body = "{\"model\": \"" + model + "\", \"prompt\": \"" + PROMPT + "\", \"max_tokens\": 24, \"temperature\": 0}";
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
}
