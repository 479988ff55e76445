package dev.tern.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tern.Tern;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.UUID;
import java.util.stream.IntStream;

/**
 * llama-server's reranking endpoints (POST /rerank, /reranking, /v1/rerank, /v1/reranking) for a
 * model that reranks ({@link Tern#reranks}: Qwen3-Reranker): {@code query} and {@code documents}
 * (strings, or Jina's and Cohere's {@code {"text": ...}} objects), {@code top_n}; each document is
 * scored with the query ({@link Tern#rerankTokens}, {@link Tern#rerank}) and the answer is Jina's
 * shape as llama-server writes it, {@code {"model", "object": "list", "usage", "results": [{"index",
 * "relevance_score"}]}}, best first, the first {@code top_n}; with {@code return_documents} (Cohere's,
 * vLLM's) each result also has {@code document: {"text"}}. Given {@code texts} instead of
 * {@code documents}, Hugging Face TEI's shape: an array of {@code {"index", "score"}} ({@code text}
 * too with {@code return_text}). A model that does not rerank answers 501, as llama-server started
 * without {@code --reranking}. Also vLLM's score API ({@link #score}).
 */
final class Rerank {
    private final Tern tern;
    private final String modelName;

    Rerank(Tern tern, String modelName) {
        this.tern = tern;
        this.modelName = modelName;
    }

    JsonNode answer(ObjectNode body) {
        checkModel(body);
        JsonNode query = body.get("query");
        if (query == null || query.isNull()) {
            throw ApiException.badRequest("\"query\" must be provided", "query");
        }
        if (!query.isTextual()) {
            throw ApiException.badRequest("\"query\" must be a string", "query");
        }
        boolean tei = body.has("texts");
        String field = tei ? "texts" : "documents";
        List<String> documents = documents(body.get(field), field);
        int topN = documents.size();
        if (body.hasNonNull("top_n")) {
            JsonNode n = body.get("top_n");
            if (!n.isIntegralNumber() || n.asLong() < 0) {
                throw ApiException.badRequest("top_n must be a non-negative integer", "top_n");
            }
            topN = (int) Math.min(topN, n.asLong());
        }
        List<int[]> pairs = new ArrayList<>();
        for (String d : documents) {
            pairs.add(tern.rerankTokens(query.asText(), d));
        }
        float[] scores = scores(pairs, field);
        List<Integer> order = IntStream.range(0, scores.length).boxed()
                .sorted(Comparator.comparingDouble((Integer i) -> scores[i]).reversed()).limit(topN).toList();
        String scoreField = tei ? "score" : "relevance_score";
        boolean withText = body.path(tei ? "return_text" : "return_documents").asBoolean(false);
        ArrayNode results = Json.MAPPER.createArrayNode();
        for (int i : order) {
            ObjectNode r = results.addObject().put("index", i).put(scoreField, scores[i]);
            if (withText && tei) {
                r.put("text", documents.get(i));
            } else if (withText) {
                r.putObject("document").put("text", documents.get(i));
            }
        }
        if (tei) {
            return results;
        }
        int tokens = pairs.stream().mapToInt(p -> p.length).sum();
        ObjectNode root = Json.object().put("model", modelName).put("object", "list");
        root.putObject("usage").put("prompt_tokens", tokens).put("total_tokens", tokens);
        root.set("results", results);
        return root;
    }

    /**
     * vLLM's POST /v1/score (and /score): {@code text_1} and {@code text_2}, each a string or an array
     * of strings; one text_1 is scored against every text_2, else they pair up one to one. Answered
     * in vLLM's shape, {@code {"id", "object": "list", "created", "model", "data": [{"index", "object":
     * "score", "score"}], "usage"}}, in the order of the pairs.
     */
    ObjectNode score(ObjectNode body) {
        checkModel(body);
        List<String> first = texts(body.get("text_1"), "text_1"), second = texts(body.get("text_2"), "text_2");
        if (first.size() != 1 && first.size() != second.size()) {
            throw ApiException.badRequest("text_1 must be one text or as many as text_2 (" + second.size() + "), got "
                    + first.size(), "text_1");
        }
        List<int[]> pairs = new ArrayList<>();
        for (int i = 0; i < second.size(); i++) {
            pairs.add(tern.rerankTokens(first.get(first.size() == 1 ? 0 : i), second.get(i)));
        }
        float[] scores = scores(pairs, "text_2");
        ObjectNode root = Json.object().put("id", "score-" + UUID.randomUUID()).put("object", "list")
                .put("created", System.currentTimeMillis() / 1000).put("model", modelName);
        ArrayNode data = root.putArray("data");
        for (int i = 0; i < scores.length; i++) {
            data.addObject().put("index", i).put("object", "score").put("score", scores[i]);
        }
        int tokens = pairs.stream().mapToInt(p -> p.length).sum();
        root.putObject("usage").put("prompt_tokens", tokens).put("total_tokens", tokens).put("completion_tokens", 0);
        return root;
    }

    /** 501 for a model that does not rerank, 404 for another model's name. */
    private void checkModel(ObjectNode body) {
        if (!tern.reranks()) {
            throw new ApiException(501, "not_supported_error", "this model does not rerank: that needs a reranking model"
                    + " (rank pooling and a classification head, as Qwen3-Reranker's GGUF has)", null, null);
        }
        ApiException.requireModel(body, modelName);
    }

    /** The pairs' scores; a 400 naming {@code field} for a pair longer than the context. */
    private float[] scores(List<int[]> pairs, String field) {
        for (int i = 0; i < pairs.size(); i++) {
            if (pairs.get(i).length > tern.contextSize()) {
                throw new ApiException(400, "invalid_request_error", "pair " + i + " is " + pairs.get(i).length
                        + " tokens, more than the context of " + tern.contextSize(), field, "context_length_exceeded");
            }
        }
        return tern.rerank(pairs);
    }

    private static List<String> texts(JsonNode node, String field) {
        if (node != null && node.isTextual()) {
            return List.of(node.asText());
        }
        if (node == null || !node.isArray() || node.isEmpty() || node.size() > Embeddings.MAX_INPUTS) {
            throw ApiException.badRequest(field + " must be a string or a non-empty array of at most " + Embeddings.MAX_INPUTS
                    + " strings", field);
        }
        List<String> out = new ArrayList<>();
        for (JsonNode t : node) {
            if (!t.isTextual()) {
                throw ApiException.badRequest(field + " must hold strings", field);
            }
            out.add(t.asText());
        }
        return out;
    }

    private static List<String> documents(JsonNode node, String field) {
        if (node == null || !node.isArray() || node.isEmpty() || node.size() > Embeddings.MAX_INPUTS) {
            throw ApiException.badRequest("\"" + field + "\" must be a non-empty array of at most " + Embeddings.MAX_INPUTS
                    + " strings", field);
        }
        List<String> out = new ArrayList<>();
        for (JsonNode d : node) {
            if (d.isTextual()) {
                out.add(d.asText());
            } else if (d.isObject() && d.path("text").isTextual()) {
                out.add(d.get("text").asText());
            } else {
                throw ApiException.badRequest("\"" + field + "\" must hold strings (or {\"text\": string} objects)", field);
            }
        }
        return out;
    }
}
