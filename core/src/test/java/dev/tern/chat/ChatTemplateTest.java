package dev.tern.chat;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tern.TernException;
import dev.tern.testing.Fixtures;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/** Expected strings are written out by hand from each template's text and transformers' settings. */
class ChatTemplateTest {
    private static final List<ChatMessage> CONVERSATION = List.of(
            new ChatMessage("system", "You are a helpful assistant."),
            new ChatMessage("user", "Hello!"),
            new ChatMessage("assistant", "Hi! How can I help?"),
            new ChatMessage("user", "  What is 2+2?\n"));

    private static String hfTemplate(String model) throws IOException {
        var json = new ObjectMapper().readTree(Fixtures.tokenizers().resolve("hf").resolve(model).resolve("tokenizer_config.json").toFile());
        return json.get("chat_template").asText();
    }

    @Test
    void llama3() throws IOException {
        ChatTemplate t = ChatTemplate.of(hfTemplate("llama3"), "<|begin_of_text|>", "<|end_of_text|>");
        // contents are trimmed (the filter binds to message['content'] only), BOS only before the first turn
        String expected = "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are a helpful assistant.<|eot_id|>"
                + "<|start_header_id|>user<|end_header_id|>\n\nHello!<|eot_id|>"
                + "<|start_header_id|>assistant<|end_header_id|>\n\nHi! How can I help?<|eot_id|>"
                + "<|start_header_id|>user<|end_header_id|>\n\nWhat is 2+2?<|eot_id|>"
                + "<|start_header_id|>assistant<|end_header_id|>\n\n";
        assertEquals(expected, t.render(CONVERSATION, true));
        // this template appends the assistant header unconditionally
        assertEquals(expected, t.render(CONVERSATION, false));
        assertFalse(t.isFallback());
    }

    @Test
    void qwen3() throws IOException {
        ChatTemplate t = ChatTemplate.of(hfTemplate("qwen3"), null, "<|im_end|>");
        String expected = "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
                + "<|im_start|>user\nHello!<|im_end|>\n"
                + "<|im_start|>assistant\nHi! How can I help?<|im_end|>\n"
                + "<|im_start|>user\n  What is 2+2?\n<|im_end|>\n"
                + "<|im_start|>assistant\n";
        assertEquals(expected, t.render(CONVERSATION, true));
    }

    @Test
    void qwen3DropsEarlierReasoningAndKeepsTheLast() throws IOException {
        // exercises namespace(), messages[::-1], split('</think>')[-1], lstrip/rstrip/strip('\n')
        ChatTemplate t = ChatTemplate.of(hfTemplate("qwen3"), null, "<|im_end|>");
        List<ChatMessage> messages = List.of(
                new ChatMessage("system", "S"),
                new ChatMessage("user", "Q1"),
                new ChatMessage("assistant", "<think>\nstep\n</think>\n\nA1"),
                new ChatMessage("user", "Q2"),
                new ChatMessage("assistant", "<think>\nmore\n</think>\n\nA2"));
        assertEquals("<|im_start|>system\nS<|im_end|>\n"
                + "<|im_start|>user\nQ1<|im_end|>\n"
                + "<|im_start|>assistant\nA1<|im_end|>\n"
                + "<|im_start|>user\nQ2<|im_end|>\n"
                + "<|im_start|>assistant\n<think>\nmore\n</think>\n\nA2<|im_end|>\n", t.render(messages, false));
    }

    @Test
    void qwen3WithThinkingDisabled() throws IOException {
        ChatTemplate t = ChatTemplate.of(hfTemplate("qwen3"), null, "<|im_end|>");
        assertEquals("<|im_start|>user\nHello!<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n",
                t.render(List.of(new ChatMessage("user", "Hello!")), true, Map.of("enable_thinking", false)));
    }

