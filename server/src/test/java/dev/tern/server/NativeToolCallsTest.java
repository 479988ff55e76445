package dev.tern.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tern.Tern;
import dev.tern.chat.ChatMessage;
import dev.tern.chat.ChatTemplate;
import dev.tern.engine.FinishReason;
import dev.tern.engine.RequestOutput;
import dev.tern.engine.RequestResult;
import dev.tern.gguf.GGUFFile;
import dev.tern.gguf.GGUFTensorInfo;
import dev.tern.gguf.GGUFWriter;
import dev.tern.gguf.MetadataValue;
import dev.tern.kv.KVCacheType;
import dev.tern.sampling.ChoiceGrammar;
import dev.tern.sampling.GrammarConstraint;
import dev.tern.sampling.TriggeredGrammar;
import dev.tern.testing.Fixtures;
import dev.tern.tokenizer.Tokenizer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Tool calls in the model's own format. The expected prompts were rendered from the same
 * templates by Python's jinja2 3.1 with transformers' settings (trim_blocks, lstrip_blocks,
 * tojson as json.dumps), from the same conversation.
 */
class NativeToolCallsTest {
    private static final String WEATHER = "{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"description\": "
            + "\"Weather in a city\", \"parameters\": {\"type\": \"object\", \"properties\": {\"city\": {\"type\": \"string\"}}, "
            + "\"required\": [\"city\"]}}}";
    /** The assistant's earlier call, its arguments as a JSON string as OpenAI clients send them. */
    private static final String CALL = "{\"role\": \"assistant\", \"content\": null, \"tool_calls\": [{\"id\": \"call_1\", "
            + "\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"arguments\": \"{\\\"city\\\":\\\"Paris\\\"}\"}}]}";
    private static final String RESULT = "{\"role\": \"tool\", \"tool_call_id\": \"call_1\", \"content\": \"18 C, sunny\"}";

    private static String qwen3() throws IOException {
        JsonNode config = Json.MAPPER.readTree(Files.readString(
                Fixtures.tokenizers().resolve("hf").resolve("qwen3").resolve("tokenizer_config.json")));
        return config.get("chat_template").asText();
    }

