package dev.tern.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.util.ArrayList;
import java.util.List;

/**
 * A request to OpenAI's Responses API ({@code POST /v1/responses}) read as the chat completion
 * it asks for: {@code instructions} and {@code input} (a string, or message, function-call,
 * function-call-output and reasoning items) become messages, function tools become chat tools,
 * {@code text.format} becomes {@code response_format}, {@code max_output_tokens} the token limit.
 * A {@code previous_response_id} puts that stored response's conversation before the input (its
 * instructions are not carried over, as OpenAI does it). What needs state the server does not keep
 * (conversations, background runs, stored prompts) or input other than text is refused, not ignored.
 */
final class ResponsesRequest {
    /** Fields that mean the same in both APIs, including the sampling extensions chat completions take. */
    private static final List<String> SHARED = List.of("model", "temperature", "top_p", "stream", "parallel_tool_calls",
            "seed", "top_k", "min_p", "repetition_penalty", "repeat_penalty", "repeat_last_n", "presence_penalty",
            "frequency_penalty", "logit_bias", "chat_template_kwargs", "stop", "stop_token_ids", "min_tokens", "ignore_eos",
            "structured_outputs", "guided_choice", "guided_regex", "guided_json", "guided_grammar", "grammar");
    private static final List<String> STATEFUL = List.of("conversation", "prompt");

    private ResponsesRequest() {
    }

    /**
     * The input items the request continues from and adds: the conversation of its
     * previous_response_id, if any, then its input (a string being one user message).
     */
    static List<JsonNode> conversation(ObjectNode body, ResponseStore store) {
        for (String key : STATEFUL) {
            if (body.hasNonNull(key)) {
                throw ApiException.badRequest(key + " is not supported: this server keeps no conversations or prompts;"
                        + " send the input, or a previous_response_id", key);
            }
        }
        if (body.path("background").asBoolean(false)) {
            throw ApiException.badRequest("background responses are not supported", "background");
        }
        List<JsonNode> items = new ArrayList<>();
        JsonNode previous = body.get("previous_response_id");
        if (previous != null && !previous.isNull()) {
            ResponseStore.Stored s = previous.isTextual() ? store.get(previous.asText()) : null;
            if (s == null) {
                throw new ApiException(400, "invalid_request_error", "Previous response with id '" + previous.asText() + "' not found.",
                        "previous_response_id", "previous_response_not_found");
            }
            items.addAll(s.conversation());
        }
        JsonNode input = body.get("input");
        if (input == null || input.isNull()) {
            throw ApiException.badRequest("input is required", "input");
        }
        if (input.isTextual()) {
            items.add(Json.object().put("type", "message").put("role", "user").put("content", input.asText()));
        } else if (input.isArray()) {
            input.forEach(items::add);
        } else {
            throw ApiException.badRequest("input must be a string or an array of items", "input");
        }
        return items;
    }

    /** The chat completion request that {@code body} asks for, its input items being {@code conversation}. */
    static ObjectNode toChat(ObjectNode body, List<JsonNode> conversation) {
        if (body.path("top_logprobs").asInt(0) > 0) {
            throw ApiException.badRequest("top_logprobs is not supported on /v1/responses (use chat completions)", "top_logprobs");
        }
        ObjectNode chat = Json.object();
        for (String key : SHARED) {
            if (body.has(key)) {
                chat.set(key, body.get(key));
            }
        }
        if (body.hasNonNull("max_output_tokens")) {
            chat.set("max_completion_tokens", body.get("max_output_tokens"));
        }
        chat.set("messages", messages(body, conversation));
        if (body.has("tools")) {
            chat.set("tools", tools(body.get("tools")));
        }
        if (body.has("tool_choice")) {
            chat.set("tool_choice", toolChoice(body.get("tool_choice")));
        }
        JsonNode format = body.path("text").path("format");
        if (!format.isMissingNode() && !format.isNull()) {
            chat.set("response_format", responseFormat(format));
        }
        return chat;
    }

