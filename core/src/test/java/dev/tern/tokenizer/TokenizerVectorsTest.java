package dev.tern.tokenizer;

import dev.tern.gguf.GGUFFile;
import dev.tern.testing.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every llama.cpp vocabulary test vector we have a vocabulary for (no BOS, specials not parsed, as
 * tests/test-tokenizer-0.cpp runs them), and decode(encode(s)) == s for each string.
 */
class TokenizerVectorsTest {
    private static Path vocabDir() {
        return Fixtures.tokenizers().resolve("llama.cpp-vocab");
    }

    @ParameterizedTest
    @ValueSource(strings = {"llama-spm", "phi-3", "gpt-2", "falcon", "mpt", "starcoder", "refact",
            "deepseek-llm", "deepseek-coder"})
    void ggufVocabularyMatchesLlamaCpp(String name) throws IOException {
        Path gguf = vocabDir().resolve("ggml-vocab-" + name + ".gguf");
        try (GGUFFile f = GGUFFile.open(gguf)) {
            check(Tokenizer.fromGGUF(f), name);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"llama3:llama-bpe", "qwen3:qwen2", "qwen3:deepseek-r1-qwen"})
    void tokenizerJsonMatchesLlamaCpp(String spec) throws IOException {
        String[] parts = spec.split(":");
        check(HfTokenizers.get(parts[0]), parts[1]);
    }

    @Test
    void sentencePieceModelMatchesLlamaCpp() throws IOException {
        Tokenizer t = Tokenizer.fromSentencePiece(Fixtures.tokenizers().resolve("hf/llama2-tokenizer.model"));
        check(t, "llama-spm");
        try (GGUFFile f = GGUFFile.open(vocabDir().resolve("ggml-vocab-llama-spm.gguf"))) {
            Tokenizer gguf = Tokenizer.fromGGUF(f);
            assertEquals(gguf.vocabSize(), t.vocabSize());
            for (int id = 0; id < t.vocabSize(); id++) {
                assertEquals(gguf.tokenText(id), t.tokenText(id));
                assertArrayEquals(gguf.tokenBytes(id), t.tokenBytes(id), "token " + id);
            }
            assertEquals(gguf.bos(), t.bos());
            assertEquals(gguf.eos(), t.eos());
        }
    }

    private static void check(Tokenizer t, String name) throws IOException {
        Path inp = vocabDir().resolve("ggml-vocab-" + name + ".gguf.inp");
        VocabVectors v = VocabVectors.read(inp, vocabDir().resolve("ggml-vocab-" + name + ".gguf.out"));
        List<String> failures = new ArrayList<>();
        for (int i = 0; i < v.inputs().size(); i++) {
            String s = v.inputs().get(i);
            int[] got = t.encode(s, false, false);
            if (!Arrays.equals(v.expected().get(i), got)) {
                failures.add("encode '" + s + "': expected " + Arrays.toString(v.expected().get(i)) + " got " + Arrays.toString(got));
            }
            String back = t.decode(got);
            if (!back.equals(s)) {
                failures.add("decode '" + s + "' gave '" + back + "'");
            }
        }
        assertTrue(failures.isEmpty(), name + ": " + failures.size() + " failures:\n" + String.join("\n", failures));
        assertEquals(v.inputs().size(), v.expected().size());
    }
}
