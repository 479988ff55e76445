package dev.tern.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tern.TernException;
import dev.tern.chat.ChatMessage;
import dev.tern.sampling.JsonSchema;

import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.regex.Pattern;

/**
 * OpenAI function calling in llama.cpp's generic form, for any model: the tools are described in
 * the system message, and the answer is sampled under a JSON schema that admits either
 * {@code {"tool_calls": [{"name", "arguments"}…]}} (the arguments following each function's
 * parameter schema) or {@code {"response": "…"}}; the server then returns tool calls or content.
 * Earlier tool calls and tool results in the conversation are written in the same JSON.
 */
final class ToolCalls {
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9_-]{1,64}");

    private record Tool(String name, String description, JsonNode parameters) {
    }

    /** One call the model made: its id, the function's name and the arguments as JSON text. */
    record Call(String id, String name, String arguments) {
    }

    /** What the model answered: tool calls, or content (also when the JSON was cut short). */
    record Reply(String content, List<Call> calls) {
    }

    private final List<Tool> tools;
    private final boolean required;
    private final JsonSchema schema;

    private ToolCalls(List<Tool> tools, boolean required, boolean parallel) {
        this.tools = tools;
        this.required = required;
        this.schema = compile(parallel);
    }

    /** The request's tools, or null when it has none or {@code tool_choice} is "none". */
    static ToolCalls of(ObjectNode body) {
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
                    params.isMissingNode() || params.isNull() ? Json.object().put("type", "object") : params));
        }
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
        return new ToolCalls(List.copyOf(tools), required, parallel);
    }

    /** The schema the answer is sampled under. */
    JsonSchema schema() {
        return schema;
    }

    private JsonSchema compile(boolean parallel) {
        ArrayNode each = Json.MAPPER.createArrayNode();
        for (Tool t : tools) {
            ObjectNode call = each.addObject().put("type", "object").put("additionalProperties", false);
            ObjectNode props = call.putObject("properties");
            props.putObject("name").put("const", t.name());
            props.set("arguments", t.parameters());
            call.putArray("required").add("name").add("arguments");
        }
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
        try {
            return JsonSchema.of(root);
        } catch (TernException e) {
            throw ApiException.badRequest("tools: " + e.getMessage(), "tools");
        }
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

    /** The conversation with the tools described in its system message (added first if there is none). */
    List<ChatMessage> withInstructions(List<ChatMessage> messages) {
        List<ChatMessage> out = new ArrayList<>(messages);
        if (!out.isEmpty() && out.getFirst().role().equals("system")) {
            out.set(0, new ChatMessage("system", out.getFirst().content() + "\n\n" + instructions()));
        } else {
            out.addFirst(new ChatMessage("system", instructions()));
        }
        return out;
    }

    /**
     * An assistant message's earlier tool calls as the JSON the model writes them in; a tool
     * result as a user message the model can read (templates rarely know a "tool" role).
     */
    static ChatMessage historyMessage(JsonNode m) {
        String role = m.get("role").asText();
        if (role.equals("assistant") && m.path("tool_calls").isArray() && !m.get("tool_calls").isEmpty()) {
            ObjectNode said = Json.object();
            ArrayNode calls = said.putArray("tool_calls");
            for (JsonNode c : m.get("tool_calls")) {
                JsonNode f = c.path("function");
                ObjectNode call = calls.addObject().put("name", f.path("name").asText());
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
        return null;
    }

    /** What the model's JSON says; content when it is not the JSON asked for (cut short by max_tokens). */
    static Reply read(String text) {
        JsonNode v = Json.parseOrText(text);
        if (v.path("tool_calls").isArray()) {
            List<Call> calls = new ArrayList<>();
            for (JsonNode c : v.get("tool_calls")) {
                calls.add(new Call("call_" + UUID.randomUUID().toString().replace("-", "").substring(0, 24),
                        c.path("name").asText(), Json.write(c.path("arguments"))));
            }
            return new Reply(null, calls);
        }
        if (v.path("response").isTextual()) {
            return new Reply(v.get("response").asText(), List.of());
        }
        return new Reply(text, List.of());
    }
}