    private static ArrayNode messages(ObjectNode body, List<JsonNode> conversation) {
        ArrayNode out = Json.MAPPER.createArrayNode();
        if (body.hasNonNull("instructions")) {
            if (!body.get("instructions").isTextual()) {
                throw ApiException.badRequest("instructions must be a string", "instructions");
            }
            out.addObject().put("role", "system").put("content", body.get("instructions").asText());
        }
        String reasoning = null;
        ObjectNode calling = null;
        for (JsonNode item : conversation) {
            if (!item.isObject()) {
                throw ApiException.badRequest("input items must be objects", "input");
            }
            String type = item.path("type").asText("message");
            switch (type) {
                case "message" -> {
                    String role = item.path("role").asText("");
                    if (!List.of("user", "system", "developer", "assistant").contains(role)) {
                        throw ApiException.badRequest("unknown message role '" + role + "'", "input");
                    }
                    ObjectNode m = out.addObject().put("role", role.equals("developer") ? "system" : role)
                            .put("content", text(item.get("content")));
                    if (role.equals("assistant") && reasoning != null) {
                        m.put("reasoning_content", reasoning);
                    }
                    reasoning = null;
                    calling = role.equals("assistant") ? m : null;
                }
                case "function_call" -> {
                    if (calling == null) {
                        calling = out.addObject().put("role", "assistant");
                        calling.putNull("content");
                        if (reasoning != null) {
                            calling.put("reasoning_content", reasoning);
                        }
                        reasoning = null;
                    }
                    ArrayNode calls = calling.has("tool_calls") ? (ArrayNode) calling.get("tool_calls") : calling.putArray("tool_calls");
                    ObjectNode c = calls.addObject().put("id", required(item, "call_id")).put("type", "function");
                    c.putObject("function").put("name", required(item, "name")).put("arguments", required(item, "arguments"));
                }
                case "function_call_output" -> {
                    JsonNode output = item.get("output");
                    out.addObject().put("role", "tool").put("tool_call_id", required(item, "call_id"))
                            .put("content", output != null && output.isTextual() ? output.asText() : text(output));
                    calling = null;
                }
                case "reasoning" -> {
                    // Earlier thinking reaches the template with the assistant turn it belongs to, as in chat.
                    StringBuilder t = new StringBuilder();
                    for (JsonNode part : item.path("content")) {
                        t.append(part.path("text").asText(""));
                    }
                    reasoning = t.toString();
                }
                default -> throw ApiException.badRequest("input items of type '" + type + "' are not supported", "input");
            }
        }
        if (out.isEmpty()) {
            throw ApiException.badRequest("input has no messages", "input");
        }
        return out;
    }

    /** A message's text: a string, or text parts (input_text, output_text) joined. */
    private static String text(JsonNode content) {
        if (content == null || content.isNull()) {
            return "";
        }
        if (content.isTextual()) {
            return content.asText();
        }
        if (!content.isArray()) {
            throw ApiException.badRequest("message content must be a string or an array of parts", "input");
        }
        StringBuilder t = new StringBuilder();
        for (JsonNode part : content) {
            String type = part.path("type").asText("");
            if (!List.of("input_text", "output_text", "text").contains(type)) {
                throw ApiException.badRequest("content parts of type '" + type + "' are not supported (text only)", "input");
            }
            t.append(part.path("text").asText(""));
        }
        return t.toString();
    }

    private static String required(JsonNode item, String key) {
        if (!item.path(key).isTextual()) {
            throw ApiException.badRequest(item.path("type").asText() + " items need a string " + key, "input");
        }
        return item.get(key).asText();
    }

    /** Function tools, flat in the Responses API, nested under "function" in chat. */
    private static ArrayNode tools(JsonNode tools) {
        if (!tools.isArray()) {
            throw ApiException.badRequest("tools must be an array", "tools");
        }
        ArrayNode out = Json.MAPPER.createArrayNode();
        for (JsonNode t : tools) {
            String type = t.path("type").asText("");
            if (!type.equals("function")) {
                throw ApiException.badRequest("tools of type '" + type + "' are not supported (function tools only)", "tools");
            }
            ObjectNode f = out.addObject().put("type", "function").putObject("function");
            for (String key : List.of("name", "description", "parameters", "strict")) {
                if (t.has(key)) {
                    f.set(key, t.get(key));
                }
            }
        }
        return out;
    }

    private static JsonNode toolChoice(JsonNode choice) {
        if (choice.isObject() && choice.path("type").asText().equals("function")) {
            ObjectNode c = Json.object().put("type", "function");
            c.putObject("function").put("name", choice.path("name").asText());
            return c;
        }
        return choice;
    }

    /** text.format → response_format: the json_schema fields sit beside the type in the Responses API. */
    private static JsonNode responseFormat(JsonNode format) {
        if (!format.path("type").asText().equals("json_schema")) {
            return format;
        }
        ObjectNode out = Json.object().put("type", "json_schema");
        ObjectNode schema = out.putObject("json_schema");
        for (String key : List.of("name", "schema", "strict", "description")) {
            if (format.has(key)) {
                schema.set(key, format.get(key));
            }
        }
        return out;
    }
}
