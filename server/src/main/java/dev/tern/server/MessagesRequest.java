package dev.tern.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.util.List;

/**
 * A request to Anthropic's Messages API ({@code POST /v1/messages}) read as the chat completion
 * it asks for: {@code system} becomes a system message; content blocks become message text,
 * {@code tool_use} blocks the assistant's tool calls, {@code tool_result} blocks tool messages,
 * {@code thinking} blocks the assistant's reasoning; tools with an {@code input_schema} become
 * function tools; {@code thinking} turns a template's thinking on or off ({@code enable_thinking},
 * as Qwen3's templates take it). Images, documents and Anthropic's server tools are refused.
 */
final class MessagesRequest {
    private MessagesRequest() {
    }

    static ObjectNode toChat(ObjectNode body) {
        ObjectNode chat = Json.object();
        for (String key : List.of("model", "temperature", "top_p", "top_k", "stream")) {
            if (body.has(key)) {
                chat.set(key, body.get(key));
            }
        }
        if (!body.path("max_tokens").isIntegralNumber()) {
            throw ApiException.badRequest("max_tokens is required", "max_tokens");
        }
        chat.set("max_completion_tokens", body.get("max_tokens"));
        if (body.has("stop_sequences")) {
            chat.set("stop", body.get("stop_sequences"));
        }
        ArrayNode messages = messages(body);
        chat.set("messages", messages);
        // A last assistant turn is a prefill: the reply continues it, as Anthropic's API has it.
        JsonNode last = messages.isEmpty() ? null : messages.get(messages.size() - 1);
        if (last != null && last.path("role").asText().equals("assistant") && last.path("content").isTextual() && !last.has("tool_calls")) {
            chat.put("continue_final_message", true);
        }
        if (body.has("tools")) {
            chat.set("tools", tools(body.get("tools")));
        }
        JsonNode choice = body.get("tool_choice");
        if (choice != null && choice.isObject()) {
            String type = choice.path("type").asText();
            switch (type) {
                case "auto" -> chat.put("tool_choice", "auto");
                case "any" -> chat.put("tool_choice", "required");
                case "none" -> chat.put("tool_choice", "none");
                case "tool" -> chat.putObject("tool_choice").put("type", "function").putObject("function")
                        .put("name", choice.path("name").asText());
                default -> throw ApiException.badRequest("tool_choice type must be auto, any, tool or none", "tool_choice");
            }
            if (choice.path("disable_parallel_tool_use").asBoolean(false)) {
                chat.put("parallel_tool_calls", false);
            }
        }
        JsonNode thinking = body.get("thinking");
        if (thinking != null && thinking.isObject()) {
            chat.putObject("chat_template_kwargs").put("enable_thinking", !thinking.path("type").asText().equals("disabled"));
        }
        return chat;
    }

    private static ArrayNode messages(ObjectNode body) {
        ArrayNode out = Json.MAPPER.createArrayNode();
        JsonNode system = body.get("system");
        if (system != null && !system.isNull()) {
            out.addObject().put("role", "system").put("content", text(system, "system"));
        }
        JsonNode messages = body.get("messages");
        if (messages == null || !messages.isArray() || messages.isEmpty()) {
            throw ApiException.badRequest("messages must be a non-empty array", "messages");
        }
        for (JsonNode m : messages) {
            String role = m.path("role").asText("");
            JsonNode content = m.get("content");
            if (!role.equals("user") && !role.equals("assistant")) {
                throw ApiException.badRequest("message roles must be user or assistant", "messages");
            }
            if (content == null || content.isTextual()) {
                out.addObject().put("role", role).put("content", content == null ? "" : content.asText());
                continue;
            }
            if (!content.isArray()) {
                throw ApiException.badRequest("message content must be a string or an array of blocks", "messages");
            }
            if (role.equals("assistant")) {
                out.add(assistant(content));
            } else {
                user(content, out);
            }
        }
        return out;
    }

    /** An assistant turn: its text, its thinking, its tool calls. */
    private static ObjectNode assistant(JsonNode blocks) {
        ObjectNode m = Json.object().put("role", "assistant");
        StringBuilder text = new StringBuilder();
        StringBuilder thinking = new StringBuilder();
        ArrayNode calls = Json.MAPPER.createArrayNode();
        for (JsonNode b : blocks) {
            switch (b.path("type").asText()) {
                case "text" -> text.append(b.path("text").asText());
                case "thinking" -> thinking.append(b.path("thinking").asText());
                case "redacted_thinking" -> {
                    // Encrypted thinking of another model: nothing to show this one.
                }
                case "tool_use" -> {
                    ObjectNode c = calls.addObject().put("id", b.path("id").asText()).put("type", "function");
                    c.putObject("function").put("name", b.path("name").asText()).put("arguments", Json.write(b.path("input")));
                }
                default -> throw unsupported(b);
            }
        }
        if (calls.isEmpty() || !text.isEmpty()) {
            m.put("content", text.toString());
        } else {
            m.putNull("content");
        }
        if (!thinking.isEmpty()) {
            m.put("reasoning_content", thinking.toString());
        }
        if (!calls.isEmpty()) {
            m.set("tool_calls", calls);
        }
        return m;
    }

    /** A user turn: its tool results first (as tool messages, in order), then its text. */
    private static void user(JsonNode blocks, ArrayNode out) {
        StringBuilder text = new StringBuilder();
        for (JsonNode b : blocks) {
            switch (b.path("type").asText()) {
                case "text" -> text.append(b.path("text").asText());
                case "tool_result" -> out.addObject().put("role", "tool").put("tool_call_id", b.path("tool_use_id").asText())
                        .put("content", b.has("content") ? text(b.get("content"), "messages") : "");
                default -> throw unsupported(b);
            }
        }
        if (!text.isEmpty()) {
            out.addObject().put("role", "user").put("content", text.toString());
        }
    }

    /** A string, or text blocks joined. */
    private static String text(JsonNode v, String param) {
        if (v.isTextual()) {
            return v.asText();
        }
        if (!v.isArray()) {
            throw ApiException.badRequest(param + " must be a string or an array of text blocks", param);
        }
        StringBuilder t = new StringBuilder();
        for (JsonNode b : v) {
            if (!b.path("type").asText().equals("text")) {
                throw unsupported(b);
            }
            t.append(b.path("text").asText());
        }
        return t.toString();
    }

    private static ApiException unsupported(JsonNode block) {
        return ApiException.badRequest("content blocks of type '" + block.path("type").asText() + "' are not supported (text only)",
                "messages");
    }

    /** Client tools: a name, a description and an input schema; Anthropic's own server tools are refused. */
    private static ArrayNode tools(JsonNode tools) {
        if (!tools.isArray()) {
            throw ApiException.badRequest("tools must be an array", "tools");
        }
        ArrayNode out = Json.MAPPER.createArrayNode();
        for (JsonNode t : tools) {
            String type = t.path("type").asText("custom");
            if (!type.equals("custom") || !t.has("input_schema")) {
                throw ApiException.badRequest("tools of type '" + type + "' are not supported (tools with an input_schema only)", "tools");
            }
            ObjectNode f = out.addObject().put("type", "function").putObject("function");
            f.set("name", t.get("name"));
            if (t.has("description")) {
                f.set("description", t.get("description"));
            }
            f.set("parameters", t.get("input_schema"));
        }
        return out;
    }
}
