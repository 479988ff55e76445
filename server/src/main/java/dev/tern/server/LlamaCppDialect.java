package dev.tern.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tern.engine.RequestResult;

import java.io.IOException;
import java.io.OutputStream;
import java.util.ArrayList;
import java.util.List;

/**
 * A text completion written as llama.cpp's own server answers /completion and /infill: one object
 * with the whole {@code content}, {@code stop: true} and the counts; or, streamed, an event per piece
 * of content ({@code stop: false}) and a last one with {@code stop: true} and the counts, no [DONE].
 * {@code stop_type} is "limit" when the token limit cut it, "word" when a stop string ended it
 * ({@code stopping_word}), else "eos". With {@code n_probs}, each piece (or the whole answer) carries
 * {@code completion_probabilities}: per token its id, text, bytes, log-probability and the
 * {@code n_probs} most likely tokens' ({@code top_logprobs}), as llama-server writes them. With
 * {@code return_tokens}, {@code tokens} holds the generated ids (else it stays empty). The last object has
 * llama-server's {@code timings}; with {@code response_fields} (paths such as {@code "timings/prompt_n"}) it
 * holds just those, each under its path, as llama-server answers code-completion plugins.
 */
final class LlamaCppDialect implements Dialect {
    private final String model;
    private final boolean probabilities;
    private final List<String> fields;
    private String finish;
    private String stopString;
    private boolean truncated;
    private final StreamTotals totals = new StreamTotals();

    /** @param body the request, whose {@code n_probs} asks for probabilities and {@code response_fields} for fields */
    LlamaCppDialect(String model, ObjectNode body) {
        this.model = model;
        this.probabilities = body.path("n_probs").asInt(0) > 0;
        this.fields = fields(body.get("response_fields"));
    }

    private static List<String> fields(JsonNode f) {
        if (f == null || f.isNull()) {
            return List.of();
        }
        List<String> out = new ArrayList<>();
        if (f.isArray()) {
            for (JsonNode path : f) {
                if (!path.isTextual()) {
                    out = null;
                    break;
                }
                out.add(path.asText());
            }
        }
        if (out == null || !f.isArray()) {
            throw ApiException.badRequest("response_fields must be an array of field paths such as \"timings/prompt_n\"", "response_fields");
        }
        return out;
    }

    /** The answer, or just the asked fields of it (a path that leads nowhere is left out, as llama-server does). */
    private ObjectNode select(ObjectNode all) {
        if (fields.isEmpty()) {
            return all;
        }
        ObjectNode out = Json.object();
        for (String path : fields) {
            JsonNode v = all;
            for (String key : path.split("/", -1)) {
                v = v != null && v.isObject() ? v.get(key) : null;
            }
            if (v != null) {
                out.set(path, v);
            }
        }
        return out;
    }

    /** llama-server's {@code truncated}: the context filled up and made room ({@code n_keep}, {@code n_discard}). */
    @Override
    public void finished(List<RequestResult> results) {
        truncated = results.stream().anyMatch(r -> r != null && r.contextShifts() > 0);
    }

    @Override
    public boolean needsLlamaCppProbabilities() {
        return probabilities;
    }

    @Override
    public ObjectNode whole(ObjectNode body) {
        JsonNode choice = body.get("choices").get(0);
        ObjectNode out = ending(choice.path("text").asText(""), choice.path("finish_reason").asText("stop"),
                choice.hasNonNull("stop_reason") ? choice.get("stop_reason").asText() : null, (ObjectNode) body.get("usage"));
        putTokens(out, choice);
        withProbabilities(out, choice);
        if (body.has("timings")) {
            out.set("timings", body.get("timings"));
        }
        return select(out);
    }

    @Override
    public void chunk(OutputStream out, ObjectNode chunk) throws IOException {
        if (totals.read(chunk)) {
            return;
        }
        JsonNode choice = chunk.path("choices").path(0);
        String text = choice.path("text").asText("");
        boolean ids = !choice.path("token_ids").isEmpty();
        if (!text.isEmpty() || ids || probabilities && choice.path("logprobs").has("completion_probabilities")) {
            ObjectNode piece = Json.object().put("index", 0).put("content", text).put("stop", false);
            putTokens(piece, choice);
            withProbabilities(piece, choice);
            Dialect.data(out, Json.write(piece));
        }
        if (choice.hasNonNull("finish_reason")) {
            finish = choice.get("finish_reason").asText();
            stopString = choice.hasNonNull("stop_reason") ? choice.get("stop_reason").asText() : null;
        }
    }

    @Override
    public void end(OutputStream out) throws IOException {
        if (totals.error != null) {
            Dialect.data(out, Json.write(Json.object().set("error", totals.error)));
            return;
        }
        ObjectNode last = ending("", finish == null ? "stop" : finish, stopString, totals.usage);
        if (totals.timings != null) {
            last.set("timings", totals.timings);
        }
        Dialect.data(out, Json.write(select(last)));
    }

    @Override
    public boolean needsUsage() {
        return true;
    }

    /** The choice's token ids, if it has them, as {@code tokens}. */
    private static void putTokens(ObjectNode out, JsonNode choice) {
        out.set("tokens", choice.path("token_ids").isArray() ? choice.get("token_ids") : Json.MAPPER.createArrayNode());
    }

    private void withProbabilities(ObjectNode out, JsonNode choice) {
        if (probabilities) {
            JsonNode p = choice.path("logprobs").path("completion_probabilities");
            out.set("completion_probabilities", p.isArray() ? p : Json.MAPPER.createArrayNode());
        }
    }

    private ObjectNode ending(String content, String finish, String stopString, ObjectNode chatUsage) {
        ObjectNode o = Json.object().put("index", 0).put("content", content);
        o.putArray("tokens");
        o.put("stop", true).put("model", model);
        o.put("tokens_predicted", chatUsage == null ? 0 : chatUsage.path("completion_tokens").asInt());
        o.put("tokens_evaluated", chatUsage == null ? 0 : chatUsage.path("prompt_tokens").asInt());
        o.put("tokens_cached", chatUsage == null ? 0 : chatUsage.path("prompt_tokens_details").path("cached_tokens").asInt());
        o.put("stop_type", finish.equals("length") ? "limit" : stopString != null ? "word" : "eos");
        o.put("stopping_word", stopString == null ? "" : stopString);
        o.put("truncated", truncated);
        return o;
    }
}
