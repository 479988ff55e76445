package dev.tern.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tern.Tern;
import dev.tern.kv.KVCacheType;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.net.http.HttpResponse;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Ollama's API over the same engine: /api/tags lists the model as "name:latest"; /api/chat and /api/generate
 * answer, whole and as newline-delimited JSON, exactly what the OpenAI endpoints answer for the same greedy
 * request, with Ollama's counts; errors come as {"error": ...}.
 */
class OllamaTest {
    private static LoopbackServer s;

    @BeforeAll
    static void start() {
        s = LoopbackServer.start(new Tern.Options(1, 0, 4, KVCacheType.F32), ServerConfig.loopback(0, LoopbackServer.MODEL));
    }

    @AfterAll
    static void stop() {
        s.close();
    }

    private static ObjectNode ollamaChat(boolean stream) {
        ObjectNode body = Json.object().put("model", LoopbackServer.MODEL + ":latest").put("stream", stream);
        body.putArray("messages").addObject().put("role", "user").put("content", "Tell me a story.");
        body.putObject("options").put("temperature", 0).put("num_predict", 12);
        return body;
    }

    private static String openAiChat() throws Exception {
        // Ollama's default repeat penalty (1.1) shapes even a greedy answer: the same request has it.
        ObjectNode body = Json.object().put("max_tokens", 12).put("temperature", 0).put("repeat_penalty", 1.1);
        body.putArray("messages").addObject().put("role", "user").put("content", "Tell me a story.");
        return s.postOk("/v1/chat/completions", body).path("choices").path(0).path("message").path("content").asText();
    }

    @Test
    void tagsListTheModel() throws Exception {
        HttpResponse<String> r = s.get("/api/tags");
        assertEquals(200, r.statusCode());
        assertEquals(LoopbackServer.MODEL + ":latest", Json.MAPPER.readTree(r.body()).path("models").path(0).path("name").asText());
        assertEquals(Tern.VERSION, Json.MAPPER.readTree(s.get("/api/version").body()).path("version").asText());
        assertEquals(Tern.VERSION, Json.MAPPER.readTree(s.get("/version").body()).path("version").asText(), "vLLM's route");
    }

    /** /api/ps: the model is loaded for as long as the server runs, its size that of its weights, nothing on a GPU. */
    @Test
    void psListsTheLoadedModel() throws Exception {
        JsonNode m = Json.MAPPER.readTree(s.get("/api/ps").body()).path("models").path(0);
        assertEquals(LoopbackServer.MODEL + ":latest", m.path("name").asText());
        long file = java.nio.file.Files.size(dev.tern.testing.Fixtures.stories260K("stories260K-f32.gguf"));
        long size = m.path("size").asLong();
        assertTrue(size > file * 0.8 && size <= file, size + " bytes of weights in a file of " + file);
        assertEquals(size, Json.MAPPER.readTree(s.get("/api/tags").body()).path("models").path(0).path("size").asLong());
        assertEquals(0, m.path("size_vram").asLong());
        assertEquals(s.tern().contextSize(), m.path("context_length").asInt());
        assertTrue(java.time.Instant.parse(m.path("expires_at").asText()).isAfter(java.time.Instant.parse("2200-01-01T00:00:00Z")));
    }

    /**
     * Ollama's older /api/embeddings: one prompt, the pooled vector as it is, which scaled to unit length is the
     * OpenAI endpoint's; llama-server's /embedding with embd_normalize -1 gives the same vector.
     */
    @Test
    void legacyEmbeddingsAreThePooledVector() throws Exception {
        JsonNode legacy = s.postOk("/api/embeddings", Json.object().put("model", LoopbackServer.MODEL).put("prompt", "Once upon a time"))
                .path("embedding");
        JsonNode unit = s.postOk("/v1/embeddings", Json.object().put("input", "Once upon a time")).path("data").path(0).path("embedding");
        assertEquals(unit.size(), legacy.size());
        double norm = 0;
        for (JsonNode x : legacy) {
            norm += x.asDouble() * x.asDouble();
        }
        assertTrue(Math.abs(Math.sqrt(norm) - 1) > 0.01, "not scaled: |v| = " + Math.sqrt(norm));
        for (int i = 0; i < unit.size(); i++) {
            assertEquals(unit.get(i).asDouble(), legacy.get(i).asDouble() / Math.sqrt(norm), 1e-6);
        }
        JsonNode llama = s.postOk("/embedding", Json.object().put("content", "Once upon a time").put("embd_normalize", -1))
                .path(0).path("embedding").path(0);
        assertEquals(legacy.size(), llama.size());
        for (int i = 0; i < legacy.size(); i++) {
            // Within rounding: the JIT may have compiled a kernel between the two requests.
            assertEquals(legacy.get(i).asDouble(), llama.get(i).asDouble(), 1e-5 * Math.max(1, Math.abs(legacy.get(i).asDouble())));
        }
        assertEquals(0, s.postOk("/api/embeddings", Json.object().put("prompt", "")).path("embedding").size());
        assertEquals(400, s.post("/api/embeddings", "{\"prompt\": 5}", false).statusCode());
    }

