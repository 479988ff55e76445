package dev.tern.tokenizer;

import dev.tern.gguf.GGUFFile;
import dev.tern.testing.Fixtures;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** karpathy's tok512.bin against the stories260K GGUF that llama.cpp converted from it, and llama.cpp's prompts. */
class Llama2cTokenizerTest {
    private static Tokenizer llama2c() {
        return Tokenizer.fromLlama2c(Fixtures.stories260K("tok512.bin"), 512);
    }

    @Test
    void sameVocabularyAsConvertedGguf() {
        Tokenizer bin = llama2c();
        try (GGUFFile f = GGUFFile.open(Fixtures.stories260K("stories260K-f32.gguf"))) {
            Tokenizer gguf = Tokenizer.fromGGUF(f);
            assertEquals(gguf.vocabSize(), bin.vocabSize());
            for (int id = 0; id < gguf.vocabSize(); id++) {
                assertEquals(gguf.tokenText(id), bin.tokenText(id), "token " + id);
                assertArrayEquals(gguf.tokenBytes(id), bin.tokenBytes(id), "bytes of token " + id);
            }
            assertEquals(1, bin.bos());
            assertEquals(2, bin.eos());
        }
    }

    @Test
    void promptsTokenizeAsLlamaCpp() throws IOException {
        String[][] prompts = {{"once", "Once upon a time"}, {"beach", "Tom and his dog went to the beach"},
                {"zoo", "Zoo"}, {"empty", ""}};
        Tokenizer bin = llama2c();
        try (GGUFFile f = GGUFFile.open(Fixtures.stories260K("stories260K-f32.gguf"))) {
            Tokenizer gguf = Tokenizer.fromGGUF(f);
            for (String[] p : prompts) {
                int[] expected = StoriesReference.read(p[0]).promptIds();
                assertArrayEquals(expected, gguf.encode(p[1], true, false), p[0] + " via GGUF");
                assertArrayEquals(expected, bin.encode(p[1], true, false), p[0] + " via tokenizer.bin");
            }
        }
    }

    @Test
    void bothAgreeOnHarderText() throws IOException {
        String gpl = Files.readString(Fixtures.stories260K("reference/gpl3-12k.txt"), StandardCharsets.UTF_8);
        String[] texts = {"  two  spaces\n\nand\ttabs ", "naïve café 🦙 日本語 \u00a0x", "<s> not special </s>", gpl};
        Tokenizer bin = llama2c();
        try (GGUFFile f = GGUFFile.open(Fixtures.stories260K("stories260K-f32.gguf"))) {
            Tokenizer gguf = Tokenizer.fromGGUF(f);
            for (String s : texts) {
                int[] ids = gguf.encode(s, true, false);
                assertArrayEquals(ids, bin.encode(s, true, false));
                int[] noBos = java.util.Arrays.copyOfRange(ids, 1, ids.length);
                assertEquals(s, gguf.decode(noBos));
            }
        }
    }

    @Test
    void streamedGenerationPrintsLlamaCppText() throws IOException {
        try (GGUFFile f = GGUFFile.open(Fixtures.stories260K("stories260K-f32.gguf"))) {
            Tokenizer t = Tokenizer.fromGGUF(f);
            for (String name : new String[]{"once", "beach", "empty"}) {
                StoriesReference ref = StoriesReference.read(name);
                StreamDecoder d = new StreamDecoder(t);
                StringBuilder sb = new StringBuilder();
                for (int id : ref.ids()) {
                    if (id == t.bos() || id == t.eos()) {
                        continue; // the reference printed control tokens as nothing; tokenBytes spells them
                    }
                    sb.append(d.append(id));
                }
                sb.append(d.flush());
                assertEquals(ref.text(), sb + "\n", name);
            }
        }
    }
}
