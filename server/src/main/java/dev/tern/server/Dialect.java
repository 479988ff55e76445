package dev.tern.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tern.engine.RequestResult;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * How a chat or text completion is written to the client: as OpenAI's chat/completions JSON and
 * server-sent events (chunks, then {@code data: [DONE]}), or translated into another API's shape
 * (the Responses API) from the same chunks.
 */
interface Dialect {
    /** The whole answer's body, from the chat/completions body. */
    ObjectNode whole(ObjectNode body);

    /** Writes what a stream of chunks becomes: each chunk of the completions stream, in order. */
    void chunk(OutputStream out, ObjectNode chunk) throws IOException;

    /** Writes the stream's end. */
    void end(OutputStream out) throws IOException;

    /** Whether the stream must include the usage chunk (a translation needs it for its last event). */
    boolean needsUsage();

    /** The media type of a stream: server-sent events, or Ollama's newline-delimited JSON. */
    default String streamContentType() {
        return "text/event-stream";
    }

    /** Whether text completions' log-probabilities must also come in llama-server's form (token ids and bytes). */
    default boolean needsLlamaCppProbabilities() {
        return false;
    }

    /** Told how the choices' generations ended, before {@link #whole} or {@link #end}. */
    default void finished(List<RequestResult> results) {
    }

    /** Chat completions and completions as they are. */
    Dialect OPENAI = new Dialect() {
        @Override
        public ObjectNode whole(ObjectNode body) {
            return body;
        }

        @Override
        public void chunk(OutputStream out, ObjectNode chunk) throws IOException {
            data(out, Json.write(chunk));
        }

        @Override
        public void end(OutputStream out) throws IOException {
            data(out, "[DONE]");
        }

        @Override
        public boolean needsUsage() {
            return false;
        }
    };

    /**
     * What a translation reads of a chat/completions stream chunk: an error, the usage, or a
     * choice's new thinking, content and tool-call deltas, its finish reason and the stop string
     * that ended it (absent parts empty or null).
     */
    record ChatChunk(ObjectNode error, ObjectNode usage, String thinking, String content, JsonNode toolCalls, String finishReason,
                     String stopString) {
        static ChatChunk of(ObjectNode chunk) {
            JsonNode choice = chunk.path("choices").path(0);
            JsonNode delta = choice.path("delta");
            return new ChatChunk(chunk.has("error") ? (ObjectNode) chunk.get("error") : null,
                    chunk.hasNonNull("usage") ? (ObjectNode) chunk.get("usage") : null,
                    delta.path("reasoning_content").asText(""), delta.path("content").asText(""), delta.path("tool_calls"),
                    choice.hasNonNull("finish_reason") ? choice.get("finish_reason").asText() : null,
                    choice.hasNonNull("stop_reason") ? choice.get("stop_reason").asText() : null);
        }
    }

    /** One server-sent event named by its data's "type", as the Responses and Messages APIs stream them. */
    static void typed(OutputStream out, ObjectNode event) throws IOException {
        out.write(("event: " + event.get("type").asText() + "\n").getBytes(StandardCharsets.UTF_8));
        data(out, Json.write(event));
    }

    /** One server-sent event of data only. */
    static void data(OutputStream out, String data) throws IOException {
        out.write(("data: " + data + "\n\n").getBytes(StandardCharsets.UTF_8));
        out.flush();
    }
}
