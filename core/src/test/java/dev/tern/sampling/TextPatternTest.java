package dev.tern.sampling;

import dev.tern.TernException;
import dev.tern.tokenizer.Tokenizer;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.SplittableRandom;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Whole-output patterns (vLLM's guided_regex and guided_choice): the recognizer, fed UTF-8 bytes,
 * agrees with java.util.regex's full match; constrained sampling only ends on matching text.
 */
class TextPatternTest {
    private static final String[] REGEXES = {"[0-9]{3}-[a-z]+", "(yes|no|maybe)", "\\d+(\\.\\d+)?", "héllo|wörld|日本語?",
            "a*b?c{2,3}", "^[A-Z][a-z]*( [A-Z][a-z]*)*$", "\\w+@\\w+\\.(com|org)"};
    private static final String ALPHABET = "0123456789-abcyesnomaybeABZ .@héllowörld日本語";

    private static boolean reads(TextPattern p, String text) {
        PatternRecognizer r = new PatternRecognizer(p);
        return r.feed(text.getBytes(StandardCharsets.UTF_8)) && r.complete();
    }

    /** Random and matching strings: whole and accepted exactly when java.util.regex matches; a match is never refused on the way. */
    @Test
    void agreesWithJavaRegex() {
        SplittableRandom rnd = new SplittableRandom(5);
        for (String regex : REGEXES) {
            TextPattern p = TextPattern.regex(regex);
            Pattern ref = Pattern.compile(regex);
            for (int i = 0; i < 4000; i++) {
                StringBuilder sb = new StringBuilder();
                int len = rnd.nextInt(9);
                for (int k = 0; k < len; k++) {
                    sb.appendCodePoint(ALPHABET.codePointAt(ALPHABET.offsetByCodePoints(0, rnd.nextInt(ALPHABET.codePointCount(0, ALPHABET.length())))));
                }
                String s = sb.toString();
                assertEquals(ref.matcher(s).matches(), reads(p, s), regex + " on '" + s + "'");
            }
            int matched = 0;
            for (String s : new String[]{"123-abc", "maybe", "3.14", "日本", "héllo", "ccc", "Alice Bob", "me@host.org"}) {
                boolean expected = ref.matcher(s).matches();
                matched += expected ? 1 : 0;
                assertEquals(expected, reads(p, s), regex + " on '" + s + "'");
            }
            assertTrue(matched > 0, regex + " matched none of the fixed strings");
        }
    }

    @Test
    void choicesAreLiteral() {
        TextPattern p = TextPattern.choice(List.of("a.b", "c|d", "(x)", "1+1=2", "naïve"));
        for (String s : new String[]{"a.b", "c|d", "(x)", "1+1=2", "naïve"}) {
            assertTrue(reads(p, s), s);
        }
        for (String s : new String[]{"axb", "c", "d", "x", "11=2", "", "a.bc"}) {
            assertFalse(reads(p, s), s);
        }
        assertTrue(reads(TextPattern.regex("^abc$"), "abc"), "anchors change nothing");
        assertFalse(reads(TextPattern.regex("abc"), "xabcx"), "the whole text must match");
    }

    @Test
    void badUtf8AndUnsupportedPatternsAreRefused() {
        PatternRecognizer r = new PatternRecognizer(TextPattern.regex(".*"));
        assertFalse(r.feed(0x80), "a lone continuation byte");
        for (byte[] bad : new byte[][]{{(byte) 0xC0, (byte) 0xAF}, {(byte) 0xED, (byte) 0xA0, (byte) 0x80}, {(byte) 0xF5}}) {
            assertFalse(new PatternRecognizer(TextPattern.regex(".*")).feed(bad), "overlong, surrogate, beyond U+10FFFF");
        }
        PatternRecognizer half = new PatternRecognizer(TextPattern.regex(".*"));
        assertTrue(half.feed(new byte[]{(byte) 0xC3}));
        assertFalse(half.complete(), "a code point cut in two is not whole");
        assertFalse(new PatternRecognizer(TextPattern.regex("[a-z]+")).feed(0xC3), "a lead byte of only refused code points");
        PatternRecognizer e9 = new PatternRecognizer(TextPattern.regex("é|日"));
        assertTrue(e9.feed(0xE6), "日 begins with E6");
        assertFalse(e9.feed(0x97 ^ 0x01), "but not E6 96: no code point of the pattern there");
        TernException e = assertThrows(TernException.class, () -> TextPattern.regex("(?=a)b"));
        assertTrue(e.getMessage().startsWith("regex '(?=a)b': "), e.getMessage());
        assertThrows(TernException.class, () -> TextPattern.choice(List.of()));
    }

    /** Random logits under a pattern: every answer that ends is one java.util.regex matches, and most end. */
    @Test
    void constrainedSamplingEndsOnlyOnMatches() {
        Tokenizer tokenizer = GrammarConstraintTest.storiesTokenizer();
        GrammarConstraint.Vocabulary vocab = new GrammarConstraint.Vocabulary(tokenizer);
        SplittableRandom rnd = new SplittableRandom(11);
        for (String regex : new String[]{"(The cat|A dog|Once upon a time)", "[0-9]{3}-[a-z]{2,4}", "(yes|no)( (yes|no)){0,3}"}) {
            Pattern ref = Pattern.compile(regex);
            int ended = 0;
            for (int seed = 0; seed < 20; seed++) {
                GrammarConstraintTest.Sampled sampled = GrammarConstraintTest.sampleRandomly(tokenizer,
                        new GrammarConstraint(vocab, TextPattern.regex(regex)), seed, rnd, 60);
                if (sampled.ended()) {
                    ended++;
                    assertTrue(ref.matcher(sampled.text()).matches(), regex + ": '" + sampled.text() + "'");
                }
            }
            assertTrue(ended >= 10, regex + ": ended " + ended + " of 20");
        }
    }
}
