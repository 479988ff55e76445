package dev.tern.sampling;

import dev.tern.tokenizer.Tokenizer;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Free text with a constrained part after a trigger (llama.cpp's lazy grammars), as tool calls use it. */
class TriggeredGrammarTest {
    private static final JsonSchema CALL = JsonSchema.parse("""
            {"type": "object", "properties": {"name": {"const": "get_weather"},
             "arguments": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"], "additionalProperties": false}},
             "required": ["name", "arguments"], "additionalProperties": false}""");

    private static TriggeredRecognizer recognizer(TriggeredGrammar g) {
        return new TriggeredRecognizer(g, () -> new JsonGrammar((JsonSchema) g.grammar()));
    }

    /** Bytes accepted before the recognizer refuses one (the whole length when it refuses none). */
    private static int accepted(TriggeredGrammar g, String text) {
        TriggeredRecognizer r = recognizer(g);
        byte[] b = text.getBytes(StandardCharsets.UTF_8);
        for (int i = 0; i < b.length; i++) {
            if (!r.feed(b[i] & 0xFF)) {
                return i;
            }
        }
        return b.length;
    }

    @Test
    void callsAfterTheTagAreHeldToTheirSchema() {
        TriggeredGrammar g = new TriggeredGrammar("<tool_call>", CALL);
        String call = "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>";
        String answer = "Let me check <tool> tags. " + call + "\n" + call + " Done.";
        assertEquals(answer.length(), accepted(g, answer), "free text, two calls, free text again");
        String badName = "Sure.<tool_call>\n{\"name\": \"get_time\"";
        assertEquals(badName.indexOf("get_time") + 4, accepted(g, badName), "refused where the name leaves the schema");
        String badArgs = "<tool_call>{\"name\": \"get_weather\", \"arguments\": {\"city\": 3";
        assertEquals(badArgs.length() - 1, accepted(g, badArgs), "a number where the schema wants a string");
        TriggeredRecognizer r = recognizer(g);
        assertTrue(r.feed("No call at all".getBytes(StandardCharsets.UTF_8)) && r.complete());
        assertTrue(r.feed("<tool_call>{\"name\"".getBytes(StandardCharsets.UTF_8)));
        assertFalse(r.complete(), "an unfinished call may not end the answer");
    }

    /** A trigger at the start (Llama 3's bare JSON calls): an answer opening with it is one call, any other is free. */
    @Test
    void aTriggerAtTheStartMakesTheWholeOpeningACall() {
        TriggeredGrammar g = new TriggeredGrammar("{", CALL, true);
        String call = "{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}";
        assertEquals(call.length() + 2, accepted(g, " \n" + call), "whitespace, then a call");
        assertEquals(call.length() + 6, accepted(g, call + " Done."), "free text after the call");
        String wrong = "{\"name\": \"get_weather\", \"arguments\": {\"town\"";
        assertEquals(wrong.indexOf("town"), accepted(g, wrong), "held to the schema from its first brace");
        String text = "It is sunny. {\"name\": 3}";
        assertEquals(text.length(), accepted(g, text), "a brace later in free text triggers nothing");
        String twice = call + " " + "{\"name\": 3}";
        assertEquals(twice.length(), accepted(g, twice), "only the opening counts");
        TriggeredRecognizer r = recognizer(g);
        assertTrue(r.feed("  ".getBytes(StandardCharsets.UTF_8)) && r.complete());
        assertTrue(r.feed("{\"na".getBytes(StandardCharsets.UTF_8)));
        assertFalse(r.complete(), "an unfinished call may not end the answer");
        TriggeredRecognizer copy = recognizer(g);
        copy.copyFrom(r);
        assertFalse(copy.feed('x'), "the copy is inside the call too");
    }

    /** The trigger is found wherever it ends, also after a false start that overlaps it (the matcher's borders). */
    @Test
    void theTriggerIsFoundAfterOverlappingFalseStarts() {
        TriggeredGrammar g = new TriggeredGrammar("abab!", JsonSchema.parse("{\"type\": \"integer\"}"));
        SplittableRandom rnd = new SplittableRandom(8);
        for (int i = 0; i < 3000; i++) {
            StringBuilder sb = new StringBuilder();
            for (int k = rnd.nextInt(12); k > 0; k--) {
                sb.append("ab!x".charAt(rnd.nextInt(4)));
            }
            String free = sb.toString();
            // After the first "abab!" only digits may follow.
            String text = free + "z";
            int at = free.indexOf("abab!");
            int expected = at < 0 ? text.length() : at + 5;
            assertEquals(expected, accepted(g, text), "'" + text + "'");
        }
    }

    /** Through GrammarConstraint over a real vocabulary: the model's favourite is refused only inside the call. */
    @Test
    void theSamplerIsFreeUntilTheTag() {
        Tokenizer tokenizer = GrammarConstraintTest.storiesTokenizer();
        GrammarConstraint.Vocabulary vocab = new GrammarConstraint.Vocabulary(tokenizer);
        GrammarConstraint c = new GrammarConstraint(vocab, new TriggeredGrammar("<tool_call>", CALL));
        int once = tokenizer.encode("Once", false, false)[0];
        assertTrue(c.allows(once), "free text before any tag");
        for (int id : tokenizer.encode("Hi <tool_call>", false, false)) {
            c.accept(id);
        }
        assertFalse(c.allows(once), "inside the call only JSON of the schema");
        float[] logits = new float[tokenizer.vocabSize()];
        logits[once] = 10f;
        c.mask(logits);
        assertEquals(Float.NEGATIVE_INFINITY, logits[once]);
        assertTrue(c.allows(tokenizer.encode("{", false, false)[0]) || c.allows(tokenizer.encode(" {", false, false)[0]));
    }
}
