package dev.tern.server;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

/** The server's JSON: one mapper, and the OpenAI error body. */
final class Json {
    static final ObjectMapper MAPPER = new ObjectMapper();

    private Json() {
    }

    static ObjectNode object() {
        return MAPPER.createObjectNode();
    }

    /** Parses a request body that must be a JSON object. */
    static ObjectNode parseObject(byte[] body) {
        JsonNode n = parse(body);
        if (!n.isObject()) {
            throw ApiException.badRequest("request body must be a JSON object", null);
        }
        return (ObjectNode) n;
    }

    /** A request body of any JSON value; 400 when it is not JSON. */
    static JsonNode parse(byte[] body) {
        try {
            JsonNode n = MAPPER.readTree(body);
            if (n == null) {
                throw ApiException.badRequest("request body is empty", null);
            }
            return n;
        } catch (java.io.IOException e) {
            throw ApiException.badRequest("request body is not valid JSON", null);
        }
    }

    /** The JSON the text holds, or the text as a JSON string when it holds none. */
    static JsonNode parseOrText(String text) {
        try {
            JsonNode n = MAPPER.readTree(text);
            return n == null ? MAPPER.getNodeFactory().textNode(text) : n;
        } catch (JsonProcessingException e) {
            return MAPPER.getNodeFactory().textNode(text);
        }
    }

    /** A JSON array of token ids below {@code vocab}; anything else is a 400 with {@code message}, naming {@code param}. */
    static int[] tokenIds(JsonNode a, int vocab, String message, String param) {
        int[] ids = new int[a.size()];
        for (int i = 0; i < ids.length; i++) {
            JsonNode e = a.get(i);
            if (!e.isIntegralNumber() || e.asLong() < 0 || e.asLong() >= vocab) {
                throw ApiException.badRequest(message, param);
            }
            ids[i] = e.asInt();
        }
        return ids;
    }

    static String write(JsonNode n) {
        try {
            return MAPPER.writeValueAsString(n);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    static ObjectNode error(ApiException e) {
        ObjectNode err = object();
        err.put("message", e.getMessage());
        err.put("type", e.type);
        err.put("param", e.param);
        err.put("code", e.code);
        ObjectNode root = object();
        root.set("error", err);
        return root;
    }
}