    /** Pulling the served model succeeds (it is there); any other model, and pushing, copying, deleting, are refused in Ollama's shape. */
    @Test
    void modelManagementIsRefusedClearly() throws Exception {
        assertEquals("success", s.postOk("/api/pull", Json.object().put("model", LoopbackServer.MODEL + ":latest")).path("status").asText());
        HttpResponse<String> pull = s.post("/api/pull", "{\"model\": \"llama3.2\"}", false);
        assertEquals(501, pull.statusCode());
        assertTrue(Json.MAPPER.readTree(pull.body()).path("error").asText().contains("cannot pull 'llama3.2'"), pull.body());
        for (String path : List.of("/api/push", "/api/create", "/api/copy")) {
            HttpResponse<String> r = s.post(path, "{\"model\": \"x\"}", false);
            assertEquals(501, r.statusCode(), path);
            assertTrue(Json.MAPPER.readTree(r.body()).path("error").asText().contains(path + " is not supported"), r.body());
        }
        HttpResponse<String> delete = s.http().send(java.net.http.HttpRequest.newBuilder(java.net.URI.create(s.server().url() + "/api/delete"))
                .method("DELETE", java.net.http.HttpRequest.BodyPublishers.ofString("{\"model\": \"x\"}")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(501, delete.statusCode(), delete.body());
    }

    /** Ollama's deprecated context would be silently forgotten, and a suffix needs fill-in-the-middle tokens: both refused. */
    @Test
    void generateRefusesWhatItCannotHonour() throws Exception {
        HttpResponse<String> context = s.post("/api/generate", "{\"prompt\": \"Hi\", \"context\": [1, 2, 3], \"stream\": false}", false);
        assertEquals(400, context.statusCode());
        assertTrue(Json.MAPPER.readTree(context.body()).path("error").asText().contains("/api/chat"), context.body());
        HttpResponse<String> suffix = s.post("/api/generate", "{\"prompt\": \"Hi\", \"suffix\": \"end\", \"stream\": false}", false);
        assertEquals(400, suffix.statusCode());
        assertTrue(Json.MAPPER.readTree(suffix.body()).path("error").asText().contains("fill-in-the-middle"), suffix.body());
        assertEquals(200, s.post("/api/generate", "{\"prompt\": \"Hi\", \"context\": [], \"suffix\": \"\", \"stream\": false,"
                + " \"options\": {\"num_predict\": 2}}", false).statusCode());
    }

    @Test
    void showGivesTheContextLengthAndTemplate() throws Exception {
        JsonNode show = s.postOk("/api/show", Json.object().put("model", LoopbackServer.MODEL + ":latest"));
        String arch = show.path("details").path("family").asText();
        assertEquals(s.tern().contextSize(), show.path("model_info").path(arch + ".context_length").asInt());
        assertEquals(s.tern().chatTemplate().source(), show.path("template").asText());
        assertEquals("completion", show.path("capabilities").path(0).asText());
        assertEquals(404, s.post("/api/show", "{\"model\": \"nope\"}", false).statusCode());
    }

    @Test
    void embedGivesTheOpenAiEndpointsVectors() throws Exception {
        ObjectNode body = Json.object().put("model", LoopbackServer.MODEL + ":latest");
        body.putArray("input").add("Once upon a time").add("The little dog");
        JsonNode got = s.postOk("/api/embed", body);
        ObjectNode openAi = Json.object();
        openAi.set("input", body.get("input"));
        JsonNode want = s.postOk("/v1/embeddings", openAi).path("data");
        assertEquals(2, got.path("embeddings").size());
        for (int i = 0; i < 2; i++) {
            assertEquals(want.get(i).get("embedding"), got.path("embeddings").get(i));
        }
        assertTrue(got.path("prompt_eval_count").asInt() > 0);
    }

    @Test
    void chatAnswersAsTheOpenAiEndpoint() throws Exception {
        String want = openAiChat();
        JsonNode whole = s.postOk("/api/chat", ollamaChat(false));
        assertEquals(want, whole.path("message").path("content").asText());
        assertEquals("assistant", whole.path("message").path("role").asText());
        assertTrue(whole.path("done").asBoolean());
        assertEquals("length", whole.path("done_reason").asText());
        assertEquals(12, whole.path("eval_count").asInt());
        assertTrue(whole.path("prompt_eval_count").asInt() > 0);

        HttpResponse<String> r = s.post("/api/chat", Json.write(ollamaChat(true)), false);
        assertEquals(200, r.statusCode());
        assertTrue(r.headers().firstValue("Content-Type").orElse("").startsWith("application/x-ndjson"), r.headers().map().toString());
        List<JsonNode> lines = r.body().lines().filter(l -> !l.isBlank()).map(OllamaTest::read).toList();
        StringBuilder text = new StringBuilder();
        lines.forEach(l -> text.append(l.path("message").path("content").asText()));
        assertEquals(want, text.toString());
        assertTrue(lines.getLast().path("done").asBoolean());
        assertEquals(12, lines.getLast().path("eval_count").asInt());
        assertFalse(lines.subList(0, lines.size() - 1).stream().anyMatch(l -> l.path("done").asBoolean()));
    }

    @Test
    void generateAnswersThroughTheTemplateOrRaw() throws Exception {
        ObjectNode templated = Json.object().put("model", LoopbackServer.MODEL).put("prompt", "Tell me a story.").put("stream", false);
        templated.putObject("options").put("temperature", 0).put("num_predict", 12);
        assertEquals(openAiChat(), s.postOk("/api/generate", templated).path("response").asText());

        ObjectNode raw = templated.deepCopy().put("raw", true).put("prompt", "Once upon a time");
        ObjectNode completion = Json.object().put("prompt", "Once upon a time").put("max_tokens", 12).put("temperature", 0)
                .put("repeat_penalty", 1.1);
        assertEquals(s.postOk("/v1/completions", completion).path("choices").path(0).path("text").asText(),
                s.postOk("/api/generate", raw).path("response").asText());
    }

    /** A forced call (OpenAI's tool_choice, an extension) comes as Ollama writes calls: a name and arguments as an object. */
    @Test
    void toolCallsComeInOllamasShape() throws Exception {
        for (boolean stream : new boolean[]{false, true}) {
            ObjectNode body = Json.object().put("model", LoopbackServer.MODEL).put("stream", stream).put("tool_choice", "required")
                    .put("parallel_tool_calls", false);
            body.putArray("messages").addObject().put("role", "user").put("content", "Weather in Rome?");
            ObjectNode f = body.putArray("tools").addObject().put("type", "function").putObject("function").put("name", "get_weather");
            f.putObject("parameters").put("type", "object").putArray("required").add("city");
            ((ObjectNode) f.get("parameters")).putObject("properties").putObject("city").put("type", "string");
            body.putObject("options").put("num_predict", 300).put("seed", 4);
            ObjectNode bias = body.putObject("logit_bias");
            for (int t = 0; t < s.tern().tokenizer().vocabSize(); t++) {
                String piece = new String(s.tern().tokenizer().tokenBytes(t), java.nio.charset.StandardCharsets.UTF_8);
                if (piece.equals("\"") || piece.equals("}")) {
                    bias.put(String.valueOf(t), piece.equals("}") ? 12 : 6);
                }
            }
            HttpResponse<String> r = s.post("/api/chat", Json.write(body), false);
            assertEquals(200, r.statusCode(), r.body());
            JsonNode call = r.body().lines().filter(l -> !l.isBlank()).map(OllamaTest::read)
                    .map(l -> l.path("message").path("tool_calls").path(0)).filter(c -> !c.isMissingNode()).findFirst()
                    .orElseThrow(() -> new AssertionError(r.body()));
            assertEquals("get_weather", call.path("function").path("name").asText(), r.body());
            assertTrue(call.path("function").path("arguments").path("city").isTextual(), r.body());
        }
    }

    @Test
    void errorsComeInOllamasShape() throws Exception {
        HttpResponse<String> r = s.post("/api/chat", Json.write(ollamaChat(false).put("model", "nope")), false);
        assertEquals(404, r.statusCode());
        assertTrue(Json.MAPPER.readTree(r.body()).path("error").asText().contains("nope"), r.body());
        r = s.post("/api/generate", "{\"model\": \"" + LoopbackServer.MODEL + "\"}", false);
        assertEquals(400, r.statusCode());
        assertTrue(Json.MAPPER.readTree(r.body()).has("error"), r.body());
    }

    private static JsonNode read(String line) {
        try {
            return Json.MAPPER.readTree(line);
        } catch (Exception e) {
            throw new IllegalStateException(line, e);
        }
    }
}
