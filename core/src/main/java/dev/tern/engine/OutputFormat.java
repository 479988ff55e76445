package dev.tern.engine;

import dev.tern.sampling.Grammar;
import dev.tern.sampling.JsonSchema;

import java.util.Objects;

/**
 * What shape a request's output must have: any text, or the texts of a grammar (one JSON value
 * of a schema, or a text a pattern matches).
 *
 * @param grammar what the output must be, or null for any text
 */
public record OutputFormat(Grammar grammar) {
    /** Any text. */
    public static final OutputFormat TEXT = new OutputFormat(null);
    /** One JSON object, and then the end (OpenAI's {@code response_format: json_object}). */
    public static final OutputFormat JSON_OBJECT = new OutputFormat(JsonSchema.ANY_OBJECT);

    /** The texts of {@code grammar}, e.g. one JSON value of a schema (OpenAI's {@code json_schema} format). */
    public static OutputFormat of(Grammar grammar) {
        return new OutputFormat(Objects.requireNonNull(grammar, "grammar"));
    }

    public boolean isText() {
        return grammar == null;
    }
}
