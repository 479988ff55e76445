package dev.tern.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tern.TernException;
import dev.tern.engine.ContextShift;
import dev.tern.engine.LineLimits;
import dev.tern.engine.OutputFormat;
import dev.tern.sampling.AdvancedSampling;
import dev.tern.sampling.DrySampling;
import dev.tern.sampling.GbnfGrammar;
import dev.tern.sampling.JsonSchema;
import dev.tern.sampling.SamplerConfig;
import dev.tern.sampling.SamplerStage;
import dev.tern.sampling.TextPattern;
import dev.tern.tokenizer.Tokenizer;

import java.math.BigInteger;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;

/**
 * The generation parameters of an OpenAI completion or chat request, checked: each bad value
 * is a 400 naming the parameter. Besides OpenAI's, the sampling extensions that vLLM's and
 * llama.cpp's servers both take: {@code top_k} (0 or -1: off), {@code min_p},
 * {@code repetition_penalty} (vLLM's name) or {@code repeat_penalty} (llama.cpp's) over the last
 * {@code repeat_last_n} tokens (64; -1: all), and {@code ignore_eos} (the end-of-generation
 * tokens are never sampled, as llama.cpp does it); and vLLM's {@code stop_token_ids} (tokens that
 * end the answer as end-of-generation ones do) and {@code min_tokens} (neither kind is sampled
 * before that many tokens).
 *
 * @param maxTokens    -1 for no limit but the context
 * @param logprobs     -1 when not asked; else how many top alternatives
 * @param format       from {@code response_format}, or the tool-call schema when the request has tools
 * @param echo         (completions) the prompt comes back before the answer, with its tokens'
 *                     log-probabilities when logprobs are asked for: how evaluation harnesses score text
 * @param promptLogprobs vLLM's {@code prompt_logprobs}: -1 when not asked; else how many top alternatives
 * @param returnTokenIds vLLM's {@code return_token_ids}: the answer carries its tokens' and its prompt's ids
 * @param sampledProbs llama-server's {@code post_sampling_probs}: the log-probabilities are those of
 *                     the distribution each token was drawn from, after the sampler's chain
 * @param shift        what a full context does: the server's, with the request's {@code n_keep} and
 *                     {@code n_discard} when the server shifts
 */
