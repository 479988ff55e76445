package dev.tern.server;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.openai.client.OpenAIClient;
import com.openai.core.JsonValue;
import com.openai.models.FunctionDefinition;
import com.openai.models.FunctionParameters;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import com.openai.models.chat.completions.ChatCompletionMessageFunctionToolCall;
import com.openai.models.chat.completions.ChatCompletionMessageToolCall;
import com.openai.models.chat.completions.ChatCompletionToolChoiceOption;
import dev.tern.Tern;
import dev.tern.kv.KVCacheType;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Function calling through the OpenAI SDK and plain HTTP: tool calls whose arguments fit each function's parameters. */
class ToolCallsTest {
    private static final String MODEL = LoopbackServer.MODEL;
    private static final ObjectMapper STRICT = new ObjectMapper().enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);
    private static final Map<String, Object> WEATHER_PARAMETERS = Map.of("type", "object", "additionalProperties", false,
            "required", List.of("city", "days"),
            "properties", Map.of("city", Map.of("type", "string"), "days", Map.of("type", "integer", "minimum", 1, "maximum", 7)));
    private static LoopbackServer fixture;
    private static Tern tern;
    private static OpenAIClient client;

    @BeforeAll
    static void start() {
        fixture = LoopbackServer.start(new Tern.Options(2, 0, 8, KVCacheType.F32), ServerConfig.loopback(0, MODEL));
        tern = fixture.tern();
        client = fixture.client();
    }

    @AfterAll
    static void stop() {
        fixture.close();
    }

    private static FunctionDefinition weather() {
        FunctionParameters.Builder p = FunctionParameters.builder();
        WEATHER_PARAMETERS.forEach((k, v) -> p.putAdditionalProperty(k, JsonValue.from(v)));
        return FunctionDefinition.builder().name("get_weather").description("Weather in a city").parameters(p.build()).build();
    }

    private static void assertWeatherArguments(String arguments) throws Exception {
        JsonNode args = STRICT.readTree(arguments);
        assertTrue(args.get("city").isTextual(), arguments);
        int days = args.get("days").asInt();
        assertTrue(args.get("days").isIntegralNumber() && days >= 1 && days <= 7, arguments);
        assertEquals(2, args.size(), arguments);
    }

    @Test
    void requiredToolChoiceGivesToolCallsWhoseArgumentsFitTheParameters() throws Exception {
        for (long seed = 0; seed < 3; seed++) {
            ChatCompletion c = client.chat().completions().create(ChatCompletionCreateParams.builder().model(MODEL)
                    .addUserMessage("Weather in Paris?").addFunctionTool(weather())
                    .toolChoice(ChatCompletionToolChoiceOption.ofAuto(ChatCompletionToolChoiceOption.Auto.REQUIRED))
                    .parallelToolCalls(false).maxCompletionTokens(300).seed(seed).logitBias(Biases.quoteAndBrace(tern.tokenizer()))
                    .build());
            ChatCompletion.Choice choice = c.choices().getFirst();
            assertEquals(ChatCompletion.Choice.FinishReason.TOOL_CALLS, choice.finishReason());
            assertTrue(choice.message().content().isEmpty());
            List<ChatCompletionMessageToolCall> calls = choice.message().toolCalls().orElseThrow();
            assertEquals(1, calls.size(), "parallel_tool_calls false: one call");
            ChatCompletionMessageFunctionToolCall call = calls.getFirst().asFunction();
            assertTrue(call.id().startsWith("call_"), call.id());
            assertEquals("get_weather", call.function().name());
            assertWeatherArguments(call.function().arguments());
        }
    }

    /**
     * Streamed, a call arrives as OpenAI streams one: a first delta with its index, id, type and
     * name (the call schema puts the name first), then its arguments' text in pieces, which put
     * together, as clients do, are the arguments; the call then goes back into the conversation.
     */
    @Test
    void streamedToolCallsArriveAsTheyAreWrittenAndTheConversationGoesOn() throws Exception {
        ObjectNode body = Json.object().put("model", MODEL).put("stream", true).put("max_tokens", 300).put("seed", 4)
                .put("parallel_tool_calls", false).put("tool_choice", "required");
        body.putArray("messages").addObject().put("role", "user").put("content", "Weather in Rome?");
        body.putArray("tools").addObject().put("type", "function").putObject("function").put("name", "get_weather")
                .set("parameters", Json.MAPPER.valueToTree(WEATHER_PARAMETERS));
        ObjectNode bias = body.putObject("logit_bias");
        JsonNode sdkBias = Json.MAPPER.valueToTree(Biases.quoteAndBrace(tern.tokenizer())._additionalProperties());
        sdkBias.properties().forEach(e -> bias.set(e.getKey(), e.getValue()));
        HttpResponse<String> r = post(body);
        assertEquals(200, r.statusCode(), r.body());
        List<JsonNode> chunks = new ArrayList<>();
        for (String line : r.body().split("\n")) {
            if (line.startsWith("data: ") && !line.equals("data: [DONE]")) {
                chunks.add(Json.MAPPER.readTree(line.substring(6)));
            }
        }
        List<JsonNode> deltas = chunks.stream().map(ch -> ch.path("choices").path(0).path("delta").path("tool_calls"))
                .filter(JsonNode::isArray).toList();
        assertFalse(deltas.isEmpty(), r.body());
        JsonNode first = deltas.getFirst().get(0);
        assertEquals(0, first.get("index").asInt());
        assertEquals("get_weather", first.path("function").path("name").asText());
        assertTrue(first.path("id").asText().startsWith("call_") && first.path("type").asText().equals("function"), first.toString());
        StringBuilder arguments = new StringBuilder();
        for (JsonNode d : deltas) {
            for (JsonNode e : d) {
                assertEquals(0, e.get("index").asInt(), "one call");
                arguments.append(e.path("function").path("arguments").asText(""));
                assertTrue(e == first || !e.has("id") && !e.path("function").has("name"), "id and name come once: " + e);
            }
        }
        assertWeatherArguments(arguments.toString());
        assertTrue(deltas.size() > 2, "the arguments stream in pieces after the name: " + r.body());
        assertEquals("tool_calls", chunks.getLast().path("choices").path(0).path("finish_reason").asText(), r.body());
        ObjectNode toolCall = first.deepCopy();
        ((ObjectNode) toolCall.get("function")).put("arguments", arguments.toString());

        // The call and its result go back in the conversation; with tool_choice none the answer is text.
        ArrayNode messages = (ArrayNode) body.get("messages");
        ObjectNode assistant = messages.addObject().put("role", "assistant");
        assistant.putNull("content");
        toolCall.remove("index");
        assistant.putArray("tool_calls").add(toolCall);
        messages.addObject().put("role", "tool").put("tool_call_id", toolCall.get("id").asText()).put("content", "Sunny, 25 C");
        body.put("stream", false).put("tool_choice", "none").put("max_tokens", 8);
        HttpResponse<String> next = post(body);
        assertEquals(200, next.statusCode(), next.body());
        JsonNode message = Json.MAPPER.readTree(next.body()).path("choices").path(0).path("message");
        assertTrue(message.path("content").isTextual() && message.path("tool_calls").isMissingNode(), next.body());
    }

    /** The official SDK's stream accumulator puts the streamed call back together as the non-streamed answer has it. */
    @Test
    void theSdksAccumulatorRebuildsAStreamedCall() throws Exception {
        ChatCompletionCreateParams params = ChatCompletionCreateParams.builder().model(MODEL).addUserMessage("Weather in Oslo?")
                .addFunctionTool(weather()).toolChoice(ChatCompletionToolChoiceOption.ofAuto(ChatCompletionToolChoiceOption.Auto.REQUIRED))
                .parallelToolCalls(false).maxCompletionTokens(300).seed(9).logitBias(Biases.quoteAndBrace(tern.tokenizer())).build();
        com.openai.helpers.ChatCompletionAccumulator accumulator = com.openai.helpers.ChatCompletionAccumulator.create();
        try (var stream = client.chat().completions().createStreaming(params)) {
            stream.stream().forEach(accumulator::accumulate);
        }
        ChatCompletion.Choice streamed = accumulator.chatCompletion().choices().getFirst();
        ChatCompletion.Choice whole = client.chat().completions().create(params).choices().getFirst();
        assertEquals(ChatCompletion.Choice.FinishReason.TOOL_CALLS, streamed.finishReason());
        ChatCompletionMessageFunctionToolCall a = streamed.message().toolCalls().orElseThrow().getFirst().asFunction();
        ChatCompletionMessageFunctionToolCall b = whole.message().toolCalls().orElseThrow().getFirst().asFunction();
        assertEquals(b.function().name(), a.function().name());
        assertEquals(STRICT.readTree(b.function().arguments()), STRICT.readTree(a.function().arguments()));
        assertWeatherArguments(a.function().arguments());
    }

    @Test
    void autoToolChoiceAnswersWithToolCallsOrContent() throws Exception {
        for (long seed = 0; seed < 3; seed++) {
            ChatCompletion.Choice choice = auto(seed, Biases.quoteAndBrace(tern.tokenizer()));
            assertEquals(ChatCompletion.Choice.FinishReason.TOOL_CALLS, choice.finishReason());
            for (ChatCompletionMessageToolCall call : choice.message().toolCalls().orElseThrow()) {
                assertWeatherArguments(call.asFunction().function().arguments());
            }
        }
        // Pushed towards "response" rather than "tool_calls", the model answers in words.
        ChatCompletionCreateParams.LogitBias.Builder toWords = Biases.quoteAndBrace(tern.tokenizer()).toBuilder();
        for (int t = 0; t < tern.tokenizer().vocabSize(); t++) {
            if (new String(tern.tokenizer().tokenBytes(t), StandardCharsets.UTF_8).equals("r")) {
                toWords.putAdditionalProperty(String.valueOf(t), JsonValue.from(10));
            }
        }
        ChatCompletion.Choice answer = auto(0, toWords.build());
        assertEquals(ChatCompletion.Choice.FinishReason.STOP, answer.finishReason());
        assertTrue(answer.message().toolCalls().isEmpty() || answer.message().toolCalls().get().isEmpty());
        String content = answer.message().content().orElseThrow();
        assertFalse(content.contains("\"response\""), "the answer is the response's text, not its JSON: " + content);
    }

    private static ChatCompletion.Choice auto(long seed, ChatCompletionCreateParams.LogitBias bias) {
        return client.chat().completions().create(ChatCompletionCreateParams.builder().model(MODEL).addUserMessage("Hello")
                .addFunctionTool(weather()).parallelToolCalls(false).maxCompletionTokens(300).seed(seed).logitBias(bias)
                .build()).choices().getFirst();
    }

    @Test
    void earlierCallsAndConsecutiveResultsBecomeOneJsonTurnEach() {
        ObjectNode body = Json.object();
        ArrayNode messages = body.putArray("messages");
        messages.addObject().put("role", "user").put("content", "Weather in Paris and Rome?");
        ObjectNode assistant = messages.addObject().put("role", "assistant");
        assistant.putNull("content");
        ArrayNode calls = assistant.putArray("tool_calls");
        for (String city : new String[]{"Paris", "Rome"}) {
            calls.addObject().put("id", "call_" + city).put("type", "function").putObject("function").put("name", "get_weather")
                    .put("arguments", "{\"city\": \"" + city + "\", \"days\": 1}");
        }
        messages.addObject().put("role", "tool").put("tool_call_id", "call_Paris").put("content", "Sunny");
        messages.addObject().put("role", "tool").put("tool_call_id", "call_Rome").put("content", "Rain");
        String prompt = tern.tokenizer().decode(new PromptBuilder(tern, true, Map.of()).chat(body, null).tokens());
        // ChatML (the story model has no template of its own): user, assistant, one user turn of both results.
        assertEquals(2, prompt.split("<\\|im_start\\|>user", -1).length - 1, prompt);
        assertTrue(prompt.contains("{\"tool_calls\":[{\"name\":\"get_weather\",\"arguments\":{\"city\":\"Paris\",\"days\":1}},"), prompt);
        int paris = prompt.indexOf("{\"tool_response\":{\"tool_call_id\":\"call_Paris\",\"content\":\"Sunny\"}}");
        int rome = prompt.indexOf("{\"tool_response\":{\"tool_call_id\":\"call_Rome\",\"content\":\"Rain\"}}");
        assertTrue(paris > 0 && rome > paris, prompt);
        assertFalse(prompt.substring(paris, rome).contains("<|im_start|>"), "both results in one turn: " + prompt);
    }

    @Test
    void badToolsAreA400NamingTheParameter() throws Exception {
        String user = "\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"max_tokens\": 2";
        String[][] cases = {
                {"\"tools\": [{\"type\": \"function\", \"function\": {\"name\": \"f\", \"parameters\": {\"type\": \"string\", \"pattern\": \"a\\\\1\"}}}]", "tools"},
                {"\"tools\": [{\"type\": \"function\", \"function\": {\"name\": \"bad name\"}}]", "tools"},
                {"\"tools\": [{\"type\": \"function\", \"function\": {\"name\": \"f\"}}], \"tool_choice\": {\"type\": \"function\", \"function\": {\"name\": \"g\"}}}", "tool_choice"},
                {"\"tools\": [{\"type\": \"function\", \"function\": {\"name\": \"f\"}}], \"response_format\": {\"type\": \"json_object\"}", "response_format"},
                {"\"tool_choice\": \"required\"", "tool_choice"},
                {"\"tools\": [], \"parallel_tool_calls\": false", "parallel_tool_calls"}};
        for (String[] c : cases) {
            HttpResponse<String> r = post(Json.parseObject(("{" + user + ", " + c[0] + "}").getBytes()));
            assertEquals(400, r.statusCode(), c[0] + " -> " + r.body());
            assertEquals(c[1], Json.MAPPER.readTree(r.body()).path("error").path("param").asText(), r.body());
        }
        HttpResponse<String> legacy = fixture.post("/v1/completions",
                "{\"prompt\": \"hi\", \"tools\": [{\"type\": \"function\", \"function\": {\"name\": \"f\"}}]}", false);
        assertEquals(400, legacy.statusCode(), legacy.body());
    }

    private static HttpResponse<String> post(ObjectNode body) throws Exception {
        return fixture.post("/v1/chat/completions", Json.write(body), false);
    }
}
