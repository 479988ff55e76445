package dev.tern.tokenizer;

import dev.tern.gguf.GGUFFile;
import dev.tern.testing.Fixtures;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Characters whose UTF-8 bytes arrive in several tokens come out whole. */
class StreamDecoderTest {
    private static List<String> stream(Tokenizer t, int[] ids) {
        StreamDecoder d = new StreamDecoder(t);
        List<String> chunks = new ArrayList<>();
        for (int id : ids) {
            chunks.add(d.append(id));
        }
        chunks.add(d.flush());
        return chunks;
    }

    private static void assertWhole(Tokenizer t, String text, String expected) {
        int[] ids = t.encode(text, false, false);
        List<String> chunks = stream(t, ids);
        assertTrue(chunks.contains(""), "expected a token that ends mid-character in " + chunks);
        for (String c : chunks) {
            assertFalse(c.contains("\uFFFD"), "split character in " + chunks);
        }
        assertEquals(expected, String.join("", chunks));
    }

    @Test
    void spmByteFallbackTokens() {
        try (GGUFFile f = GGUFFile.open(Fixtures.stories260K("stories260K-f32.gguf"))) {
            Tokenizer t = Tokenizer.fromGGUF(f);
            // The 512-token vocabulary spells all of these with <0xXX> byte tokens.
            assertWhole(t, "é🦙 日本 ok", " é🦙 日本 ok");
        }
    }

    @Test
    void byteLevelBpeTokens() {
        try (GGUFFile f = GGUFFile.open(Fixtures.tokenizers().resolve("llama.cpp-vocab/ggml-vocab-gpt-2.gguf"))) {
            Tokenizer t = Tokenizer.fromGGUF(f);
            assertWhole(t, " this is 🦙.cpp 😶‍🌫️", " this is 🦙.cpp 😶‍🌫️");
        }
    }

    @Test
    void flushReleasesAnIncompleteCharacter() {
        try (GGUFFile f = GGUFFile.open(Fixtures.stories260K("stories260K-f32.gguf"))) {
            Tokenizer t = Tokenizer.fromGGUF(f);
            int lead = t.tokenId("<0xF0>").orElseThrow();
            int cont = t.tokenId("<0x9F>").orElseThrow();
            StreamDecoder d = new StreamDecoder(t);
            assertEquals("", d.append(lead));
            assertEquals("", d.append(cont));
            assertEquals("\uFFFD", d.flush());
            assertEquals("A", d.append(t.tokenId("<0x41>").orElseThrow()));
        }
    }

    @Test
    void controlTokensAddNoText() {
        try (GGUFFile f = GGUFFile.open(Fixtures.stories260K("stories260K-f32.gguf"))) {
            Tokenizer t = Tokenizer.fromGGUF(f);
            int[] a = t.encode("The end.", false, false), b = t.encode("Once upon a time", false, false);
            int[] ids = new int[a.length + 1 + b.length];
            System.arraycopy(a, 0, ids, 0, a.length);
            ids[a.length] = t.bos();
            System.arraycopy(b, 0, ids, a.length + 1, b.length);
            List<String> chunks = stream(t, ids);
            assertEquals("", chunks.get(a.length), "BOS's piece");
            // llama.cpp prints " The end. Once upon a time": the second text keeps its prefixed space.
            assertEquals(" The end. Once upon a time", String.join("", chunks));
            assertEquals("", stream(t, new int[]{t.tokenId("<unk>").orElseThrow()}).get(0), "unknown token's piece");
        }
    }
}
