package dev.tern;

import dev.tern.engine.FinishReason;

/**
 * What {@link Tern#complete} or {@link Tern#chat} generated.
 *
 * @param text          the generated text (stop strings cut off)
 * @param tokens        the generated tokens (an end-of-generation token is not one of them)
 * @param finishReason  STOP (end of generation, a stop string, or a format's value whole) or LENGTH
 * @param promptTokens  the prompt's tokens
 * @param cachedTokens  prompt tokens whose KV came from the prefix cache (another generation's prompt)
 */
public record Completion(String text, int[] tokens, FinishReason finishReason, int promptTokens, int cachedTokens) {
}
