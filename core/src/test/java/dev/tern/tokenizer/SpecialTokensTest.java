package dev.tern.tokenizer;

import dev.tern.gguf.GGUFFile;
import dev.tern.testing.Fixtures;
import org.junit.jupiter.api.Test;

import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** BOS/EOS flags, parseSpecial, user-defined and RSTRIP handling, end-of-generation ids. */
class SpecialTokensTest {
    private static Tokenizer json(String model) {
        return HfTokenizers.get(model);
    }

    private static GGUFFile vocab(String name) {
        return GGUFFile.open(Fixtures.tokenizers().resolve("llama.cpp-vocab").resolve("ggml-vocab-" + name + ".gguf"));
    }

    @Test
    void llama3ChatHeaderParsesSpecials() {
        Tokenizer t = json("llama3");
        String s = "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>";
        // Meta's Llama 3 ids: user 882, "\n\n" 271, Hi 13347.
        assertArrayEquals(new int[]{128000, 128006, 882, 128007, 271, 13347, 128009}, t.encode(s, true, true));
        int[] literal = t.encode(s, false, false);
        assertTrue(Arrays.stream(literal).allMatch(id -> id < 128000), Arrays.toString(literal));
        assertEquals(s, t.decode(literal));
        assertEquals(s, t.decode(t.encode(s, false, true)));
        assertEquals(128000, t.bos());
        assertTrue(t.addBos());
        assertFalse(t.addEos());
        assertTrue(t.isEndOfGeneration(128009));
        assertTrue(t.isEndOfGeneration(128001));
        assertFalse(t.isEndOfGeneration(128006));
        assertFalse(t.isEndOfGeneration(128008)); // a reserved token in Llama 3.0 (3.1 made it <|eom_id|>)
        assertEquals(128009, t.tokenId("<|eot_id|>").orElseThrow());
    }

    @Test
    void qwenChatTurn() {
        Tokenizer t = json("qwen3");
        int[] ids = t.encode("<|im_start|>user\nhi<|im_end|>", true, true);
        int[] inner = t.encode("user\nhi", false, false);
        assertEquals(151644, ids[0]);
        assertEquals(151645, ids[ids.length - 1]);
        assertArrayEquals(inner, Arrays.copyOfRange(ids, 1, ids.length - 1));
        assertEquals(-1, t.bos());
        assertFalse(t.addBos());
        assertTrue(t.isEndOfGeneration(151645));
        assertTrue(t.isEndOfGeneration(151643));
        assertFalse(t.isEndOfGeneration(151644));
    }

    @Test
    void qwenUserDefinedTokensSplitEvenWithoutParseSpecial() {
        Tokenizer t = json("qwen3");
        int think = t.tokenId("<think>").orElseThrow();
        int[] ids = t.encode("a<think>b", false, false);
        assertArrayEquals(new int[]{t.encode("a", false, false)[0], think, t.encode("b", false, false)[0]}, ids);
    }

    @Test
    void qwenFimTokensBecomeControlAndEndGeneration() {
        Tokenizer t = json("qwen3");
        int pad = t.tokenId("<|fim_pad|>").orElseThrow();
        int sep = t.tokenId("<|file_sep|>").orElseThrow();
        assertTrue(t.isEndOfGeneration(pad));
        assertTrue(t.isEndOfGeneration(sep));
        assertFalse(t.isEndOfGeneration(t.tokenId("<|fim_prefix|>").orElseThrow()));
        // tokenizer.json calls them non-special, but llama.cpp makes them control: literal unless parsed.
        assertArrayEquals(new int[]{pad}, t.encode("<|fim_pad|>", false, true));
        assertTrue(t.encode("<|fim_pad|>", false, false).length > 1);
    }

    @Test
    void phi3DropsWhitespaceAfterItsSpecialsAsLlamaCpp() {
        try (GGUFFile f = vocab("phi-3")) {
            Tokenizer t = Tokenizer.fromGGUF(f);
            // llama.cpp's tokenization of this turn (RSTRIP set by general.name "Phi3").
            assertArrayEquals(new int[]{1, 32010, 317, 21554, 13, 17628, 32007, 32001},
                    t.encode("<|user|>\nSYS\nHI<|end|>\n<|assistant|>\n", true, true));
            assertTrue(t.isEndOfGeneration(32007)); // <|end|>
            assertTrue(t.isEndOfGeneration(32000)); // <|endoftext|>
        }
    }

    @Test
    void gpt2EndOfTextOnlyWhenParsingSpecials() {
        try (GGUFFile f = vocab("gpt-2")) {
            Tokenizer t = Tokenizer.fromGGUF(f);
            assertArrayEquals(new int[]{50256}, t.encode("<|endoftext|>", false, true));
            assertTrue(t.encode("<|endoftext|>", false, false).length > 1);
            assertTrue(t.isEndOfGeneration(50256));
            assertEquals("<|endoftext|>", t.decode(new int[]{50256}));
        }
    }

    @Test
    void spmAddsBosAndSpacePrefix() {
        try (GGUFFile f = vocab("llama-spm")) {
            Tokenizer t = Tokenizer.fromGGUF(f);
            int[] ids = t.encode("Hello", true, false);
            // Llama 2: <s> ▁Hello
            assertArrayEquals(new int[]{1, 15043}, ids);
            // As llama_detokenize(remove_special=false): the space prefix is only removed from a first text piece.
            assertEquals("<s> Hello", t.decode(ids));
            assertEquals("Hello", t.decode(new int[]{15043}));
            assertEquals(" Hello", new String(t.tokenBytes(15043), java.nio.charset.StandardCharsets.UTF_8));
            assertArrayEquals(new int[]{1, 1, 15043}, t.encode("<s>Hello", true, true));
            assertEquals(1, t.bos());
            assertEquals(2, t.eos());
            assertTrue(t.isEndOfGeneration(2));
        }
    }
}
