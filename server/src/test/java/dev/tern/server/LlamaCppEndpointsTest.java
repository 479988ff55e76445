package dev.tern.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tern.Tern;
import dev.tern.chat.InfillPrompt;
import dev.tern.gguf.GGUFFile;
import dev.tern.gguf.RandomModel;
import dev.tern.kv.KVCacheType;
import dev.tern.testing.Fixtures;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * llama.cpp's own endpoints and fill-in-the-middle over HTTP, on a random model with
 * DeepSeek-Coder's vocabulary (it has FIM tokens): /completion, and /infill whole and streamed, in
 * llama.cpp's shape, and OpenAI's {@code suffix} on /v1/completions, each the completion of the
 * prompt given or laid out by {@link InfillPrompt}; a model without FIM tokens refuses to infill.
 */
class LlamaCppEndpointsTest {
    private static final String PREFIX = "def add(a, b):\n    ", SUFFIX = "\n\nprint(add(1, 2))\n";
    @TempDir
    static Path dir;
    private static LoopbackServer coder;

    @BeforeAll
    static void start() {
        Path vocab = Fixtures.tokenizers().resolve("llama.cpp-vocab/ggml-vocab-deepseek-coder.gguf");
        int size;
        try (GGUFFile f = GGUFFile.open(vocab)) {
            size = f.metadata().get("tokenizer.ggml.tokens").length();
        }
        Path model = dir.resolve("coder.gguf");
        RandomModel.builder().dim(64).ffn(128).layers(2).heads(4).kvHeads(2).vocab(size).context(512).tokenizer(vocab)
                .tiedOutput(true).seed(5).build().write(model);
        coder = LoopbackServer.start(model, new Tern.Options(1, 512, 4, KVCacheType.F32), ServerConfig.loopback(0, LoopbackServer.MODEL));
    }

    @AfterAll
    static void stop() {
        coder.close();
    }

    /** The greedy /v1/completions answer for these prompt tokens. */
    private static String completion(int[] prompt, int maxTokens) throws Exception {
        ObjectNode body = Json.object().put("max_tokens", maxTokens).put("temperature", 0);
        ArrayNode ids = body.putArray("prompt");
        for (int id : prompt) {
            ids.add(id);
        }
        return coder.postOk("/v1/completions", body).path("choices").path(0).path("text").asText();
    }

    private static ObjectNode infill(boolean stream) {
        ObjectNode body = Json.object().put("input_prefix", PREFIX).put("input_suffix", SUFFIX).put("prompt", "return")
                .put("n_predict", 16).put("temperature", 0).put("stream", stream);
        body.putArray("input_extra").addObject().put("filename", "util.py").put("text", "def one():\n    return 1\n");
        return body;
    }

    @Test
    void infillAnswersAsLlamaCppDoes() throws Exception {
        int[] prompt = InfillPrompt.tokens(coder.tern().tokenizer(), PREFIX, SUFFIX,
                List.of(new InfillPrompt.File("util.py", "def one():\n    return 1\n")), "return", 512 * 3 / 4);
        String want = completion(prompt, 16);
        JsonNode whole = coder.postOk("/infill", infill(false));
        assertEquals(want, whole.get("content").asText());
        assertTrue(whole.get("stop").asBoolean());
        assertEquals(prompt.length, whole.get("tokens_evaluated").asInt());
        int predicted = whole.get("tokens_predicted").asInt();
        assertEquals(predicted == 16 ? "limit" : "eos", whole.get("stop_type").asText());

        String sse = coder.post("/infill", Json.write(infill(true)), false).body();
        List<JsonNode> events = sse.lines().filter(l -> l.startsWith("data: ")).map(l -> {
            try {
                return Json.MAPPER.readTree(l.substring(6));
            } catch (Exception e) {
                throw new IllegalStateException(l, e);
            }
        }).toList();
        StringBuilder content = new StringBuilder();
        events.forEach(e -> content.append(e.get("content").asText()));
        assertEquals(want, content.toString());
        assertTrue(events.getLast().get("stop").asBoolean());
        assertEquals(predicted, events.getLast().get("tokens_predicted").asInt());
        assertFalse(events.subList(0, events.size() - 1).stream().anyMatch(e -> e.get("stop").asBoolean()));
        assertFalse(sse.contains("[DONE]"));
    }

