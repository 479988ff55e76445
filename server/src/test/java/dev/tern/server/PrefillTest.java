package dev.tern.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tern.Tern;
import dev.tern.kv.KVCacheType;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.net.http.HttpResponse;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A reply that continues the last assistant message (vLLM's continue_final_message, Anthropic's prefill): its
 * prompt is the conversation before that message with the generation prompt, then the message's text; the answer
 * is the greedy completion of exactly those tokens. add_generation_prompt false ends the prompt with the last turn.
 */
class PrefillTest {
    private static final String PREFILL = "Once upon a time, there was a";
    private static LoopbackServer s;

    @BeforeAll
    static void start() {
        s = LoopbackServer.start(new Tern.Options(1, 256, 4, KVCacheType.F32), ServerConfig.loopback(0, LoopbackServer.MODEL));
    }

    @AfterAll
    static void stop() {
        s.close();
    }

    private static ObjectNode chat(boolean withPrefill) {
        ObjectNode body = Json.object().put("max_tokens", 12).put("temperature", 0);
        ArrayNode m = body.putArray("messages");
        m.addObject().put("role", "user").put("content", "Tell me a story.");
        if (withPrefill) {
            m.addObject().put("role", "assistant").put("content", PREFILL);
        }
        return body;
    }

    @Test
    void theReplyContinuesTheLastAssistantMessage() throws Exception {
        String open = s.postOk("/apply-template", chat(false)).get("prompt").asText();
        String prefilled = s.postOk("/apply-template", chat(true).put("continue_final_message", true)).get("prompt").asText();
        assertEquals(open + PREFILL, prefilled);

        ObjectNode completion = Json.object().put("max_tokens", 12).put("temperature", 0);
        ArrayNode ids = completion.putArray("prompt");
        for (int id : s.tern().encodeRendered(prefilled)) {
            ids.add(id);
        }
        String want = s.postOk("/v1/completions", completion).path("choices").path(0).path("text").asText();
        String got = s.postOk("/v1/chat/completions", chat(true).put("continue_final_message", true).put("add_generation_prompt", false))
                .path("choices").path(0).path("message").path("content").asText();
        assertEquals(want, got);
        assertTrue(!got.isEmpty());

        ObjectNode anthropic = Json.object().put("model", LoopbackServer.MODEL).put("max_tokens", 12).put("temperature", 0);
        anthropic.set("messages", chat(true).get("messages"));
        assertEquals(want, s.postOk("/v1/messages", anthropic).path("content").path(0).path("text").asText());
    }

    /** vLLM's /tokenize of messages: the tokens a chat completion of them gets, prefill included. */
    @Test
    void tokenizeTakesMessages() throws Exception {
        String prefilled = s.postOk("/apply-template", chat(true).put("continue_final_message", true)).get("prompt").asText();
        JsonNode got = s.postOk("/tokenize", chat(true).put("continue_final_message", true)).get("tokens");
        int[] want = s.tern().encodeRendered(prefilled);
        assertEquals(want.length, got.size());
        for (int i = 0; i < want.length; i++) {
            assertEquals(want[i], got.get(i).asInt());
        }
    }

    @Test
    void withoutAGenerationPromptThePromptEndsWithTheLastTurn() throws Exception {
        String open = s.postOk("/apply-template", chat(false)).get("prompt").asText();
        String closed = s.postOk("/apply-template", chat(false).put("add_generation_prompt", false)).get("prompt").asText();
        assertTrue(open.startsWith(closed) && open.length() > closed.length(), closed + " | " + open);
    }

    @Test
    void continuingWhatCannotBeContinuedIsRefused() throws Exception {
        for (ObjectNode bad : new ObjectNode[]{chat(false).put("continue_final_message", true),
                chat(true).put("continue_final_message", true).put("add_generation_prompt", true),
                chat(true).put("continue_final_message", "yes")}) {
            HttpResponse<String> r = s.post("/v1/chat/completions", Json.write(bad), false);
            assertEquals(400, r.statusCode(), r.body());
        }
    }
}
