package dev.tern.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tern.Tern;
import dev.tern.TernException;
import dev.tern.engine.EmbeddingNorm;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;

/**
 * POST /v1/embeddings (OpenAI's shape): each input's final hidden states pooled as the model says
 * ({@link Tern#pooling}; Qwen3-Embedding: its last token) and scaled to unit length. Inputs are a
 * string, an array of strings, an array of token ids or an array of those; {@code dimensions}
 * keeps the first so many values and scales them to unit length again (Matryoshka models);
 * {@code encoding_format} "base64" sends little-endian float32s. Each input runs as its own
 * forward pass between the scheduler's steps. Also llama-server's own POST /embedding
 * ({@link #llamaCpp}) and Ollama's older POST /api/embeddings ({@link #ollamaLegacy}).
 */
final class Embeddings {
    /** Most inputs in one request, as OpenAI's limit. */
    static final int MAX_INPUTS = 2048;
    private final Tern tern;
    private final String modelName;

    Embeddings(Tern tern, String modelName) {
        this.tern = tern;
        this.modelName = modelName;
    }

    ObjectNode answer(ObjectNode body) {
        ApiException.requireModel(body, modelName);
        List<int[]> inputs = inputs(body.get("input"));
        checkLengths(inputs);
        int dim = tern.model().config().dim();
        int keep = dim;
        if (body.hasNonNull("dimensions")) {
            JsonNode d = body.get("dimensions");
            if (!d.isIntegralNumber() || d.asInt() < 1 || d.asInt() > dim) {
                throw ApiException.badRequest("dimensions must be an integer from 1 to " + dim, "dimensions");
            }
            keep = d.asInt();
        }
        String encoding = body.path("encoding_format").asText("float");
        if (!encoding.equals("float") && !encoding.equals("base64")) {
            throw ApiException.badRequest("encoding_format must be \"float\" or \"base64\"", "encoding_format");
        }
        ObjectNode root = Json.object().put("object", "list");
        ArrayNode data = root.putArray("data");
        int tokens = inputs.stream().mapToInt(ids -> ids.length).sum();
        List<float[]> vectors = tern.embed(inputs);
        for (int i = 0; i < inputs.size(); i++) {
            float[] v = truncated(vectors.get(i), keep);
            ObjectNode e = data.addObject().put("object", "embedding").put("index", i);
            if (encoding.equals("base64")) {
                ByteBuffer b = ByteBuffer.allocate(4 * v.length).order(ByteOrder.LITTLE_ENDIAN);
                for (float x : v) {
                    b.putFloat(x);
                }
                e.put("embedding", Base64.getEncoder().encodeToString(b.array()));
            } else {
                ArrayNode a = e.putArray("embedding");
                for (float x : v) {
                    a.add(x);
                }
            }
        }
        root.put("model", modelName);
        root.putObject("usage").put("prompt_tokens", tokens).put("total_tokens", tokens);
        return root;
    }

    /**
     * llama-server's POST /embedding (and /embeddings): {@code content} (or {@code input}) as
     * /v1/embeddings takes it, {@code embd_normalize} as {@link EmbeddingNorm} numbers it (2 by
     * default); the answer is llama-server's array of {@code {"index", "embedding": [[...]]}}, one
     * pooled row per input.
     */
    ArrayNode llamaCpp(ObjectNode body) {
        JsonNode input = body.has("content") ? body.get("content") : body.get("input");
        if (input == null || input.isNull()) {
            throw ApiException.badRequest("\"input\" or \"content\" must be provided", "content");
        }
        int norm = EmbeddingNorm.EUCLIDEAN;
        if (body.hasNonNull("embd_normalize")) {
            JsonNode n = body.get("embd_normalize");
            if (!n.isIntegralNumber() || !n.canConvertToInt()) {
                throw ApiException.badRequest("embd_normalize must be an integer", "embd_normalize");
            }
            norm = n.asInt();
            try {
                EmbeddingNorm.check(norm);
            } catch (TernException e) {
                throw ApiException.badRequest(e.getMessage(), "embd_normalize");
            }
        }
        List<int[]> inputs = inputs(input);
        checkLengths(inputs);
        List<float[]> vectors = tern.embed(inputs, norm);
        ArrayNode out = Json.MAPPER.createArrayNode();
        for (int i = 0; i < vectors.size(); i++) {
            ArrayNode row = out.addObject().put("index", i).putArray("embedding").addArray();
            for (float x : vectors.get(i)) {
                row.add(x);
            }
        }
        return out;
    }