    /** Ollama's /api/generate with a suffix (not raw) fills in the middle, as OpenAI's suffix on /v1/completions does. */
    @Test
    void ollamaGenerateWithASuffixFillsInTheMiddle() throws Exception {
        String want = coder.postOk("/v1/completions", Json.object().put("prompt", PREFIX).put("suffix", SUFFIX).put("max_tokens", 12)
                .put("temperature", 0)).path("choices").path(0).path("text").asText();
        ObjectNode body = Json.object().put("model", LoopbackServer.MODEL).put("prompt", PREFIX).put("suffix", SUFFIX).put("stream", false);
        body.putObject("options").put("temperature", 0).put("repeat_penalty", 1.0).put("num_predict", 12);
        assertEquals(want, coder.postOk("/api/generate", body).path("response").asText());
    }

    @Test
    void completionAnswersAsLlamaCppDoes() throws Exception {
        String want = completion(coder.tern().tokenizer().encode(PREFIX, true, true), 10);
        JsonNode got = coder.postOk("/completion", Json.object().put("prompt", PREFIX).put("n_predict", 10).put("temperature", 0));
        assertEquals(want, got.get("content").asText());
        assertTrue(got.get("stop").asBoolean());
        assertEquals(LoopbackServer.MODEL, got.get("model").asText());
    }

    @Test
    void aSuffixMakesACompletionAnInfill() throws Exception {
        String want = completion(InfillPrompt.tokens(coder.tern().tokenizer(), PREFIX, SUFFIX, List.of(), "", 512 * 3 / 4), 12);
        JsonNode got = coder.postOk("/v1/completions", Json.object().put("prompt", PREFIX).put("suffix", SUFFIX)
                .put("max_tokens", 12).put("temperature", 0));
        assertEquals(want, got.path("choices").path(0).path("text").asText());
    }

    @Test
    void aModelWithoutFimTokensRefusesInfill() throws Exception {
        try (LoopbackServer stories = LoopbackServer.start(new Tern.Options(1, 256, 2, KVCacheType.F32),
                ServerConfig.loopback(0, LoopbackServer.MODEL))) {
            HttpResponse<String> r = stories.post("/infill", Json.write(infill(false)), false);
            assertEquals(400, r.statusCode(), r.body());
            assertTrue(r.body().contains("fill-in-the-middle"), r.body());
            r = stories.post("/v1/completions", "{\"prompt\": \"a\", \"suffix\": \"b\"}", false);
            assertEquals(400, r.statusCode(), r.body());
        }
        HttpResponse<String> r = coder.post("/infill", "{\"input_prefix\": 3}", false);
        assertEquals(400, r.statusCode(), r.body());
    }

    /** What llama.vscode and llama.vim send to /infill (their chain ends with the infill sampler). */
    private static ObjectNode editorRequest() {
        ObjectNode body = infill(false).put("id_slot", 0).put("n_predict", 24).put("n_indent", 4).put("top_k", 40).put("top_p", 0.99)
                .put("cache_prompt", true).put("t_max_prompt_ms", 500).put("t_max_predict_ms", 1000).put("seed", 3);
        body.remove("temperature");
        body.putArray("samplers").add("top_k").add("top_p").add("infill");
        body.putArray("response_fields").add("content").add("timings/prompt_n").add("timings/predicted_n")
                .add("timings/predicted_ms").add("truncated").add("tokens_cached").add("no/such/field");
        return body;
    }

    @Test
    void editorPluginsRequestsAreAnswered() throws Exception {
        JsonNode got = coder.postOk("/infill", editorRequest());
        assertEquals(Set.of("content", "timings/prompt_n", "timings/predicted_n", "timings/predicted_ms", "truncated", "tokens_cached"),
                names(got));
        assertTrue(got.get("content").isTextual());
        assertTrue(got.get("timings/prompt_n").asInt() + got.get("tokens_cached").asInt() > 0);
        assertTrue(got.get("timings/predicted_n").asInt() <= 24);
        assertTrue(got.get("timings/predicted_ms").asDouble() >= 0);
        for (ObjectNode bad : List.of(editorRequest().put("n_indent", "four"), editorRequest().put("t_max_predict_ms", 1.5),
                editorRequest().put("response_fields", "content"))) {
            HttpResponse<String> r = coder.post("/infill", Json.write(bad), false);
            assertEquals(400, r.statusCode(), r.body());
        }
    }

