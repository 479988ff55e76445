package dev.tern.engine;

/**
 * How a request ended.
 *
 * @param reason           why it ended
 * @param promptTokens     tokens of the prompt
 * @param cachedTokens     prompt tokens whose KV came from the prefix cache instead of being computed
 * @param completionTokens tokens generated (an end-of-generation token is not counted)
 * @param error            the failure's message when reason is ERROR, else null
 * @param stopString       the stop string that ended it, else null (also when a token ended it)
 * @param contextShifts    how many times its full context made room ({@link ContextShift})
 */
public record RequestResult(FinishReason reason, int promptTokens, int cachedTokens, int completionTokens, String error,
                            String stopString, int contextShifts) {
}
