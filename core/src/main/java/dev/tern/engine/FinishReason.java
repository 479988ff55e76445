package dev.tern.engine;

/** Why a scheduled request ended. */
public enum FinishReason {
    /** An end-of-generation token or a stop string. */
    STOP,
    /** The token limit or a full context. */
    LENGTH,
    /** The client cancelled. */
    CANCELLED,
    /** The engine failed; see {@link RequestResult#error()}. */
    ERROR
}