    /** The cache-warming request (n_predict 0, no samplers) computes the prompt, so the completion after it finds it cached. */
    @Test
    void nPredictZeroWarmsThePrefixCache() throws Exception {
        ObjectNode warm = editorRequest().put("n_predict", 0).put("input_prefix", "# a file the editor has open\n" + PREFIX);
        warm.putArray("samplers");
        warm.remove("response_fields");
        JsonNode w = coder.postOk("/infill", warm);
        assertEquals("", w.get("content").asText());
        assertEquals(0, w.get("tokens_predicted").asInt());
        assertTrue(w.get("timings").get("prompt_n").asInt() > 16, w.toString());
        ObjectNode then = editorRequest().put("input_prefix", "# a file the editor has open\n" + PREFIX);
        then.remove("response_fields");
        JsonNode t = coder.postOk("/infill", then);
        assertTrue(t.get("tokens_cached").asInt() >= 16, t.toString());
        assertEquals(t.get("tokens_evaluated").asInt(), t.get("tokens_cached").asInt() + t.get("timings").get("prompt_n").asInt());
    }

    /**
     * n_indent and t_max_predict_ms against the same seeded completion without them (newlines made likely by a
     * logit bias): each answer is that text cut at a line, where llama-server would cut it.
     */
    @Test
    void lineLimitsCutTheCompletionAtALine() throws Exception {
        ObjectNode free = Json.object().put("prompt", PREFIX).put("n_predict", 64).put("temperature", 1).put("seed", 2);
        free.putArray("logit_bias").addArray().add("\n").add(2.5);
        String text = coder.postOk("/completion", free).get("content").asText();
        int nl = text.indexOf('\n');
        assertTrue(nl >= 0 && !text.substring(nl + 1).isBlank(), "a line follows a newline: " + text);

        String indented = coder.postOk("/completion", free.deepCopy().put("n_indent", 1000)).get("content").asText();
        assertTrue(indented.length() < text.length() && text.startsWith(indented), indented);
        String rest = text.substring(indented.length()), lastLine = indented.substring(indented.lastIndexOf('\n') + 1);
        assertTrue(indented.contains("\n") && lastLine.isBlank() && !Character.isWhitespace(rest.charAt(0)), indented + "|" + rest);

        JsonNode timed = coder.postOk("/completion", free.deepCopy().put("t_max_predict_ms", 1));
        String cut = timed.get("content").asText();
        assertTrue(text.startsWith(cut) && cut.endsWith("\n") && cut.length() < text.length(), cut);
        assertEquals("limit", timed.get("stop_type").asText());
    }

    /** llama-server's other names of the same routes answer as the first names do. */
    @Test
    void llamaServerRouteNames() throws Exception {
        assertEquals(200, coder.get("/v1/health").statusCode());
        assertEquals(coder.get("/v1/models").body(), coder.get("/models").body());
        ObjectNode completion = Json.object().put("prompt", PREFIX).put("n_predict", 6).put("temperature", 0);
        assertEquals(coder.postOk("/completion", completion).get("content"), coder.postOk("/completions", completion).get("content"));
        ObjectNode chat = Json.object().put("max_tokens", 6).put("temperature", 0);
        chat.putArray("messages").addObject().put("role", "user").put("content", "Write add(a, b).");
        assertEquals(coder.postOk("/v1/chat/completions", chat).path("choices").path(0).path("message").path("content"),
                coder.postOk("/chat/completions", chat).path("choices").path(0).path("message").path("content"));
    }

    private static Set<String> names(JsonNode o) {
        Set<String> out = new java.util.HashSet<>();
        o.fieldNames().forEachRemaining(out::add);
        return out;
    }
}