    private static String llama32() throws IOException {
        try (InputStream in = ChatTemplate.class.getResourceAsStream("/dev/tern/chat/llama32-instruct.jinja")) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    /**
     * Mistral's v3 template (Mistral 7B Instruct v0.3, Mistral Large 2407), as llama.cpp's
     * tests/test-chat-template.cpp holds it.
     */
    private static String mistral() throws IOException {
        return resource("mistral-v3.jinja");
    }

    private static String resource(String name) throws IOException {
        try (InputStream in = NativeToolCallsTest.class.getResourceAsStream(name)) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    private static ObjectNode request(String messages, String extra) {
        return Json.parseObject(("{\"messages\": [" + messages + "], \"tools\": [" + WEATHER + "]" + extra + "}")
                .getBytes(StandardCharsets.UTF_8));
    }

    /** The prompt text PromptBuilder renders for the request, through the template (plus further variables). */
    private static String prompt(ChatTemplate template, ObjectNode body, Map<String, Object> more) {
        ToolCalls.Style style = ToolCalls.Style.of(template.source());
        ToolCalls tools = ToolCalls.of(body, style);
        List<ChatMessage> list = new ArrayList<>();
        for (JsonNode m : body.get("messages")) {
            list.add(ToolCalls.historyMessage(m, m.path("content").asText(""), style));
        }
        Map<String, Object> variables = new HashMap<>(tools.templateVariables());
        variables.putAll(more);
        return template.render(tools.withInstructions(list), true, variables) + tools.promptSuffix();
    }

    @Test
    void stylesFollowTheTemplates() throws IOException {
        assertEquals(ToolCalls.Style.HERMES, ToolCalls.Style.of(qwen3()));
        assertEquals(ToolCalls.Style.LLAMA_JSON, ToolCalls.Style.of(llama32()));
        assertEquals(ToolCalls.Style.MISTRAL, ToolCalls.Style.of(mistral()));
        assertEquals(ToolCalls.Style.GENERIC, ToolCalls.Style.of(ChatTemplate.CHATML));
        JsonNode llama3 = Json.MAPPER.readTree(Files.readString(
                Fixtures.tokenizers().resolve("hf").resolve("llama3").resolve("tokenizer_config.json")));
        assertEquals(ToolCalls.Style.GENERIC, ToolCalls.Style.of(llama3.get("chat_template").asText()), "Llama 3.0 knows no tools");
    }

    @Test
    void hermesPromptCarriesToolsCallsAndResultsAsQwen3WasTrained() throws IOException {
        String messages = "{\"role\": \"system\", \"content\": \"You are a helpful assistant.\"}, "
                + "{\"role\": \"user\", \"content\": \"What is the weather in Paris?\"}, " + CALL + ", " + RESULT;
        assertEquals("<|im_start|>system\nYou are a helpful assistant.\n\n# Tools\n\nYou may call one or more functions to assist "
                + "with the user query.\n\nYou are provided with function signatures within <tools></tools> XML tags:\n<tools>\n"
                + WEATHER + "\n</tools>\n\nFor each function call, return a json object with function name and arguments within "
                + "<tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n"
                + "</tool_call><|im_end|>\n<|im_start|>user\nWhat is the weather in Paris?<|im_end|>\n<|im_start|>assistant\n"
                + "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call><|im_end|>\n"
                + "<|im_start|>user\n<tool_response>\n18 C, sunny\n</tool_response><|im_end|>\n<|im_start|>assistant\n",
                prompt(ChatTemplate.of(qwen3(), null, "<|im_end|>"), request(messages, ""), Map.of()));
    }

    @Test
    void llamaPromptCarriesToolsCallsAndResultsAsLlama32WasTrained() throws IOException {
        String messages = "{\"role\": \"user\", \"content\": \"What is the weather in Paris?\"}, " + CALL + ", " + RESULT;
        String indented = "{\n    \"type\": \"function\",\n    \"function\": {\n        \"name\": \"get_weather\",\n"
                + "        \"description\": \"Weather in a city\",\n        \"parameters\": {\n            \"type\": \"object\",\n"
                + "            \"properties\": {\n                \"city\": {\n                    \"type\": \"string\"\n"
                + "                }\n            },\n            \"required\": [\n                \"city\"\n            ]\n"
                + "        }\n    }\n}";
        assertEquals("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nEnvironment: ipython\n"
                + "Cutting Knowledge Date: December 2023\nToday Date: 01 Jan 2025\n\n<|eot_id|><|start_header_id|>user<|end_header_id|>\n\n"
                + "Given the following functions, please respond with a JSON for a function call with its proper arguments that best "
                + "answers the given prompt.\n\nRespond in the format {\"name\": function name, \"parameters\": dictionary of argument "
                + "name and its value}.Do not use variables.\n\n" + indented + "\n\nWhat is the weather in Paris?<|eot_id|>"
                + "<|start_header_id|>assistant<|end_header_id|>\n\n{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\"}}"
                + "<|eot_id|><|start_header_id|>ipython<|end_header_id|>\n\n\"18 C, sunny\"<|eot_id|>"
                + "<|start_header_id|>assistant<|end_header_id|>\n\n",
                prompt(ChatTemplate.of(llama32(), "<|begin_of_text|>", "<|eot_id|>"), request(messages, ""),
                        Map.of("date_string", "01 Jan 2025")));
    }

    @Test
    void mistralPromptCarriesToolsCallsAndResultsAsMistralWasTrained() throws IOException {
        ChatTemplate template = ChatTemplate.of(mistral(), "<s>", "</s>");
        String tools = "[AVAILABLE_TOOLS] [" + WEATHER + "][/AVAILABLE_TOOLS]";
        String messages = "{\"role\": \"system\", \"content\": \"You are a helpful assistant.\"}, "
                + "{\"role\": \"user\", \"content\": \"What is the weather in Paris?\"}, "
                + CALL.replace("call_1", "abcDEF123") + ", " + RESULT.replace("call_1", "abcDEF123");
        assertEquals("<s>" + tools + "[INST] What is the weather in Paris?[/INST][TOOL_CALLS] [{\"name\": \"get_weather\", "
                + "\"arguments\": {\"city\": \"Paris\"}, \"id\": \"abcDEF123\"}]</s>[TOOL_RESULTS] {\"content\": 18 C, sunny, "
                + "\"call_id\": \"abcDEF123\"}[/TOOL_RESULTS]", prompt(template, request(messages, ""), Map.of()));
        messages = "{\"role\": \"user\", \"content\": \"Hi\"}, {\"role\": \"assistant\", \"content\": \"Hello! \"}, "
                + "{\"role\": \"user\", \"content\": \"What is the weather in Paris?\"}";
        assertEquals("<s>[INST] Hi[/INST] Hello!</s>" + tools + "[INST] What is the weather in Paris?[/INST]",
                prompt(template, request(messages, ""), Map.of()));

        // OpenAI-style ids, which the template refuses, become 9 letters and digits, the same for a call and its result.
        messages = "{\"role\": \"user\", \"content\": \"What is the weather in Paris?\"}, " + CALL + ", " + RESULT;
        String prompt = prompt(template, request(messages, ""), Map.of());
        java.util.regex.Matcher ids = java.util.regex.Pattern.compile("\"id\": \"(\\w+)\".*\"call_id\": \"(\\w+)\"").matcher(prompt);
        assertTrue(ids.find(), prompt);
        assertTrue(ids.group(1).matches("[A-Za-z0-9]{9}"), prompt);
        assertEquals(ids.group(1), ids.group(2));
        assertEquals("def456ghi", ToolCalls.Style.MISTRAL.historyId("call_abc123def456ghi"), "as vLLM cuts them");
        assertEquals("call_1", ToolCalls.Style.HERMES.historyId("call_1"));
    }

    /**
     * Mistral Small 3.1's template (as llama.cpp's models/templates holds it) continues string
     * literals over lines with a backslash, as Python does; its renderings of a tool conversation
     * and of a plain one with tools are compared with Python jinja2's (the .txt resources, made
     * with transformers' settings and today's date given as 2025-01-01).
     */
    @Test
    void mistralSmall3PromptIsWhatJinja2Renders() throws IOException {
        String source = resource("mistral-small-3.1.jinja");
        assertEquals(ToolCalls.Style.MISTRAL, ToolCalls.Style.of(source));
        ChatTemplate template = ChatTemplate.of(source, "<s>", "</s>");
        String messages = "{\"role\": \"system\", \"content\": \"You are a helpful assistant.\"}, "
                + "{\"role\": \"user\", \"content\": \"What is the weather in Paris?\"}, "
                + CALL.replace("call_1", "abcDEF123") + ", " + RESULT.replace("call_1", "abcDEF123");
        assertEquals(resource("mistral-small-3.1.tools.txt"), prompt(template, request(messages, ""), Map.of()));
        messages = "{\"role\": \"user\", \"content\": \"Hi\"}, {\"role\": \"assistant\", \"content\": \"Hello! \"}, "
                + "{\"role\": \"user\", \"content\": \"What is the weather in Paris?\"}";
        String today = java.time.LocalDate.now().toString();
        assertEquals(resource("mistral-small-3.1.chat.txt").replace("2025-01-01", today),
                prompt(template, request(messages, ""), Map.of()));
    }

    @Test
    void mistralAnswersBecomeCalls() {
        ToolCalls auto = tools(ToolCalls.Style.MISTRAL, "");
        assertNull(auto.schema());
        assertEquals("", auto.promptSuffix());
        ToolCalls.Reply r = auto.read("Let me check.[TOOL_CALLS] [{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}, "
                + "{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Rome\"}}]");
        assertEquals("Let me check.", r.content());
        assertEquals(List.of("{\"city\":\"Paris\"}", "{\"city\":\"Rome\"}"), r.calls().stream().map(ToolCalls.Call::arguments).toList());
        assertTrue(r.calls().getFirst().id().matches("[A-Za-z0-9]{9}"), "Mistral's templates take no other id");
        assertNotEquals(r.calls().get(0).id(), r.calls().get(1).id());
        assertEquals(1, auto.read("[TOOL_CALLS] {\"name\": \"get_weather\", \"arguments\": {}}").calls().size(), "a lone object");
        String unknown = "[TOOL_CALLS] [{\"name\": \"get_time\", \"arguments\": {}}]";
        assertEquals(new ToolCalls.Reply(unknown, List.of()), auto.read(unknown));
        String cut = "[TOOL_CALLS] [{\"name\": \"get_weather\", \"arguments\": {\"ci";
        assertEquals(new ToolCalls.Reply(cut, List.of()), auto.read(cut));
        assertEquals(new ToolCalls.Reply("It is sunny.", List.of()), auto.read("It is sunny."));
        assertEquals(13, contentEnd(auto, "Let me check.[TOOL"), "a possible opening tag is held back");
        assertEquals(13, contentEnd(auto, "Let me check.[TOOL_CALLS] [{"));
        assertEquals(17, contentEnd(auto, "Let me check.[TO]"));

        ToolCalls required = tools(ToolCalls.Style.MISTRAL, ", \"tool_choice\": \"required\", \"parallel_tool_calls\": false");
        assertEquals("[TOOL_CALLS]", required.promptSuffix());
        assertNotNull(required.schema());
        r = required.read(" [{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}]");
        assertNull(r.content());
        assertEquals("{\"city\":\"Paris\"}", r.calls().getFirst().arguments());
    }

    /** Mistral's newer syntax: each call as [TOOL_CALLS]name[ARGS]{…}, some templates with a [CALL_ID] before [ARGS]. */
    @Test
    void mistralArgsAnswersBecomeCalls() {
        assertEquals(ToolCalls.Style.MISTRAL_ARGS, ToolCalls.Style.of(SHORT_MISTRAL_ARGS));
        ToolCalls auto = tools(ToolCalls.Style.MISTRAL_ARGS, "");
        assertNull(auto.schema());
        assertEquals("", auto.promptSuffix());
        ToolCalls.Reply r = auto.read("Let me check.[TOOL_CALLS]get_weather[ARGS]{\"city\": \"Paris\"}"
                + "[TOOL_CALLS]get_weather[CALL_ID]abc123XYZ[ARGS]{\"city\": \"Rome\"}");
        assertEquals("Let me check.", r.content());
        assertEquals(List.of("{\"city\":\"Paris\"}", "{\"city\":\"Rome\"}"), r.calls().stream().map(ToolCalls.Call::arguments).toList());
        assertTrue(r.calls().stream().allMatch(c -> c.id().matches("[A-Za-z0-9]{9}") && c.name().equals("get_weather")), r.toString());
        for (String notCalls : new String[]{"[TOOL_CALLS]get_time[ARGS]{}", "[TOOL_CALLS]get_weather[ARGS]{\"ci",
                "[TOOL_CALLS]get_weather{\"city\": \"Paris\"}", "It is sunny."}) {
            assertEquals(new ToolCalls.Reply(notCalls, List.of()), auto.read(notCalls));
        }
        assertEquals(13, contentEnd(auto, "Let me check.[TOOL_"), "a possible opening tag is held back");
        assertEquals(13, contentEnd(auto, "Let me check.[TOOL_CALLS]get"));

        ToolCalls required = tools(ToolCalls.Style.MISTRAL_ARGS, ", \"tool_choice\": \"required\"");
        assertEquals("[TOOL_CALLS]get_weather[ARGS]", required.promptSuffix(), "one function: its name is in the prompt");
        assertNotNull(required.schema());
        r = required.read("{\"city\": \"Paris\"}");
        assertNull(r.content());
        assertEquals("{\"city\":\"Paris\"}", r.calls().getFirst().arguments());
    }

    /** Under tool_choice auto, Hermes and Mistral v3 answers are free until their call tag, then held to the call schema. */
    @Test
    void autoCallsAreConstrainedAfterTheirTag() {
        assertNull(tools(ToolCalls.Style.HERMES, ", \"tool_choice\": \"required\"").lazyGrammar(), "required calls are constrained whole");
        assertEquals("[TOOL_CALLS]", tools(ToolCalls.Style.MISTRAL_ARGS, "").lazyGrammar().trigger(), "a name, then that function's arguments");
        TriggeredGrammar llama = tools(ToolCalls.Style.LLAMA_JSON, "").lazyGrammar();
        assertTrue(llama.atStart() && llama.trigger().equals("{"), "Llama's call is the answer itself");
        assertEquals("[TOOL_CALLS]", tools(ToolCalls.Style.MISTRAL, "").lazyGrammar().trigger());
        TriggeredGrammar hermes = tools(ToolCalls.Style.HERMES, "").lazyGrammar();
        assertEquals("<tool_call>", hermes.trigger());
        Tokenizer tokenizer;
        try (GGUFFile f = GGUFFile.open(Fixtures.stories260K("stories260K-f32.gguf"))) {
            tokenizer = Tokenizer.fromGGUF(f);
        }
        GrammarConstraint.Vocabulary vocab = new GrammarConstraint.Vocabulary(tokenizer);
        String good = "Let me look.<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>";
        assertTrue(follows(new GrammarConstraint(vocab, hermes), tokenizer, good), good);
        String wrongType = "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": 75}}";
        assertFalse(follows(new GrammarConstraint(vocab, hermes), tokenizer, wrongType), wrongType);
        String unknown = "<tool_call>\n{\"name\": \"get_time\", \"arguments\": {}}";
        assertFalse(follows(new GrammarConstraint(vocab, hermes), tokenizer, unknown), unknown);
        TriggeredGrammar mistral = tools(ToolCalls.Style.MISTRAL_ARGS, "").lazyGrammar();
        String v11 = "Checking.[TOOL_CALLS]get_weather[ARGS]{\"city\": \"Paris\"}";
        assertTrue(follows(new GrammarConstraint(vocab, mistral), tokenizer, v11), v11);
        String v11Bad = "[TOOL_CALLS]get_weather[ARGS]{\"town\": \"Paris\"}";
        assertFalse(follows(new GrammarConstraint(vocab, mistral), tokenizer, v11Bad), v11Bad);
        String v11Unknown = "[TOOL_CALLS]get_time[ARGS]{}";
        assertFalse(follows(new GrammarConstraint(vocab, mistral), tokenizer, v11Unknown), "a function of no tool");
        String llamaCall = " {\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\"}}";
        assertTrue(follows(new GrammarConstraint(vocab, llama), tokenizer, llamaCall), llamaCall);
        String llamaBad = "{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}";
        assertFalse(follows(new GrammarConstraint(vocab, llama), tokenizer, llamaBad), "Llama's calls carry parameters");
        String llamaText = "It is {sunny}.";
        assertTrue(follows(new GrammarConstraint(vocab, llama), tokenizer, llamaText), llamaText);
        // DeepSeek's tags hold U+2581, which a SentencePiece vocabulary turns into spaces: a byte-level one (DeepSeek's kind) here.
        Tokenizer byteLevel;
        try (GGUFFile f = GGUFFile.open(Fixtures.tokenizers().resolve("llama.cpp-vocab/ggml-vocab-deepseek-llm.gguf"))) {
            byteLevel = Tokenizer.fromGGUF(f);
        }
        GrammarConstraint.Vocabulary bytes = new GrammarConstraint.Vocabulary(byteLevel);
        TriggeredGrammar deepSeek = tools(ToolCalls.Style.DEEPSEEK_V3, "").lazyGrammar();
        String v3 = "Checking.<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>get_weather<｜tool▁sep｜>{\"city\": \"Paris\"}<｜tool▁call▁end｜>";
        assertTrue(follows(new GrammarConstraint(bytes, deepSeek), byteLevel, v3), v3);
        String v3Bad = "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>get_weather<｜tool▁sep｜>{\"city\": 75}";
        assertFalse(follows(new GrammarConstraint(bytes, deepSeek), byteLevel, v3Bad), v3Bad);
        TriggeredGrammar r1 = tools(ToolCalls.Style.DEEPSEEK_R1, "").lazyGrammar();
        String fenced = "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>get_weather\n```json\n{\"city\": \"Paris\"}\n```<｜tool▁call▁end｜>";
        assertTrue(follows(new GrammarConstraint(bytes, r1), byteLevel, fenced), fenced);
        String fencedBad = "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>get_weather\n```json\n{\"city\": 75}";
        assertFalse(follows(new GrammarConstraint(bytes, r1), byteLevel, fencedBad), fencedBad);
    }

