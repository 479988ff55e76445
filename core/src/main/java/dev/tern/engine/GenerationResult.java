package dev.tern.engine;

/**
 * The outcome of one generation: the prompt as tokens, the generated tokens (an end-of-generation
 * token that stopped it is not included), their text, why it stopped, timings, and how many times a
 * full context made room ({@link ContextShift}) on the way.
 */
public record GenerationResult(int[] promptTokens, int[] tokens, String text, StopReason stopReason, Timings timings,
                               int contextShifts) {

    public enum StopReason {
        /** The model produced an end-of-generation token. */
        END_OF_GENERATION,
        /** The requested number of tokens was generated. */
        MAX_TOKENS,
        /** The context window is full. */
        CONTEXT_FULL,
        /** The listener asked to stop. */
        CANCELLED,
        /** A stop string appeared; the text ends before it. */
        STOP_STRING
    }
}
