package dev.tern.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.openai.models.completions.Completion;
import com.openai.models.completions.CompletionCreateParams;
import dev.tern.Tern;
import dev.tern.kv.KVCacheType;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code echo} on /v1/completions as evaluation harnesses use it (lm-evaluation-harness sends
 * token ids, {@code echo: true, logprobs: 1, max_tokens: 1} and reads the prompt's
 * token_logprobs): the scores of an echoed continuation must equal the log-probabilities the
 * server reported while generating it, a separate path through the engine.
 */
class EchoTest {
    private static LoopbackServer fixture;

    @BeforeAll
    static void start() {
        fixture = LoopbackServer.start(new Tern.Options(1, 256, 8, KVCacheType.F32), ServerConfig.loopback(0, LoopbackServer.MODEL));
    }

    @AfterAll
    static void stop() {
        fixture.close();
    }

    private static JsonNode post(String body) throws Exception {
        HttpResponse<String> r = fixture.post("/v1/completions", body, false);
        assertEquals(200, r.statusCode(), r.body());
        return Json.MAPPER.readTree(r.body());
    }

    private static int[] ids(String text) {
        return fixture.tern().tokenizer().encode(text, true, false);
    }

    private static String idList(int[] ids) {
        return Arrays.stream(ids).mapToObj(Integer::toString).collect(Collectors.joining(",", "[", "]"));
    }

    @Test
    void anEchoedContinuationScoresWhatGeneratingItReported() throws Exception {
        int[] context = ids("Once upon a time");
        JsonNode gen = post("{\"prompt\": " + idList(context) + ", \"max_tokens\": 12, \"temperature\": 0, \"logprobs\": 2}")
                .get("choices").get(0);
        JsonNode genLp = gen.get("logprobs");
        int[] whole = ids("Once upon a time" + gen.get("text").asText());
        int[] continuation = Arrays.copyOfRange(whole, context.length, whole.length);
        assertEquals(idList(context), idList(Arrays.copyOf(whole, context.length)), "the text re-encodes to the same tokens");
        assertEquals(genLp.get("token_logprobs").size(), continuation.length, "the text re-encodes to the same tokens");
        // lm-evaluation-harness's loglikelihood request, two texts in one.
        JsonNode r = post("{\"prompt\": [" + idList(whole) + ", " + idList(context) + "], \"max_tokens\": 1, \"temperature\": 0,"
                + " \"logprobs\": 2, \"echo\": true, \"seed\": 1234}");
        JsonNode c = r.get("choices").get(0);
        JsonNode lp = c.get("logprobs");
        assertEquals(whole.length + 1, lp.get("token_logprobs").size(), "the prompt's tokens and the one generated");
        assertTrue(lp.get("token_logprobs").get(0).isNull());
        assertTrue(lp.get("top_logprobs").get(0).isNull());
        assertTrue(c.get("text").asText().startsWith("Once upon a time" + gen.get("text").asText()), c.get("text").asText());
        for (int j = 0; j < continuation.length; j++) {
            double scored = lp.get("token_logprobs").get(context.length + j).asDouble();
            assertEquals(genLp.get("token_logprobs").get(j).asDouble(), scored, 1e-4, "continuation token " + j);
            assertEquals(genLp.get("tokens").get(j).asText(), lp.get("tokens").get(context.length + j).asText());
            double best = max(lp.get("top_logprobs").get(context.length + j));
            assertEquals(best, scored, 1e-6, "a greedy continuation is each step's top choice");
        }
        assertEquals(context.length + 1, r.get("choices").get(1).get("logprobs").get("token_logprobs").size());
        assertEquals(whole.length + context.length, r.get("usage").get("prompt_tokens").asInt());
        assertEquals(2, r.get("usage").get("completion_tokens").asInt());
    }

    private static double max(JsonNode top) {
        double best = Double.NEGATIVE_INFINITY;
        for (JsonNode v : top) {
            best = Math.max(best, v.asDouble());
        }
        return best;
    }