    /** Whether the constraint allows every token of text, in turn. */
    private static boolean follows(GrammarConstraint c, Tokenizer tokenizer, String text) {
        for (int id : tokenizer.encode(text, false, false)) {
            if (!c.allows(id)) {
                return false;
            }
            c.accept(id);
        }
        return true;
    }

    /** Streamed, a call in Mistral's newer syntax is named once its [ARGS] is written, then its arguments follow as written. */
    @Test
    void streamedMistralArgsCalls() {
        streamsTwoWeatherCalls(tools(ToolCalls.Style.MISTRAL_ARGS, ""), "[A-Za-z0-9]{9}", "Let me check.", "[TOOL_CA", "LLS]get_wea",
                "ther[ARGS]{\"city\": \"Pa", "ris\"}[TOOL_", "CALLS]get_weather[ARGS]{\"city\":", " \"Rome\"}");
    }

    private static ToolCalls tools(ToolCalls.Style style, String extra) {
        return ToolCalls.of(request("{\"role\": \"user\", \"content\": \"hi\"}", extra), style);
    }

    /**
     * Streamed, calls go out as they are written: text before the tag as content, each call's
     * name once whole (with its id), its arguments' text as it comes, a second call the same way;
     * the pieces put together are the calls the whole answer holds.
     */
    @Test
    void streamedCallsGoOutAsTheyAreWritten() {
        streamsTwoWeatherCalls(tools(ToolCalls.Style.HERMES, ""), "call_\\w{24}", "Let me check.", "<tool_call>\n{\"name\": \"get_",
                "weather\", \"arguments\": {\"city\": \"Pa", "ris\"}}\n</tool_call>\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\":",
                " \"Rome\"}}", "\n</tool_call>");
    }

