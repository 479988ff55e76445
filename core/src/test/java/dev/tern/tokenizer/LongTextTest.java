package dev.tern.tokenizer;

import dev.tern.gguf.GGUFFile;
import dev.tern.testing.Fixtures;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The 12 KB GPL excerpt through every vocabulary: it must round-trip, and (as the suite's run time
 * shows, without a timing assertion) encode in milliseconds thanks to the priority-queue merges.
 */
class LongTextTest {
    private static String gpl() throws IOException {
        return Files.readString(Fixtures.stories260K("reference/gpl3-12k.txt"), StandardCharsets.UTF_8);
    }

    @ParameterizedTest
    @ValueSource(strings = {"llama-spm", "phi-3", "baichuan", "gpt-2", "gpt-neox", "falcon", "mpt", "starcoder",
            "refact", "deepseek-llm", "deepseek-coder"})
    void ggufRoundTrip(String name) throws IOException {
        try (GGUFFile f = GGUFFile.open(Fixtures.tokenizers().resolve("llama.cpp-vocab/ggml-vocab-" + name + ".gguf"))) {
            check(Tokenizer.fromGGUF(f));
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"llama3", "qwen3"})
    void tokenizerJsonRoundTrip(String model) throws IOException {
        check(HfTokenizers.get(model));
    }

    private static void check(Tokenizer t) throws IOException {
        String text = gpl();
        int[] ids = t.encode(text, false, false);
        assertTrue(ids.length > 1000 && ids.length < text.length(), "token count " + ids.length);
        assertEquals(text, t.decode(ids));
        // A single 12 KB "word" exercises the merge queue on one long symbol chain.
        String word = "ab".repeat(6000);
        assertEquals(word, t.decode(t.encode(word, false, false)));
    }
}
