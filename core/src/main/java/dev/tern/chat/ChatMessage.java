package dev.tern.chat;

import java.util.Objects;

/**
 * One turn of a conversation.
 *
 * @param role    "system", "user", "assistant" (or "tool"; templates decide what they accept)
 * @param content the text of the turn
 */
public record ChatMessage(String role, String content) {
    public ChatMessage {
        Objects.requireNonNull(role, "role");
        Objects.requireNonNull(content, "content");
    }
}