    /**
     * Streams {@code pieces} (content "Let me check.", then calls of get_weather for Paris and Rome)
     * and checks the deltas: content before the calls, each call named once with an id matching
     * {@code id}, its arguments' text as written, starting before the call is whole, and the same
     * calls as the whole answer holds.
     */
    private static void streamsTwoWeatherCalls(ToolCalls tools, String id, String... pieces) {
        ResponseFormat.Response response = new ResponseFormat(null).start("m", true, "chatcmpl-1", 1, 1, false, tools, false, false, null);
        StringBuilder content = new StringBuilder();
        List<StringBuilder> arguments = new ArrayList<>();
        List<JsonNode> deltas = new ArrayList<>();
        StringBuilder all = new StringBuilder();
        for (String piece : pieces) {
            all.append(piece);
            ObjectNode chunk = response.chunk(0, new RequestOutput(piece, new int[]{1}, List.of()));
            if (chunk != null) {
                deltas.add(chunk.path("choices").path(0).path("delta"));
            }
        }
        deltas.add(response.finalChunks(0, new RequestResult(FinishReason.STOP, 3, 0, pieces.length, null, null, 0)).getFirst()
                .path("choices").path(0).path("delta"));
        for (JsonNode d : deltas) {
            content.append(d.path("content").asText(""));
            for (JsonNode e : d.path("tool_calls")) {
                int k = e.get("index").asInt();
                if (k == arguments.size()) {
                    assertEquals("get_weather", e.path("function").path("name").asText(), e.toString());
                    assertTrue(e.get("id").asText().matches(id), e.toString());
                    arguments.add(new StringBuilder());
                } else {
                    assertFalse(e.has("id") || e.path("function").has("name"), "a call is named once: " + e);
                }
                arguments.get(k).append(e.path("function").path("arguments").asText(""));
            }
        }
        assertEquals("Let me check.", content.toString());
        assertEquals(List.of("{\"city\": \"Paris\"}", "{\"city\": \"Rome\"}"), arguments.stream().map(StringBuilder::toString).toList());
        assertTrue(deltas.stream().anyMatch(d -> d.path("tool_calls").path(0).path("function").path("arguments").asText().startsWith("{\"city\": \"Pa")
                        && !d.path("tool_calls").path(0).path("function").path("arguments").asText().contains("Paris")),
                "the first call's arguments began before the call ended: " + deltas);
        assertEquals(tools.read(all.toString()).calls().stream().map(c -> Json.parseOrText(c.arguments())).toList(),
                arguments.stream().map(a -> Json.parseOrText(a.toString())).toList(), "the same calls as the whole answer's");
    }

    @Test
    void hermesAnswersBecomeCallsAndContent() {
        ToolCalls auto = tools(ToolCalls.Style.HERMES, "");
        assertNull(auto.schema(), "tool_choice auto samples freely");
        assertEquals("", auto.promptSuffix());
        ToolCalls.Reply r = auto.read("Let me check.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n"
                + "</tool_call>\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Rome\"}}\n</tool_call>");
        assertEquals("Let me check.", r.content());
        assertEquals(List.of("{\"city\":\"Paris\"}", "{\"city\":\"Rome\"}"), r.calls().stream().map(ToolCalls.Call::arguments).toList());
        assertEquals("get_weather", r.calls().getFirst().name());
        assertTrue(r.calls().getFirst().id().startsWith("call_"));
        // cut short before its closing tag, still a whole call
        assertEquals(1, auto.read("<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Oslo\"}}").calls().size());
        // an unknown function, or JSON that is not a call, leaves the whole answer as content
        String unknown = "<tool_call>\n{\"name\": \"get_time\", \"arguments\": {}}\n</tool_call>";
        assertEquals(new ToolCalls.Reply(unknown, List.of()), auto.read(unknown));
        String broken = "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \n</tool_call>";
        assertEquals(new ToolCalls.Reply(broken, List.of()), auto.read(broken));
        assertEquals(new ToolCalls.Reply("It is sunny.", List.of()), auto.read("It is sunny."));
    }