record GenerationParams(int maxTokens, SamplerConfig sampling, List<String> stop, int[] stopTokens, int minTokens,
                        int logprobs, int n, boolean stream, boolean includeUsage, OutputFormat format, boolean echo,
                        int promptLogprobs, boolean returnTokenIds, boolean sampledProbs, LineLimits lines, boolean includeStop,
                        ContextShift shift) {
    static final int MAX_N = 16;

    /**
     * @param tokenizer      the vocabulary ({@code logit_bias}'s ids must be in it, its texts are tokenized)
     * @param endOfGeneration the tokens that end generation, which {@code ignore_eos} bans
     * @param tools          the chat request's tools, or null
     * @param shift          the server's context shift
     */
    static GenerationParams parse(ObjectNode body, boolean chat, Tokenizer tokenizer, int[] endOfGeneration, ToolCalls tools,
                                  ContextShift shift) {
        refuseUnsupported(body, chat);
        boolean echo = !chat && bool(body, "echo");
        int maxTokens = -1;
        for (String key : chat ? new String[]{"max_completion_tokens", "max_tokens"} : new String[]{"max_tokens"}) {
            if (present(body, key)) {
                // An echoed prompt may be all the answer: scoring text generates nothing.
                maxTokens = intIn(body, key, echo ? 0 : 1, Integer.MAX_VALUE);
                break;
            }
        }
        if (maxTokens < 0 && present(body, "n_predict")) {
            // llama-server's own limit: -1 none, and 0 computes the prompt into the cache (editors warm it so).
            maxTokens = intIn(body, "n_predict", -1, Integer.MAX_VALUE);
        }
        int minTokens = present(body, "min_tokens") ? intIn(body, "min_tokens", 0, Integer.MAX_VALUE) : 0;
        if (maxTokens > 0 && minTokens > maxTokens) {
            throw ApiException.badRequest("min_tokens (" + minTokens + ") must not exceed the most tokens asked for ("
                    + maxTokens + ")", "min_tokens");
        }
        float temperature = floatIn(body, "temperature", 0, 2, 1f);
        float topP = floatIn(body, "top_p", 0, 1, 1f);
        float presence = floatIn(body, "presence_penalty", -2, 2, 0f);
        float frequency = floatIn(body, "frequency_penalty", -2, 2, 0f);
        int topK = present(body, "top_k") ? intIn(body, "top_k", -1, Integer.MAX_VALUE) : 0;
        float minP = floatIn(body, "min_p", 0, 1, 0f);
        if (present(body, "repetition_penalty") && present(body, "repeat_penalty")) {
            throw ApiException.badRequest("give repetition_penalty or repeat_penalty, not both", "repeat_penalty");
        }
        String repeatKey = present(body, "repeat_penalty") ? "repeat_penalty" : "repetition_penalty";
        float repeat = floatIn(body, repeatKey, 0, 10, 1f);
        if (repeat == 0) {
            throw ApiException.badRequest(repeatKey + " must be positive (1: off)", repeatKey);
        }
        int lastN = present(body, "repeat_last_n") ? intIn(body, "repeat_last_n", -1, Integer.MAX_VALUE) : 64;
        long seed;
        if (present(body, "seed")) {
            JsonNode s = body.get("seed");
            if (!s.isIntegralNumber() || !s.canConvertToLong()) {
                throw ApiException.badRequest("seed must be an integer", "seed");
            }
            seed = s.asLong();
        } else {
            seed = ThreadLocalRandom.current().nextLong();
        }
        int logprobs = -1;
        if (chat) {
            if (present(body, "logprobs")) {
                if (!body.get("logprobs").isBoolean()) {
                    throw ApiException.badRequest("logprobs must be a boolean", "logprobs");
                }
                if (body.get("logprobs").asBoolean()) {
                    logprobs = present(body, "top_logprobs") ? intIn(body, "top_logprobs", 0, 20) : 0;
                }
            }
            if (logprobs < 0 && present(body, "top_logprobs")) {
                throw ApiException.badRequest("top_logprobs needs logprobs set to true", "top_logprobs");
            }
        } else if (present(body, "logprobs")) {
            logprobs = intIn(body, "logprobs", 0, 20);
        }
        int n = present(body, "n") ? intIn(body, "n", 1, MAX_N) : 1;
        boolean stream = bool(body, "stream");
        boolean includeUsage = false;
        if (present(body, "stream_options")) {
            JsonNode so = body.get("stream_options");
            if (!so.isObject()) {
                throw ApiException.badRequest("stream_options must be an object", "stream_options");
            }
            includeUsage = bool((ObjectNode) so, "include_usage");
        }
        Map<Integer, Float> bias = logitBias(body, tokenizer);
        if (bool(body, "ignore_eos")) {
            bias = new HashMap<>(bias);
            for (int t : endOfGeneration) {
                bias.put(t, SamplerConfig.NEVER);
            }
        }
        SamplerConfig sampling = new SamplerConfig(temperature, Math.max(0, topK), topP, minP, repeat, lastN, frequency, presence,
                seed, bias, advanced(body));
        OutputFormat format = format(body);
        Guided guided = guided(body);
        if (guided != null) {
            if (!format.isText()) {
                throw ApiException.badRequest("response_format cannot be combined with " + guided.param(), guided.param());
            }
            format = guided.format();
        }
        if (tools != null) {
            if (!format.isText()) {
                String param = guided != null ? guided.param() : "response_format";
                throw ApiException.badRequest(param + " cannot be combined with tools", param);
            }
            if (tools.schema() != null) {
                format = OutputFormat.of(tools.schema());
            } else if (tools.lazyGrammar() != null) {
                format = OutputFormat.of(tools.lazyGrammar());
            }
        }
        int promptLogprobs = present(body, "prompt_logprobs") ? intIn(body, "prompt_logprobs", 0, 20) : -1;
        boolean sampledProbs = bool(body, "post_sampling_probs");
        if (sampledProbs && !sampling.allowsSpeculation()) {
            throw ApiException.badRequest("post_sampling_probs is not available with Mirostat or adaptive-p, whose distributions"
                    + " follow each drawn token", "post_sampling_probs");
        }
        LineLimits lines = new LineLimits(limit(body, "n_indent"), limit(body, "t_max_predict_ms"));
        return new GenerationParams(maxTokens, sampling, stop(body), stopTokens(body, tokenizer.vocabSize()), minTokens, logprobs, n, stream,
                includeUsage, format, echo, promptLogprobs, bool(body, "return_token_ids"), sampledProbs, lines,
                bool(body, "include_stop_str_in_output"), contextShift(body, shift));
    }

    /** llama-server's n_keep (-1: the prompt) and n_discard (0: half), which matter only where the server shifts. */
    private static ContextShift contextShift(ObjectNode body, ContextShift server) {
        int keep = present(body, "n_keep") ? intIn(body, "n_keep", -1, Integer.MAX_VALUE) : server.keep();
        int discard = present(body, "n_discard") ? intIn(body, "n_discard", 0, Integer.MAX_VALUE) : server.discard();
        return server.enabled() ? ContextShift.keeping(keep, discard) : ContextShift.NONE;
    }

    /**
     * Requests whose answer would silently differ from what they ask for: the legacy
     * {@code functions} (tools replace them), tools outside chat, an echoed chat prompt, best-of
     * ranking. Empty lists, echo false and best_of 1 are what every answer already satisfies.
     */
    private static void refuseUnsupported(ObjectNode body, boolean chat) {
        for (String key : chat ? new String[]{"functions"} : new String[]{"tools", "functions"}) {
            if (present(body, key) && !(body.get(key).isArray() && body.get(key).isEmpty())) {
                throw ApiException.badRequest(key + " are not supported " + (chat ? "(use tools)" : "by completions (use chat)"), key);
            }
        }
        // The legacy completion fields that change the answer's shape.
        if (chat && bool(body, "echo")) {
            throw ApiException.badRequest("echo is supported by completions, not chat completions", "echo");
        }
        if (present(body, "best_of") && !(body.get("best_of").isIntegralNumber() && body.get("best_of").asInt() == 1)) {
            throw ApiException.badRequest("best_of other than 1 is not supported by this server", "best_of");
        }
        if (chat && present(body, "suffix")) {
            throw ApiException.badRequest("suffix is supported by completions, not chat completions", "suffix");
        }
        if (present(body, "suffix") && bool(body, "echo")) {
            throw ApiException.badRequest("echo cannot be used with suffix", "suffix");
        }
    }

    /**
     * {@code response_format}: {"type": "text"}, {"type": "json_object"}, or {"type": "json_schema",
     * "json_schema": {"name", "schema", "strict"}}; a schema the sampler cannot enforce is a 400.
     */
    private static OutputFormat format(ObjectNode body) {
        if (!present(body, "response_format")) {
            return OutputFormat.TEXT;
        }
        JsonNode format = body.get("response_format");
        JsonNode type = format.path("type");
        return switch (type.isTextual() ? type.asText() : "") {
            case "text" -> OutputFormat.TEXT;
            case "json_object" -> OutputFormat.JSON_OBJECT;
            case "json_schema" -> {
                JsonNode schema = format.path("json_schema").path("schema");
                if (schema.isMissingNode() || schema.isNull()) {
                    throw ApiException.badRequest("response_format json_schema needs json_schema.schema", "response_format");
                }
                try {
                    yield OutputFormat.of(JsonSchema.of(schema));
                } catch (TernException e) {
                    throw ApiException.badRequest("response_format: " + e.getMessage(), "response_format");
                }
            }
            default -> throw ApiException.badRequest(
                    "response_format type must be \"text\", \"json_object\" or \"json_schema\"", "response_format");
        };
    }

    /** A structured output asked for the vLLM way, and the parameter that asked. */
    private record Guided(String param, OutputFormat format) {
    }

    /**
     * vLLM's structured outputs: {@code structured_outputs} with one of {@code json} (a schema),
     * {@code regex} (the whole answer matches it), {@code choice} (the answer is one of the
     * strings) or {@code grammar} (GBNF), or the older {@code guided_json}, {@code guided_regex},
     * {@code guided_choice}, {@code guided_grammar}; and llama.cpp's {@code grammar} (GBNF). At
     * most one; null for none.
     */
    private static Guided guided(ObjectNode body) {
        List<String> params = new ArrayList<>();
        List<JsonNode> values = new ArrayList<>();
        for (String field : new String[]{"guided_json", "guided_regex", "guided_choice", "guided_grammar", "grammar"}) {
            if (present(body, field)) {
                params.add(field);
                values.add(body.get(field));
            }
        }
        if (present(body, "structured_outputs")) {
            JsonNode so = body.get("structured_outputs");
            if (!so.isObject()) {
                throw ApiException.badRequest("structured_outputs must be an object", "structured_outputs");
            }
            for (Map.Entry<String, JsonNode> e : so.properties()) {
                if (e.getValue().isNull()) {
                    continue;
                }
                if (!List.of("json", "regex", "choice", "grammar").contains(e.getKey())) {
                    throw ApiException.badRequest("structured_outputs." + e.getKey() + " is not supported (json, regex, choice or grammar)",
                            "structured_outputs");
                }
                params.add("structured_outputs." + e.getKey());
                values.add(e.getValue());
            }
        }
        if (params.isEmpty()) {
            return null;
        }
        if (params.size() > 1) {
            throw ApiException.badRequest("only one structured output may be asked for, got " + String.join(", ", params), params.get(1));
        }
        String param = params.getFirst();
        JsonNode v = values.getFirst();
        try {
            if (param.endsWith("json")) {
                JsonNode schema = v.isTextual() ? Json.parseOrText(v.asText()) : v;
                if (!schema.isObject()) {
                    throw ApiException.badRequest(param + " must be a JSON schema object", param);
                }
                return new Guided(param, OutputFormat.of(JsonSchema.of(schema)));
            }
            if (param.endsWith("regex") || param.endsWith("grammar")) {
                if (!v.isTextual()) {
                    throw ApiException.badRequest(param + " must be a string", param);
                }
                return new Guided(param, OutputFormat.of(param.endsWith("regex") ? TextPattern.regex(v.asText()) : GbnfGrammar.parse(v.asText())));
            }
            if (!v.isArray() || v.isEmpty()) {
                throw ApiException.badRequest(param + " must be a non-empty array of strings", param);
            }
            List<String> options = new ArrayList<>();
            for (JsonNode o : v) {
                if (!o.isTextual() || o.asText().isEmpty()) {
                    throw ApiException.badRequest(param + " must be a non-empty array of non-empty strings", param);
                }
                options.add(o.asText());
            }
            return new Guided(param, OutputFormat.of(TextPattern.choice(options)));
        } catch (TernException e) {
            throw ApiException.badRequest(param + ": " + e.getMessage(), param);
        }
    }

    /** OpenAI's logit_bias: token ids (as JSON object keys) to a bias in [-100, 100]. */
    /**
     * OpenAI's {@code logit_bias} (token id → bias in [-100, 100]), and llama-server's forms: an
     * array of [token id or text, bias] pairs, a text key (its tokens each get the bias), and
     * {@code false} as the bias to ban the token.
     */
    private static Map<Integer, Float> logitBias(ObjectNode body, Tokenizer tokenizer) {
        if (!present(body, "logit_bias")) {
            return Map.of();
        }
        JsonNode b = body.get("logit_bias");
        Map<Integer, Float> out = new HashMap<>();
        if (b.isObject()) {
            for (Map.Entry<String, JsonNode> e : b.properties()) {
                String key = e.getKey();
                biasOf(key.matches("-?[0-9]+") ? JsonNodeFactory.instance.numberNode(new BigInteger(key))
                        : JsonNodeFactory.instance.textNode(key), e.getValue(), tokenizer, out);
            }
        } else if (b.isArray()) {
            for (JsonNode pair : b) {
                if (!pair.isArray() || pair.size() != 2) {
                    throw ApiException.badRequest("logit_bias as an array holds [token id or text, bias] pairs", "logit_bias");
                }
                biasOf(pair.get(0), pair.get(1), tokenizer, out);
            }
        } else {
            throw ApiException.badRequest("logit_bias must be an object of token ids to numbers", "logit_bias");
        }
        return out;
    }

    private static void biasOf(JsonNode token, JsonNode value, Tokenizer tokenizer, Map<Integer, Float> out) {
        float bias;
        if (value.isBoolean() && !value.asBoolean()) {
            bias = SamplerConfig.NEVER;
        } else if (value.isNumber() && value.asDouble() >= -100 && value.asDouble() <= 100) {
            bias = (float) value.asDouble();
        } else {
            throw ApiException.badRequest("logit_bias values must be numbers in [-100, 100] (or false: never)", "logit_bias");
        }
        int vocab = tokenizer.vocabSize();
        if (token.isTextual()) {
            for (int t : tokenizer.encode(token.asText(), false, false)) {
                out.put(t, bias);
            }
        } else if (token.isIntegralNumber() && token.canConvertToInt() && token.asInt() >= 0 && token.asInt() < vocab) {
            out.put(token.asInt(), bias);
        } else {
            throw ApiException.badRequest("logit_bias keys must be token ids below " + vocab + " or texts, got '" + token + "'",
                    "logit_bias");
        }
    }

    private static List<String> stop(ObjectNode body) {
        List<String> out = new ArrayList<>();
        if (!present(body, "stop")) {
            return out;
        }
        JsonNode s = body.get("stop");
        if (s.isTextual()) {
            out.add(s.asText());
        } else if (s.isArray() && s.size() <= 4) {
            for (JsonNode e : s) {
                if (!e.isTextual()) {
                    throw ApiException.badRequest("stop must be a string or an array of up to 4 strings", "stop");
                }
                out.add(e.asText());
            }
        } else {
            throw ApiException.badRequest("stop must be a string or an array of up to 4 strings", "stop");
        }
        out.removeIf(String::isEmpty);
        return out;
    }

    /** vLLM's stop_token_ids: an array of token ids. */
    private static int[] stopTokens(ObjectNode body, int vocab) {
        if (!present(body, "stop_token_ids")) {
            return new int[0];
        }
        JsonNode ids = body.get("stop_token_ids");
        String problem = "stop_token_ids must be an array of token ids below " + vocab;
        if (!ids.isArray()) {
            throw ApiException.badRequest(problem, "stop_token_ids");
        }
        return Json.tokenIds(ids, vocab, problem, "stop_token_ids");
    }

    static boolean present(ObjectNode body, String key) {
        return body.hasNonNull(key);
    }

    private static boolean bool(ObjectNode body, String key) {
        if (!present(body, key)) {
            return false;
        }
        if (!body.get(key).isBoolean()) {
            throw ApiException.badRequest(key + " must be a boolean", key);
        }
        return body.get(key).asBoolean();
    }

    /** llama-server's fields for llama.cpp's other samplers, each off unless given. */
    private static AdvancedSampling advanced(ObjectNode body) {
        AdvancedSampling d = AdvancedSampling.NONE;
        return new AdvancedSampling(
                floatIn(body, "typical_p", 0, 1, d.typicalP()),
                floatIn(body, "top_n_sigma", -1, 100, d.topNSigma()),
                floatIn(body, "xtc_probability", 0, 1, d.xtcProbability()),
                floatIn(body, "xtc_threshold", 0, 1, d.xtcThreshold()),
                floatIn(body, "dynatemp_range", 0, 10, d.dynatempRange()),
                floatIn(body, "dynatemp_exponent", 0, 10, d.dynatempExponent()),
                present(body, "mirostat") ? intIn(body, "mirostat", 0, 2) : d.mirostat(),
                floatIn(body, "mirostat_tau", 0, 100, d.mirostatTau()),
                floatIn(body, "mirostat_eta", 0, 1, d.mirostatEta()),
                dry(body),
                present(body, "min_keep") ? intIn(body, "min_keep", 0, Integer.MAX_VALUE) : d.minKeep(),
                order(body),
                floatIn(body, "adaptive_target", -1, 1, d.adaptiveTarget()),
                floatIn(body, "adaptive_decay", 0, 0.99f, d.adaptiveDecay()));
    }

    /** llama-server's {@code samplers}: an array of names, or a string of letters. */
    private static List<SamplerStage> order(ObjectNode body) {
        if (!present(body, "samplers")) {
            return SamplerStage.DEFAULT;
        }
        JsonNode s = body.get("samplers");
        try {
            if (s.isTextual()) {
                return SamplerStage.parseLetters(s.asText());
            }
            if (!s.isArray()) {
                throw ApiException.badRequest("samplers must be an array of sampler names or a string of their letters", "samplers");
            }
            List<SamplerStage> order = new ArrayList<>();
            for (JsonNode n : s) {
                if (!n.isTextual()) {
                    throw ApiException.badRequest("samplers must be an array of sampler names or a string of their letters", "samplers");
                }
                order.add(SamplerStage.named(n.asText()));
            }
            return SamplerStage.distinct(order);
        } catch (TernException e) {
            throw ApiException.badRequest(e.getMessage(), "samplers");
        }
    }

    /** llama-server's DRY fields: a base below 1 means its default, the breakers a non-empty array of strings. */
    private static DrySampling dry(ObjectNode body) {
        DrySampling d = DrySampling.NONE;
        float base = floatIn(body, "dry_base", -Float.MAX_VALUE, Float.MAX_VALUE, d.base());
        List<String> breakers = d.breakers();
        if (present(body, "dry_sequence_breakers")) {
            JsonNode b = body.get("dry_sequence_breakers");
            if (!b.isArray() || b.isEmpty()) {
                throw ApiException.badRequest("dry_sequence_breakers must be a non-empty array of strings", "dry_sequence_breakers");
            }
            breakers = new ArrayList<>();
            for (JsonNode s : b) {
                if (!s.isTextual()) {
                    throw ApiException.badRequest("dry_sequence_breakers must be a non-empty array of strings", "dry_sequence_breakers");
                }
                breakers.add(s.asText());
            }
        }
        return new DrySampling(floatIn(body, "dry_multiplier", 0, Float.MAX_VALUE, d.multiplier()), base < 1 ? d.base() : base,
                present(body, "dry_allowed_length") ? intIn(body, "dry_allowed_length", 0, Integer.MAX_VALUE) : d.allowedLength(),
                present(body, "dry_penalty_last_n") ? intIn(body, "dry_penalty_last_n", 0, Integer.MAX_VALUE) : d.penaltyLastN(),
                breakers);
    }

    /** The sampling settings under llama-server's names: what /props reports as the defaults. */
    ObjectNode settings() {
        return settings(sampling, maxTokens, logprobs, stop, shift).put("stream", stream);
    }

    /** llama-server's params object: a request's settings as /props (its defaults) and /slots show them. */
    static ObjectNode settings(SamplerConfig s, int maxTokens, int logprobs, List<String> stop, ContextShift shift) {
        AdvancedSampling a = s.advanced();
        DrySampling d = a.dry();
        ObjectNode o = Json.object();
        o.put("n_predict", maxTokens).put("n_keep", shift.keep()).put("n_discard", shift.discard())
                .put("temperature", s.temperature()).put("dynatemp_range", a.dynatempRange())
                .put("dynatemp_exponent", a.dynatempExponent()).put("top_k", s.topK()).put("top_p", s.topP())
                .put("min_p", s.minP()).put("top_n_sigma", a.topNSigma()).put("xtc_probability", a.xtcProbability())
                .put("xtc_threshold", a.xtcThreshold()).put("typical_p", a.typicalP()).put("repeat_last_n", s.repeatLastN())
                .put("repeat_penalty", s.repeatPenalty()).put("presence_penalty", s.presencePenalty())
                .put("frequency_penalty", s.frequencyPenalty()).put("dry_multiplier", d.multiplier()).put("dry_base", d.base())
                .put("dry_allowed_length", d.allowedLength()).put("dry_penalty_last_n", d.penaltyLastN())
                .put("mirostat", a.mirostat()).put("mirostat_tau", a.mirostatTau()).put("mirostat_eta", a.mirostatEta())
                .put("adaptive_target", a.adaptiveTarget()).put("adaptive_decay", a.adaptiveDecay())
                .put("n_probs", Math.max(logprobs, 0)).put("min_keep", a.minKeep());
        ArrayNode stages = o.putArray("samplers");
        a.order().forEach(stage -> stages.add(stage.canonical()));
        d.breakers().forEach(o.putArray("dry_sequence_breakers")::add);
        stop.forEach(o.putArray("stop")::add);
        return o;
    }

    /** One of llama-server's code-completion limits: an integer, where 0 or less (or none) means no limit, as there. */
    private static int limit(ObjectNode body, String key) {
        if (!present(body, key)) {
            return 0;
        }
        JsonNode v = body.get(key);
        if (!v.isIntegralNumber() || !v.canConvertToInt()) {
            throw ApiException.badRequest(key + " must be an integer (0: no limit)", key);
        }
        return Math.max(0, v.asInt());
    }

    private static int intIn(ObjectNode body, String key, int min, int max) {
        JsonNode v = body.get(key);
        if (!v.isIntegralNumber() || !v.canConvertToInt() || v.asInt() < min || v.asInt() > max) {
            throw ApiException.badRequest(key + " must be an integer in [" + min + ", " + max + "]", key);
        }
        return v.asInt();
    }

    private static float floatIn(ObjectNode body, String key, float min, float max, float dflt) {
        if (!present(body, key)) {
            return dflt;
        }
        JsonNode v = body.get(key);
        if (!v.isNumber() || !(v.asDouble() >= min && v.asDouble() <= max)) {
            throw ApiException.badRequest(key + " must be a number in [" + min + ", " + max + "]", key);
        }
        return (float) v.asDouble();
    }
}
