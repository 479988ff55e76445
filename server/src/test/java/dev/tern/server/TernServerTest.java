package dev.tern.server;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.errors.BadRequestException;
import com.openai.errors.NotFoundException;
import com.openai.errors.RateLimitException;
import com.openai.errors.UnauthorizedException;
import com.openai.core.JsonValue;
import com.openai.core.http.StreamResponse;
import com.openai.models.ResponseFormatJsonObject;
import com.openai.models.ResponseFormatJsonSchema;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import com.openai.models.chat.completions.ChatCompletionStreamOptions;
import com.openai.models.completions.Completion;
import com.openai.models.completions.CompletionCreateParams;
import dev.tern.Tern;
import dev.tern.chat.ChatMessage;
import dev.tern.engine.GenerationResult;
import dev.tern.engine.Generator;
import dev.tern.engine.ContextShift;
import dev.tern.engine.SchedulerConfig;
import dev.tern.engine.Session;
import dev.tern.kv.KVCacheType;
import dev.tern.sampling.AdvancedSampling;
import dev.tern.sampling.DrySampling;
import dev.tern.sampling.Sampler;
import dev.tern.sampling.SamplerStage;
import dev.tern.sampling.SamplerConfig;
import dev.tern.spec.Speculation;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A Tern server on a free loopback port, spoken to by the official OpenAI Java SDK (and plain
 * HTTP for what the SDK cannot send). Greedy outputs are checked against the single-sequence
 * {@link Generator}.
 */
class TernServerTest {
    private static final String MODEL = LoopbackServer.MODEL;
    private static final String KEY = "test-key";
    private static LoopbackServer fixture;
    private static Tern tern;
    private static TernServer server;
    private static OpenAIClient client;
    private static HttpClient http;

    @BeforeAll
    static void start() {
        fixture = LoopbackServer.start(new Tern.Options(2, 256, 40, KVCacheType.F32),
                new ServerConfig("127.0.0.1", 0, KEY, MODEL, 64 * 1024, SchedulerConfig.defaults(), null, true, Map.of(), true,
                        ContextShift.NONE, null));
        tern = fixture.tern();
        server = fixture.server();
        client = fixture.client();
        http = fixture.http();
    }

    @AfterAll
    static void stop() {
        fixture.close();
    }

    private static GenerationResult solo(int[] prompt, int maxTokens) {
        try (Session s = tern.newSession()) {
            return Generator.generate(s, tern.tokenizer(), prompt, new Sampler(SamplerConfig.greedy(), tern.tokenizer().vocabSize()),
                    maxTokens, (id, t) -> true);
        }
    }

    private static GenerationResult solo(int[] prompt, int maxTokens, SamplerConfig config) {
        try (Session s = tern.newSession()) {
            return Generator.generate(s, tern.tokenizer(), prompt, new Sampler(config, tern.tokenizer(), null),
                    maxTokens, (id, t) -> true);
        }
    }

    private static int[] chatPrompt(String user) {
        String text = tern.chatTemplate().render(List.of(new ChatMessage("user", user)), true);
        return tern.tokenizer().encode(text, true, true);
    }

    private static HttpResponse<String> post(String path, String body, boolean withKey) throws Exception {
        return fixture.post(path, body, withKey);
    }

    private static JsonNode errorOf(HttpResponse<String> r) throws Exception {
        JsonNode e = Json.MAPPER.readTree(r.body()).get("error");
        assertTrue(e != null && e.get("message").isTextual() && e.has("type") && e.has("code") && e.has("param"), r.body());
        return e;
    }

    @Test
    void chatCompletionMatchesTheGenerator() {
        ChatCompletion c = client.chat().completions().create(ChatCompletionCreateParams.builder().model(MODEL)
                .addUserMessage("Tell me a story").maxCompletionTokens(24).temperature(0).logprobs(true).topLogprobs(3).build());
        GenerationResult want = solo(chatPrompt("Tell me a story"), 24);
        var choice = c.choices().getFirst();
        assertEquals(want.text(), choice.message().content().orElseThrow());
        assertEquals(ChatCompletion.Choice.FinishReason.LENGTH, choice.finishReason());
        var usage = c.usage().orElseThrow();
        assertEquals(want.promptTokens().length, usage.promptTokens());
        assertEquals(24, usage.completionTokens());
        var lp = choice.logprobs().orElseThrow().content().orElseThrow();
        assertEquals(24, lp.size());
        // Greedy: the chosen token is the most likely one.
        assertEquals(lp.getFirst().topLogprobs().getFirst().logprob(), lp.getFirst().logprob(), 1e-6);
        assertTrue(lp.getFirst().logprob() <= 0);
    }

    @Test
    void streamedChatEqualsTheWholeAnswerAndReportsUsage() {
        var params = ChatCompletionCreateParams.builder().model(MODEL).addUserMessage("Once upon a time")
                .maxCompletionTokens(30).temperature(0).logprobs(true).topLogprobs(2)
                .streamOptions(ChatCompletionStreamOptions.builder().includeUsage(true).build()).build();
        StringBuilder text = new StringBuilder();
        StringBuilder logprobTokens = new StringBuilder();
        List<String> finishes = new ArrayList<>();
        long[] completionTokens = {-1};
        try (StreamResponse<ChatCompletionChunk> s = client.chat().completions().createStreaming(params)) {
            s.stream().forEach(chunk -> {
                chunk.usage().ifPresent(u -> completionTokens[0] = u.completionTokens());
                for (var ch : chunk.choices()) {
                    ch.delta().content().ifPresent(text::append);
                    ch.logprobs().flatMap(l -> l.content()).ifPresent(l -> l.forEach(t -> logprobTokens.append(t.token())));
                    ch.finishReason().ifPresent(f -> finishes.add(f.asString()));
                }
            });
        }
        assertEquals(solo(chatPrompt("Once upon a time"), 30).text(), text.toString());
        assertEquals(List.of("length"), finishes);
        assertEquals(30, completionTokens[0]);
        assertEquals(text.toString(), logprobTokens.toString(), "one logprob entry per token, in order");
    }