    @Test
    void streamedTextIsContentUntilACallMayBegin() {
        ToolCalls hermes = tools(ToolCalls.Style.HERMES, "");
        assertEquals(12, contentEnd(hermes, "Let me check"));
        assertEquals(13, contentEnd(hermes, "Let me check.<tool"), "a possible opening tag is held back");
        assertEquals(17, contentEnd(hermes, "Let me check.<toy"), "and sent once it cannot be one");
        assertEquals(13, contentEnd(hermes, "Let me check.<tool_call>\n{\"name\""));
        assertEquals(13, hermes.contentEnd(new StringBuilder("Let me check.<tool"), 12), "the search resumes where content ended");
        assertEquals(0, contentEnd(tools(ToolCalls.Style.HERMES, ", \"tool_choice\": \"required\""), "{\"name\""));
        ToolCalls llama = tools(ToolCalls.Style.LLAMA_JSON, "");
        assertEquals(0, contentEnd(llama, " "));
        assertEquals(0, contentEnd(llama, "<|python"));
        assertEquals(0, contentEnd(llama, "{\"name\": "));
        assertEquals(7, contentEnd(llama, "It is a"));
        assertEquals(9, llama.contentEnd(new StringBuilder("It is a {"), 7), "once content, always content");
    }

    /** Where the content of a whole answer so far ends, nothing of it sent yet. */
    private static int contentEnd(ToolCalls tools, String text) {
        return tools.contentEnd(new StringBuilder(text), 0);
    }

    @Test
    void requiredHermesCallOpensInThePromptAndIsConstrained() {
        ToolCalls required = tools(ToolCalls.Style.HERMES, ", \"tool_choice\": \"required\"");
        assertEquals("<tool_call>\n", required.promptSuffix());
        assertNotNull(required.schema());
        ToolCalls.Reply r = required.read("{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}");
        assertNull(r.content());
        assertEquals("{\"city\":\"Paris\"}", r.calls().getFirst().arguments());
    }

    @Test
    void aNamedChoiceShowsEveryToolButAllowsOnlyTheNamedOne() {
        String time = "{\"type\": \"function\", \"function\": {\"name\": \"get_time\", \"parameters\": {\"type\": \"object\"}}}";
        ObjectNode body = Json.parseObject(("{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"tools\": [" + WEATHER + ", "
                + time + "], \"tool_choice\": {\"type\": \"function\", \"function\": {\"name\": \"get_time\"}}}")
                .getBytes(StandardCharsets.UTF_8));
        ToolCalls named = ToolCalls.of(body, ToolCalls.Style.HERMES);
        assertEquals(2, ((List<?>) named.templateVariables().get("tools")).size());
        assertEquals("get_time", named.read("{\"name\": \"get_time\", \"arguments\": {}}").calls().getFirst().name());
        assertTrue(named.read("{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}").calls().isEmpty());
    }

    @Test
    void llamaAnswersBecomeCalls() {
        ToolCalls auto = tools(ToolCalls.Style.LLAMA_JSON, "");
        assertNull(auto.schema());
        assertEquals("", auto.promptSuffix(), "Llama's calls need no opening text");
        ToolCalls.Reply r = auto.read("<|python_tag|>{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\"}}");
        assertNull(r.content());
        assertEquals("{\"city\":\"Paris\"}", r.calls().getFirst().arguments());
        assertEquals(2, auto.read("{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\"}}; "
                + "{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Rome\"}}").calls().size());
        assertEquals(new ToolCalls.Reply("The weather is fine.", List.of()), auto.read("The weather is fine."));
        assertEquals(1, tools(ToolCalls.Style.LLAMA_JSON, ", \"parallel_tool_calls\": false").read("{\"name\": \"get_weather\", "
                + "\"parameters\": {\"city\": \"Paris\"}}; {\"name\": \"get_weather\", \"parameters\": {}}").calls().size());
        assertNotNull(tools(ToolCalls.Style.LLAMA_JSON, ", \"tool_choice\": {\"type\": \"function\", \"function\": "
                + "{\"name\": \"get_weather\"}}").schema(), "a named function is sampled under its schema");
    }

    /** A short Hermes-style template: Qwen3's tool preamble alone would fill stories260K's 512 positions. */
    private static final String SHORT_HERMES = "{% if tools %}<tools>{% for t in tools %}{{ t.function.name }}{% endfor %}</tools>\n{% endif %}"
            + "{% for m in messages %}{% if m.tool_calls %}{% for c in m.tool_calls %}<tool_call>{\"name\": \"{{ c.function.name }}\", "
            + "\"arguments\": {{ c.function.arguments | tojson }}}</tool_call>{% endfor %}{% else %}{{ m.role }}: {{ m.content }}\n"
            + "{% endif %}{% endfor %}{% if add_generation_prompt %}assistant: {% endif %}";

    /**
     * Through the server: stories260K given a Hermes-style chat template answers a required tool
     * choice with a Hermes call (the prompt opens it, the schema keeps it a call), and tool_choice
     * auto with its free text, which holds no call.
     */
    @Test
    void serverAnswersInTheTemplatesStyle(@TempDir Path dir) throws Exception {
        assertEquals(ToolCalls.Style.HERMES, ToolCalls.Style.of(SHORT_HERMES));
        try (LoopbackServer server = storiesServer(dir, SHORT_HERMES)) {
            // The prompt is the template's, with the call opened after it (the generic style's would describe the tools in a system turn).
            forcedCall(server, SHORT_HERMES, "", "<tools>get_weather</tools>\nuser: Weather in Paris?\nassistant: <tool_call>\n");
            ObjectNode body = request("{\"role\": \"user\", \"content\": \"Weather in Paris?\"}",
                    ", \"tool_choice\": \"auto\", \"max_tokens\": 12, \"temperature\": 0");
            HttpResponse<String> r = server.post("/v1/chat/completions", Json.write(body), false);
            assertEquals(200, r.statusCode(), r.body());
            JsonNode choice = Json.MAPPER.readTree(r.body()).path("choices").path(0);
            String content = choice.path("message").path("content").asText();
            assertFalse(content.isEmpty(), r.body());
            assertTrue(choice.path("message").path("tool_calls").isMissingNode(), r.body());

            // Streamed, the same greedy answer arrives as content deltas while it is generated, not in one piece at the end.
            body.put("stream", true);
            r = server.post("/v1/chat/completions", Json.write(body), false);
            assertEquals(200, r.statusCode(), r.body());
            List<String> pieces = new ArrayList<>();
            for (String line : r.body().split("\n")) {
                if (line.startsWith("data: {")) {
                    JsonNode delta = Json.MAPPER.readTree(line.substring(6)).path("choices").path(0).path("delta");
                    assertTrue(delta.path("tool_calls").isMissingNode(), r.body());
                    if (!delta.path("content").asText("").isEmpty()) {
                        pieces.add(delta.get("content").asText());
                    }
                }
            }
            assertTrue(pieces.size() > 1, r.body());
            assertEquals(content, String.join("", pieces));
        }
    }