    private static String resource(String name) throws IOException {
        try (InputStream in = ChatTemplateTest.class.getResourceAsStream(name)) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    private static final String WEATHER_TOOL_JSON = "{\n"
            + "    \"type\": \"function\",\n"
            + "    \"function\": {\n"
            + "        \"name\": \"get_weather\",\n"
            + "        \"description\": \"Weather in a city\",\n"
            + "        \"parameters\": {\n"
            + "            \"type\": \"object\",\n"
            + "            \"properties\": {\n"
            + "                \"city\": {\n"
            + "                    \"type\": \"string\"\n"
            + "                }\n"
            + "            },\n"
            + "            \"required\": [\n"
            + "                \"city\"\n"
            + "            ]\n"
            + "        }\n"
            + "    }\n"
            + "}";

    private static Object weatherTool() {
        Map<String, Object> params = new LinkedHashMap<>();
        params.put("type", "object");
        params.put("properties", Map.of("city", Map.of("type", "string")));
        params.put("required", List.of("city"));
        Map<String, Object> fn = new LinkedHashMap<>();
        fn.put("name", "get_weather");
        fn.put("description", "Weather in a city");
        fn.put("parameters", params);
        Map<String, Object> tool = new LinkedHashMap<>();
        tool.put("type", "function");
        tool.put("function", fn);
        return tool;
    }

    /** Llama 3.2 Instruct's template (a public copy, in test resources): date lines, slices, not-is. */
    private static ChatTemplate llama32() throws IOException {
        Clock clock = Clock.fixed(Instant.parse("2025-03-05T10:00:00Z"), ZoneOffset.UTC);
        return ChatTemplate.of(resource("llama32-instruct.jinja"), "<|begin_of_text|>", "<|eot_id|>", clock);
    }

    @Test
    void llama32DateFromStrftimeNow() throws IOException {
        // no date_string: strftime_now("%d %b %Y") at the (fixed) render time
        assertEquals("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"
                + "Cutting Knowledge Date: December 2023\nToday Date: 05 Mar 2025\n\n"
                + "You are a helpful assistant.<|eot_id|>"
                + "<|start_header_id|>user<|end_header_id|>\n\nHello!<|eot_id|>"
                + "<|start_header_id|>assistant<|end_header_id|>\n\nHi! How can I help?<|eot_id|>"
                + "<|start_header_id|>user<|end_header_id|>\n\nWhat is 2+2?<|eot_id|>"
                + "<|start_header_id|>assistant<|end_header_id|>\n\n", llama32().render(CONVERSATION, true));
    }

    @Test
    void llama32WithDateStringAndToolsInUserMessage() throws IOException {
        String got = llama32().render(List.of(new ChatMessage("user", "Hello!")), true,
                Map.of("date_string", "01 Jan 2025", "tools", List.of(weatherTool())));
        assertEquals("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"
                + "Environment: ipython\nCutting Knowledge Date: December 2023\nToday Date: 01 Jan 2025\n\n<|eot_id|>"
                + "<|start_header_id|>user<|end_header_id|>\n\n"
                + "Given the following functions, please respond with a JSON for a function call "
                + "with its proper arguments that best answers the given prompt.\n\n"
                + "Respond in the format {\"name\": function name, \"parameters\": dictionary of argument name and its value}."
                + "Do not use variables.\n\n"
                + WEATHER_TOOL_JSON + "\n\nHello!<|eot_id|>"
                + "<|start_header_id|>assistant<|end_header_id|>\n\n", got);
    }

    @Test
    void raiseExceptionBecomesOneLineTernException() throws IOException {
        // tools in the user message but no user message
        TernException e = assertThrows(TernException.class, () -> llama32().render(
                List.of(new ChatMessage("system", "S")), true, Map.of("tools", List.of(weatherTool()))));
        assertTrue(e.getMessage().contains("Cannot put tools in the first user message when there's no first user message!"),
                e.getMessage());
        assertFalse(e.getMessage().contains("\n"));
    }

    @Test
    void syntaxErrorBecomesOneLineTernException() {
        ChatTemplate t = ChatTemplate.of("line one\n{{ messages[0 }}\n", "", "");
        TernException e = assertThrows(TernException.class, () -> t.render(CONVERSATION, false));
        assertTrue(e.getMessage().startsWith("chat template error"), e.getMessage());
        assertFalse(e.getMessage().contains("\n"));
    }

    @Test
    void fallbackIsChatML() {
        ChatTemplate t = ChatTemplate.of(null, "<s>", "</s>");
        assertTrue(t.isFallback());
        assertEquals("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
                + "<|im_start|>user\nHello!<|im_end|>\n"
                + "<|im_start|>assistant\nHi! How can I help?<|im_end|>\n"
                + "<|im_start|>user\n  What is 2+2?\n<|im_end|>\n"
                + "<|im_start|>assistant\n", t.render(CONVERSATION, true));
        assertEquals("<|im_start|>user\nHello!<|im_end|>\n",
                ChatTemplate.of("  ", null, null).render(List.of(new ChatMessage("user", "Hello!")), false));
    }

    @Test
    void trimAndLstripBlocksAsTransformers() {
        // the newline after each block tag goes (trim_blocks); indentation before block tags goes (lstrip_blocks)
        ChatTemplate t = ChatTemplate.of("{% for m in messages %}\n    {% if m.role == 'user' %}\n{{ m.content }}\n    {% endif %}\n{% endfor %}", "", "");
        assertEquals("Hello!\n", t.render(CONVERSATION.subList(0, 3), false));
    }

    /** Expected values from Python's jinja2 3.1 with trim_blocks and lstrip_blocks, as transformers renders. */
    @Test
    void lstripBlocksOnlyWhereTheTagStartsItsLine() {
        Map<String, String> cases = new LinkedHashMap<>();
        cases.put("x {% if true %}y{% endif %}", "x y");
        cases.put("{% if true %}assistant: {% endif %}", "assistant: ");
        cases.put("a\n   {% if true %}b{% endif %}", "a\nb");
        cases.put("a  {{ 'b' }}  {% if true %} c{% endif %}", "a  b   c");
        cases.put("{% for m in messages %}{{ m.role }}: {% endfor %}", "user: ");
        cases.put("  {%+ if true %}x{% endif %}", "  x");
        cases.put("\t {# c #}\n  y {# d #}z", "  y z");
        cases.forEach((template, expected) -> assertEquals(expected,
                ChatTemplate.of(template, "", "").render(List.of(new ChatMessage("user", "hi")), false), template));
    }

    @Test
    void messageTextIsNotInterpretedAsTemplate() {
        ChatTemplate t = ChatTemplate.of(null, "", "");
        assertEquals("<|im_start|>user\n{{ 7 * 6 }} {% if %}<|im_end|>\n",
                t.render(List.of(new ChatMessage("user", "{{ 7 * 6 }} {% if %}")), false));
    }
}
