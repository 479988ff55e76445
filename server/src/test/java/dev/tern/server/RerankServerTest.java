package dev.tern.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tern.Tern;
import dev.tern.gguf.RandomModel;
import dev.tern.kv.KVCacheType;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** llama-server's /rerank endpoints on a random Qwen3 reranker, against the library's scores of the same pairs. */
class RerankServerTest {
    private static final String QUERY = "what does a cat eat";
    private static final String[] DOCUMENTS = {"A cat eats fish and mice.", "The sun is a star.", "Cats like milk.", "Trains run."};
    @TempDir
    static Path dir;
    private static LoopbackServer fixture;
    private static float[] library;

    @BeforeAll
    static void start() {
        Path model = dir.resolve("reranker.gguf");
        RandomModel.builder().architecture("qwen3").dim(64).ffn(128).layers(2).heads(4).kvHeads(2).vocab(300).context(1024)
                .std(0.2f).seed(11).reranker(true).build().write(model);
        fixture = LoopbackServer.start(model, new Tern.Options(1, 1024, 2, KVCacheType.F32), ServerConfig.loopback(0, "reranker"));
        Tern tern = fixture.tern();
        List<int[]> pairs = new ArrayList<>();
        for (String d : DOCUMENTS) {
            pairs.add(tern.rerankTokens(QUERY, d));
        }
        library = tern.rerank(pairs);
    }

    @AfterAll
    static void stop() {
        fixture.close();
    }

    private static ObjectNode request(String field) {
        ObjectNode body = Json.object().put("query", QUERY);
        var docs = body.putArray(field);
        for (String d : DOCUMENTS) {
            docs.add(d);
        }
        return body;
    }

    /** Every result's score is the library's for its document, best first; usage counts the pairs' tokens. */
    @Test
    void jinaShapeSortedByScoreOnEveryPath() throws Exception {
        int tokens = 0;
        for (String d : DOCUMENTS) {
            tokens += fixture.tern().rerankTokens(QUERY, d).length;
        }
        for (String path : new String[]{"/rerank", "/reranking", "/v1/rerank", "/v1/reranking", "/v2/rerank"}) {
            JsonNode answer = fixture.postOk(path, request("documents"));
            assertEquals("list", answer.path("object").asText());
            assertEquals("reranker", answer.path("model").asText());
            assertEquals(tokens, answer.path("usage").path("prompt_tokens").asInt());
            JsonNode results = answer.path("results");
            assertEquals(DOCUMENTS.length, results.size());
            double previous = Double.POSITIVE_INFINITY;
            boolean[] seen = new boolean[DOCUMENTS.length];
            for (JsonNode r : results) {
                int i = r.path("index").asInt();
                double score = r.path("relevance_score").asDouble();
                assertEquals(library[i], score, 1e-6, path + " document " + i);
                assertTrue(score <= previous, "sorted best first");
                previous = score;
                seen[i] = true;
            }
            for (boolean s : seen) {
                assertTrue(s, "every document answered once");
            }
        }
    }

    @Test
    void topNDocumentObjectsAndReturnedDocuments() throws Exception {
        ObjectNode body = Json.object().put("query", QUERY).put("top_n", 2).put("return_documents", true);
        var docs = body.putArray("documents");
        for (String d : DOCUMENTS) {
            docs.addObject().put("text", d);
        }
        JsonNode results = fixture.postOk("/v1/rerank", body).path("results");
        assertEquals(2, results.size());
        int best = 0;
        for (int i = 1; i < library.length; i++) {
            if (library[i] > library[best]) {
                best = i;
            }
        }
        assertEquals(best, results.get(0).path("index").asInt());
        assertEquals(DOCUMENTS[best], results.get(0).path("document").path("text").asText());
    }