    /**
     * Asks the server for a call of get_weather under tool_choice "required" (with {@code extra}
     * request fields), checks that the prompt is {@code expectedPrompt} and that the answer is one
     * call with a city; returns the answer's message.
     */
    private static JsonNode forcedCall(LoopbackServer server, String template, String extra, String expectedPrompt) throws Exception {
        ObjectNode body = request("{\"role\": \"user\", \"content\": \"Weather in Paris?\"}",
                ", \"tool_choice\": \"required\", \"max_tokens\": 200, \"seed\": 1" + extra);
        body.set("logit_bias", Json.MAPPER.valueToTree(Biases.quoteAndBrace(server.tern().tokenizer())._additionalProperties()));
        assertEquals(expectedPrompt, prompt(ChatTemplate.of(template, null, null), body, Map.of()));
        HttpResponse<String> r = server.post("/v1/chat/completions", Json.write(body), false);
        assertEquals(200, r.statusCode(), r.body());
        JsonNode answer = Json.MAPPER.readTree(r.body()), choice = answer.path("choices").path(0);
        assertEquals(server.tern().tokenizer().encode(expectedPrompt, true, true).length, answer.path("usage").path("prompt_tokens").asInt());
        assertEquals("tool_calls", choice.path("finish_reason").asText(), r.body());
        JsonNode calls = choice.path("message").path("tool_calls");
        assertEquals(1, calls.size(), r.body());
        assertEquals("get_weather", calls.get(0).path("function").path("name").asText(), r.body());
        assertTrue(Json.MAPPER.readTree(calls.get(0).path("function").path("arguments").asText()).path("city").isTextual(), r.body());
        return choice.path("message");
    }

    /** stories260K with {@code template} as its chat template, served on a loopback port. */
    private static LoopbackServer storiesServer(Path dir, String template) throws IOException {
        Path model = dir.resolve("stories260K-template.gguf");
        try (GGUFFile f = GGUFFile.open(Fixtures.stories260K("stories260K-f32.gguf"))) {
            GGUFWriter w = new GGUFWriter().putAll(f.metadata()).put("tokenizer.chat_template", MetadataValue.of(template));
            for (GGUFTensorInfo t : f.tensors()) {
                w.copyTensor(f, t);
            }
            w.write(model);
        }
        return LoopbackServer.start(model, new Tern.Options(2, 0, 8, KVCacheType.F32), ServerConfig.loopback(0, LoopbackServer.MODEL));
    }

    /** Mistral's v3 layout, short enough for stories260K's 512 positions. */
    private static final String SHORT_MISTRAL = "{% for m in messages %}{% if m.role == 'user' %}{% if tools %}[AVAILABLE_TOOLS] ["
            + "{% for t in tools %}{{ t.function.name }}{% endfor %}][/AVAILABLE_TOOLS]{% endif %}[INST] {{ m.content }}[/INST]"
            + "{% elif m.tool_calls %}[TOOL_CALLS] [{% for c in m.tool_calls %}{{ (c.function | tojson)[:-1] }}, \"id\": \"{{ c.id }}\"}"
            + "{% endfor %}]</s>{% elif m.role == 'tool' %}[TOOL_RESULTS] {{ m.content }} {{ m.tool_call_id }}[/TOOL_RESULTS]"
            + "{% else %}{{ m.content }}{% endif %}{% endfor %}";

    /** Mistral's newer layout ([TOOL_CALLS]name[ARGS]{…}), short enough for stories260K's 512 positions. */
    private static final String SHORT_MISTRAL_ARGS = "{% for m in messages %}{% if m.role == 'user' %}{% if tools %}[AVAILABLE_TOOLS]["
            + "{% for t in tools %}{{ t.function.name }}{% endfor %}][/AVAILABLE_TOOLS]{% endif %}[INST]{{ m.content }}[/INST]"
            + "{% elif m.tool_calls %}{% for c in m.tool_calls %}[TOOL_CALLS]{{ c.function.name }}[ARGS]{{ c.function.arguments | tojson }}"
            + "{% endfor %}</s>{% elif m.role == 'tool' %}[TOOL_RESULTS]{{ m.content }}[/TOOL_RESULTS]{% else %}{{ m.content }}{% endif %}"
            + "{% endfor %}";

    /**
     * Through the server, in Mistral's newer syntax: the prompt of a required call of the one tool
     * ends with its name and [ARGS], the answer is its arguments under the parameters' schema, and
     * the call goes back to the template in the same syntax.
     */
    @Test
    void serverAnswersMistralArgsCalls(@TempDir Path dir) throws Exception {
        try (LoopbackServer server = storiesServer(dir, SHORT_MISTRAL_ARGS)) {
            JsonNode message = forcedCall(server, SHORT_MISTRAL_ARGS, "",
                    "[AVAILABLE_TOOLS][get_weather][/AVAILABLE_TOOLS][INST]Weather in Paris?[/INST][TOOL_CALLS]get_weather[ARGS]");
            JsonNode call = message.path("tool_calls").path(0);
            assertTrue(call.path("id").asText().matches("[A-Za-z0-9]{9}"), message.toString());
            ObjectNode next = request("{\"role\": \"user\", \"content\": \"Weather in Paris?\"}, " + Json.write(message)
                    + ", {\"role\": \"tool\", \"tool_call_id\": \"" + call.path("id").asText() + "\", \"content\": \"sunny\"}", "");
            String city = Json.MAPPER.readTree(call.path("function").path("arguments").asText()).path("city").asText();
            assertTrue(prompt(ChatTemplate.of(SHORT_MISTRAL_ARGS, null, null), next, Map.of())
                    .endsWith("[TOOL_CALLS]get_weather[ARGS]{\"city\": " + Json.write(Json.MAPPER.getNodeFactory().textNode(city))
                            + "}</s>[TOOL_RESULTS]sunny[/TOOL_RESULTS]"));
        }
    }