    /**
     * Ollama's older POST /api/embeddings: {@code prompt}, one text, answered as {@code {"embedding": [...]}},
     * the pooled vector as it is (its newer /api/embed scales to unit length); an empty prompt gets an empty one.
     */
    ObjectNode ollamaLegacy(ObjectNode body) {
        JsonNode prompt = body.get("prompt");
        if (prompt != null && !prompt.isNull() && !prompt.isTextual()) {
            throw ApiException.badRequest("prompt must be a string", "prompt");
        }
        ObjectNode out = Json.object();
        ArrayNode v = out.putArray("embedding");
        if (prompt == null || prompt.isNull() || prompt.asText().isEmpty()) {
            return out;
        }
        List<int[]> inputs = List.of(text(prompt.asText()));
        checkLengths(inputs);
        for (float x : tern.embed(inputs, EmbeddingNorm.NONE).getFirst()) {
            v.add(x);
        }
        return out;
    }

    /** A 400 for an input longer than the context. */
    private void checkLengths(List<int[]> inputs) {
        for (int i = 0; i < inputs.size(); i++) {
            int[] ids = inputs.get(i);
            if (ids.length > tern.contextSize()) {
                throw new ApiException(400, "invalid_request_error", "input " + i + " has " + ids.length
                        + " tokens, more than the context of " + tern.contextSize(), "input", "context_length_exceeded");
            }
        }
    }

    /** The first {@code keep} values, at unit length again. */
    private static float[] truncated(float[] v, int keep) {
        if (keep == v.length) {
            return v;
        }
        double norm = 0;
        for (int i = 0; i < keep; i++) {
            norm += (double) v[i] * v[i];
        }
        float[] out = new float[keep];
        for (int i = 0; i < keep; i++) {
            out[i] = norm > 0 ? (float) (v[i] / Math.sqrt(norm)) : 0f;
        }
        return out;
    }

    private List<int[]> inputs(JsonNode input) {
        if (input == null || input.isNull()) {
            throw ApiException.badRequest("input is required", "input");
        }
        List<int[]> out = new ArrayList<>();
        if (input.isTextual()) {
            out.add(text(input.asText()));
        } else if (input.isArray() && !input.isEmpty() && input.get(0).isIntegralNumber()) {
            out.add(ids(input));
        } else if (input.isArray() && !input.isEmpty() && input.size() <= MAX_INPUTS) {
            for (JsonNode one : input) {
                if (one.isTextual()) {
                    out.add(text(one.asText()));
                } else if (one.isArray() && !one.isEmpty()) {
                    out.add(ids(one));
                } else {
                    throw ApiException.badRequest("input must be a string, an array of token ids, or an array of those", "input");
                }
            }
        } else {
            throw ApiException.badRequest("input must be a string, an array of token ids, or a non-empty array of at most "
                    + MAX_INPUTS + " of those", "input");
        }
        return out;
    }

    private int[] text(String s) {
        if (s.isEmpty()) {
            throw ApiException.badRequest("input must not be empty", "input");
        }
        try {
            return tern.tokenizer().encode(s, true, false);
        } catch (TernException e) {
            throw ApiException.badRequest(e.getMessage(), "input");
        }
    }

    private int[] ids(JsonNode a) {
        return Json.tokenIds(a, tern.tokenizer().vocabSize(), "token ids must be integers in the vocabulary", "input");
    }
}