    /** Hugging Face TEI's form: {@code texts} in, a bare array of {index, score} out. */
    @Test
    void teiShapeWithTexts() throws Exception {
        JsonNode answer = fixture.postOk("/rerank", request("texts").put("return_text", true));
        assertTrue(answer.isArray());
        assertEquals(DOCUMENTS.length, answer.size());
        for (JsonNode r : answer) {
            int i = r.path("index").asInt();
            assertEquals(library[i], r.path("score").asDouble(), 1e-6);
            assertEquals(DOCUMENTS[i], r.path("text").asText());
        }
    }

    /** vLLM's score API: one text_1 against each text_2, or pairs one to one; results in the pairs' order. */
    @Test
    void vllmScoreApi() throws Exception {
        ObjectNode one = Json.object().put("text_1", QUERY);
        var second = one.putArray("text_2");
        for (String d : DOCUMENTS) {
            second.add(d);
        }
        for (String path : new String[]{"/score", "/v1/score"}) {
            JsonNode answer = fixture.postOk(path, one);
            assertEquals("list", answer.path("object").asText());
            assertTrue(answer.path("id").asText().startsWith("score-"));
            JsonNode data = answer.path("data");
            assertEquals(DOCUMENTS.length, data.size());
            for (int i = 0; i < DOCUMENTS.length; i++) {
                assertEquals(i, data.get(i).path("index").asInt());
                assertEquals("score", data.get(i).path("object").asText());
                assertEquals(library[i], data.get(i).path("score").asDouble(), 1e-6);
            }
        }
        ObjectNode pairwise = Json.object();
        pairwise.putArray("text_1").add(QUERY).add("the sun");
        pairwise.putArray("text_2").add(DOCUMENTS[0]).add(DOCUMENTS[1]);
        JsonNode data = fixture.postOk("/v1/score", pairwise).path("data");
        assertEquals(library[0], data.get(0).path("score").asDouble(), 1e-6);
        float sun = fixture.tern().rerank(List.of(fixture.tern().rerankTokens("the sun", DOCUMENTS[1])))[0];
        assertEquals(sun, data.get(1).path("score").asDouble(), 1e-6);
        ObjectNode mismatched = Json.object();
        mismatched.putArray("text_1").add("a").add("b");
        mismatched.putArray("text_2").add("c").add("d").add("e");
        HttpResponse<String> r = fixture.post("/v1/score", Json.write(mismatched), false);
        assertEquals(400, r.statusCode(), r.body());
        assertTrue(r.body().contains("text_1"), r.body());
    }

    @Test
    void badRequestsAnswer400And404() throws Exception {
        String[][] cases = {
                {"{\"documents\": [\"a\"]}", "400", "query"},
                {"{\"query\": 3, \"documents\": [\"a\"]}", "400", "query"},
                {"{\"query\": \"q\", \"documents\": []}", "400", "documents"},
                {"{\"query\": \"q\", \"documents\": [1]}", "400", "documents"},
                {"{\"query\": \"q\", \"documents\": [\"a\"], \"top_n\": -1}", "400", "top_n"},
                {"{\"query\": \"q\", \"documents\": [\"a\"], \"model\": \"other\"}", "404", "model"},
                {"{\"query\": \"q\", \"documents\": [\"" + "a".repeat(2000) + "\"]}", "400", "context"},
                {"not json", "400", "JSON"}};
        for (String[] c : cases) {
            HttpResponse<String> r = fixture.post("/v1/rerank", c[0], false);
            assertEquals(Integer.parseInt(c[1]), r.statusCode(), c[0] + " → " + r.body());
            assertTrue(r.body().contains(c[2]) || r.body().toLowerCase().contains(c[2].toLowerCase()), r.body());
        }
    }

    /** A model that does not rerank: 501, as llama-server without --reranking. */
    @Test
    void aGenerativeModelAnswers501() throws Exception {
        try (LoopbackServer plain = LoopbackServer.start(new Tern.Options(1, 256, 2, KVCacheType.F32),
                ServerConfig.loopback(0, LoopbackServer.MODEL))) {
            HttpResponse<String> r = plain.post("/v1/rerank", Json.write(request("documents")), false);
            assertEquals(501, r.statusCode(), r.body());
            assertTrue(r.body().contains("does not rerank"), r.body());
        }
    }
}
