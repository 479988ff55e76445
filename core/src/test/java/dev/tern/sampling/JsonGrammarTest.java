package dev.tern.sampling;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The recognizer against Jackson, a strict JSON parser, on generated and mutated documents. */
class JsonGrammarTest {
    private static final ObjectMapper STRICT = new ObjectMapper().enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);
    private static final String ALPHABET = "{}[]:,\"\\ \t\n0123456789-+.eEtrufalsnxb/é\u0001";

    @Test
    void everyPrefixOfAnObjectIsAcceptedAndOnlyTheWholeIsComplete() throws Exception {
        SplittableRandom rnd = new SplittableRandom(1);
        for (int i = 0; i < 300; i++) {
            ObjectNode doc = randomObject(rnd, 0);
            String text = i % 2 == 0 ? STRICT.writeValueAsString(doc) : STRICT.writerWithDefaultPrettyPrinter().writeValueAsString(doc);
            byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
            JsonGrammar g = new JsonGrammar(JsonSchema.ANY_OBJECT);
            for (int k = 0; k < bytes.length; k++) {
                assertFalse(g.complete(), text);
                assertTrue(g.feed(bytes[k] & 0xFF), () -> "refused byte " + " of " + text);
            }
            assertTrue(g.complete(), text);
            assertFalse(g.feed(' '), "nothing may follow the object");
        }
    }

    @Test
    void acceptsExactlyWhatAStrictParserAccepts() throws Exception {
        SplittableRandom rnd = new SplittableRandom(2);
        int valid = 0;
        for (int i = 0; i < 20_000; i++) {
            String text = mutate(STRICT.writeValueAsString(randomObject(rnd, 0)), rnd);
            boolean expected = strictlyAnObject(text);
            JsonGrammar g = new JsonGrammar(JsonSchema.ANY_OBJECT);
            boolean actual = g.feed(text.getBytes(StandardCharsets.UTF_8)) && g.complete();
            assertEquals(expected, actual, text);
            valid += expected ? 1 : 0;
        }
        // The mutations must exercise both answers.
        assertTrue(valid > 2_000 && valid < 18_000, "valid documents: " + valid);
    }

    @Test
    void handPickedCases() {
        for (String ok : new String[]{"{}", " {\"a\":1}", "{\"a\":[1,-0.5e+3,true,false,null,{}]}", "{\"\\u00e9\\n\":\"é\"}",
                "{\"a\" : [ ] }", "{\"a\":0}", "{\"a\":-0}", "{\"a\":1E5}"}) {
            JsonGrammar g = new JsonGrammar(JsonSchema.ANY_OBJECT);
            assertTrue(g.feed(ok.getBytes(StandardCharsets.UTF_8)) && g.complete(), ok);
        }
        for (String bad : new String[]{"[]", "{\"a\":01}", "{\"a\":1.}", "{\"a\":.5}", "{\"a\":tru}", "{a:1}", "{\"a\":1,}",
                "{\"a\":\"\\x\"}", "{\"a\":[1}", "{\"a\":NaN}", "{\"a\":\"\u0001\"}", "{}}"}) {
            JsonGrammar g = new JsonGrammar(JsonSchema.ANY_OBJECT);
            assertFalse(g.feed(bad.getBytes(StandardCharsets.UTF_8)) && g.complete(), bad);
        }
    }

    @Test
    void malformedUtf8InAStringIsRefused() {
        JsonGrammar g = new JsonGrammar(JsonSchema.ANY_OBJECT);
        assertTrue(g.feed("{\"a\":\"".getBytes(StandardCharsets.UTF_8)));
        JsonGrammar lone = new JsonGrammar(JsonSchema.ANY_OBJECT);
        lone.copyFrom(g);
        assertFalse(lone.feed(0x80), "a continuation byte without a lead");
        JsonGrammar cut = new JsonGrammar(JsonSchema.ANY_OBJECT);
        cut.copyFrom(g);
        assertTrue(cut.feed(0xC3));
        assertFalse(cut.feed('"'), "a string may not end inside a character");
    }

    @Test
    void whitespaceIsOneSpaceOrANewlineAndAnIndentAndNestingIsBounded() {
        assertFalse(accepts("{  }"), "two spaces");
        assertFalse(accepts("{\n\n}"), "two newlines");
        assertFalse(accepts("{\t}"), "a tab without a newline");
        assertTrue(accepts("{\n" + " ".repeat(JsonCursor.MAX_INDENT) + "\"a\": \"x  y\"\n}"));
        assertFalse(accepts("{\n" + " ".repeat(JsonCursor.MAX_INDENT + 1) + "}"));
        JsonGrammar deep = new JsonGrammar(JsonSchema.ANY_OBJECT);
        assertTrue(deep.feed(("{\"a\":" + "[".repeat(JsonCursor.MAX_DEPTH - 1)).getBytes(StandardCharsets.UTF_8)));
        assertFalse(deep.feed('['));
    }

    private static boolean accepts(String text) {
        JsonGrammar g = new JsonGrammar(JsonSchema.ANY_OBJECT);
        return g.feed(text.getBytes(StandardCharsets.UTF_8)) && g.complete();
    }

    private static boolean strictlyAnObject(String text) {
        // Beyond JSON itself the grammar ends at the closing brace and allows llama.cpp's whitespace only.
        if (text.isEmpty() || Character.isWhitespace(text.charAt(text.length() - 1)) || !gapsAllowed(text)) {
            return false;
        }
        try {
            JsonNode node = STRICT.readTree(text);
            return node != null && node.isObject();
        } catch (Exception invalid) {
            return false;
        }
    }

    /** Every whitespace run outside strings is one space, or a newline and at most MAX_INDENT spaces or tabs. */
    static boolean gapsAllowed(String text) {
        Pattern gap = Pattern.compile("( |\n[ \t]{0," + JsonCursor.MAX_INDENT + "})");
        boolean inString = false;
        int i = 0;
        while (i < text.length()) {
            char c = text.charAt(i);
            if (inString) {
                if (c == '\\') {
                    i++;
                } else if (c == '"') {
                    inString = false;
                }
                i++;
            } else if (" \t\n\r".indexOf(c) >= 0) {
                int end = i;
                while (end < text.length() && " \t\n\r".indexOf(text.charAt(end)) >= 0) {
                    end++;
                }
                if (!gap.matcher(text.substring(i, end)).matches()) {
                    return false;
                }
                i = end;
            } else {
                inString = c == '"';
                i++;
            }
        }
        return true;
    }

    private static String mutate(String text, SplittableRandom rnd) {
        StringBuilder b = new StringBuilder(text);
        int edits = rnd.nextInt(3);
        for (int e = 0; e < edits; e++) {
            int at = rnd.nextInt(b.length() + 1);
            char c = ALPHABET.charAt(rnd.nextInt(ALPHABET.length()));
            switch (rnd.nextInt(3)) {
                case 0 -> b.insert(at, c);
                case 1 -> {
                    if (at < b.length()) {
                        b.deleteCharAt(at);
                    }
                }
                default -> {
                    if (at < b.length()) {
                        b.setCharAt(at, c);
                    }
                }
            }
        }
        return b.toString();
    }

    private static ObjectNode randomObject(SplittableRandom rnd, int depth) {
        ObjectNode o = JsonNodeFactory.instance.objectNode();
        int n = rnd.nextInt(depth == 0 ? 1 : 0, 4);
        for (int i = 0; i < n; i++) {
            o.set(randomString(rnd), randomValue(rnd, depth + 1));
        }
        return o;
    }

    private static JsonNode randomValue(SplittableRandom rnd, int depth) {
        JsonNodeFactory f = JsonNodeFactory.instance;
        int kind = rnd.nextInt(depth > 4 ? 6 : 8);
        return switch (kind) {
            case 0 -> f.textNode(randomString(rnd));
            case 1 -> f.numberNode(rnd.nextInt(-1000, 1000));
            case 2 -> f.numberNode(rnd.nextDouble() * Math.pow(10, rnd.nextInt(-30, 30)) * (rnd.nextBoolean() ? 1 : -1));
            case 3 -> f.booleanNode(rnd.nextBoolean());
            case 4 -> f.nullNode();
            case 5 -> f.numberNode(0);
            case 6 -> randomObject(rnd, depth);
            default -> {
                ArrayNode a = f.arrayNode();
                List<JsonNode> items = new ArrayList<>();
                for (int i = rnd.nextInt(4); i > 0; i--) {
                    items.add(randomValue(rnd, depth + 1));
                }
                a.addAll(items);
                yield a;
            }
        };
    }

    private static String randomString(SplittableRandom rnd) {
        String chars = "ab \"\\/\n\té€😀\u0007z";
        StringBuilder b = new StringBuilder();
        for (int i = rnd.nextInt(6); i > 0; i--) {
            int at = rnd.nextInt(chars.length());
            char c = chars.charAt(at);
            b.append(c);
            if (Character.isHighSurrogate(c) && at + 1 < chars.length()) {
                b.append(chars.charAt(at + 1));
            } else if (Character.isLowSurrogate(c)) {
                b.setLength(b.length() - 1);
            }
        }
        return b.toString();
    }
}
