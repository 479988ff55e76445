package dev.tern.chat;

import dev.tern.TernException;
import dev.tern.gguf.GGUFFile;
import dev.tern.testing.Fixtures;
import dev.tern.tokenizer.FimToken;
import dev.tern.tokenizer.Tokenizer;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.IntStream;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Fill-in-the-middle tokens found as llama.cpp finds them (in llama.cpp's own vocabulary files),
 * and the infill prompt laid out as llama.cpp's server lays out /infill.
 */
class InfillPromptTest {

    private static Tokenizer vocab(String name) {
        try (GGUFFile f = GGUFFile.open(Fixtures.tokenizers().resolve("llama.cpp-vocab").resolve("ggml-vocab-" + name + ".gguf"))) {
            return Tokenizer.fromGGUF(f);
        }
    }

    private static int id(Tokenizer t, String text) {
        return t.tokenId(text).orElseThrow();
    }

    @Test
    void fimTokensAreFoundByTheirTexts() {
        Tokenizer star = vocab("starcoder");
        assertEquals(id(star, "<fim_prefix>"), star.fimToken(FimToken.PREFIX));
        assertEquals(id(star, "<fim_suffix>"), star.fimToken(FimToken.SUFFIX));
        assertEquals(id(star, "<fim_middle>"), star.fimToken(FimToken.MIDDLE));
        assertEquals(id(star, "<fim_pad>"), star.fimToken(FimToken.PAD));
        assertTrue(star.tokenId("<reponame>").isEmpty() && star.tokenId("<|file_sep|>").isEmpty());
        assertEquals(-1, star.fimToken(FimToken.REPO));
        assertEquals(-1, star.fimToken(FimToken.SEPARATOR));
        assertTrue(star.isEndOfGeneration(star.fimToken(FimToken.PAD)), "llama.cpp ends generation at fim_pad");
        assertTrue(star.isControl(star.fimToken(FimToken.MIDDLE)));
        Tokenizer deepseek = vocab("deepseek-coder");
        assertEquals(id(deepseek, "<｜fim▁begin｜>"), deepseek.fimToken(FimToken.PREFIX));
        assertEquals(id(deepseek, "<｜fim▁hole｜>"), deepseek.fimToken(FimToken.SUFFIX));
        assertEquals(id(deepseek, "<｜fim▁end｜>"), deepseek.fimToken(FimToken.MIDDLE));
        assertTrue(InfillPrompt.supported(deepseek));
        Tokenizer llama = vocab("llama-spm");
        assertFalse(InfillPrompt.supported(llama));
        assertThrows(TernException.class, () -> InfillPrompt.tokens(llama, "a", "b", List.of(), "", 100));
    }

    private static List<Integer> list(int... ids) {
        return IntStream.of(ids).boxed().toList();
    }

    @Test
    void thePromptIsLaidOutAsLlamaCppsInfill() {
        Tokenizer t = vocab("starcoder");
        String prefix = "def add(a, b):\n    ", suffix = "\n\nprint(add(1, 2))\n", typed = "return";
        // No repository or file-separator token in this vocabulary: the other file follows a snippet marker.
        List<Integer> want = new ArrayList<>();
        want.addAll(list(t.encode("\n\n--- snippet ---\n\n", false, false)));
        want.addAll(list(t.encode("x = 1\n", false, false)));
        want.add(t.fimToken(FimToken.PREFIX));
        want.addAll(list(t.encode(prefix, false, false)));
        want.addAll(list(t.encode(typed, false, false)));
        want.add(t.fimToken(FimToken.SUFFIX));
        want.addAll(list(t.encode(suffix, false, false)));
        want.add(t.fimToken(FimToken.MIDDLE));
        int[] got = InfillPrompt.tokens(t, prefix, suffix, List.of(new InfillPrompt.File("x.py", "x = 1\n")), typed, 4096);
        assertEquals(want, list(got));
        assertFalse(t.addBos(), "starcoder adds no BOS");
    }

    /** Qwen2.5-Coder's repository-level pattern: each other file after a file separator and its name. */
    @Test
    void otherFilesFollowTheRepositoryAndFileSeparatorTokens() {
        Tokenizer t = Tokenizer.fromTokenizerJson(Fixtures.tokenizers().resolve("hf/qwen3/tokenizer.json"));
        int rep = id(t, "<|repo_name|>"), sep = id(t, "<|file_sep|>");
        assertEquals(rep, t.fimToken(FimToken.REPO));
        assertEquals(sep, t.fimToken(FimToken.SEPARATOR));
        List<Integer> want = new ArrayList<>();
        want.add(rep);
        want.addAll(list(t.encode("myproject\n", false, false)));
        want.add(sep);
        want.addAll(list(t.encode("util.py\n", false, false)));
        want.addAll(list(t.encode("def one():\n    return 1\n", false, false)));
        want.add(sep);
        want.addAll(list(t.encode("filename\n", false, false)));
        want.add(id(t, "<|fim_prefix|>"));
        want.addAll(list(t.encode("x = ", false, false)));
        want.add(id(t, "<|fim_suffix|>"));
        want.addAll(list(t.encode("\n", false, false)));
        want.add(id(t, "<|fim_middle|>"));
        assertEquals(want, list(InfillPrompt.tokens(t, "x = ", "\n", List.of(new InfillPrompt.File("util.py", "def one():\n    return 1\n")),
                "", 4096)));
    }

    @Test
    void aLongPrefixKeepsItsEndAndTheSuffixItsStart() {
        Tokenizer t = vocab("deepseek-coder");
        String prefix = "int x0 = 0;\n".repeat(200), suffix = "int y0 = 0;\n".repeat(200);
        int budget = 256;
        int[] got = InfillPrompt.tokens(t, prefix, suffix, List.of(), "", budget);
        int[] pre = t.encode(prefix, false, false), suf = t.encode(suffix, false, false);
        int start = t.addBos() ? 1 : 0;
        assertEquals(t.fimToken(FimToken.PREFIX), got[start]);
        int preTake = 3 * (budget / 4), sufTake = budget / 4 - 2;
        assertArrayEquals(Arrays.copyOfRange(pre, pre.length - preTake, pre.length), Arrays.copyOfRange(got, start + 1, start + 1 + preTake));
        int s = start + 1 + preTake;
        assertEquals(t.fimToken(FimToken.SUFFIX), got[s]);
        assertArrayEquals(Arrays.copyOf(suf, sufTake), Arrays.copyOfRange(got, s + 1, s + 1 + sufTake));
        assertEquals(t.fimToken(FimToken.MIDDLE), got[got.length - 1]);
        // As llama.cpp's: prefix and suffix within budget − 2 tokens, then the three markers (and BOS).
        assertEquals(budget + 1 + start, got.length);
    }
}
