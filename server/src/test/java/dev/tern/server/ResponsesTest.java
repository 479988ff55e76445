package dev.tern.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.openai.core.http.StreamResponse;
import com.openai.errors.BadRequestException;
import com.openai.errors.NotFoundException;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import com.openai.models.responses.Response;
import com.openai.models.responses.ResponseCreateParams;
import com.openai.models.responses.ResponseOutputItem;
import com.openai.models.responses.ResponseStatus;
import com.openai.models.responses.ResponseStreamEvent;
import dev.tern.Tern;
import dev.tern.kv.KVCacheType;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * POST /v1/responses through the official SDK: the same answer as the chat completion it
 * translates to, whole and streamed as typed events; function tools, JSON formats and the
 * Responses input items; requests the server cannot honour are refused.
 */
class ResponsesTest {
    private static LoopbackServer fixture;

    @BeforeAll
    static void start() {
        fixture = LoopbackServer.start(new Tern.Options(1, 512, 8, KVCacheType.F32), ServerConfig.loopback(0, LoopbackServer.MODEL));
    }

    @AfterAll
    static void stop() {
        fixture.close();
    }

    private static String chatAnswer(String system, String user, int maxTokens) {
        ChatCompletionCreateParams.Builder b = ChatCompletionCreateParams.builder().model(LoopbackServer.MODEL)
                .maxCompletionTokens(maxTokens).temperature(0.0);
        if (system != null) {
            b.addSystemMessage(system);
        }
        ChatCompletion c = fixture.client().chat().completions().create(b.addUserMessage(user).build());
        return c.choices().getFirst().message().content().orElse("");
    }

    private static String text(Response r) {
        StringBuilder t = new StringBuilder();
        for (ResponseOutputItem item : r.output()) {
            item.message().ifPresent(m -> m.content().forEach(c -> c.outputText().ifPresent(o -> t.append(o.text()))));
        }
        return t.toString();
    }

    @Test
    void theSdkGetsTheChatCompletionsAnswer() {
        Response r = fixture.client().responses().create(ResponseCreateParams.builder().model(LoopbackServer.MODEL)
                .instructions("You tell stories.").input("Once upon a time").maxOutputTokens(24).temperature(0.0).build());
        assertEquals(chatAnswer("You tell stories.", "Once upon a time", 24), text(r));
        assertTrue(r.id().startsWith("resp_"));
        assertEquals(ResponseStatus.INCOMPLETE, r.status().orElseThrow(), "24 tokens cut the story");
        assertEquals(Response.IncompleteDetails.Reason.MAX_OUTPUT_TOKENS, r.incompleteDetails().orElseThrow().reason().orElseThrow());
        assertEquals(24, r.usage().orElseThrow().outputTokens());
        assertTrue(r.usage().orElseThrow().inputTokens() > 5);
    }

    @Test
    void streamedEventsAddUpToTheWholeResponse() {
        ResponseCreateParams params = ResponseCreateParams.builder().model(LoopbackServer.MODEL).input("The little dog")
                .maxOutputTokens(30).temperature(0.0).build();
        String whole = text(fixture.client().responses().create(params));
        List<String> types = new ArrayList<>();
        StringBuilder deltas = new StringBuilder();
        Response last = null;
        try (StreamResponse<ResponseStreamEvent> s = fixture.client().responses().createStreaming(params)) {
            for (ResponseStreamEvent e : (Iterable<ResponseStreamEvent>) s.stream()::iterator) {
                types.add(type(e));
                e.outputTextDelta().ifPresent(d -> deltas.append(d.delta()));
                if (e.incomplete().isPresent()) {
                    last = e.incomplete().get().response();
                }
                if (e.completed().isPresent()) {
                    last = e.completed().get().response();
                }
            }
        }
        assertEquals(whole, deltas.toString());
        assertEquals(List.of("response.created", "response.in_progress", "response.output_item.added", "response.content_part.added"),
                types.subList(0, 4));
        assertEquals(List.of("response.output_text.done", "response.content_part.done", "response.output_item.done"),
                types.subList(types.size() - 4, types.size() - 1));
        assertTrue(last != null && whole.equals(text(last)) && last.usage().isPresent(), String.valueOf(last));
    }

