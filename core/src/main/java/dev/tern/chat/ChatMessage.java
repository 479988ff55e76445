package dev.tern.chat;

import java.util.Map;
import java.util.Objects;

/**
 * One turn of a conversation.
 *
 * @param role    "system", "user", "assistant" (or "tool"; templates decide what they accept)
 * @param content the text of the turn
 * @param fields  further keys the template sees on the message, e.g. an assistant turn's
 *                {@code tool_calls} or a tool result's {@code tool_call_id} (plain maps, lists and
 *                values, as transformers passes them); a key absent here is absent for the template
 */
public record ChatMessage(String role, String content, Map<String, Object> fields) {
    public ChatMessage {
        Objects.requireNonNull(role, "role");
        Objects.requireNonNull(content, "content");
        fields = Map.copyOf(fields);
    }

    public ChatMessage(String role, String content) {
        this(role, content, Map.of());
    }
}
