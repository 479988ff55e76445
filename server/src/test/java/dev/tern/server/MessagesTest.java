package dev.tern.server;

import com.anthropic.client.AnthropicClient;
import com.anthropic.client.okhttp.AnthropicOkHttpClient;
import com.anthropic.core.http.StreamResponse;
import com.anthropic.errors.BadRequestException;
import com.anthropic.errors.UnauthorizedException;
import com.anthropic.helpers.MessageAccumulator;
import com.anthropic.models.messages.ContentBlock;
import com.anthropic.models.messages.Message;
import com.anthropic.models.messages.MessageCreateParams;
import com.anthropic.models.messages.RawMessageStreamEvent;
import com.anthropic.models.messages.StopReason;
import com.fasterxml.jackson.databind.JsonNode;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import dev.tern.Tern;
import dev.tern.kv.KVCacheType;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * POST /v1/messages through Anthropic's official Java SDK: the answer of the chat completion it
 * translates to, whole and streamed (the SDK's accumulator rebuilds the message from the
 * events); tool use; token counting; errors and the x-api-key header.
 */
class MessagesTest {
    private static final String KEY = "test-key";
    private static LoopbackServer fixture;
    private static AnthropicClient anthropic;

    @BeforeAll
    static void start() {
        fixture = LoopbackServer.start(new Tern.Options(1, 512, 8, KVCacheType.F32),
                ServerConfig.loopback(0, LoopbackServer.MODEL).withApiKey(KEY));
        anthropic = AnthropicOkHttpClient.builder().baseUrl(fixture.server().url()).apiKey(KEY).maxRetries(0).build();
    }

    @AfterAll
    static void stop() {
        fixture.close();
    }

    private static String text(Message m) {
        StringBuilder t = new StringBuilder();
        for (ContentBlock b : m.content()) {
            b.text().ifPresent(x -> t.append(x.text()));
        }
        return t.toString();
    }

    private static MessageCreateParams params(int maxTokens) {
        return MessageCreateParams.builder().model(LoopbackServer.MODEL).maxTokens(maxTokens).system("You tell stories.")
                .addUserMessage("Once upon a time")
                .putAdditionalBodyProperty("temperature", com.anthropic.core.JsonValue.from(0.0)).build();
    }

    @Test
    void theSdkGetsTheChatCompletionsAnswer() {
        Message m = anthropic.messages().create(params(24));
        String chat = fixture.client().chat().completions().create(ChatCompletionCreateParams.builder().model(LoopbackServer.MODEL)
                .maxCompletionTokens(24).temperature(0.0).addSystemMessage("You tell stories.").addUserMessage("Once upon a time").build())
                .choices().getFirst().message().content().orElse("");
        assertEquals(chat, text(m));
        assertEquals(StopReason.MAX_TOKENS, m.stopReason().orElseThrow());
        assertEquals(24, m.usage().outputTokens());
        assertTrue(m.id().startsWith("msg_"));
    }

    @Test
    void theStreamRebuildsTheWholeMessage() {
        String whole = text(anthropic.messages().create(params(30)));
        MessageAccumulator acc = MessageAccumulator.create();
        List<String> types = new ArrayList<>();
        try (StreamResponse<RawMessageStreamEvent> s = anthropic.messages().createStreaming(params(30))) {
            s.stream().forEach(e -> {
                acc.accumulate(e);
                types.add(e.isMessageStart() ? "start" : e.isContentBlockStart() ? "block" : e.isContentBlockDelta() ? "delta"
                        : e.isContentBlockStop() ? "stop" : e.isMessageDelta() ? "message_delta" : "end");
            });
        }
        Message m = acc.message();
        assertEquals(whole, text(m));
        assertEquals(StopReason.MAX_TOKENS, m.stopReason().orElseThrow());
        assertEquals(List.of("start", "block"), types.subList(0, 2));
        assertEquals(List.of("stop", "message_delta", "end"), types.subList(types.size() - 3, types.size()));
        assertEquals(30, m.usage().outputTokens());
    }

