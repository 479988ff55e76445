package dev.tern.sampling;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Prefixes each followed by their own grammar: a call's name choosing its arguments' schema. */
class ChoiceGrammarTest {
    private static final ChoiceGrammar CALLS = new ChoiceGrammar(List.of(
            new ChoiceGrammar.Option("get_weather[ARGS]", JsonSchema.parse("{\"type\": \"object\", \"properties\": {\"city\": {\"type\": \"string\"}},"
                    + " \"required\": [\"city\"], \"additionalProperties\": false}")),
            new ChoiceGrammar.Option("get_time[ARGS]", JsonSchema.parse("{\"type\": \"object\", \"properties\": {\"zone\": {\"type\": \"integer\"}},"
                    + " \"required\": [\"zone\"], \"additionalProperties\": false}")),
            new ChoiceGrammar.Option("say:", TextPattern.regex("[a-z]+!"))));

    /** Bytes accepted before the recognizer refuses one (the whole length when it refuses none). */
    private static int accepted(Grammar g, String text) {
        Recognizer r = g instanceof TriggeredGrammar t ? new TriggeredRecognizer(t, () -> new ChoiceRecognizer((ChoiceGrammar) t.grammar(),
                ChoiceGrammarTest::inner)) : new ChoiceRecognizer((ChoiceGrammar) g, ChoiceGrammarTest::inner);
        byte[] b = text.getBytes(StandardCharsets.UTF_8);
        for (int i = 0; i < b.length; i++) {
            if (!r.feed(b[i] & 0xFF)) {
                return i;
            }
        }
        return b.length;
    }

    private static Recognizer inner(Grammar g) {
        return g instanceof JsonSchema s ? new JsonGrammar(s) : new PatternRecognizer((TextPattern) g);
    }

    @Test
    void eachPrefixAllowsOnlyItsOwnGrammar() {
        String weather = "get_weather[ARGS]{\"city\": \"Paris\"}";
        assertEquals(weather.length(), accepted(CALLS, weather));
        String time = "get_time[ARGS]{\"zone\": 2}";
        assertEquals(time.length(), accepted(CALLS, time));
        String crossed = "get_time[ARGS]{\"city\": \"Paris\"}";
        assertEquals(crossed.indexOf("city"), accepted(CALLS, crossed), "get_time's arguments have no city");
        assertEquals(4, accepted(CALLS, "get_date[ARGS]{}"), "no tool of that name");
        assertEquals("say:hi!".length(), accepted(CALLS, "say:hi!"));
        assertEquals(4, accepted(CALLS, "say:Hi!"), "the pattern wants lower case");

        ChoiceRecognizer r = new ChoiceRecognizer(CALLS, ChoiceGrammarTest::inner);
        assertTrue(r.feed("get_wea".getBytes(StandardCharsets.UTF_8)));
        assertFalse(r.complete());
        ChoiceRecognizer copy = new ChoiceRecognizer(CALLS, ChoiceGrammarTest::inner);
        copy.copyFrom(r);
        assertTrue(copy.feed("ther[ARGS]{\"city\": \"Rome\"}".getBytes(StandardCharsets.UTF_8)) && copy.complete());
        assertFalse(r.feed('x'), "the original is where it was: 'get_wea' cannot go on with x");
    }

    @Test
    void afterATriggerEveryCallChoosesAgain() {
        TriggeredGrammar lazy = new TriggeredGrammar("[TOOL_CALLS]", CALLS);
        String two = "Sure.[TOOL_CALLS]get_weather[ARGS]{\"city\": \"Paris\"}[TOOL_CALLS]get_time[ARGS]{\"zone\": 1} done";
        assertEquals(two.length(), accepted(lazy, two));
        String bad = "[TOOL_CALLS]get_weather[ARGS]{\"city\": \"Paris\"}[TOOL_CALLS]get_time[ARGS]{\"city\"";
        assertEquals(bad.lastIndexOf("city"), accepted(lazy, bad));
    }

    @Test
    void noPrefixMayBeginAnother() {
        assertThrows(IllegalArgumentException.class, () -> new ChoiceGrammar(List.of(new ChoiceGrammar.Option("get", TextPattern.regex("a")),
                new ChoiceGrammar.Option("get_time", TextPattern.regex("b")))));
    }
}