    @Test
    void aPreviousResponseContinuesItsConversation() {
        ResponseCreateParams.Builder b = ResponseCreateParams.builder().model(LoopbackServer.MODEL).temperature(0.0);
        Response first = fixture.client().responses().create(b.instructions("You tell stories.").input("Once upon a time")
                .maxOutputTokens(20).build());
        ResponseCreateParams second = b.instructions((String) null).input("What happened next?").previousResponseId(first.id())
                .maxOutputTokens(16).build();
        // The first answer is an assistant turn of the next prompt; its instructions are not carried over.
        String want = fixture.client().chat().completions().create(ChatCompletionCreateParams.builder().model(LoopbackServer.MODEL)
                        .maxCompletionTokens(16).temperature(0.0).addUserMessage("Once upon a time").addAssistantMessage(text(first))
                        .addUserMessage("What happened next?").build())
                .choices().getFirst().message().content().orElse("");
        Response next = fixture.client().responses().create(second);
        assertEquals(want, text(next));
        assertEquals(first.id(), next.previousResponseId().orElseThrow());
        Response streamed = null;
        try (StreamResponse<ResponseStreamEvent> s = fixture.client().responses().createStreaming(second)) {
            for (ResponseStreamEvent e : (Iterable<ResponseStreamEvent>) s.stream()::iterator) {
                if (e.incomplete().isPresent() || e.completed().isPresent()) {
                    streamed = e.incomplete().map(i -> i.response()).orElseGet(() -> e.completed().get().response());
                }
            }
        }
        assertEquals(want, text(streamed));
        assertEquals(text(streamed), text(fixture.client().responses().retrieve(streamed.id())), "a streamed response is stored too");

        assertEquals(text(first), text(fixture.client().responses().retrieve(first.id())));
        fixture.client().responses().delete(first.id());
        assertThrows(NotFoundException.class, () -> fixture.client().responses().retrieve(first.id()));
        assertThrows(BadRequestException.class, () -> fixture.client().responses().create(second));
        Response unstored = fixture.client().responses().create(b.input("hi").previousResponseId((String) null).store(false).build());
        assertThrows(NotFoundException.class, () -> fixture.client().responses().retrieve(unstored.id()));
    }

    /** An event's "type", as it came over the wire. */
    @SuppressWarnings("unchecked")
    private static String type(ResponseStreamEvent e) {
        var fields = (java.util.Map<String, com.openai.core.JsonValue>) e._json().orElseThrow().asObject().orElseThrow();
        return fields.get("type").asString().orElseThrow().toString();
    }

    private static JsonNode post(String body) throws Exception {
        HttpResponse<String> r = fixture.post("/v1/responses", body, false);
        assertEquals(200, r.statusCode(), r.body());
        return Json.MAPPER.readTree(r.body());
    }

    private static final String TOOL = "{\"type\": \"function\", \"name\": \"get_weather\", \"description\": \"Weather in a city\","
            + " \"parameters\": {\"type\": \"object\", \"properties\": {\"city\": {\"type\": \"string\", \"maxLength\": 12}},"
            + " \"required\": [\"city\"], \"additionalProperties\": false}}";

    @Test
    void aRequiredFunctionIsCalledWithArgumentsOfItsSchema() throws Exception {
        JsonNode r = post("{\"model\": \"" + LoopbackServer.MODEL + "\", \"input\": \"Weather in Paris?\", \"tools\": [" + TOOL + "],"
                + " \"tool_choice\": {\"type\": \"function\", \"name\": \"get_weather\"}, \"parallel_tool_calls\": false, \"temperature\": 0}");
        JsonNode call = null;
        for (JsonNode item : r.get("output")) {
            if (item.get("type").asText().equals("function_call")) {
                call = item;
            }
        }
        assertTrue(call != null, r.toString());
        assertEquals("get_weather", call.get("name").asText());
        assertTrue(call.get("call_id").asText().startsWith("call_"), call.toString());
        JsonNode args = Json.MAPPER.readTree(call.get("arguments").asText());
        assertTrue(args.get("city").isTextual() && args.get("city").asText().length() <= 12 && args.size() == 1, args.toString());
        assertEquals("get_weather", r.get("tools").get(0).get("name").asText(), "the response repeats the request's tools");

        // The call and its output go back as items; the model answers from them.
        String input = "[{\"role\": \"user\", \"content\": [{\"type\": \"input_text\", \"text\": \"Weather in Paris?\"}]},"
                + " {\"type\": \"function_call\", \"call_id\": \"call_1\", \"name\": \"get_weather\", \"arguments\": \"{\\\"city\\\": \\\"Paris\\\"}\"},"
                + " {\"type\": \"function_call_output\", \"call_id\": \"call_1\", \"output\": \"sunny\"}]";
        JsonNode next = post("{\"model\": \"" + LoopbackServer.MODEL + "\", \"input\": " + input + ", \"tools\": [" + TOOL + "],"
                + " \"tool_choice\": \"none\", \"max_output_tokens\": 8, \"temperature\": 0}");
        assertEquals("message", next.get("output").get(0).get("type").asText(), next.toString());
        String chat = "{\"messages\": [{\"role\": \"user\", \"content\": \"Weather in Paris?\"}, {\"role\": \"assistant\", \"content\": null,"
                + " \"tool_calls\": [{\"id\": \"call_1\", \"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"arguments\": \"{\\\"city\\\": \\\"Paris\\\"}\"}}]},"
                + " {\"role\": \"tool\", \"tool_call_id\": \"call_1\", \"content\": \"sunny\"}], \"tools\": [{\"type\": \"function\", \"function\": "
                + TOOL.replace("{\"type\": \"function\", ", "{") + "}], \"tool_choice\": \"none\", \"max_tokens\": 8, \"temperature\": 0}";
        HttpResponse<String> viaChat = fixture.post("/v1/chat/completions", chat, false);
        assertEquals(200, viaChat.statusCode(), viaChat.body());
        JsonNode c = Json.MAPPER.readTree(viaChat.body());
        assertEquals(c.get("usage").get("prompt_tokens").asInt(), next.get("usage").get("input_tokens").asInt(), "the same prompt");
        assertEquals(c.get("choices").get(0).get("message").get("content").asText(),
                next.get("output").get(0).get("content").get(0).get("text").asText());
    }