    @Test
    void aStopSequenceIsReportedAsTheStopReason() {
        String whole = text(anthropic.messages().create(params(30)));
        String stop = whole.substring(10, 14);
        MessageCreateParams p = params(30).toBuilder().stopSequences(List.of("zzz", stop)).build();
        Message m = anthropic.messages().create(p);
        assertEquals(whole.substring(0, whole.indexOf(stop)), text(m));
        assertEquals(StopReason.STOP_SEQUENCE, m.stopReason().orElseThrow());
        assertEquals(stop, m.stopSequence().orElseThrow());
        MessageAccumulator acc = MessageAccumulator.create();
        try (StreamResponse<RawMessageStreamEvent> s = anthropic.messages().createStreaming(p)) {
            s.stream().forEach(acc::accumulate);
        }
        assertEquals(StopReason.STOP_SEQUENCE, acc.message().stopReason().orElseThrow());
        assertEquals(stop, acc.message().stopSequence().orElseThrow());
    }

    private static final String TOOL = "{\"name\": \"get_weather\", \"description\": \"Weather in a city\", \"input_schema\": {\"type\": \"object\","
            + " \"properties\": {\"city\": {\"type\": \"string\", \"maxLength\": 12}}, \"required\": [\"city\"], \"additionalProperties\": false}}";