    /** Through the server, a required call of one of two functions in Mistral's newer syntax: one function's name and its arguments. */
    @Test
    void serverAnswersARequiredCallOfOneOfTwoFunctions(@TempDir Path dir) throws Exception {
        String time = "{\"type\": \"function\", \"function\": {\"name\": \"get_time\", \"parameters\": {\"type\": \"object\","
                + " \"properties\": {\"zone\": {\"type\": \"integer\"}}, \"required\": [\"zone\"], \"additionalProperties\": false}}}";
        try (LoopbackServer server = storiesServer(dir, SHORT_MISTRAL_ARGS)) {
            ObjectNode body = (ObjectNode) Json.MAPPER.readTree("{\"messages\": [{\"role\": \"user\", \"content\": \"Time?\"}],"
                    + " \"tools\": [" + WEATHER + ", " + time + "], \"tool_choice\": \"required\", \"max_tokens\": 200, \"seed\": 3}");
            body.set("logit_bias", Json.MAPPER.valueToTree(Biases.quoteAndBrace(server.tern().tokenizer())._additionalProperties()));
            HttpResponse<String> r = server.post("/v1/chat/completions", Json.write(body), false);
            assertEquals(200, r.statusCode(), r.body());
            JsonNode choice = Json.MAPPER.readTree(r.body()).path("choices").path(0);
            assertEquals("tool_calls", choice.path("finish_reason").asText(), r.body());
            JsonNode f = choice.path("message").path("tool_calls").path(0).path("function");
            JsonNode args = Json.MAPPER.readTree(f.path("arguments").asText());
            assertTrue(f.path("name").asText().equals("get_weather") ? args.path("city").isTextual() : args.path("zone").isIntegralNumber(), r.body());
        }
    }

    /**
     * Through the server: stories260K given a Mistral-style template answers a required tool
     * choice with an array of one call after the prompt's {@code [TOOL_CALLS]}, with an id of 9
     * letters and digits, and the conversation that sends the call and its result back renders
     * with that id.
     */
    @Test
    void serverAnswersMistralStyleCalls(@TempDir Path dir) throws Exception {
        assertEquals(ToolCalls.Style.MISTRAL, ToolCalls.Style.of(SHORT_MISTRAL));
        try (LoopbackServer server = storiesServer(dir, SHORT_MISTRAL)) {
            JsonNode message = forcedCall(server, SHORT_MISTRAL, ", \"parallel_tool_calls\": false",
                    "[AVAILABLE_TOOLS] [get_weather][/AVAILABLE_TOOLS][INST] Weather in Paris?[/INST][TOOL_CALLS]");
            String id = message.path("tool_calls").path(0).path("id").asText();
            assertTrue(id.matches("[A-Za-z0-9]{9}"), message.toString());

            ObjectNode next = request("{\"role\": \"user\", \"content\": \"Weather in Paris?\"}, " + Json.write(message)
                    + ", {\"role\": \"tool\", \"tool_call_id\": \"" + id + "\", \"content\": \"sunny\"}", "");
            assertTrue(prompt(ChatTemplate.of(SHORT_MISTRAL, null, null), next, Map.of())
                    .endsWith(", \"id\": \"" + id + "\"}]</s>[TOOL_RESULTS] sunny " + id + "[/TOOL_RESULTS]"));
            next.put("max_tokens", 4);
            HttpResponse<String> r = server.post("/v1/chat/completions", Json.write(next), false);
            assertEquals(200, r.statusCode(), r.body());
        }
    }
    private static final String CALLS = "<｜tool▁calls▁begin｜>", DS_CALL = "<｜tool▁call▁begin｜>", SEP = "<｜tool▁sep｜>",
            CALL_END = "<｜tool▁call▁end｜>", CALLS_END = "<｜tool▁calls▁end｜>";

    /** DeepSeek-R1's layout (its calls fenced, arguments as text), short enough for stories260K's 512 positions. */
    private static final String SHORT_DEEPSEEK_R1 = "{% if tools %}{% for t in tools %}{{ t.function.name }}{% endfor %}{% endif %}"
            + "{% for m in messages %}{% if m.role == 'user' %}<｜User｜>{{ m.content }}{% elif m.tool_calls %}<｜Assistant｜>" + CALLS
            + "{% for c in m.tool_calls %}" + DS_CALL + "{{ c.type }}" + SEP + "{{ c.function.name + '\\n' + '```json' + '\\n' + c.function.arguments"
            + " + '\\n' + '```' }}" + CALL_END + "{% endfor %}" + CALLS_END + "{% elif m.role == 'tool' %}<｜tool▁output▁begin｜>{{ m.content }}"
            + "<｜tool▁output▁end｜>{% else %}{{ m.content }}{% endif %}{% endfor %}{% if add_generation_prompt %}<｜Assistant｜>{% endif %}";

    /** DeepSeek-V3.1's layout: name, separator, arguments. */
    private static final String SHORT_DEEPSEEK_V3 = SHORT_DEEPSEEK_R1.replace("{{ c.type }}" + SEP
            + "{{ c.function.name + '\\n' + '```json' + '\\n' + c.function.arguments + '\\n' + '```' }}", "{{ c.function.name }}" + SEP
            + "{{ c.function.arguments }}");

