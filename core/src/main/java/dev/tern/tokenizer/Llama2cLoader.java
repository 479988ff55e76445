package dev.tern.tokenizer;

import dev.tern.TernException;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Reads karpathy's llama2.c tokenizer.bin (int32 max_token_length, then per token: float32 score,
 * int32 length, bytes) into a SentencePiece-style vocabulary, typed as llama.cpp's
 * convert-llama2c-to-ggml does: 0 unknown, 1 BOS and 2 EOS control (llama2.c spells them "\n&lt;s&gt;\n"),
 * &lt;0xXX&gt; bytes, the rest normal with spaces written as '▁' again.
 */
final class Llama2cLoader {
    private Llama2cLoader() {
    }

    static Tokenizer load(Path file, int vocabSize) {
        ByteBuffer buf;
        try {
            buf = ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN);
        } catch (IOException e) {
            throw new TernException(file + ": cannot read tokenizer: " + e.getMessage(), e);
        }
        String[] text = new String[vocabSize];
        float[] score = new float[vocabSize];
        int[] attr = new int[vocabSize];
        try {
            buf.getInt(); // max_token_length: not needed
            for (int i = 0; i < vocabSize; i++) {
                score[i] = buf.getFloat();
                byte[] b = new byte[buf.getInt()];
                buf.get(b);
                text[i] = i == 1 ? "<s>" : i == 2 ? "</s>" : new String(b, StandardCharsets.UTF_8).replace(' ', '\u2581');
                attr[i] = i == 0 ? TokenAttr.UNKNOWN : i <= 2 ? TokenAttr.CONTROL
                        : text[i].matches("<0x[0-9A-F]{2}>") ? TokenAttr.BYTE : TokenAttr.NORMAL;
            }
        } catch (RuntimeException e) {
            throw new TernException(file + ": truncated or not a llama2.c tokenizer for " + vocabSize + " tokens", e);
        }
        return new SpmTokenizer(new Vocabulary(text, score, attr, 1, 2, -1, -1, null, true, false, true, ""));
    }
}