    private static JsonNode post(String path, String body) throws Exception {
        HttpResponse<String> r = fixture.http().send(java.net.http.HttpRequest.newBuilder(java.net.URI.create(fixture.server().url() + path))
                .header("x-api-key", KEY).header("Content-Type", "application/json")
                .POST(java.net.http.HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, r.statusCode(), r.body());
        return Json.MAPPER.readTree(r.body());
    }

    @Test
    void aForcedToolIsUsedWithInputOfItsSchemaAndItsResultGoesBack() throws Exception {
        JsonNode m = post("/v1/messages", "{\"model\": \"" + LoopbackServer.MODEL + "\", \"max_tokens\": 200, \"tools\": [" + TOOL + "],"
                + " \"tool_choice\": {\"type\": \"tool\", \"name\": \"get_weather\", \"disable_parallel_tool_use\": true},"
                + " \"messages\": [{\"role\": \"user\", \"content\": \"Weather in Paris?\"}]}");
        assertEquals("tool_use", m.get("stop_reason").asText(), m.toString());
        JsonNode use = m.get("content").get(m.get("content").size() - 1);
        assertEquals("tool_use", use.get("type").asText());
        assertEquals("get_weather", use.get("name").asText());
        assertTrue(use.get("input").get("city").isTextual() && use.get("input").get("city").asText().length() <= 12, use.toString());

        String next = "{\"model\": \"" + LoopbackServer.MODEL + "\", \"max_tokens\": 8, \"temperature\": 0, \"tools\": [" + TOOL + "],"
                + " \"messages\": [{\"role\": \"user\", \"content\": \"Weather in Paris?\"}, {\"role\": \"assistant\", \"content\": [" + use + "]},"
                + " {\"role\": \"user\", \"content\": [{\"type\": \"tool_result\", \"tool_use_id\": \"" + use.get("id").asText()
                + "\", \"content\": \"sunny\"}]}]}";
        JsonNode counted = post("/v1/messages/count_tokens", next);
        JsonNode answer = post("/v1/messages", next);
        assertEquals(counted.get("input_tokens").asInt(), answer.get("usage").get("input_tokens").asInt(), "count_tokens counts the prompt");
        // The same conversation as chat messages gives the same prompt.
        String chat = "{\"model\": \"" + LoopbackServer.MODEL + "\", \"max_tokens\": 8, \"temperature\": 0, \"tools\": [{\"type\": \"function\","
                + " \"function\": {\"name\": \"get_weather\", \"description\": \"Weather in a city\", \"parameters\": " + Json.MAPPER.readTree(TOOL)
                .get("input_schema") + "}}], \"messages\": [{\"role\": \"user\", \"content\": \"Weather in Paris?\"}, {\"role\": \"assistant\","
                + " \"content\": null, \"tool_calls\": [{\"id\": \"" + use.get("id").asText() + "\", \"type\": \"function\", \"function\": {\"name\":"
                + " \"get_weather\", \"arguments\": " + Json.MAPPER.writeValueAsString(Json.write(use.get("input"))) + "}}]}, {\"role\": \"tool\","
                + " \"tool_call_id\": \"" + use.get("id").asText() + "\", \"content\": \"sunny\"}]}";
        HttpResponse<String> viaChat = fixture.post("/v1/chat/completions", chat, true);
        assertEquals(200, viaChat.statusCode(), viaChat.body());
        assertEquals(Json.MAPPER.readTree(viaChat.body()).get("usage").get("prompt_tokens").asInt(), counted.get("input_tokens").asInt());
    }

    /** A chat chunk stream with thinking, text and a call becomes thinking, text and tool_use blocks in order. */
    @Test
    void chunksBecomeBlocksInOrder() throws Exception {
        List<JsonNode> events = Translations.events(new MessagesDialect(Json.object().put("model", "m")), List.of(
                "{\"choices\": [{\"delta\": {\"role\": \"assistant\", \"content\": \"\"}}]}",
                "{\"choices\": [{\"delta\": {\"reasoning_content\": \"Hm\"}}]}", "{\"choices\": [{\"delta\": {\"content\": \"Let me look.\"}}]}",
                "{\"choices\": [{\"delta\": {\"tool_calls\": [{\"index\": 0, \"id\": \"call_9\", \"type\": \"function\", \"function\": {\"name\": \"f\", \"arguments\": \"{\\\"a\\\"\"}}]}}]}",
                "{\"choices\": [{\"delta\": {\"tool_calls\": [{\"index\": 0, \"function\": {\"arguments\": \": 1}\"}}]}}]}",
                "{\"choices\": [{\"delta\": {}, \"finish_reason\": \"tool_calls\"}]}",
                "{\"choices\": [], \"usage\": {\"prompt_tokens\": 7, \"completion_tokens\": 9, \"prompt_tokens_details\": {\"cached_tokens\": 2}}}"));
        assertEquals(List.of("message_start", "content_block_start", "content_block_delta", "content_block_stop",
                "content_block_start", "content_block_delta", "content_block_stop", "content_block_start", "content_block_delta",
                "content_block_delta", "content_block_stop", "message_delta", "message_stop"),
                events.stream().map(e -> e.get("type").asText()).toList());
        assertEquals("thinking", events.get(1).get("content_block").get("type").asText());
        assertEquals("tool_use", events.get(7).get("content_block").get("type").asText());
        assertEquals(2, events.get(7).get("index").asInt());
        assertEquals("{\"a\": 1}", events.get(8).get("delta").get("partial_json").asText() + events.get(9).get("delta").get("partial_json").asText());
        assertEquals("tool_use", events.get(11).get("delta").get("stop_reason").asText());
        assertEquals(2, events.get(11).get("usage").get("cache_read_input_tokens").asInt());
    }

    @Test
    void errorsComeInAnthropicsShape() throws Exception {
        assertThrows(BadRequestException.class, () -> anthropic.messages().create(MessageCreateParams.builder().model(LoopbackServer.MODEL)
                .maxTokens(5).addUserMessage("hi").addUserMessageOfContentBlockParams(List.of(com.anthropic.models.messages.ContentBlockParam.ofImage(
                        com.anthropic.models.messages.ImageBlockParam.builder().source(com.anthropic.models.messages.UrlImageSource.builder()
                                .url("http://x/y.png").build()).build()))).build()));
        AnthropicClient wrongKey = AnthropicOkHttpClient.builder().baseUrl(fixture.server().url()).apiKey("nope").maxRetries(0).build();
        assertThrows(UnauthorizedException.class, () -> wrongKey.messages().create(params(3)));
        HttpResponse<String> r = fixture.http().send(java.net.http.HttpRequest.newBuilder(java.net.URI.create(fixture.server().url() + "/v1/messages"))
                .header("x-api-key", KEY).POST(java.net.http.HttpRequest.BodyPublishers.ofString("{\"model\": \"" + LoopbackServer.MODEL
                        + "\", \"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}")).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(400, r.statusCode());
        JsonNode e = Json.MAPPER.readTree(r.body());
        assertEquals("error", e.get("type").asText());
        assertEquals("invalid_request_error", e.get("error").get("type").asText());
        assertTrue(e.get("error").get("message").asText().contains("max_tokens"), r.body());
    }
}