    @Test
    void itemsBecomeTheChatMessagesTheyAre() {
        ObjectNode body = (ObjectNode) Json.parseObject(("{\"instructions\": \"Be brief.\", \"input\": ["
                + "{\"role\": \"developer\", \"content\": \"Use tools.\"},"
                + "{\"type\": \"message\", \"role\": \"user\", \"content\": [{\"type\": \"input_text\", \"text\": \"a\"}, {\"type\": \"input_text\", \"text\": \"b\"}]},"
                + "{\"type\": \"reasoning\", \"summary\": [], \"content\": [{\"type\": \"reasoning_text\", \"text\": \"think\"}]},"
                + "{\"type\": \"function_call\", \"call_id\": \"c1\", \"name\": \"f\", \"arguments\": \"{}\"},"
                + "{\"type\": \"function_call\", \"call_id\": \"c2\", \"name\": \"g\", \"arguments\": \"{}\"},"
                + "{\"type\": \"function_call_output\", \"call_id\": \"c1\", \"output\": \"one\"},"
                + "{\"type\": \"function_call_output\", \"call_id\": \"c2\", \"output\": \"two\"}],"
                + " \"max_output_tokens\": 5, \"text\": {\"format\": {\"type\": \"json_schema\", \"name\": \"x\", \"schema\": {\"type\": \"object\"}, \"strict\": true}}}")
                .getBytes(StandardCharsets.UTF_8));
        JsonNode chat = ResponsesRequest.toChat(body, ResponsesRequest.conversation(body, new ResponseStore(1)));
        JsonNode want = Json.parseObject(("{\"max_completion_tokens\": 5, \"messages\": ["
                + "{\"role\": \"system\", \"content\": \"Be brief.\"},"
                + "{\"role\": \"system\", \"content\": \"Use tools.\"},"
                + "{\"role\": \"user\", \"content\": \"ab\"},"
                + "{\"role\": \"assistant\", \"content\": null, \"reasoning_content\": \"think\", \"tool_calls\": ["
                + "{\"id\": \"c1\", \"type\": \"function\", \"function\": {\"name\": \"f\", \"arguments\": \"{}\"}},"
                + "{\"id\": \"c2\", \"type\": \"function\", \"function\": {\"name\": \"g\", \"arguments\": \"{}\"}}]},"
                + "{\"role\": \"tool\", \"tool_call_id\": \"c1\", \"content\": \"one\"},"
                + "{\"role\": \"tool\", \"tool_call_id\": \"c2\", \"content\": \"two\"}],"
                + " \"response_format\": {\"type\": \"json_schema\", \"json_schema\": {\"name\": \"x\", \"schema\": {\"type\": \"object\"}, \"strict\": true}}}")
                .getBytes(StandardCharsets.UTF_8));
        assertEquals(want, chat);
    }

