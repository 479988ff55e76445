package dev.tern.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The Responses API's stored responses ({@code store}, true unless the request says false), kept
 * in memory: each response object with the conversation that led to it and its own output, as
 * input items, so that a request naming it as {@code previous_response_id} continues from there.
 * Bounded: past {@code capacity} the least recently used is dropped.
 */
final class ResponseStore {
    /** A stored response and its conversation: earlier input and output items, its input, its output. */
    record Stored(ObjectNode response, List<JsonNode> conversation) {
    }

    private final Map<String, Stored> stored;

    ResponseStore(int capacity) {
        this.stored = new LinkedHashMap<>(16, 0.75f, true) {
            @Override
            protected boolean removeEldestEntry(Map.Entry<String, Stored> eldest) {
                return size() > capacity;
            }
        };
    }

    synchronized void put(String id, Stored s) {
        stored.put(id, s);
    }

    /** The stored response with this id, or null. */
    synchronized Stored get(String id) {
        return stored.get(id);
    }

    /** Whether there was one to remove. */
    synchronized boolean remove(String id) {
        return stored.remove(id) != null;
    }
}
