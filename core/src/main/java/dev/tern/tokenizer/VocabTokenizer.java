package dev.tern.tokenizer;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.OptionalInt;

/** What SentencePiece-style and byte-level BPE tokenizers share: the vocabulary and decoding. */
abstract class VocabTokenizer implements Tokenizer {
    final Vocabulary vocab;

    VocabTokenizer(Vocabulary vocab) {
        this.vocab = vocab;
    }

    @Override
    public int vocabSize() {
        return vocab.size();
    }

    @Override
    public String tokenText(int id) {
        check(id);
        return vocab.text[id];
    }

    @Override
    public int fimToken(FimToken kind) {
        return vocab.fim[kind.ordinal()];
    }

    @Override
    public int bos() {
        return vocab.bos;
    }

    @Override
    public int eos() {
        return vocab.eos;
    }

    @Override
    public boolean addBos() {
        return vocab.addBos;
    }

    @Override
    public boolean addEos() {
        return vocab.addEos;
    }

    @Override
    public boolean isEndOfGeneration(int id) {
        return vocab.isEog(id);
    }

    @Override
    public boolean isControl(int id) {
        check(id);
        return vocab.has(id, TokenAttr.CONTROL | TokenAttr.UNKNOWN | TokenAttr.UNUSED);
    }

    @Override
    public OptionalInt tokenId(String text) {
        int id = vocab.id(text);
        return id < 0 ? OptionalInt.empty() : OptionalInt.of(id);
    }

    @Override
    public String decode(int[] ids) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (int i = 0; i < ids.length; i++) {
            byte[] b = tokenBytes(ids[i]);
            // llama_detokenize removes the space the tokenizer prefixed, from the first piece only.
            int skip = i == 0 && vocab.addSpacePrefix && b.length > 0 && b[0] == ' ' ? 1 : 0;
            out.write(b, skip, b.length - skip);
        }
        return out.toString(StandardCharsets.UTF_8);
    }

    void check(int id) {
        if (id < 0 || id >= vocab.size()) {
            throw new IllegalArgumentException("token id " + id + " outside vocabulary of " + vocab.size());
        }
    }
}
