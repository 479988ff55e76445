package dev.tern.tokenizer;

import dev.tern.gguf.GGUFFile;

import java.nio.file.Path;
import java.util.OptionalInt;
import java.util.stream.IntStream;

/** Text to token ids and back, agreeing exactly with llama.cpp's tokenizers. */
public interface Tokenizer {
    int vocabSize();

    /**
     * addSpecial: add BOS/EOS as the vocabulary's add_bos/add_eos flags say. parseSpecial: text that
     * spells a special/control token becomes that token; otherwise it is literal text (user-defined
     * tokens are split out either way, as in llama.cpp).
     */
    int[] encode(String text, boolean addSpecial, boolean parseSpecial);

    /**
     * Concatenated pieces (special tokens rendered as their text), decoded as UTF-8. Like llama.cpp's
     * detokenizer, a vocabulary that adds a space prefix has one leading space of the first piece
     * removed, so decode(encode(s)) == s.
     */
    String decode(int[] ids);

    /** The raw bytes this token stands for when printed (special tokens: their text). */
    byte[] tokenBytes(int id);

    /** The vocabulary string. */
    String tokenText(int id);

    /** BOS id, -1 when none. */
    int bos();

    /** EOS id, -1 when none. */
    int eos();

    boolean addBos();

    boolean addEos();

    /** Control, unknown and unused tokens: markers such as {@code <s>}, not text a model writes. */
    boolean isControl(int id);

    /** eos, eot, eom and the end-of-turn tokens llama.cpp recognises by their text. */
    boolean isEndOfGeneration(int id);

    /** Every id {@link #isEndOfGeneration} accepts, in order (a scan of the vocabulary: keep the result). */
    default int[] endOfGenerationIds() {
        return IntStream.range(0, vocabSize()).filter(this::isEndOfGeneration).toArray();
    }

    /** The vocabulary's fill-in-the-middle token of this kind (metadata first, then by text, as llama.cpp), -1 when none. */
    int fimToken(FimToken kind);

    /** Exact vocabulary lookup. */
    OptionalInt tokenId(String text);

    /** From the tokenizer.ggml.* metadata of a GGUF file. */
    static Tokenizer fromGGUF(GGUFFile f) {
        return GgufTokenizerLoader.load(f);
    }

    /** From a Hugging Face tokenizer.json (byte-level BPE); tokenizer_config.json beside it is read if present. */
    static Tokenizer fromTokenizerJson(Path p) {
        return TokenizerJsonLoader.load(p);
    }

    /** From a SentencePiece BPE tokenizer.model (e.g. Meta's Llama 2 tokenizer). */
    static Tokenizer fromSentencePiece(Path tokenizerModel) {
        return SentencePieceModelLoader.load(tokenizerModel);
    }

    /** From karpathy's llama2.c tokenizer.bin. */
    static Tokenizer fromLlama2c(Path tokenizerBin, int vocabSize) {
        return Llama2cLoader.load(tokenizerBin, vocabSize);
    }
}
