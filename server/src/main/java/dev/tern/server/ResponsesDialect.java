package dev.tern.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.io.OutputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

/**
 * A chat completion written as OpenAI's Responses API answers: a response object whose output
 * holds a reasoning item (the thinking), a message item (the text) and function-call items; or,
 * streamed, its typed events (response.created, output_item.added, output_text.delta,
 * function_call_arguments.delta, … response.completed) translated from the chat chunks.
 * The finished response is stored (unless the request says {@code store: false}) with its
 * conversation. One instance serves one request.
 */
final class ResponsesDialect implements Dialect {
    private final ObjectNode request;
    private final String id = "resp_" + hex();
    private final long created = System.currentTimeMillis() / 1000;
    private int sequence;

    /** The stream's items so far, in output order; the one still being written is the last. */
    private final List<ObjectNode> items = new ArrayList<>();
    private final List<StringBuilder> texts = new ArrayList<>();
    /** Output index of each chat tool call index. */
    private final List<Integer> calls = new ArrayList<>();
    private String finishReason;
    private ObjectNode usage;
    private ObjectNode error;

    private final List<JsonNode> conversation;
    private final ResponseStore store;

    /**
     * @param request      the Responses request, whose settings the response repeats
     * @param conversation its input items, after those of its previous response
     * @param store        where the finished response goes
     */
    ResponsesDialect(ObjectNode request, List<JsonNode> conversation, ResponseStore store) {
        this.request = request;
        this.conversation = conversation;
        this.store = store;
    }

    private boolean storing() {
        return request.path("store").asBoolean(true);
    }

    /** Stores a finished response with the conversation it continues, its output as items after the input. */
    private ObjectNode keep(ObjectNode response) {
        if (storing()) {
            List<JsonNode> all = new ArrayList<>(conversation);
            response.get("output").forEach(all::add);
            store.put(id, new ResponseStore.Stored(response, List.copyOf(all)));
        }
        return response;
    }

    @Override
    public ObjectNode whole(ObjectNode body) {
        JsonNode choice = body.get("choices").get(0);
        JsonNode message = choice.get("message");
        ArrayNode output = Json.MAPPER.createArrayNode();
        if (message.hasNonNull("reasoning_content")) {
            output.add(reasoning(message.get("reasoning_content").asText(), "completed"));
        }
        JsonNode toolCalls = message.path("tool_calls");
        String content = message.path("content").asText("");
        if (!content.isEmpty() || toolCalls.isEmpty()) {
            output.add(message(content, "completed"));
        }
        for (JsonNode c : toolCalls) {
            output.add(functionCall(c.get("id").asText(), c.get("function").get("name").asText(),
                    c.get("function").get("arguments").asText(), "completed"));
        }
        return keep(response(output, choice.get("finish_reason").asText(), (ObjectNode) body.get("usage")));
    }

    @Override
    public void chunk(OutputStream out, ObjectNode chunk) throws IOException {
        if (sequence == 0) {
            ObjectNode opening = response(Json.MAPPER.createArrayNode(), null, null);
            event(out, Json.object().put("type", "response.created").set("response", opening));
            event(out, Json.object().put("type", "response.in_progress").set("response", opening));
        }
        ChatChunk c = ChatChunk.of(chunk);
        if (c.error() != null) {
            error = c.error();
            event(out, Json.object().put("type", "error").put("code", error.path("code").asText(null))
                    .put("message", error.path("message").asText()).put("param", error.path("param").asText(null)));
            return;
        }
        if (c.usage() != null) {
            usage = c.usage();
        }
        if (!c.thinking().isEmpty()) {
            int k = open(out, "reasoning");
            texts.get(k).append(c.thinking());
            event(out, part("response.reasoning_text.delta", k).put("delta", c.thinking()));
        }
        if (!c.content().isEmpty()) {
            int k = open(out, "message");
            texts.get(k).append(c.content());
            event(out, part("response.output_text.delta", k).put("delta", c.content()).set("logprobs", Json.MAPPER.createArrayNode()));
        }
        for (JsonNode t : c.toolCalls()) {
            int index = t.get("index").asInt();
            if (index == calls.size()) {
                closeLast(out);
                calls.add(items.size());
                items.add(functionCall(t.get("id").asText(), t.get("function").get("name").asText(), "", "in_progress"));
                texts.add(new StringBuilder());
                event(out, added(items.size() - 1));
            }
            String arguments = t.path("function").path("arguments").asText("");
            if (!arguments.isEmpty()) {
                int k = calls.get(index);
                texts.get(k).append(arguments);
                event(out, Json.object().put("type", "response.function_call_arguments.delta").put("item_id", itemId(k))
                        .put("output_index", k).put("delta", arguments));
            }
        }
        if (c.finishReason() != null) {
            finishReason = c.finishReason();
            closeLast(out);
        }
    }