    @Test
    void aJsonFormatIsFollowed() throws Exception {
        JsonNode r = post("{\"model\": \"" + LoopbackServer.MODEL + "\", \"input\": \"A name\", \"temperature\": 0, \"max_output_tokens\": 60,"
                + " \"text\": {\"format\": {\"type\": \"json_schema\", \"name\": \"person\", \"strict\": true, \"schema\":"
                + " {\"type\": \"object\", \"properties\": {\"name\": {\"type\": \"string\", \"maxLength\": 10}}, \"required\": [\"name\"],"
                + " \"additionalProperties\": false}}}}");
        JsonNode value = Json.MAPPER.readTree(r.get("output").get(0).get("content").get(0).get("text").asText());
        assertTrue(value.get("name").isTextual() && value.size() == 1, value.toString());
        assertEquals("completed", r.get("status").asText());
    }

    /** The chat chunks of a thinking answer with a call become a reasoning item, a message and a call, in that order. */
    @Test
    void chunksOfThinkingTextAndCallsBecomeItemsInOrder() throws Exception {
        List<JsonNode> events = Translations.events(new ResponsesDialect(Json.object().put("model", "m"), List.of(), new ResponseStore(1)), List.of(
                "{\"choices\": [{\"delta\": {\"role\": \"assistant\", \"content\": \"\"}}]}",
                "{\"choices\": [{\"delta\": {\"reasoning_content\": \"Hm\"}}]}", "{\"choices\": [{\"delta\": {\"reasoning_content\": \"m.\"}}]}",
                "{\"choices\": [{\"delta\": {\"content\": \"Let me\"}}]}", "{\"choices\": [{\"delta\": {\"content\": \" look.\"}}]}",
                "{\"choices\": [{\"delta\": {\"tool_calls\": [{\"index\": 0, \"id\": \"call_9\", \"type\": \"function\", \"function\": {\"name\": \"f\", \"arguments\": \"\"}}]}}]}",
                "{\"choices\": [{\"delta\": {\"tool_calls\": [{\"index\": 0, \"function\": {\"arguments\": \"{\\\"a\\\"\"}}]}}]}",
                "{\"choices\": [{\"delta\": {\"tool_calls\": [{\"index\": 0, \"function\": {\"arguments\": \": 1}\"}}]}}]}",
                "{\"choices\": [{\"delta\": {}, \"finish_reason\": \"tool_calls\"}]}",
                "{\"choices\": [], \"usage\": {\"prompt_tokens\": 7, \"completion_tokens\": 9, \"prompt_tokens_details\": {\"cached_tokens\": 0}}}"));
        List<String> types = events.stream().map(e -> e.get("type").asText()).toList();
        assertEquals(List.of("response.created", "response.in_progress",
                "response.output_item.added", "response.reasoning_text.delta", "response.reasoning_text.delta",
                "response.reasoning_text.done", "response.output_item.done",
                "response.output_item.added", "response.content_part.added", "response.output_text.delta", "response.output_text.delta",
                "response.output_text.done", "response.content_part.done", "response.output_item.done",
                "response.output_item.added", "response.function_call_arguments.delta", "response.function_call_arguments.delta",
                "response.function_call_arguments.done", "response.output_item.done", "response.completed"), types);
        for (int i = 0; i < events.size(); i++) {
            assertEquals(i, events.get(i).get("sequence_number").asInt());
        }
        JsonNode output = events.getLast().get("response").get("output");
        assertEquals("Hmm.", output.get(0).get("content").get(0).get("text").asText());
        assertEquals("Let me look.", output.get(1).get("content").get(0).get("text").asText());
        assertEquals("{\"a\": 1}", output.get(2).get("arguments").asText());
        assertEquals("call_9", output.get(2).get("call_id").asText());
        assertEquals(output.get(1).get("id"), events.get(9).get("item_id"), "deltas name their item");
        assertEquals(16, events.getLast().get("response").get("usage").get("total_tokens").asInt());
    }

    @Test
    void whatTheServerCannotHonourIsRefused() {
        for (String bad : List.of("\"previous_response_id\": \"resp_1\"", "\"background\": true",
                "\"input\": [{\"role\": \"user\", \"content\": [{\"type\": \"input_image\", \"image_url\": \"x\"}]}]",
                "\"tools\": [{\"type\": \"web_search\"}]")) {
            String body = "{\"model\": \"" + LoopbackServer.MODEL + "\", " + (bad.startsWith("\"input\"") ? bad : "\"input\": \"hi\", " + bad) + "}";
            HttpResponse<String> r = assertDoesNotThrow(() -> fixture.post("/v1/responses", body, false));
            assertEquals(400, r.statusCode(), bad + ": " + r.body());
        }
        assertThrows(BadRequestException.class, () -> fixture.client().responses().create(ResponseCreateParams.builder()
                .model(LoopbackServer.MODEL).input("hi").previousResponseId("resp_1").build()));
    }
}