    @Test
    void completionWithLegacyLogprobsAndStop() throws Exception {
        int[] prompt = tern.tokenizer().encode("Once upon a time", true, true);
        String full = solo(prompt, 40).text();
        Completion c = client.completions().create(CompletionCreateParams.builder().model(MODEL).prompt("Once upon a time")
                .maxTokens(40).temperature(0).logprobs(2).build());
        assertEquals(full, c.choices().getFirst().text());
        var lp = c.choices().getFirst().logprobs().orElseThrow();
        assertEquals(40, lp.tokenLogprobs().orElseThrow().size());
        assertEquals(String.join("", lp.tokens().orElseThrow()), full);

        String stop = full.substring(15, 19);
        Completion stopped = client.completions().create(CompletionCreateParams.builder().model(MODEL).prompt("Once upon a time")
                .maxTokens(40).temperature(0).stop(stop).build());
        assertEquals(full.substring(0, full.indexOf(stop)), stopped.choices().getFirst().text());
        assertEquals("stop", stopped.choices().getFirst().finishReason().asString());
        // vLLM's stop_reason names the stop string that matched, whole and streamed; an end by length has none.
        String stops = ", \"temperature\": 0, \"stop\": [\"zzz\", " + Json.MAPPER.writeValueAsString(stop) + "]";
        assertEquals(stop, completion("Once upon a time", 40, stops).path("choices").path(0).path("stop_reason").asText());
        assertEquals(stop, Json.MAPPER.readTree(lastData(post("/v1/completions", "{\"model\": \"" + MODEL
                + "\", \"prompt\": \"Once upon a time\", \"max_tokens\": 40, \"stream\": true" + stops + "}", true).body()))
                .path("choices").path(0).path("stop_reason").asText());
        assertFalse(completion("Once upon a time", 5, ", \"temperature\": 0").path("choices").path(0).has("stop_reason"));
        // vLLM's include_stop_str_in_output: the text runs to the end of the stop string, whole and streamed.
        String with = stops + ", \"include_stop_str_in_output\": true";
        String upTo = full.substring(0, full.indexOf(stop) + stop.length());
        assertEquals(upTo, completion("Once upon a time", 40, with).path("choices").path(0).path("text").asText());
        StringBuilder streamed = new StringBuilder();
        post("/v1/completions", "{\"model\": \"" + MODEL + "\", \"prompt\": \"Once upon a time\", \"max_tokens\": 40, \"stream\": true"
                + with + "}", true).body().lines().filter(l -> l.startsWith("data: {")).forEach(l -> {
                    try {
                        streamed.append(Json.MAPPER.readTree(l.substring(6)).path("choices").path(0).path("text").asText());
                    } catch (Exception e) {
                        throw new IllegalStateException(l, e);
                    }
                });
        assertEquals(upTo, streamed.toString());
    }

    /** The last data line of a stream but [DONE]. */
    private static String lastData(String sse) {
        List<String> data = sse.lines().filter(l -> l.startsWith("data: ") && !l.equals("data: [DONE]")).toList();
        return data.getLast().substring("data: ".length());
    }

    @Test
    void severalPromptsGetTheirChoicesInOrder() {
        List<String> texts = List.of("Once upon a time", "The little dog");
        Completion c = client.completions().create(CompletionCreateParams.builder().model(MODEL)
                .promptOfArrayOfStrings(texts).maxTokens(12).temperature(0).n(2).build());
        assertEquals(4, c.choices().size());
        int promptTokens = 0;
        for (int k = 0; k < 4; k++) {
            int[] prompt = tern.tokenizer().encode(texts.get(k / 2), true, true);
            assertEquals(k, c.choices().get(k).index());
            assertEquals(solo(prompt, 12).text(), c.choices().get(k).text(), "choice " + k);
            promptTokens += k % 2 == 0 ? prompt.length : 0;
        }
        var usage = c.usage().orElseThrow();
        assertEquals(promptTokens, usage.promptTokens(), "each prompt counted once");
        assertEquals(48, usage.completionTokens());

        long[] ids = Arrays.stream(tern.tokenizer().encode("The little dog", true, true)).asLongStream().toArray();
        Completion byIds = client.completions().create(CompletionCreateParams.builder().model(MODEL)
                .promptOfArrayOfTokenArrays(List.of(Arrays.stream(ids).boxed().toList())).maxTokens(12).temperature(0).build());
        assertEquals(c.choices().get(2).text(), byIds.choices().getFirst().text());
    }

    @Test
    void logitBiasReachesTheSampler() throws Exception {
        int[] prompt = tern.tokenizer().encode("Once upon a time", true, true);
        int first = solo(prompt, 1).tokens()[0];
        String want = solo(prompt, 12, SamplerConfig.greedy().withLogitBias(Map.of(first, -100f))).text();
        assertFalse(want.equals(solo(prompt, 12).text()), "banning the greedy first token changes the output");
        Completion got = client.completions().create(CompletionCreateParams.builder().model(MODEL).prompt("Once upon a time")
                .maxTokens(12).temperature(0).logitBias(CompletionCreateParams.LogitBias.builder()
                        .putAdditionalProperty(String.valueOf(first), JsonValue.from(-100)).build()).build());
        assertEquals(want, got.choices().getFirst().text());

        // llama-server's forms: [id, false] bans; a text's tokens each get the bias, as a key or in a pair.
        String text = tern.tokenizer().decode(new int[]{first});
        Map<Integer, Float> never = new HashMap<>();
        for (int t : tern.tokenizer().encode(text, false, false)) {
            never.put(t, -1e30f);
        }
        String banText = solo(prompt, 12, SamplerConfig.greedy().withLogitBias(never)).text();
        for (String[] form : new String[][]{{"[[" + first + ", false]]", want}, {"{\"" + first + "\": false}", want},
                {"[[" + Json.MAPPER.valueToTree(text) + ", false]]", banText}, {"{" + Json.MAPPER.valueToTree(text) + ": false}", banText}}) {
            HttpResponse<String> r = post("/completion", "{\"prompt\": \"Once upon a time\", \"n_predict\": 12, \"temperature\": 0,"
                    + " \"logit_bias\": " + form[0] + "}", true);
            assertEquals(200, r.statusCode(), r.body());
            assertEquals(form[1], Json.MAPPER.readTree(r.body()).path("content").asText(), form[0]);
        }
    }