    @Test
    void offsetsPointIntoTheEchoedText() throws Exception {
        JsonNode c = post("{\"prompt\": \"Once upon a time, a girl\", \"max_tokens\": 8, \"temperature\": 0, \"logprobs\": 0, \"echo\": true}")
                .get("choices").get(0);
        String text = c.get("text").asText();
        assertTrue(text.startsWith("Once upon a time, a girl"), text);
        JsonNode lp = c.get("logprobs");
        int n = lp.get("tokens").size();
        assertEquals(ids("Once upon a time, a girl").length + 8, n);
        int previous = -1;
        for (int j = 1; j < n; j++) {
            int offset = lp.get("text_offset").get(j).asInt();
            assertTrue(offset >= previous && offset <= text.length(), "offset " + offset + " of token " + j);
            String piece = lp.get("tokens").get(j).asText().replace('\u2581', ' ');
            if (offset > 0 && !piece.isBlank()) {
                assertTrue(text.startsWith(piece.strip(), offset + piece.indexOf(piece.strip())), "token " + j + " '" + piece + "' at " + offset);
            }
            previous = offset;
        }
    }

    @Test
    void scoringOnlyGeneratesNothingAndStreamsThePromptFirst() throws Exception {
        JsonNode whole = post("{\"prompt\": \"The little dog\", \"max_tokens\": 0, \"echo\": true, \"logprobs\": 1}");
        JsonNode c = whole.get("choices").get(0);
        assertEquals("The little dog", c.get("text").asText());
        assertEquals("length", c.get("finish_reason").asText());
        assertEquals(0, whole.get("usage").get("completion_tokens").asInt());

        HttpResponse<String> s = fixture.post("/v1/completions",
                "{\"prompt\": \"The little dog\", \"max_tokens\": 6, \"echo\": true, \"temperature\": 0, \"stream\": true}", false);
        List<JsonNode> chunks = new ArrayList<>();
        for (String line : s.body().split("\n")) {
            if (line.startsWith("data: {")) {
                chunks.add(Json.MAPPER.readTree(line.substring(6)));
            }
        }
        assertEquals("The little dog", chunks.getFirst().get("choices").get(0).get("text").asText());
        StringBuilder streamed = new StringBuilder();
        chunks.forEach(k -> streamed.append(k.get("choices").get(0).get("text").asText()));
        JsonNode plain = post("{\"prompt\": \"The little dog\", \"max_tokens\": 6, \"echo\": true, \"temperature\": 0}");
        assertEquals(plain.get("choices").get(0).get("text").asText(), streamed.toString());
        assertTrue(streamed.length() > "The little dog".length());
    }

    @Test
    void theSdkReadsAnEchoedAnswer() {
        Completion r = fixture.client().completions().create(CompletionCreateParams.builder()
                .model(LoopbackServer.MODEL).prompt("Once upon a time").maxTokens(4).temperature(0.0).echo(true).logprobs(1).build());
        String text = r.choices().getFirst().text();
        assertTrue(text.startsWith("Once upon a time") && text.length() > "Once upon a time".length(), text);
        assertEquals(ids("Once upon a time").length + 4, r.choices().getFirst().logprobs().orElseThrow().tokens().orElseThrow().size());
    }

