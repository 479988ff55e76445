package dev.tern.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.openai.errors.BadRequestException;
import com.openai.models.embeddings.CreateEmbeddingResponse;
import com.openai.models.embeddings.EmbeddingCreateParams;
import dev.tern.Tern;
import dev.tern.kv.KVCacheType;
import dev.tern.model.Pooling;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** POST /v1/embeddings through the official SDK and plain HTTP, against the library's own embeddings of the same texts. */
class EmbeddingsTest {
    private static LoopbackServer fixture;

    @BeforeAll
    static void start() {
        fixture = LoopbackServer.start(new Tern.Options(1, 256, 4, KVCacheType.F32), ServerConfig.loopback(0, LoopbackServer.MODEL));
    }

    @AfterAll
    static void stop() {
        fixture.close();
    }

    private static float[] library(String text) {
        Tern tern = fixture.tern();
        return tern.embed(tern.tokenizer().encode(text, true, false));
    }

    private static float[] floats(List<Float> v) {
        float[] out = new float[v.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = v.get(i);
        }
        return out;
    }

    /** llama-server's /embedding: content or input, one pooled row per input, scaled as embd_normalize says. */
    @Test
    void llamaServersEmbeddingEndpoint() throws Exception {
        for (String path : new String[]{"/embedding", "/embeddings"}) {
            JsonNode one = fixture.postOk(path, Json.object().put("content", "Once upon a time"));
            assertEquals(1, one.size());
            assertEquals(0, one.get(0).path("index").asInt());
            float[] row = floats(one.get(0).path("embedding").path(0));
            assertArrayEquals(library("Once upon a time"), row, 1e-6f);
        }
        com.fasterxml.jackson.databind.node.ObjectNode two = Json.object().put("embd_normalize", 1);
        two.putArray("input").add("Once upon a time").add("The cat sat on the mat.");
        JsonNode taxicab = fixture.postOk("/embedding", two);
        assertEquals(2, taxicab.size());
        for (int i = 0; i < 2; i++) {
            assertEquals(i, taxicab.get(i).path("index").asInt());
            double sum = 0;
            for (float x : floats(taxicab.get(i).path("embedding").path(0))) {
                sum += Math.abs(x);
            }
            assertEquals(1.0, sum, 1e-5);
        }
        JsonNode int16 = fixture.postOk("/embedding", Json.object().put("content", "The cat").put("embd_normalize", 0));
        float max = 0;
        for (float x : floats(int16.get(0).path("embedding").path(0))) {
            max = Math.max(max, Math.abs(x));
        }
        assertEquals(32760f, max, 0.01f);
        assertEquals(400, fixture.post("/embedding", "{\"content\": \"x\", \"embd_normalize\": -2}", false).statusCode());
        HttpResponse<String> tooLarge = fixture.post("/embedding", "{\"content\": \"x\", \"embd_normalize\": 65}", false);
        assertEquals(400, tooLarge.statusCode());
        assertTrue(tooLarge.body().contains("p-norm up to 64"), tooLarge.body());
        assertEquals(400, fixture.post("/embedding", "{}", false).statusCode());
    }

    private static float[] floats(JsonNode v) {
        float[] out = new float[v.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = (float) v.get(i).asDouble();
        }
        return out;
    }

    @Test
    void theSdkGetsTheLibrarysEmbeddingsInOrder() {
        assertEquals(Pooling.MEAN, fixture.tern().pooling(), "a story model has no pooling of its own");
        List<String> texts = List.of("Once upon a time", "The cat sat on the mat.", "Once upon a time");
        CreateEmbeddingResponse r = fixture.client().embeddings().create(EmbeddingCreateParams.builder()
                .model(LoopbackServer.MODEL).inputOfArrayOfStrings(texts).build());
        assertEquals(3, r.data().size());
        int tokens = 0;
        for (int i = 0; i < texts.size(); i++) {
            assertEquals(i, r.data().get(i).index());
            float[] got = floats(r.data().get(i).embedding());
            assertEquals(fixture.tern().model().config().dim(), got.length);
            assertArrayEquals(library(texts.get(i)), got, 1e-6f, texts.get(i));
            double norm = 0;
            for (float x : got) {
                norm += x * x;
            }
            assertEquals(1.0, norm, 1e-4);
            tokens += fixture.tern().tokenizer().encode(texts.get(i), true, false).length;
        }
        assertEquals(tokens, r.usage().promptTokens());
        // Within rounding: the JIT may compile a kernel between the two inputs' shares of the pass (its reductions
        // round differently from the interpreter's).
        assertArrayEquals(floats(r.data().get(0).embedding()), floats(r.data().get(2).embedding()), 1e-6f, "the same text, the same vector");
        assertTrue(!Arrays.equals(floats(r.data().get(0).embedding()), floats(r.data().get(1).embedding())));
        BadRequestException e = assertThrows(BadRequestException.class, () -> fixture.client().embeddings().create(
                EmbeddingCreateParams.builder().model(LoopbackServer.MODEL).input("").build()));
        assertTrue(e.getMessage().contains("input"), e.getMessage());
    }

    @Test
    void tokenInputsBase64AndDimensions() throws Exception {
        String text = "The little dog";
        int[] ids = fixture.tern().tokenizer().encode(text, true, false);
        String idList = Arrays.toString(ids);
        HttpResponse<String> r = fixture.post("/v1/embeddings", "{\"input\": " + idList + ", \"encoding_format\": \"base64\"}", false);
        assertEquals(200, r.statusCode(), r.body());
        byte[] raw = Base64.getDecoder().decode(Json.MAPPER.readTree(r.body()).path("data").path(0).path("embedding").asText());
        float[] decoded = new float[raw.length / 4];
        ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(decoded);
        float[] full = library(text);
        assertArrayEquals(full, decoded, 1e-6f);

        r = fixture.post("/v1/embeddings", "{\"input\": [" + idList + "], \"dimensions\": 8}", false);
        assertEquals(200, r.statusCode(), r.body());
        JsonNode v = Json.MAPPER.readTree(r.body()).path("data").path(0).path("embedding");
        assertEquals(8, v.size());
        double norm = 0;
        for (int i = 0; i < 8; i++) {
            norm += (double) full[i] * full[i];
        }
        for (int i = 0; i < 8; i++) {
            assertEquals(full[i] / Math.sqrt(norm), v.get(i).asDouble(), 1e-6);
        }

        String[][] bad = {{"{}", "input"}, {"{\"input\": [[]]}", "input"}, {"{\"input\": [1, -2]}", "input"},
                {"{\"input\": \"x\", \"dimensions\": 0}", "dimensions"}, {"{\"input\": \"x\", \"encoding_format\": \"hex\"}", "encoding_format"},
                {"{\"input\": \"" + "word ".repeat(400) + "\"}", "input"}};
        for (String[] b : bad) {
            HttpResponse<String> e = fixture.post("/v1/embeddings", b[0], false);
            assertEquals(400, e.statusCode(), b[0] + " -> " + e.body());
            assertEquals(b[1], Json.MAPPER.readTree(e.body()).path("error").path("param").asText(), e.body());
        }
        assertEquals(404, fixture.post("/v1/embeddings", "{\"input\": \"x\", \"model\": \"other\"}", false).statusCode());
    }
}
