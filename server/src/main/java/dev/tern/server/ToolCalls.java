package dev.tern.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tern.TernException;
import dev.tern.chat.ChatMessage;
import dev.tern.engine.Tags;
import dev.tern.sampling.ChoiceGrammar;
import dev.tern.sampling.Grammar;
import dev.tern.sampling.JsonSchema;
import dev.tern.sampling.TriggeredGrammar;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.UUID;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * OpenAI function calling, in the model's own format where its chat template has one, else in
 * llama.cpp's generic form.
 *
 * <p>Native ({@link Style#HERMES}, {@link Style#LLAMA_JSON}, {@link Style#MISTRAL}, {@link Style#MISTRAL_ARGS}): the template
 * gets the tools and the conversation's earlier calls and results as transformers passes them,
 * and writes them as the model was trained to read them; the model's answer is parsed for calls
 * in its format. With {@code tool_choice} "required" or a named function the answer is one call
 * (Mistral: an array of calls), sampled under a JSON schema of the allowed calls, after the
 * opening the prompt then ends with (Hermes's {@code <tool_call>}, Mistral's {@code [TOOL_CALLS]};
 * newer Mistral's {@code [TOOL_CALLS]name[ARGS]} with the function's parameters as the schema when
 * one function is allowed, else {@code [TOOL_CALLS]} and a free answer).
 *
 * <p>Generic, for any model: the tools are described in the system message, and the answer is
 * sampled under a JSON schema that admits either {@code {"tool_calls": [{"name", "arguments"}…]}}
 * (the arguments following each function's parameter schema) or {@code {"response": "…"}}.
 * Earlier tool calls and tool results in the conversation are written in the same JSON.
 */
final class ToolCalls {
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9_-]{1,64}");
    private static final String HERMES_TAG = "<tool_call>";
    private static final Pattern HERMES_CALL = Pattern.compile(HERMES_TAG + "\\s*(.*?)\\s*(?:</tool_call>|$)", Pattern.DOTALL);
    private static final String HERMES_OPEN = HERMES_TAG + "\n";
    private static final String PYTHON_TAG = "<|python_tag|>";
    private static final String MISTRAL_TAG = "[TOOL_CALLS]";
    private static final String ARGS_TAG = "[ARGS]";
    private static final String CALL_ID_TAG = "[CALL_ID]";
    /** Mistral's templates refuse any other call id. */
    private static final Pattern MISTRAL_ID = Pattern.compile("[A-Za-z0-9]{9}");
    private static final String ALPHANUMERIC = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

    /** How a chat template writes tools, calls and results. */
    enum Style {
        /** No tool support in the template: tools in the system message, answers as constrained JSON. */
        GENERIC,
        /** Hermes and Qwen: calls as {@code <tool_call>{"name": …, "arguments": {…}}</tool_call>}. */
        HERMES,
        /** Llama 3.1 and later: a call is a bare {@code {"name": …, "parameters": {…}}}. */
        LLAMA_JSON,
        /** Mistral v3 (Mistral 7B v0.3, Nemo, Large 2407): {@code [TOOL_CALLS] [{"name": …, "arguments": {…}}, …]}, ids of 9 letters and digits. */
        MISTRAL,
        /**
         * Mistral's tokenizer v11 and later (Mistral Small 3.2, Magistral, Devstral, Ministral 3):
         * each call as {@code [TOOL_CALLS]name[ARGS]{…}}, some templates with {@code [CALL_ID]id}
         * before {@code [ARGS]}; ids of 9 letters and digits.
         */
        MISTRAL_ARGS,
        /** DeepSeek-R1 and its distills: {@link DeepSeekCalls}, each call {@code function<｜tool▁sep｜>name} and its arguments in a json fence. */
        DEEPSEEK_R1,
        /** DeepSeek-V3.1 and later: {@link DeepSeekCalls}, each call {@code name<｜tool▁sep｜>arguments}. */
        DEEPSEEK_V3;

        /** The style a template's source shows: the call syntax it writes for earlier tool calls. */
        static Style of(String templateSource) {
            if (templateSource == null || !templateSource.contains("tools") || !templateSource.contains("tool_calls")) {
                return GENERIC;
            }
            if (templateSource.contains(DeepSeekCalls.CALLS_BEGIN)) {
                return templateSource.contains("```json") ? DEEPSEEK_R1 : DEEPSEEK_V3;
            }
            if (templateSource.contains(HERMES_TAG)) {
                return HERMES;
            }
            if (templateSource.contains(MISTRAL_TAG)) {
                return templateSource.contains(ARGS_TAG) ? MISTRAL_ARGS : MISTRAL;
            }
            return templateSource.contains("\"parameters\": ") ? LLAMA_JSON : GENERIC;
        }

        /** The key a call's arguments go under in this style's JSON. */
        String argumentsKey() {
            return this == LLAMA_JSON ? "parameters" : "arguments";
        }

        /** The text that opens this style's calls in an answer, or null where a call opens with its JSON. */
        String callTag() {
            return switch (this) {
                case HERMES -> HERMES_TAG;
                case MISTRAL, MISTRAL_ARGS -> MISTRAL_TAG;
                case DEEPSEEK_R1, DEEPSEEK_V3 -> DeepSeekCalls.CALLS_BEGIN;
                default -> null;
            };
        }

        /**
         * A call id as this style's template accepts it. Mistral's: 9 letters and digits, as its
         * own are; a longer id ending in 9 of them keeps those (as vLLM cuts them), any other is
         * hashed to 9, so that a call and its result still match.
         */
        String historyId(String id) {
            if (!mistral() || MISTRAL_ID.matcher(id).matches()) {
                return id;
            }
            if (id.length() > 9 && MISTRAL_ID.matcher(id.substring(id.length() - 9)).matches()) {
                return id.substring(id.length() - 9);
            }
            long h = 1125899906842597L;
            for (int i = 0; i < id.length(); i++) {
                h = 31 * h + id.charAt(i);
            }
            return alphanumeric(new SplittableRandom(h));
        }

        /**
         * The styles whose calls name their function before the arguments, outside JSON: a forced
         * call of one function has its name in the prompt, and the answer is the arguments alone.
         */
        boolean namesBeforeArguments() {
            return this == MISTRAL_ARGS || this == DEEPSEEK_R1 || this == DEEPSEEK_V3;
        }

        /** DeepSeek's templates join a call's arguments to their text as a string, so they stay one. */
        boolean argumentsAsText() {
            return this == DEEPSEEK_R1 || this == DEEPSEEK_V3;
        }

        /** Mistral's styles, whose templates take only call ids of 9 letters and digits. */
        boolean mistral() {
            return this == MISTRAL || this == MISTRAL_ARGS;
        }
    }

    private record Tool(String name, String description, JsonNode parameters, JsonNode declaration) {
    }

    /** One call the model made: its id, the function's name and the arguments as JSON text. */
    record Call(String id, String name, String arguments) {
    }

    /** What the model answered: tool calls, or content (also when the JSON was cut short). */
    record Reply(String content, List<Call> calls) {
    }

    /** The tools the answer may call (a named tool_choice leaves one). */
    private final List<Tool> tools;
    /** The request's tools, all shown to a native template: OpenAI's models see them all under a named choice too. */
    private final List<Tool> declared;
    private final boolean required;
    private final boolean parallel;
    private final Style style;
    private final Grammar schema;
    private final TriggeredGrammar lazy;

    private ToolCalls(List<Tool> tools, List<Tool> declared, boolean required, boolean parallel, Style style) {
        this.tools = tools;
        this.declared = declared;
        this.required = required;
        this.parallel = parallel;
        this.style = style;
        this.schema = style == Style.GENERIC ? compile(parallel) : required ? compileCall() : null;
        this.lazy = compileLazy();
    }

    /** The request's tools, or null when it has none or {@code tool_choice} is "none". */
    static ToolCalls of(ObjectNode body, Style style) {
        JsonNode t = body.get("tools");
        if (t == null || t.isNull() || (t.isArray() && t.isEmpty())) {
            for (String key : new String[]{"tool_choice", "parallel_tool_calls"}) {
                if (body.hasNonNull(key)) {
                    throw ApiException.badRequest(key + " is only allowed when tools are given", key);
                }
            }
            return null;
        }
        if (!t.isArray()) {
            throw ApiException.badRequest("tools must be an array", "tools");
        }
        List<Tool> tools = new ArrayList<>();
        for (JsonNode tool : t) {
            JsonNode f = tool.path("function");
            if (!"function".equals(tool.path("type").asText()) || !f.path("name").isTextual()
                    || !NAME.matcher(f.get("name").asText()).matches()) {
                throw ApiException.badRequest("each tool needs type \"function\" and a function name of letters, digits, _ or -",
                        "tools");
            }
            JsonNode params = f.path("parameters");
            tools.add(new Tool(f.get("name").asText(), f.path("description").asText(""),
                    params.isMissingNode() || params.isNull() ? Json.object().put("type", "object") : params, tool));
        }
        List<Tool> all = tools;
        JsonNode choice = body.path("tool_choice");
        boolean required = false;
        if (choice.isTextual()) {
            switch (choice.asText()) {
                case "none" -> {
                    return null;
                }
                case "auto" -> required = false;
                case "required" -> required = true;
                default -> throw ApiException.badRequest("tool_choice must be none, auto, required or a named function",
                        "tool_choice");
            }
        } else if (choice.isObject()) {
            String name = choice.path("function").path("name").asText();
            List<Tool> named = tools.stream().filter(x -> x.name().equals(name)).toList();
            if (named.isEmpty()) {
                throw ApiException.badRequest("tool_choice names no tool of this request: '" + name + "'", "tool_choice");
            }
            tools = named;
            required = true;
        } else if (!choice.isMissingNode() && !choice.isNull()) {
            throw ApiException.badRequest("tool_choice must be a string or an object", "tool_choice");
        }
        boolean parallel = !body.has("parallel_tool_calls") || body.get("parallel_tool_calls").asBoolean(true);
        return new ToolCalls(List.copyOf(tools), List.copyOf(all), required, parallel, style);
    }

    /**
     * The grammar the answer is sampled under: a JSON schema, or for several functions that name
     * themselves before their arguments, a choice of name and arguments; null when the model
     * answers freely (native style, tool_choice auto).
     */
    Grammar schema() {
        return schema;
    }

    /**
     * Under tool_choice auto, the grammar of a native answer: free text, but after the tag that opens
     * calls (Hermes's {@code <tool_call>}, Mistral v3's {@code [TOOL_CALLS]}) the calls are held to
     * their schema, as llama.cpp's lazy grammars do; Llama's answer, when it opens with a brace, is
     * a call. Null where there is no such tag, or where a function's parameters cannot be enforced
     * (the answer is then left free, as before).
     */
    TriggeredGrammar lazyGrammar() {
        return lazy;
    }

    private TriggeredGrammar compileLazy() {
        if (required || style == Style.GENERIC) {
            return null;
        }
        try {
            if (style == Style.LLAMA_JSON) {
                // Llama's call is the answer itself, a bare object: one that opens with a brace is a call.
                return new TriggeredGrammar("{", compileCall(), true);
            }
            if (style.namesBeforeArguments()) {
                // Each call opens with a tag, then its function's name, then the arguments of that function.
                return new TriggeredGrammar(style == Style.MISTRAL_ARGS ? MISTRAL_TAG : DeepSeekCalls.CALL_BEGIN, namedCalls());
            }
            return new TriggeredGrammar(style.callTag(), compileCall());
        } catch (ApiException e) {
            // A function whose parameters cannot be enforced, or two of one name: the answer is left free.
            return null;
        }
    }

    /**
     * A native call of one of the tools, as one JSON object in this style's keys (Mistral: an array
     * of them); where calls name their function first (newer Mistral, DeepSeek), the one allowed
     * function's arguments, its name being in the prompt, or with several allowed, one's name and
     * its arguments.
     */
    private Grammar compileCall() {
        if (style.namesBeforeArguments()) {
            return tools.size() > 1 ? namedCalls() : parametersOf(tools.getFirst());
        }
        ArrayNode each = callSchemas(style.argumentsKey());
        ObjectNode call = each.size() == 1 ? (ObjectNode) each.get(0) : (ObjectNode) Json.object().set("anyOf", each);
        if (style != Style.MISTRAL) {
            return jsonSchema(call);
        }
        ObjectNode list = Json.object().put("type", "array").put("minItems", 1);
        if (!parallel) {
            list.put("maxItems", 1);
        }
        list.set("items", call);
        return jsonSchema(list);
    }

    /** What follows a call's opening tag where calls name their function first: a tool's name (as the style writes it), then its arguments. */
    private ChoiceGrammar namedCalls() {
        List<ChoiceGrammar.Option> options = new ArrayList<>();
        for (Tool t : tools) {
            String head = style == Style.MISTRAL_ARGS ? t.name() + ARGS_TAG : DeepSeekCalls.head(t.name(), style == Style.DEEPSEEK_R1);
            options.add(new ChoiceGrammar.Option(head, parametersOf(t)));
        }
        try {
            return new ChoiceGrammar(options);
        } catch (IllegalArgumentException e) {
            throw ApiException.badRequest("tools: " + e.getMessage(), "tools");
        }
    }

    private static JsonSchema parametersOf(Tool t) {
        if (!(t.parameters() instanceof ObjectNode parameters)) {
            throw ApiException.badRequest("tools: a function's parameters must be a JSON Schema object", "tools");
        }
        return jsonSchema(parameters.deepCopy());
    }

    /** One object schema per tool: its name, and its parameters under {@code argumentsKey}. */
    private ArrayNode callSchemas(String argumentsKey) {
        ArrayNode each = Json.MAPPER.createArrayNode();
        for (Tool t : tools) {
            ObjectNode call = each.addObject().put("type", "object").put("additionalProperties", false);
            ObjectNode props = call.putObject("properties");
            props.putObject("name").put("const", t.name());
            props.set(argumentsKey, t.parameters());
            call.putArray("required").add("name").add(argumentsKey);
            // The name first, as the models write it: a streamed call is announced before its arguments come.
            call.putArray("propertyOrdering").add("name").add(argumentsKey);
        }
        return each;
    }

    private static JsonSchema jsonSchema(ObjectNode root) {
        try {
            return JsonSchema.of(root);
        } catch (TernException e) {
            throw ApiException.badRequest("tools: " + e.getMessage(), "tools");
        }
    }

    /** The template variables that carry the tools: none for the generic style, which writes them itself. */
    Map<String, Object> templateVariables() {
        if (style == Style.GENERIC) {
            return Map.of();
        }
        List<Object> list = new ArrayList<>();
        for (Tool t : declared) {
            list.add(Json.MAPPER.convertValue(t.declaration(), Object.class));
        }
        return Map.of("tools", list);
    }

    /** Text the prompt ends with after the template's: the opening of a forced call (Hermes, Mistral). */
    String promptSuffix() {
        if (!required) {
            return "";
        }
        return switch (style) {
            case HERMES -> HERMES_OPEN;
            case MISTRAL -> MISTRAL_TAG;
            case MISTRAL_ARGS -> tools.size() == 1 ? MISTRAL_TAG + tools.getFirst().name() + ARGS_TAG : MISTRAL_TAG;
            case DEEPSEEK_R1, DEEPSEEK_V3 -> tools.size() == 1 ? DeepSeekCalls.opening(tools.getFirst().name(), style == Style.DEEPSEEK_R1)
                    : DeepSeekCalls.CALLS_BEGIN + DeepSeekCalls.CALL_BEGIN;
            default -> "";
        };
    }

    private JsonSchema compile(boolean parallel) {
        ArrayNode each = callSchemas("arguments");
        ObjectNode calls = Json.object().put("type", "object").put("additionalProperties", false);
        ObjectNode list = calls.putObject("properties").putObject("tool_calls").put("type", "array").put("minItems", 1);
        if (!parallel) {
            list.put("maxItems", 1);
        }
        list.putObject("items").set("anyOf", each);
        calls.putArray("required").add("tool_calls");
        ObjectNode root = calls;
        if (!required) {
            ObjectNode response = Json.object().put("type", "object").put("additionalProperties", false);
            response.putObject("properties").putObject("response").put("type", "string");
            response.putArray("required").add("response");
            root = Json.object();
            root.putArray("anyOf").add(calls).add(response);
        }
        return jsonSchema(root);
    }

    /** The system message's addition: the tools and the two answers allowed. */
    String instructions() {
        ArrayNode list = Json.MAPPER.createArrayNode();
        for (Tool t : tools) {
            list.addObject().put("name", t.name()).put("description", t.description()).set("parameters", t.parameters());
        }
        return "Tools: " + Json.write(list) + "\nTo call tools, reply {\"tool_calls\": [{\"name\": ..., \"arguments\": {...}}]}"
                + (required ? "." : "; otherwise reply {\"response\": \"...\"}.");
    }

    /**
     * The conversation with the tools described in its system message (added first if there is
     * none); unchanged in a native style, where the template describes them.
     */
    List<ChatMessage> withInstructions(List<ChatMessage> messages) {
        if (style != Style.GENERIC) {
            return messages;
        }
        List<ChatMessage> out = new ArrayList<>(messages);
        if (!out.isEmpty() && out.getFirst().role().equals("system")) {
            out.set(0, new ChatMessage("system", out.getFirst().content() + "\n\n" + instructions()));
        } else {
            out.addFirst(new ChatMessage("system", instructions()));
        }
        return out;
    }

    /**
     * A message of the conversation as the template is to see it, given its text content. Native
     * styles: an assistant turn keeps its {@code tool_calls} (arguments as objects where they are
     * JSON), a tool result its role and {@code tool_call_id} (ids as {@link Style#historyId} makes
     * them). Generic: earlier calls become the JSON the model writes them in, a tool result a user
     * message it can read (templates rarely know a "tool" role).
     */
    static ChatMessage historyMessage(JsonNode m, String content, Style style) {
        String role = m.get("role").asText();
        boolean calls = role.equals("assistant") && m.path("tool_calls").isArray() && !m.get("tool_calls").isEmpty();
        if (style != Style.GENERIC) {
            if (calls) {
                List<Object> list = new ArrayList<>();
                for (JsonNode c : m.get("tool_calls")) {
                    JsonNode f = c.path("function");
                    Map<String, Object> function = new LinkedHashMap<>();
                    function.put("name", f.path("name").asText());
                    String arguments = f.path("arguments").asText("{}");
                    function.put("arguments", style.argumentsAsText() ? arguments : Json.MAPPER.convertValue(Json.parseOrText(arguments), Object.class));
                    Map<String, Object> call = new LinkedHashMap<>();
                    call.put("id", style.historyId(c.path("id").asText("")));
                    call.put("type", "function");
                    call.put("function", function);
                    list.add(call);
                }
                return new ChatMessage(role, content, Map.of("tool_calls", list));
            }
            if (role.equals("tool") && m.path("tool_call_id").isTextual()) {
                return new ChatMessage(role, content, Map.of("tool_call_id", style.historyId(m.get("tool_call_id").asText())));
            }
            return new ChatMessage(role, content);
        }
        if (calls) {
            ObjectNode said = Json.object();
            ArrayNode list = said.putArray("tool_calls");
            for (JsonNode c : m.get("tool_calls")) {
                JsonNode f = c.path("function");
                ObjectNode call = list.addObject().put("name", f.path("name").asText());
                call.set("arguments", Json.parseOrText(f.path("arguments").asText("{}")));
            }
            return new ChatMessage("assistant", Json.write(said));
        }
        if (role.equals("tool")) {
            ObjectNode result = Json.object();
            ObjectNode r = result.putObject("tool_response").put("tool_call_id", m.path("tool_call_id").asText(""));
            r.set("content", m.path("content"));
            return new ChatMessage("user", Json.write(result));
        }
        return new ChatMessage(role, content);
    }

    /**
     * How much of an answer being streamed is surely content: the index before which no call can
     * begin, given that {@code sent} characters were already found to be content (the search
     * resumes there, so a long answer is not rescanned at every token). Generic and forced
     * answers are JSON read whole (0). Hermes and Mistral: up to the tag that opens calls, holding
     * back an end that may be its beginning. Llama: all of it once it starts with text rather than
     * a call's {@code {} or {@code <|python_tag|>}.
     */
    int contentEnd(StringBuilder text, int sent) {
        if (style == Style.GENERIC || required) {
            return 0;
        }
        int length = text.length();
        String tag = style.callTag();
        if (tag != null) {
            int call = text.indexOf(tag, sent);
            if (call >= 0) {
                return call;
            }
            return length - Tags.partialAtEnd(text, sent, tag);
        }
        if (sent > 0) {
            return length;
        }
        int first = 0;
        while (first < length && Character.isWhitespace(text.charAt(first))) {
            first++;
        }
        String start = text.substring(first, Math.min(length, first + PYTHON_TAG.length()));
        return start.isEmpty() || start.startsWith("{") || PYTHON_TAG.startsWith(start) ? 0 : length;
    }

    /** What the model's answer says: calls in this style's format (the first only, without parallel_tool_calls), else content. */
    Reply read(String text) {
        Reply r = switch (style) {
            case GENERIC -> readGeneric(text);
            case HERMES -> readHermes(promptSuffix() + text);
            case LLAMA_JSON -> readLlama(text);
            case MISTRAL -> readMistral(promptSuffix() + text);
            case MISTRAL_ARGS -> readMistralArgs(promptSuffix() + text);
            case DEEPSEEK_R1, DEEPSEEK_V3 -> readDeepSeek(promptSuffix() + text);
        };
        return parallel || r.calls().size() <= 1 ? r : new Reply(r.content(), r.calls().subList(0, 1));
    }

    /** The generic JSON; content when it is not the JSON asked for (cut short by max_tokens). */
    private Reply readGeneric(String text) {
        JsonNode v = Json.parseOrText(text);
        if (v.path("tool_calls").isArray()) {
            List<Call> calls = new ArrayList<>();
            for (JsonNode c : v.get("tool_calls")) {
                calls.add(call(c.path("name").asText(), Json.write(c.path("arguments"))));
            }
            return new Reply(null, calls);
        }
        if (v.path("response").isTextual()) {
            return new Reply(v.get("response").asText(), List.of());
        }
        return new Reply(text, List.of());
    }

    /**
     * Every {@code <tool_call>} block (the last may be cut short of its closing tag) that holds
     * a call of one of the tools; the text around them is the content. Any other block makes
     * the whole answer content, as vLLM's Hermes parser does.
     */
    private Reply readHermes(String text) {
        Matcher blocks = HERMES_CALL.matcher(text);
        List<Call> calls = new ArrayList<>();
        StringBuilder rest = new StringBuilder();
        int at = 0;
        while (blocks.find()) {
            Call c = nativeCall(Json.parseOrText(blocks.group(1)));
            if (c == null) {
                return new Reply(text, List.of());
            }
            calls.add(c);
            rest.append(text, at, blocks.start());
            at = blocks.end();
        }
        if (calls.isEmpty()) {
            return new Reply(text, List.of());
        }
        String content = rest.append(text.substring(at)).toString().strip();
        return new Reply(content.isEmpty() ? null : content, calls);
    }

    /** A bare call object (after an optional {@code <|python_tag|>}), or several separated by ';'. */
    private Reply readLlama(String text) {
        String body = text.strip();
        if (body.startsWith(PYTHON_TAG)) {
            body = body.substring(PYTHON_TAG.length()).strip();
        }
        List<Call> calls = new ArrayList<>();
        for (String part : body.split(";\\s*(?=\\{)")) {
            Call c = nativeCall(Json.parseOrText(part));
            if (c == null) {
                return new Reply(text, List.of());
            }
            calls.add(c);
        }
        return new Reply(null, calls);
    }

    /**
     * The calls after {@code [TOOL_CALLS]}: a JSON array of call objects (or one object); the
     * text before it is content. Anything else makes the whole answer content.
     */
    private Reply readMistral(String text) {
        int tag = text.indexOf(MISTRAL_TAG);
        if (tag < 0) {
            return new Reply(text, List.of());
        }
        JsonNode v = Json.parseOrText(text.substring(tag + MISTRAL_TAG.length()).strip());
        List<Call> calls = new ArrayList<>();
        for (JsonNode c : v.isArray() ? v : List.of(v)) {
            Call call = nativeCall(c);
            if (call == null) {
                return new Reply(text, List.of());
            }
            calls.add(call);
        }
        if (calls.isEmpty()) {
            return new Reply(text, List.of());
        }
        String content = text.substring(0, tag).strip();
        return new Reply(content.isEmpty() ? null : content, calls);
    }

    /**
     * Calls as {@code [TOOL_CALLS]name[ARGS]{…}}, one after another (a {@code [CALL_ID]id} before
     * {@code [ARGS]} is skipped: calls get new ids); the text before the first is content.
     * Anything else makes the whole answer content.
     */
    private Reply readMistralArgs(String text) {
        List<ArgsCall> written = argsCalls(text);
        if (written == null) {
            return new Reply(text, List.of());
        }
        List<Call> calls = new ArrayList<>();
        for (ArgsCall c : written) {
            JsonNode v = Json.parseOrText(c.arguments().strip());
            if (c.name() == null || !hasTool(c.name()) || !v.isObject()) {
                return new Reply(text, List.of());
            }
            calls.add(call(c.name(), Json.write(v)));
        }
        String content = text.substring(0, text.indexOf(MISTRAL_TAG)).strip();
        return new Reply(content.isEmpty() ? null : content, calls);
    }

    /** DeepSeek's calls (every one whole, of one of the tools); the text before them is content. Anything else makes the whole answer content. */
    private Reply readDeepSeek(String text) {
        List<DeepSeekCalls.Written> written = DeepSeekCalls.calls(text);
        List<Call> calls = new ArrayList<>();
        for (DeepSeekCalls.Written c : written) {
            JsonNode v = c.whole() ? Json.parseOrText(c.arguments()) : null;
            if (c.name() == null || !hasTool(c.name()) || v == null || !v.isObject()) {
                return new Reply(text, List.of());
            }
            calls.add(call(c.name(), Json.write(v)));
        }
        if (calls.isEmpty()) {
            return new Reply(text, List.of());
        }
        String content = text.substring(0, text.indexOf(DeepSeekCalls.CALLS_BEGIN)).strip();
        return new Reply(content.isEmpty() ? null : content, calls);
    }

    /** A call as written in Mistral's newer syntax: its name (null while no {@code [ARGS]} follows it) and the text after {@code [ARGS]}. */
    private record ArgsCall(String name, String arguments) {
    }

    /** The calls from the first {@code [TOOL_CALLS]} of text on, or null where there is none. */
    private static List<ArgsCall> argsCalls(String text) {
        int at = text.indexOf(MISTRAL_TAG);
        if (at < 0) {
            return null;
        }
        List<ArgsCall> out = new ArrayList<>();
        for (String segment : text.substring(at + MISTRAL_TAG.length()).split(Pattern.quote(MISTRAL_TAG), -1)) {
            int args = segment.indexOf(ARGS_TAG);
            out.add(args < 0 ? new ArgsCall(null, segment)
                    : new ArgsCall(callName(segment.substring(0, args)), segment.substring(args + ARGS_TAG.length())));
        }
        return out;
    }

    /** The name in what precedes {@code [ARGS]}: without a {@code [CALL_ID]} part. */
    private static String callName(String head) {
        int id = head.indexOf(CALL_ID_TAG);
        return (id >= 0 ? head.substring(0, id) : head).strip();
    }

    /** A native call object naming one of the tools, or null. */
    private Call nativeCall(JsonNode v) {
        if (!v.isObject() || !v.path("name").isTextual()) {
            return null;
        }
        String name = v.get("name").asText();
        JsonNode args = v.has(style.argumentsKey()) ? v.get(style.argumentsKey()) : v.path("arguments");
        if (!hasTool(name) || !(args.isObject() || args.isTextual())) {
            return null;
        }
        return call(name, args.isTextual() ? args.asText() : Json.write(args));
    }

    /** A call with a new id. */
    private Call call(String name, String arguments) {
        return new Call(newId(), name, arguments);
    }

    /** A new call id: OpenAI's form, or 9 letters and digits where the template accepts nothing else (Mistral). */
    String newId() {
        return style.mistral() ? alphanumeric(new SplittableRandom())
                : "call_" + UUID.randomUUID().toString().replace("-", "").substring(0, 24);
    }

    /**
     * The calls of an answer still being streamed, as far as they are written: named calls of the
     * request's tools, in order, up to the first that is not one (the first alone without
     * parallel_tool_calls). Their arguments are the raw JSON text so far.
     */
    List<PartialCalls.Call> partial(StringBuilder text) {
        String region;
        int depth = 0;
        switch (style) {
            case GENERIC -> {
                region = text.toString();
                depth = 2;
            }
            case MISTRAL_ARGS -> {
                return partialMistralArgs(promptSuffix() + text);
            }
            case DEEPSEEK_R1, DEEPSEEK_V3 -> {
                List<PartialCalls.Call> out = new ArrayList<>();
                for (DeepSeekCalls.Written c : DeepSeekCalls.calls(promptSuffix() + text)) {
                    if (c.name() == null || !hasTool(c.name()) || (!parallel && !out.isEmpty())) {
                        break;
                    }
                    out.add(new PartialCalls.Call(c.name(), c.arguments()));
                }
                return out;
            }
            case HERMES, MISTRAL -> {
                String all = promptSuffix() + text;
                int at = all.indexOf(style.callTag());
                if (at < 0) {
                    return List.of();
                }
                region = all.substring(at + style.callTag().length()).stripLeading();
                depth = style == Style.MISTRAL && region.startsWith("[") ? 1 : 0;
            }
            default -> {
                if (contentEnd(text, 0) > 0) {
                    return List.of();
                }
                region = text.toString();
            }
        }
        List<PartialCalls.Call> out = new ArrayList<>();
        for (PartialCalls.Call c : PartialCalls.scan(region, depth, style.argumentsKey())) {
            if (c.name() == null || !hasTool(c.name()) || (!parallel && !out.isEmpty())) {
                break;
            }
            out.add(c);
        }
        return out;
    }

    /**
     * {@link #partial} for {@code [TOOL_CALLS]name[ARGS]{…}}: a call is named once its
     * {@code [ARGS]} is written; the last one's arguments hold back an end that may begin the next
     * {@code [TOOL_CALLS]}.
     */
    private List<PartialCalls.Call> partialMistralArgs(String all) {
        List<ArgsCall> written = argsCalls(all);
        List<PartialCalls.Call> out = new ArrayList<>();
        for (int k = 0; written != null && k < written.size(); k++) {
            String name = written.get(k).name();
            if (name == null || !hasTool(name) || (!parallel && !out.isEmpty())) {
                break;
            }
            String raw = written.get(k).arguments().stripLeading();
            boolean last = k == written.size() - 1;
            out.add(new PartialCalls.Call(name, last ? raw.substring(0, raw.length() - Tags.partialAtEnd(raw, 0, MISTRAL_TAG)) : raw.strip()));
        }
        return out;
    }

    /** Whether the answer may call a tool of this name. */
    private boolean hasTool(String name) {
        return tools.stream().anyMatch(t -> t.name().equals(name));
    }

    /** Nine random letters and digits. */
    private static String alphanumeric(SplittableRandom random) {
        StringBuilder id = new StringBuilder(9);
        for (int i = 0; i < 9; i++) {
            id.append(ALPHANUMERIC.charAt(random.nextInt(ALPHANUMERIC.length())));
        }
        return id.toString();
    }
}
