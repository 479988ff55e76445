package dev.tern.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.util.Map;

/**
 * Ollama's {@code /api/chat} and {@code /api/generate} requests read as the chat or text completions
 * they ask for: {@code messages} (with tool calls and their results) or {@code prompt} (+ {@code system};
 * through the chat template unless {@code raw}), {@code stream} (true unless false, as Ollama's),
 * {@code format} ("json" or a JSON schema), {@code tools}, {@code think}, and the sampling
 * {@code options} Ollama shares with llama.cpp (temperature, top_k, top_p, min_p, typical_p,
 * num_predict, seed, stop, repeat_penalty, repeat_last_n, presence_penalty, frequency_penalty,
 * mirostat…); beyond Ollama's API, OpenAI's {@code tool_choice}, {@code parallel_tool_calls} and
 * {@code logit_bias}. A model named with Ollama's ":latest" tag is the model without it.
 */
final class OllamaRequest {
    /** Ollama option → the completion field it is. */
    private static final Map<String, String> OPTIONS = Map.ofEntries(Map.entry("temperature", "temperature"),
            Map.entry("top_k", "top_k"), Map.entry("top_p", "top_p"), Map.entry("min_p", "min_p"), Map.entry("typical_p", "typical_p"),
            Map.entry("num_predict", "n_predict"), Map.entry("seed", "seed"), Map.entry("stop", "stop"),
            Map.entry("repeat_penalty", "repeat_penalty"), Map.entry("repeat_last_n", "repeat_last_n"),
            Map.entry("presence_penalty", "presence_penalty"), Map.entry("frequency_penalty", "frequency_penalty"),
            Map.entry("mirostat", "mirostat"), Map.entry("mirostat_tau", "mirostat_tau"), Map.entry("mirostat_eta", "mirostat_eta"));

    private OllamaRequest() {
    }

    /** /api/chat: a chat completion. */
    static ObjectNode chat(ObjectNode body) {
        ObjectNode out = common(body);
        JsonNode messages = body.get("messages");
        if (messages == null || !messages.isArray()) {
            throw ApiException.badRequest("messages must be an array", "messages");
        }
        ArrayNode list = out.putArray("messages");
        for (JsonNode m : messages) {
            if (m.has("images") && !m.get("images").isEmpty()) {
                throw ApiException.badRequest("images are not supported: this is a text model", "messages");
            }
            ObjectNode copy = list.addObject().put("role", m.path("role").asText()).put("content", m.path("content").asText(""));
            if (m.has("tool_calls")) {
                ArrayNode calls = copy.putArray("tool_calls");
                int i = 0;
                for (JsonNode c : m.get("tool_calls")) {
                    JsonNode f = c.path("function");
                    calls.addObject().put("id", "call_" + i++).put("type", "function").putObject("function")
                            .put("name", f.path("name").asText())
                            .put("arguments", f.path("arguments").isTextual() ? f.get("arguments").asText() : Json.write(f.path("arguments")));
                }
            }
            if (m.has("tool_name")) {
                copy.put("name", m.get("tool_name").asText());
            }
        }
        if (body.has("tools")) {
            out.set("tools", body.get("tools"));
        }
        return out;
    }

    /**
     * /api/generate: a text completion of the raw prompt, a fill-in-the-middle one when there is a
     * {@code suffix} (what Ollama's code-model templates make of it), or a chat of one user message
     * (and the system one). Ollama's deprecated {@code context} (the token ids of an earlier answer's
     * conversation) is refused rather than ignored: the answer would silently forget it.
     */
    static ObjectNode generate(ObjectNode body) {
        ObjectNode out = common(body);
        if (body.has("images") && !body.get("images").isEmpty()) {
            throw ApiException.badRequest("images are not supported: this is a text model", "images");
        }
        if (body.has("context") && !body.get("context").isNull() && !body.get("context").isEmpty()) {
            throw ApiException.badRequest("context (an earlier answer's token ids) is not supported: send the conversation to"
                    + " /api/chat", "context");
        }
        JsonNode prompt = body.get("prompt");
        if (prompt == null || !prompt.isTextual()) {
            throw ApiException.badRequest("prompt must be a string", "prompt");
        }
        if (!generatesByChat(body)) {
            out.put("prompt", prompt.asText());
            if (hasSuffix(body)) {
                out.set("suffix", body.get("suffix"));
            }
            return out;
        }
        ArrayNode list = out.putArray("messages");
        if (body.hasNonNull("system")) {
            list.addObject().put("role", "system").put("content", body.get("system").asText());
        }
        list.addObject().put("role", "user").put("content", prompt.asText());
        return out;
    }

    /** Whether /api/generate is answered as a chat (the prompt through the template): neither raw nor filling in the middle. */
    static boolean generatesByChat(ObjectNode body) {
        return !body.path("raw").asBoolean(false) && !hasSuffix(body);
    }

    private static boolean hasSuffix(ObjectNode body) {
        JsonNode suffix = body.get("suffix");
        return suffix != null && !suffix.isNull() && !(suffix.isTextual() && suffix.asText().isEmpty());
    }

    /** A model as Ollama names it: its ":latest" tag is the model itself. */
    static String model(String name) {
        return name.endsWith(":latest") ? name.substring(0, name.length() - ":latest".length()) : name;
    }

    private static ObjectNode common(ObjectNode body) {
        // Ollama's defaults, which its options then override.
        ObjectNode out = Json.object().put("temperature", 0.8).put("top_k", 40).put("top_p", 0.9).put("repeat_penalty", 1.1);
        String model = model(body.path("model").asText(""));
        if (!model.isEmpty()) {
            out.put("model", model);
        }
        out.put("stream", body.path("stream").asBoolean(true));
        JsonNode options = body.get("options");
        if (options != null && !options.isNull()) {
            if (!options.isObject()) {
                throw ApiException.badRequest("options must be an object", "options");
            }
            for (Map.Entry<String, String> e : OPTIONS.entrySet()) {
                if (options.has(e.getKey())) {
                    out.set(e.getValue(), options.get(e.getKey()));
                }
            }
            // -2 is Ollama's "until the context is full", which is what no limit does here.
            if (options.path("num_predict").isIntegralNumber() && options.get("num_predict").asLong() < -1) {
                out.put("n_predict", -1);
            }
        }
        JsonNode format = body.get("format");
        if (format != null && !format.isNull() && !(format.isTextual() && format.asText().isEmpty())) {
            if (format.isTextual() && format.asText().equals("json")) {
                out.putObject("response_format").put("type", "json_object");
            } else if (format.isObject()) {
                out.putObject("response_format").put("type", "json_schema").putObject("json_schema").put("name", "format")
                        .set("schema", format);
            } else {
                throw ApiException.badRequest("format must be \"json\" or a JSON schema", "format");
            }
        }
        // Extensions beyond Ollama's API, as the OpenAI endpoints take them.
        for (String key : new String[]{"tool_choice", "parallel_tool_calls", "logit_bias"}) {
            if (body.has(key)) {
                out.set(key, body.get(key));
            }
        }
        if (body.has("think") && body.get("think").isBoolean()) {
            out.putObject("chat_template_kwargs").put("enable_thinking", body.get("think").asBoolean());
        }
        return out;
    }
}
