package dev.tern.tokenizer;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Unicode edge cases where Java's regex engine alone would split differently from llama.cpp. */
class PreTokenizerTest {
    private static List<String> split(String pre, String text) {
        return new PreTokenizer(PreTokenizer.kind(pre).patterns()).split(text);
    }

    @Test
    void nonAsciiWhitespaceIsWhitespaceAsInLlamaCpp() {
        // llama.cpp matches U+3000 as \s: "\s+(?!\S)" takes the first, the second is left over alone.
        assertEquals(List.of("a", "\u3000", "\u3000", "b"), split("gpt-2", "a\u3000\u3000b"));
        assertEquals(List.of("x", "\u00a0\u00a0", " y"), split("llama-bpe", "x\u00a0\u00a0 y"));
    }

    @Test
    void unicode16LettersAreUnassignedToLlamaCpp() {
        // U+1C89 became a letter in Unicode 16.0; llama.cpp's 15.1 tables do not know it, so it only
        // fills the optional non-letter slot before the next letter run.
        assertTrue(Character.isLetter(0x1C89));
        assertEquals(List.of("a", "\u1C89b"), split("llama-bpe", "a\u1C89b"));
        assertTrue(LlamaCppUnicode.unassignedInLlamaCpp(0x13460));
        assertTrue(LlamaCppUnicode.unassignedInLlamaCpp(0x143FA));
        assertFalse(LlamaCppUnicode.unassignedInLlamaCpp(0x143FB));
        assertFalse(LlamaCppUnicode.unassignedInLlamaCpp('a'));
        assertFalse(LlamaCppUnicode.unassignedInLlamaCpp(0x31EF)); // Unicode 15.1: known to llama.cpp
    }

    @Test
    void digitsGroupByPreTokenizer() {
        assertEquals(List.of("123", "45"), split("llama-bpe", "12345"));
        assertEquals(List.of("1", "2", "3"), split("qwen2", "123"));
        assertEquals(List.of("x", "1", "2"), split("starcoder", "x12"));
    }
}