    @Test
    void jsonObjectResponseFormatGivesOneJsonObject() throws Exception {
        ChatCompletionCreateParams.LogitBias bias = Biases.quoteAndBrace(tern.tokenizer());
        ObjectMapper strict = new ObjectMapper().enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);
        for (long seed = 0; seed < 3; seed++) {
            ChatCompletion c = client.chat().completions().create(ChatCompletionCreateParams.builder().model(MODEL)
                    .addUserMessage("Describe a cat as JSON").maxCompletionTokens(200).seed(seed).logitBias(bias)
                    .responseFormat(ResponseFormatJsonObject.builder().build()).build());
            String content = c.choices().getFirst().message().content().orElseThrow();
            assertEquals(ChatCompletion.Choice.FinishReason.STOP, c.choices().getFirst().finishReason(), content);
            assertTrue(strict.readTree(content).isObject(), content);
        }
    }

    @Test
    void jsonSchemaResponseFormatGivesAValueOfTheSchema() throws Exception {
        ChatCompletionCreateParams.LogitBias bias = Biases.quoteAndBrace(tern.tokenizer());
        Map<String, Object> schema = Map.of("type", "object", "additionalProperties", false, "required", List.of("name", "age"),
                "properties", Map.of("name", Map.of("type", "string"), "age", Map.of("type", "integer"),
                        "kind", Map.of("enum", List.of("cat", "dog"))));
        ObjectMapper strict = new ObjectMapper().enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);
        for (long seed = 0; seed < 3; seed++) {
            ChatCompletion c = client.chat().completions().create(ChatCompletionCreateParams.builder().model(MODEL)
                    .addUserMessage("Describe a cat as JSON").maxCompletionTokens(300).seed(seed).logitBias(bias)
                    .responseFormat(ResponseFormatJsonSchema.builder().jsonSchema(ResponseFormatJsonSchema.JsonSchema.builder()
                            .name("animal").schema(JsonValue.from(schema)).build()).build()).build());
            String content = c.choices().getFirst().message().content().orElseThrow();
            assertEquals(ChatCompletion.Choice.FinishReason.STOP, c.choices().getFirst().finishReason(), content);
            JsonNode got = strict.readTree(content);
            assertTrue(got.path("name").isTextual() && got.path("age").isIntegralNumber(), content);
            got.fieldNames().forEachRemaining(k -> assertTrue(List.of("name", "age", "kind").contains(k), content));
            assertTrue(!got.has("kind") || List.of("cat", "dog").contains(got.get("kind").asText()), content);
        }
    }

    /**
     * vLLM's structured outputs (a choice, a regex, a schema, a grammar, in the older guided_* fields
     * and in structured_outputs) and llama.cpp's GBNF grammar field.
     */
    @Test
    void structuredOutputsTheVllmWay() throws Exception {
        String chat = "{\"model\": \"" + MODEL + "\", \"messages\": [{\"role\": \"user\", \"content\": \"Is the cat happy?\"}], "
                + "\"max_tokens\": 40, \"seed\": %d, %s}";
        List<String> choices = List.of("yes", "no", "maybe so");
        for (int seed = 0; seed < 3; seed++) {
            for (String field : new String[]{"\"guided_choice\": [\"yes\", \"no\", \"maybe so\"]",
                    "\"structured_outputs\": {\"choice\": [\"yes\", \"no\", \"maybe so\"]}"}) {
                assertTrue(choices.contains(content(post("/v1/chat/completions", chat.formatted(seed, field), true))), field);
            }
            for (String field : new String[]{"\"guided_regex\": \"[0-9]{3}-[a-z]{2,4}\"", "\"structured_outputs\": {\"regex\": \"(The|A) (cat|dog)\"}"}) {
                String content = content(post("/v1/chat/completions", chat.formatted(seed, field), true));
                assertTrue(content.matches("[0-9]{3}-[a-z]{2,4}") || content.matches("(The|A) (cat|dog)"), field + ": " + content);
            }
            for (String field : new String[]{"\"grammar\": \"root ::= (\\\"yes\\\" | \\\"no\\\") \\\".\\\"\"",
                    "\"structured_outputs\": {\"grammar\": \"root ::= [a-c]{2} tail\\ntail ::= \\\"!\\\" | [a-c]{2} \\\"!\\\"\"}"}) {
                String content = content(post("/v1/chat/completions", chat.formatted(seed, field), true));
                assertTrue(content.matches("(yes|no)\\.") || content.matches("([a-c]{2})+!"), field + ": " + content);
            }
            String json = content(post("/v1/chat/completions", chat.formatted(seed,
                    "\"guided_json\": {\"type\": \"object\", \"properties\": {\"happy\": {\"type\": \"boolean\"}}, \"required\": [\"happy\"]}"), true));
            assertTrue(Json.MAPPER.readTree(json).path("happy").isBoolean(), json);
        }
        String[][] bad = {
                {"\"guided_regex\": \"(?=a)b\"", "guided_regex"},
                {"\"guided_choice\": []", "guided_choice"},
                {"\"guided_choice\": [\"a\"], \"guided_regex\": \"a\"", "guided_choice"},
                {"\"guided_choice\": [\"a\"], \"response_format\": {\"type\": \"json_object\"}", "guided_choice"},
                {"\"structured_outputs\": {\"structural_tag\": \"x\"}", "structured_outputs"},
                {"\"grammar\": \"root ::= root \\\"a\\\"\"", "grammar"},
                {"\"guided_grammar\": \"item ::= \\\"a\\\"\"", "guided_grammar"},
        };
        for (String[] b : bad) {
            HttpResponse<String> r = post("/v1/chat/completions", chat.formatted(0, b[0]), true);
            assertEquals(400, r.statusCode(), r.body());
            assertEquals(b[1], errorOf(r).get("param").asText(), r.body());
        }
    }

    private static String content(HttpResponse<String> r) throws Exception {
        assertEquals(200, r.statusCode(), r.body());
        JsonNode choice = Json.MAPPER.readTree(r.body()).path("choices").path(0);
        assertEquals("stop", choice.path("finish_reason").asText(), r.body());
        return choice.path("message").path("content").asText();
    }

    @Test
    void nChoicesAndPenaltiesReachTheSampler() {
        ChatCompletion c = client.chat().completions().create(ChatCompletionCreateParams.builder().model(MODEL)
                .addUserMessage("A cat").maxCompletionTokens(10).temperature(0).n(3).build());
        assertEquals(3, c.choices().size());
        String first = c.choices().getFirst().message().content().orElseThrow();
        for (int i = 0; i < 3; i++) {
            assertEquals(i, c.choices().get(i).index());
            assertEquals(first, c.choices().get(i).message().content().orElseThrow(), "greedy choices agree");
        }
        assertEquals(30, c.usage().orElseThrow().completionTokens());

        int[] prompt = tern.tokenizer().encode("The little dog", true, true);
        SamplerConfig penalised = new SamplerConfig(0f, 0, 1f, 0f, 1f, 64, 1.5f, 0.5f, 0);
        String want = solo(prompt, 40, penalised).text();
        assertFalse(want.equals(solo(prompt, 40).text()), "the penalties change this output");
        Completion got = client.completions().create(CompletionCreateParams.builder().model(MODEL).prompt("The little dog")
                .maxTokens(40).temperature(0).frequencyPenalty(1.5).presencePenalty(0.5).build());
        assertEquals(want, got.choices().getFirst().text());
    }

    /** A completion's first choice, asked for over HTTP with extra body fields (the SDK knows only OpenAI's). */
    private static JsonNode completion(String prompt, int maxTokens, String extra) throws Exception {
        HttpResponse<String> r = post("/v1/completions", "{\"model\": \"" + MODEL + "\", \"prompt\": \"" + prompt
                + "\", \"max_tokens\": " + maxTokens + extra + "}", true);
        assertEquals(200, r.statusCode(), r.body());
        return Json.MAPPER.readTree(r.body());
    }

    /**
     * vLLM's and llama.cpp's sampling extensions reach the sampler: top_k 1 and min_p 1 keep only
     * the likeliest token, so they sample the greedy text at temperature 1; a repetition penalty
     * gives what the generator gives with it; ignore_eos runs to max_tokens past the end.
     */
    @Test
    void samplingExtensionsOfVllmAndLlamaCpp() throws Exception {
        int[] prompt = tern.tokenizer().encode("Once upon a time", true, true);
        String greedy = solo(prompt, 40).text();
        for (String keepOne : new String[]{", \"top_k\": 1", ", \"min_p\": 1"}) {
            JsonNode c = completion("Once upon a time", 40, ", \"temperature\": 1, \"seed\": 7" + keepOne);
            assertEquals(greedy, c.path("choices").path(0).path("text").asText(), keepOne);
        }
        assertFalse(greedy.equals(completion("Once upon a time", 40, ", \"temperature\": 1, \"seed\": 7")
                .path("choices").path(0).path("text").asText()), "sampling at temperature 1 alone differs from greedy");

        SamplerConfig penalised = new SamplerConfig(0f, 0, 1f, 0f, 1.3f, 16, 0f, 0f, 0);
        String want = solo(prompt, 40, penalised).text();
        assertFalse(want.equals(greedy), "the penalty changes this output");
        for (String name : new String[]{"repetition_penalty", "repeat_penalty"}) {
            JsonNode c = completion("Once upon a time", 40, ", \"temperature\": 0, \"repeat_last_n\": 16, \"" + name + "\": 1.3");
            assertEquals(want, c.path("choices").path(0).path("text").asText(), name);
        }

        // The end-of-generation token, pushed to the top by a logit bias, ends the answer at once, unless ignore_eos bans it.
        int eos = 0;
        while (!tern.tokenizer().isEndOfGeneration(eos)) {
            eos++;
        }
        String toEnd = ", \"temperature\": 0, \"logit_bias\": {\"" + eos + "\": 100}";
        JsonNode ended = completion("Once upon a time", 20, toEnd);
        assertEquals("stop", ended.path("choices").path(0).path("finish_reason").asText());
        assertEquals(0, ended.path("usage").path("completion_tokens").asInt());
        JsonNode ignored = completion("Once upon a time", 20, toEnd + ", \"ignore_eos\": true");
        assertEquals("length", ignored.path("choices").path(0).path("finish_reason").asText());
        assertEquals(20, ignored.path("usage").path("completion_tokens").asInt());
        // vLLM's min_tokens holds the end back that long; its stop_token_ids end where the token comes.
        JsonNode held = completion("Once upon a time", 20, toEnd + ", \"min_tokens\": 6");
        assertEquals("stop", held.path("choices").path(0).path("finish_reason").asText());
        assertEquals(6, held.path("usage").path("completion_tokens").asInt());
        int[] tokens = solo(prompt, 40).tokens();
        int k = 2;
        while (contains(tokens, k, tokens[k])) {
            k++;
        }
        JsonNode cut = completion("Once upon a time", 40, ", \"temperature\": 0, \"stop_token_ids\": [" + tokens[k] + "]");
        assertEquals("stop", cut.path("choices").path(0).path("finish_reason").asText());
        assertEquals(solo(prompt, k).text(), cut.path("choices").path(0).path("text").asText(), "the text before the stop token");

        for (String bad : new String[]{", \"top_k\": -2", ", \"min_p\": 1.5", ", \"repetition_penalty\": 0",
                ", \"repeat_penalty\": 1.1, \"repetition_penalty\": 1.1", ", \"ignore_eos\": \"yes\"",
                ", \"max_tokens\": 4, \"min_tokens\": 5", ", \"min_tokens\": -1", ", \"stop_token_ids\": [\"a\"]",
                ", \"stop_token_ids\": [100000]", ", \"stop_token_ids\": 3"}) {
            HttpResponse<String> r = post("/v1/completions", "{\"model\": \"" + MODEL + "\", \"prompt\": \"hi\"" + bad + "}", true);
            assertEquals(400, r.statusCode(), bad);
        }
    }

    /**
     * llama-server's fields for llama.cpp's other samplers reach the sampler: each request's text is
     * what a local generator with the same settings and seed gives, and not the plain draw's; a
     * value out of range is a 400 naming the field.
     */
    @Test
    void llamaCppsOtherSamplersReachTheSampler() throws Exception {
        int[] prompt = tern.tokenizer().encode("Once upon a time", true, true);
        SamplerConfig plain = new SamplerConfig(1f, 0, 1f, 0f, 1f, 64, 0f, 0f, 7);
        String plainText = solo(prompt, 40, plain).text();
        Map<String, AdvancedSampling> cases = Map.of(
                ", \"typical_p\": 0.5", new AdvancedSampling(0.5f, -1f, 0f, 0.1f, 0f, 1f, 0, 5f, 0.1f, DrySampling.NONE, 0, SamplerStage.DEFAULT),
                ", \"top_n_sigma\": 0.5", new AdvancedSampling(1f, 0.5f, 0f, 0.1f, 0f, 1f, 0, 5f, 0.1f, DrySampling.NONE, 0, SamplerStage.DEFAULT),
                ", \"xtc_probability\": 1, \"xtc_threshold\": 0.05", new AdvancedSampling(1f, -1f, 1f, 0.05f, 0f, 1f, 0, 5f, 0.1f, DrySampling.NONE, 0, SamplerStage.DEFAULT),
                ", \"dynatemp_range\": 0.9, \"dynatemp_exponent\": 2", new AdvancedSampling(1f, -1f, 0f, 0.1f, 0.9f, 2f, 0, 5f, 0.1f, DrySampling.NONE, 0, SamplerStage.DEFAULT),
                ", \"mirostat\": 2, \"mirostat_tau\": 2, \"mirostat_eta\": 0.2", new AdvancedSampling(1f, -1f, 0f, 0.1f, 0f, 1f, 2, 2f, 0.2f, DrySampling.NONE, 0, SamplerStage.DEFAULT),
                ", \"dry_multiplier\": 3, \"dry_allowed_length\": 1, \"dry_sequence_breakers\": [\"e\"]",
                AdvancedSampling.NONE.withDry(new DrySampling(3f, 1.75f, 1, 64, List.of("e"))));
        for (Map.Entry<String, AdvancedSampling> e : cases.entrySet()) {
            String want = solo(prompt, 40, plain.withAdvanced(e.getValue())).text();
            assertFalse(want.equals(plainText), e.getKey() + " changes this output");
            JsonNode c = completion("Once upon a time", 40, ", \"temperature\": 1, \"seed\": 7" + e.getKey());
            assertEquals(want, c.path("choices").path(0).path("text").asText(), e.getKey());
        }
        for (String bad : new String[]{"\"typical_p\": 1.5", "\"top_n_sigma\": \"x\"", "\"xtc_probability\": -0.1",
                "\"xtc_threshold\": 2", "\"dynatemp_range\": -1", "\"mirostat\": 3", "\"mirostat_tau\": -1",
                "\"dry_multiplier\": -1", "\"dry_allowed_length\": -1", "\"dry_penalty_last_n\": 1.5",
                "\"dry_sequence_breakers\": []", "\"dry_sequence_breakers\": [1]", "\"samplers\": [\"top_k\", \"foo\"]",
                "\"samplers\": \"kq\"", "\"samplers\": 3", "\"samplers\": [\"top_k\", \"top-k\"]", "\"min_keep\": -1"}) {
            HttpResponse<String> r = post("/v1/completions", "{\"model\": \"" + MODEL + "\", \"prompt\": \"hi\", " + bad + "}", true);
            assertEquals(400, r.statusCode(), bad);
            String field = bad.substring(1, bad.indexOf('"', 1));
            assertEquals(field, Json.MAPPER.readTree(r.body()).path("error").path("param").asText(), bad);
        }
    }

    /**
     * llama-server's n_probs on /completion: completion_probabilities gives each generated token's
     * id, text, bytes and log-probability (the log-softmax of the model's logits, computed here
     * from a session of our own) and the n most likely tokens, the first of them the greedy token;
     * streamed, the pieces carry them one by one.
     */
    @Test
    void completionProbabilitiesAsLlamaServer() throws Exception {
        int[] prompt = tern.tokenizer().encode("Once upon a time", true, true);
        int[] tokens = solo(prompt, 8).tokens();
        double[] want = new double[8];
        try (Session s = tern.newSession()) {
            float[] logits = s.forward(prompt);
            for (int j = 0; j < 8; j++) {
                double max = Double.NEGATIVE_INFINITY;
                for (float l : logits) {
                    max = Math.max(max, l);
                }
                double sum = 0;
                for (float l : logits) {
                    sum += Math.exp(l - max);
                }
                want[j] = logits[tokens[j]] - max - Math.log(sum);
                logits = s.forward(tokens[j]);
            }
        }
        String body = "{\"prompt\": \"Once upon a time\", \"n_predict\": 8, \"temperature\": 0, \"n_probs\": 3";
        HttpResponse<String> r = post("/completion", body + "}", true);
        assertEquals(200, r.statusCode(), r.body());
        JsonNode probs = Json.MAPPER.readTree(r.body()).path("completion_probabilities");
        assertEquals(8, probs.size(), r.body());
        for (int j = 0; j < 8; j++) {
            JsonNode p = probs.get(j);
            assertEquals(tokens[j], p.path("id").asInt(), "token " + j);
            assertEquals(want[j], p.path("logprob").asDouble(), 1e-3, "token " + j);
            assertEquals(tern.tokenizer().decode(new int[]{tokens[j]}).length() > 0, p.path("bytes").size() > 0);
            assertEquals(3, p.path("top_logprobs").size());
            assertEquals(tokens[j], p.path("top_logprobs").get(0).path("id").asInt(), "greedy: the most likely");
        }
        HttpResponse<String> streamed = post("/completion", body + ", \"stream\": true}", true);
        int seen = 0;
        for (String line : streamed.body().split("\n")) {
            if (line.startsWith("data: ")) {
                JsonNode piece = Json.MAPPER.readTree(line.substring(6));
                for (JsonNode p : piece.path("completion_probabilities")) {
                    assertEquals(tokens[seen++], p.path("id").asInt());
                }
            }
        }
        assertEquals(8, seen, streamed.body());
        assertEquals(400, post("/completion", "{\"prompt\": \"a\", \"n_probs\": 21}", true).statusCode());
    }

    /**
     * llama-server's post_sampling_probs: probabilities ({@code prob}, {@code top_probs}) of the
     * distribution each token was drawn from. At top-k 2 and temperature 1 that is the softmax of
     * the two largest logits, computed here from a session of our own along the drawn tokens.
     */
    @Test
    void postSamplingProbabilitiesAsLlamaServer() throws Exception {
        String body = "{\"prompt\": \"Once upon a time\", \"n_predict\": 6, \"temperature\": 1, \"top_k\": 2, \"top_p\": 1, "
                + "\"min_p\": 0, \"seed\": 5, \"n_probs\": 4, \"post_sampling_probs\": true, \"return_tokens\": true}";
        HttpResponse<String> r = post("/completion", body, true);
        assertEquals(200, r.statusCode(), r.body());
        JsonNode answer = Json.MAPPER.readTree(r.body());
        int[] tokens = ints(answer.path("tokens"));
        JsonNode probs = answer.path("completion_probabilities");
        assertEquals(tokens.length, probs.size(), r.body());
        assertTrue(tokens.length > 0, r.body());
        try (Session s = tern.newSession()) {
            float[] logits = s.forward(tern.tokenizer().encode("Once upon a time", true, true));
            for (int j = 0; j < tokens.length; j++) {
                int first = 0;
                for (int i = 1; i < logits.length; i++) {
                    first = logits[i] > logits[first] ? i : first;
                }
                int second = first == 0 ? 1 : 0;
                for (int i = 0; i < logits.length; i++) {
                    second = i != first && logits[i] > logits[second] ? i : second;
                }
                double top = 1 / (1 + Math.exp(logits[second] - logits[first]));
                JsonNode p = probs.get(j);
                assertTrue(p.has("prob") && !p.has("logprob") && !p.has("top_logprobs"), p.toString());
                JsonNode alternatives = p.path("top_probs");
                assertEquals(2, alternatives.size(), "top-k 2 leaves two tokens of the four asked for: " + p);
                assertEquals(first, alternatives.get(0).path("id").asInt(), p.toString());
                assertEquals(second, alternatives.get(1).path("id").asInt(), p.toString());
                assertEquals(top, alternatives.get(0).path("prob").asDouble(), 5e-4, p.toString());
                assertEquals(1 - top, alternatives.get(1).path("prob").asDouble(), 5e-4, p.toString());
                assertEquals(tokens[j] == first ? top : 1 - top, p.path("prob").asDouble(), 5e-4, p.toString());
                logits = s.forward(tokens[j]);
            }
        }
        assertEquals(400, post("/completion", "{\"prompt\": \"a\", \"n_probs\": 1, \"post_sampling_probs\": 1}", true).statusCode());
        assertEquals(400, post("/completion", "{\"prompt\": \"a\", \"n_probs\": 1, \"mirostat\": 2, \"post_sampling_probs\": true}", true)
                .statusCode());
    }

    /**
     * vLLM's return_token_ids and llama-server's return_tokens: the answer's ids are the tokens the
     * engine generates alone for that prompt, its prompt ids the prompt's (a completion's on the
     * choice, a chat's on the answer); streamed, the chunks' ids add up to the same, the prompt's
     * come once. Without the field the answer has none.
     */
    @Test
    void tokenIdsAsVllmAndLlamaServer() throws Exception {
        int[] prompt = tern.tokenizer().encode("Once upon a time", true, true);
        int[] tokens = solo(prompt, 8).tokens();
        String completion = "{\"model\": \"" + MODEL + "\", \"prompt\": \"Once upon a time\", \"max_tokens\": 8, \"temperature\": 0";
        JsonNode choice = Json.MAPPER.readTree(post("/v1/completions", completion + ", \"return_token_ids\": true}", true).body())
                .path("choices").path(0);
        assertArrayEquals(tokens, ints(choice.path("token_ids")), choice.toString());
        assertArrayEquals(prompt, ints(choice.path("prompt_token_ids")));
        List<Integer> streamed = new ArrayList<>();
        int prompts = 0;
        for (JsonNode chunk : chunks(post("/v1/completions", completion + ", \"return_token_ids\": true, \"stream\": true}", true))) {
            JsonNode c = chunk.path("choices").path(0);
            if (c.has("prompt_token_ids")) {
                assertArrayEquals(prompt, ints(c.path("prompt_token_ids")));
                prompts++;
            }
            c.path("token_ids").forEach(t -> streamed.add(t.asInt()));
        }
        assertEquals(1, prompts);
        assertArrayEquals(tokens, streamed.stream().mapToInt(Integer::intValue).toArray());
        assertFalse(Json.MAPPER.readTree(post("/v1/completions", completion + "}", true).body()).path("choices").path(0).has("token_ids"));

        int[] chatPrompt = chatPrompt("Hello");
        String chat = "{\"model\": \"" + MODEL + "\", \"messages\": [{\"role\": \"user\", \"content\": \"Hello\"}], "
                + "\"max_tokens\": 8, \"temperature\": 0, \"return_token_ids\": true}";
        JsonNode answer = Json.MAPPER.readTree(post("/v1/chat/completions", chat, true).body());
        assertArrayEquals(chatPrompt, ints(answer.path("prompt_token_ids")), answer.toString());
        assertArrayEquals(solo(chatPrompt, 8).tokens(), ints(answer.path("choices").path(0).path("token_ids")));

        String llama = "{\"prompt\": \"Once upon a time\", \"n_predict\": 8, \"temperature\": 0";
        assertArrayEquals(tokens, ints(Json.MAPPER.readTree(post("/completion", llama + ", \"return_tokens\": true}", true).body())
                .path("tokens")));
        streamed.clear();
        for (JsonNode piece : chunks(post("/completion", llama + ", \"return_tokens\": true, \"stream\": true}", true))) {
            piece.path("tokens").forEach(t -> streamed.add(t.asInt()));
        }
        assertArrayEquals(tokens, streamed.stream().mapToInt(Integer::intValue).toArray());
        assertEquals(0, Json.MAPPER.readTree(post("/completion", llama + "}", true).body()).path("tokens").size());
        HttpResponse<String> bad = post("/completion", llama + ", \"return_tokens\": \"yes\"}", true);
        assertEquals(400, bad.statusCode());
        assertEquals("return_tokens", Json.MAPPER.readTree(bad.body()).path("error").path("param").asText());
    }

    /** A stream's data events, as JSON (without OpenAI's closing [DONE]). */
    private static List<JsonNode> chunks(HttpResponse<String> sse) throws Exception {
        assertEquals(200, sse.statusCode(), sse.body());
        List<JsonNode> out = new ArrayList<>();
        for (String line : sse.body().split("\n")) {
            if (line.startsWith("data: ") && !line.equals("data: [DONE]")) {
                out.add(Json.MAPPER.readTree(line.substring(6)));
            }
        }
        return out;
    }

    private static int[] ints(JsonNode array) {
        int[] out = new int[array.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = array.get(i).asInt();
        }
        return out;
    }

    /**
     * llama-server's /props: its defaults are llama-server's, the ones a bare /completion samples with
     * (the same seed with every reported setting given explicitly to the OpenAI endpoint, whose own
     * defaults differ, gives the same text), and the context, slots, template and tokens are the
     * server's. /apply-template renders what a chat request is prompted with.
     */
    @Test
    void propsAndApplyTemplateAsLlamaServer() throws Exception {
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(server.url() + "/props"))
                .header("Authorization", "Bearer " + KEY).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, r.statusCode(), r.body());
        JsonNode props = Json.MAPPER.readTree(r.body());
        JsonNode settings = props.path("default_generation_settings");
        assertEquals(tern.contextSize(), settings.path("n_ctx").asInt());
        assertEquals(SchedulerConfig.defaults().maxRunning(), props.path("total_slots").asInt());
        assertEquals(tern.chatTemplate().source(), props.path("chat_template").asText());
        assertEquals(tern.tokenizer().tokenText(tern.tokenizer().eos()), props.path("eos_token").asText());
        ObjectNode explicit = (ObjectNode) settings.path("params").deepCopy();
        for (String notSampling : new String[]{"n_predict", "stream", "n_probs", "stop"}) {
            explicit.remove(notSampling);
        }
        assertTrue(explicit.size() >= 20, explicit.toString());
        assertEquals(0.8, explicit.path("temperature").asDouble(), 1e-6);
        assertEquals(40, explicit.path("top_k").asInt());
        String fields = explicit.toString();
        HttpResponse<String> llama = post("/completion", "{\"prompt\": \"Once upon a time\", \"n_predict\": 30, \"seed\": 11}", true);
        assertEquals(200, llama.statusCode(), llama.body());
        String bare = Json.MAPPER.readTree(llama.body()).path("content").asText();
        String given = completion("Once upon a time", 30, ", \"seed\": 11, " + fields.substring(1, fields.length() - 1))
                .path("choices").path(0).path("text").asText();
        assertEquals(bare, given);
        assertNotEquals(bare, completion("Once upon a time", 30, ", \"seed\": 11").path("choices").path(0).path("text").asText(),
                "OpenAI's endpoint starts from OpenAI's defaults");
        assertEquals(501, post("/props", "{}", true).statusCode());

        String chat = "{\"messages\": [{\"role\": \"user\", \"content\": \"Tell me a story\"}]}";
        HttpResponse<String> t = post("/apply-template", chat, true);
        assertEquals(200, t.statusCode(), t.body());
        String prompt = Json.MAPPER.readTree(t.body()).path("prompt").asText();
        assertEquals(tern.chatTemplate().render(List.of(new ChatMessage("user", "Tell me a story")), true), prompt);
        assertEquals(400, post("/apply-template", "{\"messages\": []}", true).statusCode());
    }

    private static boolean contains(int[] ids, int before, int token) {
        return java.util.Arrays.stream(ids, 0, before).anyMatch(t -> t == token);
    }

    @Test
    void sixteenParallelStreamsEachEqualTheirSoloOutput() throws Exception {
        String[] prompts = new String[16];
        for (int i = 0; i < 16; i++) {
            prompts[i] = (i % 2 == 0 ? "Lily saw a " : "Tom and his ") + new String[]{"dog", "cat", "bird", "ball", "tree",
                    "car", "fish", "star"}[i / 2] + (i > 7 ? ". They played" : "");
        }
        try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
            List<Future<String>> got = new ArrayList<>();
            for (String p : prompts) {
                got.add(pool.submit(() -> {
                    StringBuilder sb = new StringBuilder();
                    try (StreamResponse<Completion> s = client.completions().createStreaming(CompletionCreateParams.builder()
                            .model(MODEL).prompt(p).maxTokens(32).temperature(0).build())) {
                        s.stream().forEach(ch -> ch.choices().forEach(x -> sb.append(x.text())));
                    }
                    return sb.toString();
                }));
            }
            for (int i = 0; i < 16; i++) {
                assertEquals(solo(tern.tokenizer().encode(prompts[i], true, true), 32).text(), got.get(i).get(), prompts[i]);
            }
        }
    }

    @Test
    void errorsHaveTheOpenAIShapeAndStatus() throws Exception {
        var unknownModel = assertThrows(NotFoundException.class, () -> client.chat().completions().create(
                ChatCompletionCreateParams.builder().model("gpt-9").addUserMessage("hi").build()));
        assertEquals("model_not_found", unknownModel.code().orElseThrow());
        var badTemp = assertThrows(BadRequestException.class, () -> client.completions().create(
                CompletionCreateParams.builder().model(MODEL).prompt("hi").temperature(7).build()));
        assertEquals(400, badTemp.statusCode());
        OpenAIClient noKey = OpenAIOkHttpClient.builder().baseUrl(server.url() + "/v1").apiKey("wrong").maxRetries(0).build();
        assertThrows(UnauthorizedException.class, () -> noKey.models().list());

        assertEquals(400, post("/v1/completions", "{\"prompt\": ", true).statusCode());
        assertEquals("invalid_request_error", errorOf(post("/v1/completions", "{\"prompt\": ", true)).get("type").asText());
        HttpResponse<String> noAuth = post("/v1/completions", "{\"prompt\": \"hi\"}", false);
        assertEquals(401, noAuth.statusCode());
        errorOf(noAuth);
        HttpResponse<String> route = post("/v1/nothing", "{}", true);
        assertEquals(404, route.statusCode());
        assertEquals("invalid_request_error", errorOf(route).get("type").asText());
        HttpResponse<String> big = post("/v1/completions", "{\"prompt\": \"" + "a".repeat(70 * 1024) + "\"}", true);
        assertEquals(413, big.statusCode());
        assertEquals("invalid_request_error", errorOf(big).get("type").asText());
        HttpResponse<String> tooLong = post("/v1/completions", "{\"prompt\": \"" + "Once upon a time. ".repeat(80) + "\"}", true);
        assertEquals(400, tooLong.statusCode());
        assertEquals("context_length_exceeded", errorOf(tooLong).get("code").asText());
        assertEquals(400, post("/v1/chat/completions", "{\"messages\": [], \"max_tokens\": 3}", true).statusCode());
        HttpResponse<String> noContent = post("/v1/chat/completions", "{\"messages\": [{\"role\": \"user\"}], \"max_tokens\": 3}", true);
        assertEquals(400, noContent.statusCode());
        assertTrue(errorOf(noContent).get("message").asText().contains("messages[0].content"), noContent.body());
        assertEquals(400, post("/v1/chat/completions", "{\"messages\": [{\"role\":\"user\",\"content\":\"x\"}], \"n\": 0}", true).statusCode());
        HttpResponse<String> mixed = post("/v1/completions", "{\"prompt\": [\"a\", 5], \"max_tokens\": 2}", true);
        assertEquals(400, mixed.statusCode());
        assertEquals("prompt", errorOf(mixed).get("param").asText());
        String seventeen = "[" + String.join(",", Collections.nCopies(17, "\"a\"")) + "]";
        HttpResponse<String> many = post("/v1/completions", "{\"prompt\": " + seventeen + ", \"max_tokens\": 2}", true);
        assertEquals(400, many.statusCode());
        assertEquals("prompt may hold at most 16 prompts", errorOf(many).get("message").asText());
        HttpResponse<String> oneTooLong = post("/v1/completions",
                "{\"prompt\": [\"hi\", \"" + "Once upon a time. ".repeat(80) + "\"], \"max_tokens\": 2}", true);
        assertEquals("context_length_exceeded", errorOf(oneTooLong).get("code").asText());
        String hi = "\"messages\": [{\"role\":\"user\",\"content\":\"hi\"}], \"max_tokens\": 2";
        for (String unsupported : List.of("functions\": [{\"name\":\"f\"}]",
                "response_format\": {\"type\":\"json_schema\",\"json_schema\":{\"name\":\"x\"}}",
                "response_format\": {\"type\":\"json_schema\",\"json_schema\":{\"name\":\"x\",\"schema\":{\"type\":\"string\",\"pattern\":\"(?=a)\"}}}",
                "response_format\": {\"type\":\"yaml\"}", "logit_bias\": {\"100000\": 5}", "logit_bias\": {\"5\": 101}",
                "logit_bias\": [[1]]", "logit_bias\": {\"5\": true}", "logit_bias\": 3",
                "logit_bias\": {\"99999999999999999999\": 1}", "logit_bias\": [[18446744073709551621, 1]]")) {
            HttpResponse<String> r = post("/v1/chat/completions", "{" + hi + ", \"" + unsupported + "}", true);
            assertEquals(400, r.statusCode(), unsupported);
            assertEquals(unsupported.substring(0, unsupported.indexOf('"')), errorOf(r).get("param").asText());
        }
        assertEquals(200, post("/v1/chat/completions", "{" + hi + ", \"tools\": [], \"response_format\": {\"type\":\"text\"}}", true)
                .statusCode());
        for (String legacy : List.of("best_of\": 3", "suffix\": \"The end.\"")) {
            HttpResponse<String> r = post("/v1/completions", "{\"prompt\": \"hi\", \"max_tokens\": 2, \"" + legacy + "}", true);
            assertEquals(400, r.statusCode(), legacy);
            assertEquals(legacy.substring(0, legacy.indexOf('"')), errorOf(r).get("param").asText());
        }
        assertEquals(200, post("/v1/completions", "{\"prompt\": \"hi\", \"max_tokens\": 2, \"echo\": false, \"best_of\": 1}", true)
                .statusCode());
    }

    @Test
    void fullQueueGives429() {
        try (TernServer tight = TernServer.start(tern, ServerConfig.loopback(0, MODEL)
                .withScheduler(new SchedulerConfig(1, 64, 0, 0, true)))) {
            OpenAIClient c = OpenAIOkHttpClient.builder().baseUrl(tight.url() + "/v1").apiKey("none").maxRetries(0).build();
            RateLimitException e = assertThrows(RateLimitException.class, () -> c.completions().create(
                    CompletionCreateParams.builder().model(MODEL).prompt("hi").maxTokens(2).build()));
            assertEquals(429, e.statusCode());
        }
    }

    @Test
    void aSpeculatingServerGivesTheGreedyTextAndCountsGuesses() throws Exception {
        try (TernServer spec = TernServer.start(tern, ServerConfig.loopback(0, MODEL).withSpeculation(Speculation.ngram(1, 6)))) {
            OpenAIClient c = OpenAIOkHttpClient.builder().baseUrl(spec.url() + "/v1").apiKey("none").maxRetries(0).build();
            String prompt = "Once upon a time";
            Completion got = c.completions().create(CompletionCreateParams.builder().model(MODEL).prompt(prompt)
                    .maxTokens(120).temperature(0).build());
            GenerationResult want = solo(tern.tokenizer().encode(prompt, true, true), 120);
            assertEquals(want.text(), got.choices().getFirst().text());
            String metrics = http.send(HttpRequest.newBuilder(URI.create(spec.url() + "/metrics")).build(),
                    HttpResponse.BodyHandlers.ofString()).body();
            double drafted = metric(metrics, "tern_speculative_drafted_tokens_total");
            double accepted = metric(metrics, "tern_speculative_accepted_tokens_total");
            assertTrue(drafted > 0 && accepted > 0 && accepted <= drafted, metrics);
            assertEquals(accepted / drafted, metric(metrics, "tern_speculative_acceptance_rate"), 1e-9);
            assertTrue(metric(metrics, "tern_speculative_proposals_total") > 0);

            // A greedy JSON-constrained request speculates too (the constrained sampler checks each guess) and
            // answers as the server without speculation does; so does a sampled one, within the format.
            double proposals = metric(metrics, "tern_speculative_proposals_total");
            ChatCompletionCreateParams.Builder jsonRequest = ChatCompletionCreateParams.builder().model(MODEL)
                    .addUserMessage("A cat as JSON").maxCompletionTokens(200).temperature(0)
                    .logitBias(Biases.quoteAndBrace(tern.tokenizer())).responseFormat(ResponseFormatJsonObject.builder().build());
            String content = c.chat().completions().create(jsonRequest.build()).choices().getFirst().message().content().orElseThrow();
            assertTrue(new ObjectMapper().enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS).readTree(content).isObject(), content);
            assertEquals(client.chat().completions().create(jsonRequest.build()).choices().getFirst().message().content().orElseThrow(),
                    content, "the same answer as without speculation");
            double afterGreedy = metric(http.send(HttpRequest.newBuilder(URI.create(spec.url() + "/metrics")).build(),
                    HttpResponse.BodyHandlers.ofString()).body(), "tern_speculative_proposals_total");
            assertTrue(afterGreedy > proposals, "the greedy constrained request speculated");
            String sampled = c.chat().completions().create(jsonRequest.temperature(1.0).seed(3).build()).choices().getFirst().message()
                    .content().orElseThrow();
            assertTrue(new ObjectMapper().enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS).readTree(sampled).isObject(), sampled);
            String after = http.send(HttpRequest.newBuilder(URI.create(spec.url() + "/metrics")).build(),
                    HttpResponse.BodyHandlers.ofString()).body();
            assertTrue(metric(after, "tern_speculative_proposals_total") > afterGreedy, "the sampled constrained request speculated");
        }
    }

    /** The value of an untagged Prometheus sample. */
    private static double metric(String scrape, String name) {
        return scrape.lines().filter(l -> l.startsWith(name + " ")).mapToDouble(l -> Double.parseDouble(l.substring(name.length() + 1)))
                .findFirst().orElseThrow(() -> new AssertionError(name + " missing from /metrics"));
    }

    @Test
    @Timeout(60)
    void closingTheServerEndsRunningStreamsWellFormed() throws Exception {
        TernServer other = TernServer.start(tern, ServerConfig.loopback(0, MODEL));
        HttpRequest req = HttpRequest.newBuilder(URI.create(other.url() + "/v1/completions"))
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString("{\"prompt\": \"Once upon a time\", \"n\": 16, \"stream\": true}")).build();
        List<String> lines = new ArrayList<>();
        try (var in = http.send(req, HttpResponse.BodyHandlers.ofLines()).body()) {
            var it = in.iterator();
            lines.add(it.next());
            other.close();
            it.forEachRemaining(lines::add);
        }
        List<String> data = lines.stream().filter(l -> l.startsWith("data: ")).toList();
        assertEquals("data: [DONE]", data.getLast());
        assertEquals(16, data.stream().filter(l -> l.contains("\"finish_reason\":\"")).count(), "every choice finished");
    }

    /** A page in a browser may call the server: the preflight needs no key, the answer names the page's origin as allowed. */
    @Test
    void browsersMayCallFromOtherOrigins() throws Exception {
        String origin = "http://localhost:3000";
        HttpResponse<String> preflight = http.send(HttpRequest.newBuilder(URI.create(server.url() + "/v1/chat/completions"))
                .method("OPTIONS", HttpRequest.BodyPublishers.noBody()).header("Origin", origin)
                .header("Access-Control-Request-Method", "POST").header("Access-Control-Request-Headers", "authorization,content-type")
                .build(), HttpResponse.BodyHandlers.ofString());
        assertTrue(preflight.statusCode() / 100 == 2, preflight.statusCode() + " " + preflight.body());
        String allowed = preflight.headers().firstValue("Access-Control-Allow-Origin").orElse("");
        assertTrue(allowed.equals("*") || allowed.equals(origin), preflight.headers().map().toString());
        HttpResponse<String> answer = http.send(HttpRequest.newBuilder(URI.create(server.url() + "/v1/models")).header("Origin", origin)
                .header("Authorization", "Bearer " + KEY).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, answer.statusCode());
        assertTrue(answer.headers().firstValue("Access-Control-Allow-Origin").isPresent(), answer.headers().map().toString());
        HttpResponse<String> keyless = http.send(HttpRequest.newBuilder(URI.create(server.url() + "/v1/models")).header("Origin", origin)
                .build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(401, keyless.statusCode(), "the key still applies to the request itself");
    }

    @Test
    void modelsHealthTokenizeAndMetrics() throws Exception {
        assertEquals(MODEL, client.models().list().data().getFirst().id());
        HttpResponse<String> health = http.send(HttpRequest.newBuilder(URI.create(server.url() + "/health")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(200, health.statusCode());
        assertEquals(200, http.send(HttpRequest.newBuilder(URI.create(server.url() + "/v1/health")).build(),
                HttpResponse.BodyHandlers.ofString()).statusCode(), "llama-server's other name, without the key too");
        JsonNode tokens = Json.MAPPER.readTree(post("/tokenize", "{\"content\": \"Once upon a time\"}", true).body()).get("tokens");
        int[] want = tern.tokenizer().encode("Once upon a time", false, true);
        assertEquals(want.length, tokens.size());
        for (int i = 0; i < want.length; i++) {
            assertEquals(want[i], tokens.get(i).asInt());
        }
        JsonNode text = Json.MAPPER.readTree(post("/detokenize", "{\"tokens\": " + tokens + "}", true).body());
        assertEquals("Once upon a time", text.get("content").asText());

        client.completions().create(CompletionCreateParams.builder().model(MODEL).prompt("The cat").maxTokens(3).temperature(0).build());
        HttpResponse<String> m = http.send(HttpRequest.newBuilder(URI.create(server.url() + "/metrics"))
                .header("Authorization", "Bearer " + KEY).build(), HttpResponse.BodyHandlers.ofString());
        for (String name : new String[]{"tern_requests_total", "tern_queue_depth", "tern_requests_running",
                "tern_time_to_first_token_seconds_bucket", "tern_inter_token_latency_seconds_bucket", "tern_prompt_tokens_total",
                "tern_generated_tokens_total", "tern_kv_blocks_used", "tern_kv_blocks_free", "tern_prefix_cache_hit_rate"}) {
            assertTrue(m.body().contains(name), name);
        }
    }

    private static double cancelled() throws Exception {
        String metrics = http.send(HttpRequest.newBuilder(URI.create(server.url() + "/metrics")).header("Authorization", "Bearer " + KEY)
                .build(), HttpResponse.BodyHandlers.ofString()).body();
        return metrics.lines().filter(l -> l.startsWith("tern_requests_total{finish_reason=\"cancelled\"}"))
                .mapToDouble(l -> Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1))).sum();
    }

    @Test
    void clientDisconnectCancelsTheStream() throws Exception {
        double before = cancelled();
        try (Socket socket = post("{\"prompt\": \"Once upon a time\", \"stream\": true}")) {
            String head = new String(socket.getInputStream().readNBytes(200), StandardCharsets.UTF_8);
            assertTrue(head.startsWith("HTTP/1.1 200"), head);
        }
        awaitCancelled(before + 1);
    }

    /** Nothing is written before the whole answer, so only the server's probe of the socket can notice. */
    @Test
    void clientDisconnectCancelsAWholeAnswer() throws Exception {
        double before = cancelled();
        // 16 sampled choices of up to 250 tokens: seconds of work, far longer than the probe's 100 ms.
        try (Socket ignored = post("{\"prompt\": \"Once upon a time\", \"n\": 16, \"max_tokens\": 250, \"temperature\": 1.5}")) {
            Thread.sleep(200);
        }
        awaitCancelled(before + 16);
    }

    /** A client that pipelines its next request behind a POST is not taken for one that went away. */
    @Test
    void pipelinedRequestDoesNotCancelTheAnswer() throws Exception {
        try (Socket socket = post("{\"prompt\": \"Once upon a time\", \"n\": 16, \"max_tokens\": 250, \"temperature\": 1.5}")) {
            Thread.sleep(300);
            socket.getOutputStream().write("GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n".getBytes(StandardCharsets.UTF_8));
            var in = new java.io.DataInputStream(socket.getInputStream());
            StringBuilder head = new StringBuilder();
            while (!head.toString().endsWith("\r\n\r\n")) {
                head.append((char) in.readByte());
            }
            assertTrue(head.toString().startsWith("HTTP/1.1 200"), head.toString());
            int length = Integer.parseInt(head.toString().lines().filter(l -> l.toLowerCase().startsWith("content-length:"))
                    .findFirst().orElseThrow().substring(15).trim());
            byte[] body = new byte[length];
            in.readFully(body);
            assertEquals(16, Json.parseObject(body).get("choices").size());
        }
    }

    private static Socket post(String body) throws Exception {
        Socket socket = new Socket("127.0.0.1", server.port());
        socket.getOutputStream().write(("POST /v1/completions HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer " + KEY
                + "\r\nContent-Type: application/json\r\nContent-Length: " + body.length() + "\r\n\r\n" + body)
                .getBytes(StandardCharsets.UTF_8));
        return socket;
    }

    private static void awaitCancelled(double expected) throws Exception {
        long deadline = System.nanoTime() + 20_000_000_000L;
        while (cancelled() < expected && System.nanoTime() < deadline) {
            Thread.sleep(50);
        }
        assertEquals(expected, cancelled());
    }
}
