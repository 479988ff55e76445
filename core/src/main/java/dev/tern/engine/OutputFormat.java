package dev.tern.engine;

/** What shape a request's output must have. */
public enum OutputFormat {
    /** Any text. */
    TEXT,
    /** One JSON object, and then the end (OpenAI's {@code response_format: json_object}). */
    JSON_OBJECT
}
