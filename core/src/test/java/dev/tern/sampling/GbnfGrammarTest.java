package dev.tern.sampling;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tern.TernException;
import dev.tern.tokenizer.Tokenizer;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.SplittableRandom;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** llama.cpp's GBNF grammars, checked against independent recognizers: java.util.regex, a bracket counter, Jackson. */
class GbnfGrammarTest {
    private static final ObjectMapper STRICT = new ObjectMapper().enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

    /** A JSON grammar in GBNF (compact and spaced forms), written for this test after llama.cpp's grammars/json.gbnf. */
    private static final String JSON = """
            root   ::= value
            value  ::= object | array | string | number | ("true" | "false" | "null")
            object ::=
              "{" ws (
                        string ws ":" ws value ws
                ("," ws string ws ":" ws value ws)*
              )? "}"
            array  ::= "[" ws ( value ws ("," ws value ws)* )? "]"
            string ::= "\\"" ( [^"\\\\\\x7F\\x00-\\x1F] | "\\\\" (["\\\\/bfnrt] | "u" [0-9a-fA-F]{4}) )* "\\""
            number ::= "-"? ([0-9] | [1-9] [0-9]*) ("." [0-9]+)? ([eE] [-+]? [0-9]+)?
            # at most one space or a newline between tokens
            ws ::= ([ \\t\\n] ws)?
            """;

    private static boolean reads(GbnfGrammar g, String text) {
        GbnfRecognizer r = new GbnfRecognizer(g);
        return r.feed(text.getBytes(StandardCharsets.UTF_8)) && r.complete();
    }

    private static String random(SplittableRandom rnd, String alphabet, int maxLength) {
        StringBuilder sb = new StringBuilder();
        int len = rnd.nextInt(maxLength + 1);
        for (int i = 0; i < len; i++) {
            sb.append(alphabet.charAt(rnd.nextInt(alphabet.length())));
        }
        return sb.toString();
    }

    @Test
    void agreesWithTheEquivalentRegex() {
        GbnfGrammar g = GbnfGrammar.parse("""
                root ::= item ("," ws item)*   # a list
                item ::= [a-c]+ | num
                num  ::= "-"? [0-9]{1,3} ("." [0-9]+)?
                ws   ::= " "?
                """);
        Pattern ref = Pattern.compile("(?:[a-c]+|-?[0-9]{1,3}(?:\\.[0-9]+)?)(?:, ?(?:[a-c]+|-?[0-9]{1,3}(?:\\.[0-9]+)?))*");
        SplittableRandom rnd = new SplittableRandom(1);
        int matched = 0;
        for (int i = 0; i < 20000; i++) {
            String s = random(rnd, "abc0129-., x", 10);
            boolean expected = ref.matcher(s).matches();
            matched += expected ? 1 : 0;
            assertEquals(expected, reads(g, s), "'" + s + "'");
        }
        assertTrue(matched > 500, "matching strings tried: " + matched);
    }

    @Test
    void recursionAgreesWithABracketCounter() {
        GbnfGrammar g = GbnfGrammar.parse("root ::= pair*\npair ::= \"(\" root \")\" | \"[\" root \"]\"");
        SplittableRandom rnd = new SplittableRandom(2);
        int matched = 0;
        for (int i = 0; i < 20000; i++) {
            String s = random(rnd, "()[]", 12);
            boolean expected = balanced(s);
            matched += expected ? 1 : 0;
            assertEquals(expected, reads(g, s), "'" + s + "'");
        }
        assertTrue(matched > 200, "balanced strings tried: " + matched);
    }

    private static boolean balanced(String s) {
        Deque<Character> open = new ArrayDeque<>();
        for (char c : s.toCharArray()) {
            if (c == '(' || c == '[') {
                open.push(c);
            } else if (open.isEmpty() || open.pop() != (c == ')' ? '(' : '[')) {
                return false;
            }
        }
        return open.isEmpty();
    }

    /** Jackson's documents are texts of the JSON grammar; edited ones the grammar takes, Jackson parses. */
    @Test
    void theJsonGrammarAgreesWithJackson() throws Exception {
        GbnfGrammar g = GbnfGrammar.parse(JSON);
        SplittableRandom rnd = new SplittableRandom(3);
        int accepted = 0;
        for (int i = 0; i < 400; i++) {
            String doc = STRICT.writeValueAsString(randomValue(rnd, 3));
            assertTrue(reads(g, doc), doc);
            for (int k = 0; k < 10; k++) {
                StringBuilder edited = new StringBuilder(doc);
                int at = rnd.nextInt(edited.length() + 1);
                String inserts = "{}[],:\" 1e-.a\\";
                switch (rnd.nextInt(3)) {
                    case 0 -> edited.insert(at, inserts.charAt(rnd.nextInt(inserts.length())));
                    case 1 -> edited.deleteCharAt(Math.min(at, edited.length() - 1));
                    default -> edited.setCharAt(Math.min(at, edited.length() - 1), ",]\"0 ".charAt(rnd.nextInt(5)));
                }
                String s = edited.toString();
                if (reads(g, s)) {
                    accepted++;
                    STRICT.readTree(s);
                }
            }
        }
        assertTrue(accepted > 50, "edited documents still JSON: " + accepted);
    }

