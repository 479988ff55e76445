package dev.tern.server;

import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;

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

    /** One server-sent event of data only. */
    static void data(OutputStream out, String data) throws IOException {
        out.write(("data: " + data + "\n\n").getBytes(StandardCharsets.UTF_8));
        out.flush();
    }
}
