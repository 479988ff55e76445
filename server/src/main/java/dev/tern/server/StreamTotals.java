package dev.tern.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

/** What a translating dialect keeps of a completions stream for its last event: an error, the usage and the timings. */
final class StreamTotals {
    ObjectNode error;
    ObjectNode usage;
    JsonNode timings;

    /** Reads a chunk's error, usage and timings; returns whether it was an error (nothing else to write). */
    boolean read(ObjectNode chunk) {
        if (chunk.has("error")) {
            error = (ObjectNode) chunk.get("error");
            return true;
        }
        if (chunk.hasNonNull("usage")) {
            usage = (ObjectNode) chunk.get("usage");
            timings = chunk.get("timings");
        }
        return false;
    }
}