    /** vLLM's prompt_logprobs: each prompt token's own entry (with its rank) and the top alternatives, beside the echo's scores. */
    @Test
    void promptLogprobsListEachTokenWithItsRank() throws Exception {
        int[] prompt = ids("Once upon a time, there was a little dog");
        JsonNode c = post("{\"prompt\": " + idList(prompt) + ", \"max_tokens\": 1, \"echo\": true, \"logprobs\": 1,"
                + " \"prompt_logprobs\": 3}").get("choices").get(0);
        JsonNode pl = c.get("prompt_logprobs");
        assertEquals(prompt.length, pl.size());
        assertTrue(pl.get(0).isNull());
        for (int j = 1; j < prompt.length; j++) {
            JsonNode e = pl.get(j);
            JsonNode own = e.get(Integer.toString(prompt[j]));
            assertEquals(c.get("logprobs").get("token_logprobs").get(j).asDouble(), own.get("logprob").asDouble(), 1e-6, "token " + j);
            assertTrue(e.size() >= 3 && e.size() <= 4, e.toString());
            int better = 0;
            for (var it = e.properties().iterator(); it.hasNext(); ) {
                var alt = it.next();
                if (alt.getValue().get("logprob").asDouble() > own.get("logprob").asDouble()) {
                    better++;
                }
                assertEquals(fixture.tern().tokenizer().tokenText(Integer.parseInt(alt.getKey())).replace('\u2581', ' '),
                        alt.getValue().get("decoded_token").asText());
            }
            assertTrue(own.get("rank").asInt() >= better + 1 && (better < 3 ? own.get("rank").asInt() == better + 1 : true), e.toString());
            assertEquals(1, c.get("logprobs").get("top_logprobs").get(j).size(), "the echo keeps its own number of alternatives");
        }
        JsonNode chat = Json.MAPPER.readTree(fixture.post("/v1/chat/completions", "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}],"
                + " \"max_tokens\": 2, \"prompt_logprobs\": 0}", false).body());
        JsonNode chatPl = chat.get("choices").get(0).get("prompt_logprobs");
        assertEquals(chat.get("usage").get("prompt_tokens").asInt(), chatPl.size(), chat.toString());
        assertEquals(1, chatPl.get(1).size(), "no alternatives: the token alone");
    }

    /** lm-evaluation-harness's remote tokenizer: /tokenizer_info, then vLLM-shaped /tokenize and /detokenize. */
    @Test
    void harnessesCanTokenizeThroughTheServer() throws Exception {
        HttpResponse<String> info = fixture.http().send(java.net.http.HttpRequest.newBuilder(
                java.net.URI.create(fixture.server().url() + "/tokenizer_info")).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, info.statusCode());
        JsonNode i = Json.MAPPER.readTree(info.body());
        assertEquals("</s>", i.get("eos_token").asText());
        assertEquals("<s>", i.get("bos_token").asText());
        assertEquals(fixture.tern().contextSize(), i.get("model_max_length").asInt());
        JsonNode eos = Json.MAPPER.readTree(fixture.post("/tokenize", "{\"prompt\": \"</s>\", \"add_special_tokens\": false}", false).body());
        assertEquals(fixture.tern().tokenizer().eos(), eos.get("tokens").get(0).asInt());
        JsonNode withBos = Json.MAPPER.readTree(fixture.post("/tokenize", "{\"prompt\": \"Once upon a time\"}", false).body());
        assertEquals(idList(ids("Once upon a time")), withBos.get("tokens").toString(), "vLLM adds special tokens unless told not to");
        assertEquals(ids("Once upon a time").length, withBos.get("count").asInt());
        JsonNode text = Json.MAPPER.readTree(fixture.post("/detokenize", "{\"tokens\": " + withBos.get("tokens") + "}", false).body());
        assertTrue(text.get("prompt").asText().endsWith("Once upon a time"), text.toString());
    }

    @Test
    void chatDoesNotEcho() throws Exception {
        HttpResponse<String> r = fixture.post("/v1/chat/completions",
                "{\"messages\": [{\"role\":\"user\",\"content\":\"hi\"}], \"echo\": true}", false);
        assertEquals(400, r.statusCode());
        assertEquals("echo", Json.MAPPER.readTree(r.body()).get("error").get("param").asText());
        HttpResponse<String> zero = fixture.post("/v1/completions", "{\"prompt\": \"hi\", \"max_tokens\": 0}", false);
        assertEquals(400, zero.statusCode(), "nothing to generate and nothing to echo");
    }
}
