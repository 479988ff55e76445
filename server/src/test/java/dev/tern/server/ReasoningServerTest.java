package dev.tern.server;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tern.Tern;
import dev.tern.kv.KVCacheType;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.net.http.HttpResponse;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A thinking model's answer over HTTP: stories260K behind a template that opens a {@code <think>}
 * block at the end of the prompt (as DeepSeek-R1's does), served twice, with the thinking apart
 * and with {@code --reasoning-format none}. The story model never closes the block, so all it
 * writes is thinking; greedy, the first server's thinking is the second one's content.
 */
class ReasoningServerTest {
    private static final String TEMPLATE = "{#- an answer follows </think> -#}{% for m in messages %}<|{{ m.role }}|>{{ m.content }}\n"
            + "{% endfor %}{% if add_generation_prompt %}<|assistant|>{% if think is not defined or think %}<think>\n{% endif %}{% endif %}";
    private static final String REQUEST = "{\"messages\": [{\"role\": \"user\", \"content\": \"Tell me a story.\"}], \"max_tokens\": 16,"
            + " \"temperature\": 0%s}";
    private static LoopbackServer apart;
    private static LoopbackServer together;

    @BeforeAll
    static void start() {
        Tern.Options options = new Tern.Options(1, 256, 4, KVCacheType.F32, TEMPLATE);
        apart = LoopbackServer.start(options, ServerConfig.loopback(0, LoopbackServer.MODEL));
        together = LoopbackServer.start(options, ServerConfig.loopback(0, LoopbackServer.MODEL).withReasoning(false));
    }

    @AfterAll
    static void stop() {
        apart.close();
        together.close();
    }

    private static JsonNode message(LoopbackServer s, String extra) throws Exception {
        HttpResponse<String> r = s.post("/v1/chat/completions", REQUEST.formatted(extra), false);
        assertEquals(200, r.statusCode(), r.body());
        return Json.MAPPER.readTree(r.body()).path("choices").path(0).path("message");
    }

    @Test
    void thinkingGoesToReasoningContent() throws Exception {
        JsonNode a = message(apart, ""), t = message(together, "");
        String text = t.get("content").asText();
        assertFalse(text.isBlank());
        assertNull(t.get("reasoning_content"));
        assertEquals(text.strip(), a.get("reasoning_content").asText());
        assertEquals("", a.get("content").asText());
    }

    @Test
    void streamedThinkingIsTheWholeText() throws Exception {
        String text = message(together, "").get("content").asText();
        HttpResponse<String> r = apart.post("/v1/chat/completions", REQUEST.formatted(", \"stream\": true"), false);
        assertEquals(200, r.statusCode(), r.body());
        StringBuilder thinking = new StringBuilder(), content = new StringBuilder();
        for (String line : r.body().split("\n")) {
            if (line.startsWith("data: {")) {
                JsonNode delta = Json.MAPPER.readTree(line.substring(6)).path("choices").path(0).path("delta");
                thinking.append(delta.path("reasoning_content").asText(""));
                content.append(delta.path("content").asText(""));
            }
        }
        assertTrue(r.body().endsWith("data: [DONE]\n\n"), r.body());
        assertEquals(text, thinking.toString());
        assertEquals("", content.toString());
    }

    /** chat_template_kwargs reach the template: without the opened block the same model answers in content. */
    @Test
    void templateKwargsTurnThinkingOff() throws Exception {
        String off = ", \"chat_template_kwargs\": {\"think\": false}";
        JsonNode a = message(apart, off), t = message(together, off);
        assertNull(a.get("reasoning_content"));
        assertEquals(t.get("content").asText(), a.get("content").asText());
        assertFalse(a.get("content").asText().isBlank());
        // The server's own defaults (tern serve --chat-template-kwargs) apply unless the request sets the variable.
        try (LoopbackServer quiet = LoopbackServer.start(new Tern.Options(1, 256, 2, KVCacheType.F32, TEMPLATE),
                ServerConfig.loopback(0, LoopbackServer.MODEL).withTemplateKwargs(java.util.Map.of("think", false)))) {
            JsonNode byDefault = message(quiet, "");
            assertNull(byDefault.get("reasoning_content"));
            assertEquals(t.get("content").asText(), byDefault.get("content").asText());
            assertEquals(message(apart, "").get("reasoning_content"), message(quiet, ", \"chat_template_kwargs\": {\"think\": true}")
                    .get("reasoning_content"));
        }
        HttpResponse<String> bad = apart.post("/v1/chat/completions", REQUEST.formatted(", \"chat_template_kwargs\": \"think\""), false);
        assertEquals(400, bad.statusCode(), bad.body());
        assertEquals("chat_template_kwargs", Json.MAPPER.readTree(bad.body()).path("error").path("param").asText());
    }
}
