package dev.tern.engine;

import dev.tern.sampling.JsonSchema;

import java.util.Objects;

/**
 * What shape a request's output must have: any text, or one JSON value of a schema.
 *
 * @param json the schema the output must be one value of, or null for any text
 */
public record OutputFormat(JsonSchema json) {
    /** Any text. */
    public static final OutputFormat TEXT = new OutputFormat(null);
    /** One JSON object, and then the end (OpenAI's {@code response_format: json_object}). */
    public static final OutputFormat JSON_OBJECT = new OutputFormat(JsonSchema.ANY_OBJECT);

    /** One JSON value of {@code schema} (OpenAI's {@code json_schema} format). */
    public static OutputFormat jsonSchema(JsonSchema schema) {
        return new OutputFormat(Objects.requireNonNull(schema, "schema"));
    }

    public boolean isText() {
        return json == null;
    }
}