    private static JsonNode randomValue(SplittableRandom rnd, int depth) {
        JsonNodeFactory f = JsonNodeFactory.instance;
        switch (depth == 0 ? rnd.nextInt(4) : rnd.nextInt(6)) {
            case 0 -> {
                return f.numberNode(rnd.nextInt(2001) - 1000);
            }
            case 1 -> {
                return f.numberNode(rnd.nextDouble() * 100 - 50);
            }
            case 2 -> {
                return f.textNode(random(rnd, "ab \"\\é日\n\u0001/", 6));
            }
            case 3 -> {
                return rnd.nextBoolean() ? f.booleanNode(rnd.nextBoolean()) : f.nullNode();
            }
            case 4 -> {
                ArrayNode a = f.arrayNode();
                for (int i = rnd.nextInt(4); i > 0; i--) {
                    a.add(randomValue(rnd, depth - 1));
                }
                return a;
            }
            default -> {
                ObjectNode o = f.objectNode();
                for (int i = rnd.nextInt(4); i > 0; i--) {
                    o.set(random(rnd, "kxy", 3), randomValue(rnd, depth - 1));
                }
                return o;
            }
        }
    }

    @Test
    void charactersBeyondAscii() {
        GbnfGrammar g = GbnfGrammar.parse("root ::= \"日本\" [à-ü]+ \"\\u00e9\"{2}");
        assertTrue(reads(g, "日本àüéé"));
        assertFalse(reads(g, "日本éé"));
        assertFalse(reads(g, "日本àé"));
        GbnfRecognizer r = new GbnfRecognizer(g);
        assertFalse(r.feed(0xE5), "a lead byte of no character the grammar takes here (日 is E6 97 A5)");
    }

    @Test
    void unusableGrammarsAreRefusedSayingWhy() {
        String[][] cases = {
                {"root ::= root \"a\" | \"a\"", "left recursion through rule 'root'"},
                {"root ::= x\nx ::= \"b\"? root", "left recursion"},
                {"root ::= item", "rule 'item' is used but not defined"},
                {"item ::= \"a\"", "no rule 'root'"},
                {"root ::= \"abc", "an unclosed string literal at line 1, column 10"},
                {"root ::= [a-", "an unclosed character class"},
                {"root ::= (\"a\"", "an unclosed group"},
                {"root ::= \"a\"{3,1}", "the repetition {3,1}"},
                {"root ::= \"a\"\nroot ::= \"b\"", "rule 'root' is defined twice at line 2"},
                {"root = \"a\"", "expected '::='"},
        };
        for (String[] c : cases) {
            TernException e = assertThrows(TernException.class, () -> GbnfGrammar.parse(c[0]), c[0]);
            assertTrue(e.getMessage().startsWith("grammar: ") && e.getMessage().contains(c[1]), c[0] + " -> " + e.getMessage());
        }
    }

    /** Random logits under a grammar: every answer that ends is a text of it. */
    @Test
    void constrainedSamplingEndsOnlyOnTextsOfTheGrammar() {
        Tokenizer tokenizer = GrammarConstraintTest.storiesTokenizer();
        GrammarConstraint.Vocabulary vocab = new GrammarConstraint.Vocabulary(tokenizer);
        GbnfGrammar g = GbnfGrammar.parse("root ::= answer (\" \" answer){0,3} \".\"\nanswer ::= \"yes\" | \"no\" | \"(\" answer \")\"");
        Pattern ref = Pattern.compile("\\(*(yes|no)\\)*( \\(*(yes|no)\\)*){0,3}\\.");
        SplittableRandom rnd = new SplittableRandom(12);
        int ended = 0;
        for (int seed = 0; seed < 20; seed++) {
            GrammarConstraintTest.Sampled sampled = GrammarConstraintTest.sampleRandomly(tokenizer, new GrammarConstraint(vocab, g), seed, rnd, 80);
            if (sampled.ended()) {
                ended++;
                String text = sampled.text();
                assertTrue(ref.matcher(text).matches() && balanced(text.replaceAll("[^()]", "")), "'" + text + "'");
            }
        }
        assertTrue(ended >= 10, "ended " + ended + " of 20");
    }
}
