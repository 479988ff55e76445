package dev.tern.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tern.chat.InfillPrompt;

import java.util.ArrayList;
import java.util.List;

/**
 * Requests to llama.cpp's own endpoints read as the text completions they ask for: {@code POST
 * /completion} ({@code prompt}, a string or token ids) and {@code POST /infill} (what code-completion
 * plugins such as llama.vscode send: {@code input_prefix}, {@code input_suffix}, {@code input_extra},
 * other files as {@code [{"filename", "text"}]}, and {@code prompt}, text typed at the cursor, become
 * a fill-in-the-middle prompt). {@code n_predict} is the token limit (-1: none; 0: the prompt only, into the cache), and
 * {@code n_indent} and {@code t_max_predict_ms} end code completions at a line, as llama-server's; the sampling fields
 * both servers share pass through, starting from llama-server's defaults (temperature 0.8, top-k 40,
 * top-p 0.95, min-p 0.05) where OpenAI's endpoints start from OpenAI's (1, and no filters).
 */
final class LlamaCppRequest {
    private static final List<String> SHARED = List.of("temperature", "top_k", "top_p", "min_p", "seed", "stop", "stream",
            "repeat_penalty", "repeat_last_n", "presence_penalty", "frequency_penalty", "grammar", "ignore_eos",
            "typical_p", "top_n_sigma", "xtc_probability", "xtc_threshold", "dynatemp_range", "dynatemp_exponent",
            "mirostat", "mirostat_tau", "mirostat_eta", "dry_multiplier", "dry_base", "dry_allowed_length", "dry_penalty_last_n",
            "dry_sequence_breakers", "lora", "min_keep", "samplers", "logit_bias", "post_sampling_probs",
            "adaptive_target", "adaptive_decay", "n_predict", "n_indent", "t_max_predict_ms", "n_keep", "n_discard");

    private LlamaCppRequest() {
    }

    /** /completion: the prompt as it is. */
    static ObjectNode completion(ObjectNode body) {
        ObjectNode out = settings(body);
        if (body.has("prompt")) {
            out.set("prompt", body.get("prompt"));
        }
        return out;
    }

    /** /infill: the fill-in-the-middle prompt's tokens. */
    static ObjectNode infill(ObjectNode body, PromptBuilder prompts) {
        if (!prompts.infills()) {
            throw ApiException.badRequest("infill needs a model with fill-in-the-middle tokens; this one has none", null);
        }
        ObjectNode out = settings(body);
        List<InfillPrompt.File> extra = new ArrayList<>();
        JsonNode files = body.path("input_extra");
        if (!files.isMissingNode() && !files.isNull()) {
            if (!files.isArray()) {
                throw ApiException.badRequest("input_extra must be an array of {filename, text}", "input_extra");
            }
            for (JsonNode f : files) {
                if (!f.isObject() || !f.path("text").isTextual()) {
                    throw ApiException.badRequest("each input_extra chunk needs a string text", "input_extra");
                }
                extra.add(new InfillPrompt.File(f.path("filename").asText("tmp"), f.get("text").asText()));
            }
        }
        int[] ids = prompts.infill(text(body, "input_prefix"), text(body, "input_suffix"), extra, text(body, "prompt"));
        ArrayNode prompt = out.putArray("prompt");
        for (int id : ids) {
            prompt.add(id);
        }
        return out;
    }

    /** The shared sampling fields over llama-server's defaults, and n_predict as max_tokens. */
    private static ObjectNode settings(ObjectNode body) {
        ObjectNode out = Json.object().put("temperature", 0.8).put("top_k", 40).put("top_p", 0.95).put("min_p", 0.05);
        for (String key : SHARED) {
            if (body.has(key)) {
                out.set(key, body.get(key));
            }
        }
        JsonNode probs = body.get("n_probs");
        if (probs != null && !probs.isNull()) {
            if (!probs.isIntegralNumber() || probs.asLong() < 0 || probs.asLong() > 20) {
                throw ApiException.badRequest("n_probs must be an integer in [0, 20]", "n_probs");
            }
            if (probs.asInt() > 0) {
                out.put("logprobs", probs.asInt());
            }
        }
        JsonNode tokens = body.get("return_tokens");
        if (tokens != null && !tokens.isNull()) {
            if (!tokens.isBoolean()) {
                throw ApiException.badRequest("return_tokens must be a boolean", "return_tokens");
            }
            out.put("return_token_ids", tokens.asBoolean());
        }
        return out;
    }

    private static String text(ObjectNode body, String key) {
        JsonNode v = body.get(key);
        if (v == null || v.isNull()) {
            return "";
        }
        if (!v.isTextual()) {
            throw ApiException.badRequest(key + " must be a string", key);
        }
        return v.asText();
    }
}
