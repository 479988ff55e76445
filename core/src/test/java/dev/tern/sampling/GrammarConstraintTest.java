package dev.tern.sampling;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tern.TernException;
import dev.tern.gguf.GGUFFile;
import dev.tern.testing.Fixtures;
import dev.tern.tokenizer.Tokenizer;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** JSON-constrained sampling over a real vocabulary (stories260K's 512 tokens), checked with a strict parser. */
class GrammarConstraintTest {
    private static final ObjectMapper STRICT = new ObjectMapper().enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);
    private static Tokenizer tokenizer;
    private static GrammarConstraint.Vocabulary vocab;

    @BeforeAll
    static void load() {
        tokenizer = storiesTokenizer();
        vocab = new GrammarConstraint.Vocabulary(tokenizer);
    }

    /** stories260K's 512-token vocabulary, whose byte tokens can begin any UTF-8 character. */
    static Tokenizer storiesTokenizer() {
        try (GGUFFile f = GGUFFile.open(Fixtures.stories260K("stories260K-f32.gguf"))) {
            return Tokenizer.fromGGUF(f);
        }
    }

    @Test
    void randomLogitsSampleOnlyJsonObjectsThatEndAtTheirClosingBrace() throws Exception {
        SplittableRandom rnd = new SplittableRandom(3);
        int completed = 0;
        for (int seed = 0; seed < 40; seed++) {
            GrammarConstraint c = new GrammarConstraint(vocab, JsonSchema.ANY_OBJECT);
            Sampled sampled = sampleRandomly(tokenizer, c, seed, rnd, 400);
            String text = sampled.text();
            boolean ended = sampled.ended();
            assertEquals(ended, c.complete(), text);
            if (ended) {
                completed++;
                JsonNode node = STRICT.readTree(text);
                assertTrue(node.isObject(), text);
            } else {
                assertFalse(parses(text), "an unfinished object must not parse: " + text);
            }
        }
        assertTrue(completed >= 10, "objects closed within 400 tokens: " + completed + " of 40");
    }

    @Test
    void aModelThatWritesValidJsonIsNotDisturbed() {
        String target = "{\"name\": \"Lily\", \"friends\": [\"Tom\", \"Sue\"], \"age\": 3, \"happy\": true}";
        int[] ids = tokenizer.encode(target, false, false);
        GrammarConstraint c = new GrammarConstraint(vocab, JsonSchema.ANY_OBJECT);
        Sampler s = new Sampler(SamplerConfig.greedy(), tokenizer.vocabSize(), c);
        int[] got = new int[ids.length];
        for (int i = 0; i < ids.length; i++) {
            got[i] = s.sample(prefer(ids[i]));
        }
        assertTrue(Arrays.equals(ids, got), tokenizer.decode(got));
        assertTrue(c.complete());
        // After the closing brace only the end: the model's favourite is refused.
        int end = s.sample(prefer(ids[0]));
        assertTrue(tokenizer.isEndOfGeneration(end), "got " + end);
    }

    @Test
    void refusedFavouritesGiveWayToTheBestAllowedToken() {
        GrammarConstraint c = new GrammarConstraint(vocab, JsonSchema.ANY_OBJECT);
        Sampler s = new Sampler(SamplerConfig.greedy(), tokenizer.vocabSize(), c);
        int once = tokenizer.encode("Once", false, false)[0];
        int brace = tokenizer.encode("{", false, false)[0];
        float[] logits = prefer(once);
        logits[brace] = 5f;
        assertEquals(brace, s.sample(logits), "'Once' cannot start a JSON object; '{' is the next best");
        float[] banned = new float[tokenizer.vocabSize()];
        Arrays.fill(banned, Float.NEGATIVE_INFINITY);
        assertThrows(TernException.class, () -> new Sampler(SamplerConfig.greedy(), tokenizer.vocabSize(), new GrammarConstraint(vocab, JsonSchema.ANY_OBJECT))
                .sample(banned));
    }

    @Test
    void theMaskRefusesExactlyWhatAllowsRefuses() throws Exception {
        JsonSchema union = JsonSchema.parse("""
                {"anyOf": [{"type": "object", "properties": {"a": {"type": "integer", "maximum": 50}}, "additionalProperties": false},
                           {"type": "object", "properties": {"ab": {"type": "array", "items": {"enum": ["x y", 12]}}}}]}""");
        List<Tokenizer> vocabularies = new ArrayList<>(List.of(tokenizer));
        for (String v : new String[]{"ggml-vocab-llama-spm.gguf", "ggml-vocab-gpt-2.gguf"}) {
            try (GGUFFile f = GGUFFile.open(Fixtures.tokenizers().resolve("llama.cpp-vocab/" + v))) {
                vocabularies.add(Tokenizer.fromGGUF(f));
            }
        }
        SplittableRandom rnd = new SplittableRandom(9);
        for (Tokenizer t : vocabularies) {
            GrammarConstraint.Vocabulary v = new GrammarConstraint.Vocabulary(t);
            for (JsonSchema schema : List.of(JsonSchema.ANY_OBJECT, union)) {
                GrammarConstraint c = new GrammarConstraint(v, schema);
                for (int step = 0; step < 25 && !c.complete(); step++) {
                    float[] logits = new float[t.vocabSize()];
                    c.mask(logits);
                    List<Integer> allowed = new ArrayList<>();
                    for (int id = 0; id < logits.length; id++) {
                        assertEquals(c.allows(id), logits[id] == 0f, "token " + id + " at step " + step);
                        if (c.allows(id) && !t.isEndOfGeneration(id)) {
                            allowed.add(id);
                        }
                    }
                    c.accept(allowed.get(rnd.nextInt(allowed.size())));
                }
            }
        }
    }

    /**
     * Random logits into a string with a pattern: the vocabulary's byte tokens may begin UTF-8
     * characters, and one that can only become a character the pattern refuses must be refused at
     * once, or the sampler is left with no token to go on.
     */
    @Test
    void patternedStringsNeverLeaveTheSamplerStuck() throws Exception {
        JsonSchema schema = JsonSchema.parse("""
                {"type": "object", "properties": {"code": {"type": "string", "pattern": "^[a-z]{2,5}$"},
                 "name": {"type": "string", "pattern": "^(é|ü|日本)+$"}}, "required": ["code", "name"], "additionalProperties": false}""");
        SplittableRandom rnd = new SplittableRandom(4);
        int ended = 0;
        for (int seed = 0; seed < 40; seed++) {
            Sampled sampled = sampleRandomly(tokenizer, new GrammarConstraint(vocab, schema), seed, rnd, 200);
            if (sampled.ended()) {
                ended++;
                JsonNode node = STRICT.readTree(sampled.text());
                assertTrue(node.path("code").asText().matches("[a-z]{2,5}") && node.path("name").asText().matches("(é|ü|日本)+"), node.toString());
            }
        }
        assertTrue(ended >= 10, "ended " + ended + " of 40");
    }

    /** What {@link #sampleRandomly} drew: the text, and whether an end-of-generation token came. */
    record Sampled(String text, boolean ended) {
    }

    /** Samples up to {@code steps} tokens from Gaussian logits (σ 3) under {@code c}, at temperature 1 with seed {@code seed}. */
    static Sampled sampleRandomly(Tokenizer tokenizer, GrammarConstraint c, int seed, SplittableRandom rnd, int steps) {
        int n = tokenizer.vocabSize();
        Sampler s = new Sampler(new SamplerConfig(1f, 0, 1f, 0f, 1f, 64, 0f, 0f, seed), n, c);
        List<Integer> out = new ArrayList<>();
        for (int step = 0; step < steps; step++) {
            float[] logits = new float[n];
            for (int i = 0; i < n; i++) {
                logits[i] = (float) rnd.nextGaussian() * 3;
            }
            int t = s.sample(logits);
            if (tokenizer.isEndOfGeneration(t)) {
                return new Sampled(tokenizer.decode(out.stream().mapToInt(Integer::intValue).toArray()), true);
            }
            out.add(t);
        }
        return new Sampled(tokenizer.decode(out.stream().mapToInt(Integer::intValue).toArray()), false);
    }

    private float[] prefer(int token) {
        float[] logits = new float[tokenizer.vocabSize()];
        logits[token] = 10f;
        return logits;
    }

    private static boolean parses(String text) {
        try {
            STRICT.readTree(text);
            return !text.isBlank();
        } catch (Exception e) {
            return false;
        }
    }
}