    @Override
    public void end(OutputStream out) throws IOException {
        closeLast(out);
        ArrayNode output = Json.MAPPER.createArrayNode();
        items.forEach(output::add);
        ObjectNode whole = response(output, finishReason, usage);
        String type = "response.completed";
        if (error != null) {
            whole.put("status", "failed");
            whole.putObject("error").put("code", "server_error").put("message", error.path("message").asText());
            type = "response.failed";
        } else {
            keep(whole);
            if ("incomplete".equals(whole.get("status").asText())) {
                type = "response.incomplete";
            }
        }
        event(out, Json.object().put("type", type).set("response", whole));
    }

    @Override
    public boolean needsUsage() {
        return true;
    }

    /** The output index of the item of this type being written, opening a new one when the last is another. */
    private int open(OutputStream out, String type) throws IOException {
        int last = items.size() - 1;
        if (last >= 0 && items.get(last).get("type").asText().equals(type) && items.get(last).get("status").asText().equals("in_progress")) {
            return last;
        }
        closeLast(out);
        items.add(type.equals("message") ? message("", "in_progress") : reasoning("", "in_progress"));
        texts.add(new StringBuilder());
        int k = items.size() - 1;
        event(out, added(k));
        if (type.equals("message")) {
            event(out, part("response.content_part.added", k).set("part", outputText("")));
        }
        return k;
    }

    /** Ends the item being written, if any: its text whole in the done events and the item. */
    private void closeLast(OutputStream out) throws IOException {
        int k = items.size() - 1;
        if (k < 0 || !items.get(k).get("status").asText().equals("in_progress")) {
            return;
        }
        ObjectNode item = items.get(k);
        String text = texts.get(k).toString();
        switch (item.get("type").asText()) {
            case "message" -> {
                event(out, part("response.output_text.done", k).put("text", text).set("logprobs", Json.MAPPER.createArrayNode()));
                event(out, part("response.content_part.done", k).set("part", outputText(text)));
                items.set(k, message(text, "completed").put("id", itemId(k)));
            }
            case "reasoning" -> {
                event(out, part("response.reasoning_text.done", k).put("text", text));
                items.set(k, reasoning(text, "completed").put("id", itemId(k)));
            }
            default -> {
                event(out, Json.object().put("type", "response.function_call_arguments.done").put("item_id", itemId(k))
                        .put("output_index", k).put("name", item.get("name").asText()).put("arguments", text));
                items.set(k, item.put("arguments", text).put("status", "completed"));
            }
        }
        event(out, Json.object().put("type", "response.output_item.done").put("output_index", k).set("item", items.get(k)));
    }

    private ObjectNode added(int k) {
        return Json.object().put("type", "response.output_item.added").put("output_index", k).set("item", items.get(k));
    }

    private ObjectNode part(String type, int k) {
        return Json.object().put("type", type).put("item_id", itemId(k)).put("output_index", k).put("content_index", 0);
    }

    private String itemId(int k) {
        return items.get(k).get("id").asText();
    }

