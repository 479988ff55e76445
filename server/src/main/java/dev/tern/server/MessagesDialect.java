package dev.tern.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.io.OutputStream;
import java.util.UUID;

/**
 * A chat completion written as Anthropic's Messages API answers: a message whose content holds a
 * thinking block (the thinking), a text block and tool_use blocks, with a stop_reason; or,
 * streamed, its events (message_start, content_block_start / _delta / _stop for each block,
 * message_delta with the stop reason and usage, message_stop) translated from the chat chunks.
 * One instance serves one request.
 */
final class MessagesDialect implements Dialect {
    private final String id = "msg_" + UUID.randomUUID().toString().replace("-", "");
    private final String model;
    /** The block being streamed: its index (-1 before the first) and kind ("text", "thinking", "tool_use"). */
    private int block = -1;
    private String kind = "";
    /** The chat call index of the tool_use block open, or -1. */
    private int call = -1;
    private boolean started;
    private String finishReason;
    private String stopString;
    private ObjectNode usage;
    private ObjectNode error;

    MessagesDialect(ObjectNode request) {
        this.model = request.path("model").asText("");
    }

    @Override
    public ObjectNode whole(ObjectNode body) {
        JsonNode choice = body.get("choices").get(0);
        JsonNode message = choice.get("message");
        String stop = choice.hasNonNull("stop_reason") ? choice.get("stop_reason").asText() : null;
        ObjectNode m = message(stopReason(choice.get("finish_reason").asText(), stop), stop, (ObjectNode) body.get("usage"));
        ArrayNode content = (ArrayNode) m.get("content");
        if (message.hasNonNull("reasoning_content")) {
            content.addObject().put("type", "thinking").put("thinking", message.get("reasoning_content").asText()).put("signature", "");
        }
        String text = message.path("content").asText("");
        JsonNode calls = message.path("tool_calls");
        if (!text.isEmpty() || calls.isEmpty()) {
            content.addObject().put("type", "text").put("text", text);
        }
        for (JsonNode c : calls) {
            content.addObject().put("type", "tool_use").put("id", c.get("id").asText()).put("name", c.get("function").get("name").asText())
                    .set("input", Json.parseOrText(c.get("function").get("arguments").asText()));
        }
        return m;
    }

    @Override
    public void chunk(OutputStream out, ObjectNode chunk) throws IOException {
        if (!started) {
            started = true;
            Dialect.typed(out, Json.object().put("type", "message_start").set("message", message(null, null, null)));
        }
        ChatChunk c = ChatChunk.of(chunk);
        if (c.error() != null) {
            error = c.error();
            return;
        }
        if (c.usage() != null) {
            usage = c.usage();
        }
        if (!c.thinking().isEmpty()) {
            open(out, "thinking", Json.object().put("type", "thinking").put("thinking", "").put("signature", ""));
            delta(out, Json.object().put("type", "thinking_delta").put("thinking", c.thinking()));
        }
        if (!c.content().isEmpty()) {
            open(out, "text", Json.object().put("type", "text").put("text", ""));
            delta(out, Json.object().put("type", "text_delta").put("text", c.content()));
        }
        for (JsonNode t : c.toolCalls()) {
            int index = t.get("index").asInt();
            if (index != call) {
                close(out);
                call = index;
                kind = "tool_use";
                ObjectNode use = Json.object().put("type", "tool_use").put("id", t.get("id").asText())
                        .put("name", t.get("function").get("name").asText());
                use.putObject("input");
                Dialect.typed(out, Json.object().put("type", "content_block_start").put("index", ++block).set("content_block", use));
            }
            String arguments = t.path("function").path("arguments").asText("");
            if (!arguments.isEmpty()) {
                delta(out, Json.object().put("type", "input_json_delta").put("partial_json", arguments));
            }
        }
        if (c.finishReason() != null) {
            finishReason = c.finishReason();
            stopString = c.stopString();
        }
    }

    @Override
    public void end(OutputStream out) throws IOException {
        close(out);
        if (error != null) {
            ObjectNode e = Json.object().put("type", "error");
            e.putObject("error").put("type", "api_error").put("message", error.path("message").asText());
            Dialect.typed(out, e);
            return;
        }
        ObjectNode d = Json.object().put("type", "message_delta");
        d.putObject("delta").put("stop_reason", stopReason(finishReason, stopString)).put("stop_sequence", stopString);
        d.set("usage", usage(usage));
        Dialect.typed(out, d);
        Dialect.typed(out, Json.object().put("type", "message_stop"));
    }

    @Override
    public boolean needsUsage() {
        return true;
    }

    /** Opens a block of this kind unless one is open already. */
    private void open(OutputStream out, String type, ObjectNode contentBlock) throws IOException {
        if (type.equals(kind)) {
            return;
        }
        close(out);
        kind = type;
        Dialect.typed(out, Json.object().put("type", "content_block_start").put("index", ++block).set("content_block", contentBlock));
    }

    private void close(OutputStream out) throws IOException {
        if (block >= 0 && !kind.isEmpty()) {
            Dialect.typed(out, Json.object().put("type", "content_block_stop").put("index", block));
        }
        kind = "";
        call = -1;
    }

    private void delta(OutputStream out, ObjectNode delta) throws IOException {
        Dialect.typed(out, Json.object().put("type", "content_block_delta").put("index", block).set("delta", delta));
    }

    /** The message object: content to be filled, the stop reason and stop sequence (null while streaming) and usage. */
    private ObjectNode message(String stopReason, String stopSequence, ObjectNode chatUsage) {
        ObjectNode m = Json.object().put("id", id).put("type", "message").put("role", "assistant").put("model", model);
        m.putArray("content");
        m.put("stop_reason", stopReason);
        m.put("stop_sequence", stopSequence);
        m.set("usage", usage(chatUsage));
        return m;
    }

    private static ObjectNode usage(ObjectNode chatUsage) {
        ObjectNode u = Json.object();
        u.put("input_tokens", chatUsage == null ? 0 : chatUsage.path("prompt_tokens").asInt());
        u.put("output_tokens", chatUsage == null ? 0 : chatUsage.path("completion_tokens").asInt());
        u.put("cache_read_input_tokens", chatUsage == null ? 0 : chatUsage.path("prompt_tokens_details").path("cached_tokens").asInt());
        u.put("cache_creation_input_tokens", 0);
        return u;
    }

    /** Anthropic's stop reason for a chat finish reason and the stop string that ended the answer, if one did. */
    private static String stopReason(String finish, String stopString) {
        return switch (finish == null ? "stop" : finish) {
            case "length" -> "max_tokens";
            case "tool_calls" -> "tool_use";
            default -> stopString != null ? "stop_sequence" : "end_turn";
        };
    }
}