    /** DeepSeek's calls in both layouts: read with the text before them as content, forced with the name in the prompt. */
    @Test
    void deepSeekAnswersBecomeCalls() {
        assertEquals(ToolCalls.Style.DEEPSEEK_R1, ToolCalls.Style.of(SHORT_DEEPSEEK_R1));
        assertEquals(ToolCalls.Style.DEEPSEEK_V3, ToolCalls.Style.of(SHORT_DEEPSEEK_V3));
        String r1 = "Let me check." + CALLS + DS_CALL + "function" + SEP + "get_weather\n```json\n{\"city\": \"Paris\"}\n```" + CALL_END
                + DS_CALL + "function" + SEP + "get_weather\n```json\n{\"city\": \"Rome\"}\n```" + CALL_END + CALLS_END;
        String v3 = "Let me check." + CALLS + DS_CALL + "get_weather" + SEP + "{\"city\": \"Paris\"}" + CALL_END
                + DS_CALL + "get_weather" + SEP + "{\"city\": \"Rome\"}" + CALL_END + CALLS_END;
        for (ToolCalls.Style style : List.of(ToolCalls.Style.DEEPSEEK_R1, ToolCalls.Style.DEEPSEEK_V3)) {
            ToolCalls auto = tools(style, "");
            for (String answer : List.of(r1, v3)) {
                ToolCalls.Reply r = auto.read(answer);
                assertEquals("Let me check.", r.content(), answer);
                assertEquals(List.of("{\"city\":\"Paris\"}", "{\"city\":\"Rome\"}"), r.calls().stream().map(ToolCalls.Call::arguments).toList());
                assertTrue(r.calls().stream().allMatch(c -> c.name().equals("get_weather") && c.id().startsWith("call_")), r.toString());
            }
            for (String notCalls : new String[]{CALLS + DS_CALL + "get_time" + SEP + "{}" + CALL_END, CALLS + DS_CALL + "get_weather" + SEP + "{\"ci",
                    CALLS + DS_CALL + "get_weather" + SEP + "[1]", "It is sunny."}) {
                assertEquals(new ToolCalls.Reply(notCalls, List.of()), auto.read(notCalls));
            }
            assertEquals(13, contentEnd(auto, "Let me check.<｜tool▁ca"), "a possible opening tag is held back");
            ToolCalls required = tools(style, ", \"tool_choice\": \"required\"");
            assertEquals(style == ToolCalls.Style.DEEPSEEK_R1 ? CALLS + DS_CALL + "function" + SEP + "get_weather\n```json\n"
                    : CALLS + DS_CALL + "get_weather" + SEP, required.promptSuffix(), "one function: its name is in the prompt");
            assertNotNull(required.schema());
            ToolCalls.Reply r = required.read("{\"city\": \"Paris\"}");
            assertNull(r.content());
            assertEquals("{\"city\":\"Paris\"}", r.calls().getFirst().arguments());
        }
        assertEquals(DS_CALL, tools(ToolCalls.Style.DEEPSEEK_R1, "").lazyGrammar().trigger(), "each call: a name, then its arguments");
        assertEquals(DS_CALL, tools(ToolCalls.Style.DEEPSEEK_V3, "").lazyGrammar().trigger());
    }

    /** Required, with several functions that name themselves first: the prompt opens a call, the answer is one name and its arguments. */
    @Test
    void aRequiredCallOfSeveralFunctionsChoosesANameThenItsArguments() {
        String time = "{\"type\": \"function\", \"function\": {\"name\": \"get_time\", \"parameters\": {\"type\": \"object\","
                + " \"properties\": {\"zone\": {\"type\": \"integer\"}}, \"required\": [\"zone\"]}}}";
        ObjectNode body = Json.parseObject(("{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"tools\": [" + WEATHER + ", " + time
                + "], \"tool_choice\": \"required\"}").getBytes(StandardCharsets.UTF_8));
        for (ToolCalls.Style style : List.of(ToolCalls.Style.MISTRAL_ARGS, ToolCalls.Style.DEEPSEEK_V3, ToolCalls.Style.DEEPSEEK_R1)) {
            ToolCalls required = ToolCalls.of(body, style);
            assertTrue(required.schema() instanceof ChoiceGrammar, style.toString());
            String answer = switch (style) {
                case MISTRAL_ARGS -> "get_time[ARGS]{\"zone\": 2}";
                case DEEPSEEK_V3 -> "get_time" + SEP + "{\"zone\": 2}";
                default -> "function" + SEP + "get_time\n```json\n{\"zone\": 2}";
            };
            ToolCalls.Reply r = required.read(answer);
            assertEquals(1, r.calls().size(), style + ": " + r);
            assertEquals("get_time", r.calls().getFirst().name());
            assertEquals("{\"zone\":2}", r.calls().getFirst().arguments());
        }
    }

    /** Streamed, a DeepSeek call is named once its fence (R1) or separator (V3) is written, then its arguments follow as written. */
    @Test
    void streamedDeepSeekCalls() {
        streamsTwoWeatherCalls(tools(ToolCalls.Style.DEEPSEEK_R1, ""), "call_\\w{24}", "Let me check.", "<｜tool▁calls▁be",
                "gin｜>" + DS_CALL + "function" + SEP + "get_wea", "ther\n```js", "on\n{\"city\": \"Pa", "ris\"}\n``", "`" + CALL_END + DS_CALL
                        + "function" + SEP + "get_weather\n```json\n{\"city\":", " \"Rome\"}", "\n```" + CALL_END + CALLS_END);
        streamsTwoWeatherCalls(tools(ToolCalls.Style.DEEPSEEK_V3, ""), "call_\\w{24}", "Let me check.", "<｜tool▁calls▁be",
                "gin｜>" + DS_CALL + "get_wea", "ther" + SEP + "{\"city\": \"Pa", "ris\"}" + CALL_END + DS_CALL + "get_weather" + SEP + "{\"city\":",
                " \"Rome\"}", CALL_END + CALLS_END);
    }

    /**
     * Through the server with DeepSeek-R1's layout: a required call's prompt ends with the opened
     * call and its fence, the answer is the arguments under the parameters' schema, and the call
     * goes back to the template with its arguments as text, fenced as R1 writes them.
     */
    @Test
    void serverAnswersDeepSeekCalls(@TempDir Path dir) throws Exception {
        try (LoopbackServer server = storiesServer(dir, SHORT_DEEPSEEK_R1)) {
            JsonNode message = forcedCall(server, SHORT_DEEPSEEK_R1, "",
                    "get_weather<｜User｜>Weather in Paris?<｜Assistant｜>" + CALLS + DS_CALL + "function" + SEP + "get_weather\n```json\n");
            JsonNode call = message.path("tool_calls").path(0);
            ObjectNode next = request("{\"role\": \"user\", \"content\": \"Weather in Paris?\"}, " + Json.write(message)
                    + ", {\"role\": \"tool\", \"tool_call_id\": \"" + call.path("id").asText() + "\", \"content\": \"sunny\"}", "");
            String arguments = call.path("function").path("arguments").asText();
            assertTrue(prompt(ChatTemplate.of(SHORT_DEEPSEEK_R1, null, null), next, Map.of()).endsWith(
                    DS_CALL + "function" + SEP + "get_weather\n```json\n" + arguments + "\n```" + CALL_END + CALLS_END
                            + "<｜tool▁output▁begin｜>sunny<｜tool▁output▁end｜><｜Assistant｜>"));
        }
    }
}