    private void event(OutputStream out, ObjectNode event) throws IOException {
        event.put("sequence_number", sequence++);
        Dialect.typed(out, event);
    }

    private static ObjectNode message(String text, String status) {
        ObjectNode m = Json.object().put("id", "msg_" + hex()).put("type", "message").put("status", status).put("role", "assistant");
        ArrayNode content = m.putArray("content");
        if (status.equals("completed")) {
            content.add(outputText(text));
        }
        return m;
    }

    private static ObjectNode outputText(String text) {
        ObjectNode t = Json.object().put("type", "output_text").put("text", text);
        t.putArray("annotations");
        t.putArray("logprobs");
        return t;
    }

    private static ObjectNode reasoning(String text, String status) {
        ObjectNode r = Json.object().put("id", "rs_" + hex()).put("type", "reasoning").put("status", status);
        r.putArray("summary");
        ArrayNode content = r.putArray("content");
        if (status.equals("completed")) {
            content.addObject().put("type", "reasoning_text").put("text", text);
        }
        return r;
    }

    private static ObjectNode functionCall(String callId, String name, String arguments, String status) {
        return Json.object().put("id", "fc_" + hex()).put("type", "function_call").put("status", status).put("call_id", callId)
                .put("name", name).put("arguments", arguments);
    }

    /**
     * The response object: the request's settings repeated, as OpenAI does; status from the chat
     * finish reason (null: still in progress), "incomplete" when the token limit cut it.
     */
    private ObjectNode response(ArrayNode output, String finish, ObjectNode chatUsage) {
        ObjectNode r = Json.object().put("id", id).put("object", "response").put("created_at", created);
        boolean cut = "length".equals(finish);
        r.put("status", finish == null ? "in_progress" : cut ? "incomplete" : "completed");
        r.putNull("error");
        if (cut) {
            r.putObject("incomplete_details").put("reason", "max_output_tokens");
        } else {
            r.putNull("incomplete_details");
        }
        r.set("instructions", request.path("instructions").isTextual() ? request.get("instructions") : null);
        r.set("max_output_tokens", request.get("max_output_tokens"));
        r.set("metadata", request.path("metadata").isObject() ? request.get("metadata") : Json.object());
        r.put("model", request.path("model").asText(""));
        r.set("output", output);
        r.put("parallel_tool_calls", request.path("parallel_tool_calls").asBoolean(true));
        r.set("temperature", request.has("temperature") ? request.get("temperature") : Json.MAPPER.getNodeFactory().numberNode(1.0));
        r.set("top_p", request.has("top_p") ? request.get("top_p") : Json.MAPPER.getNodeFactory().numberNode(1.0));
        r.set("tool_choice", request.has("tool_choice") ? request.get("tool_choice") : Json.MAPPER.getNodeFactory().textNode("auto"));
        r.set("tools", request.path("tools").isArray() ? request.get("tools") : Json.MAPPER.createArrayNode());
        ObjectNode text = r.putObject("text");
        text.set("format", request.path("text").path("format").isObject() ? request.get("text").get("format")
                : Json.object().put("type", "text"));
        r.put("truncation", "disabled");
        r.put("store", storing());
        r.set("previous_response_id", request.get("previous_response_id"));
        if (chatUsage != null) {
            ObjectNode u = r.putObject("usage");
            int in = chatUsage.path("prompt_tokens").asInt(), outTokens = chatUsage.path("completion_tokens").asInt();
            u.put("input_tokens", in);
            u.putObject("input_tokens_details").put("cached_tokens", chatUsage.path("prompt_tokens_details").path("cached_tokens").asInt());
            u.put("output_tokens", outTokens);
            u.putObject("output_tokens_details").put("reasoning_tokens", 0);
            u.put("total_tokens", in + outTokens);
        } else {
            r.putNull("usage");
        }
        return r;
    }

    private static String hex() {
        return UUID.randomUUID().toString().replace("-", "");
    }
}
