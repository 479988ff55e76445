package dev.tern.tokenizer;

import dev.tern.TernException;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Reads a SentencePiece BPE tokenizer.model (the ModelProto protobuf) into the same vocabulary
 * llama.cpp's converter writes to GGUF: pieces, scores and types (the proto's type enum is the
 * GGUF token_type), unk/bos/eos ids from trainer_spec, add_dummy_prefix from normalizer_spec.
 */
final class SentencePieceModelLoader {
    private SentencePieceModelLoader() {
    }

    static Tokenizer load(Path file) {
        ByteBuffer buf;
        try {
            buf = ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN);
        } catch (IOException e) {
            throw new TernException(file + ": cannot read SentencePiece model: " + e.getMessage(), e);
        }
        List<String> text = new ArrayList<>();
        List<Float> score = new ArrayList<>();
        List<Integer> type = new ArrayList<>();
        int[] ids = {0, 1, 2}; // unk, bos, eos: SentencePiece's defaults
        boolean addDummyPrefix = true;
        try {
            while (buf.hasRemaining()) {
                long key = varint(buf);
                int field = (int) (key >>> 3);
                if (field == 1 && (key & 7) == 2) {
                    ByteBuffer piece = slice(buf);
                    String t = "";
                    float s = 0;
                    int ty = 1;
                    while (piece.hasRemaining()) {
                        long k = varint(piece);
                        switch ((int) (k >>> 3)) {
                            case 1 -> t = StandardCharsets.UTF_8.decode(slice(piece)).toString();
                            case 2 -> s = piece.getFloat();
                            case 3 -> ty = (int) varint(piece);
                            default -> skip(piece, (int) (k & 7));
                        }
                    }
                    text.add(t);
                    score.add(s);
                    type.add(ty);
                } else if (field == 2 && (key & 7) == 2) {
                    ByteBuffer spec = slice(buf);
                    while (spec.hasRemaining()) {
                        long k = varint(spec);
                        int f = (int) (k >>> 3);
                        if (f >= 40 && f <= 42 && (k & 7) == 0) {
                            ids[f - 40] = (int) varint(spec);
                        } else {
                            skip(spec, (int) (k & 7));
                        }
                    }
                } else if (field == 3 && (key & 7) == 2) {
                    ByteBuffer spec = slice(buf);
                    while (spec.hasRemaining()) {
                        long k = varint(spec);
                        if ((k >>> 3) == 3 && (k & 7) == 0) {
                            addDummyPrefix = varint(spec) != 0;
                        } else {
                            skip(spec, (int) (k & 7));
                        }
                    }
                } else {
                    skip(buf, (int) (key & 7));
                }
            }
        } catch (RuntimeException e) {
            throw new TernException(file + ": not a SentencePiece model (" + e.getMessage() + ")", e);
        }
        int n = text.size();
        float[] scores = new float[n];
        int[] attr = new int[n];
        for (int i = 0; i < n; i++) {
            scores[i] = score.get(i);
            attr[i] = TokenAttr.fromTokenType(type.get(i));
        }
        return new SpmTokenizer(new Vocabulary(text.toArray(String[]::new), scores, attr, ids[1], ids[2], -1, -1, null,
                true, false, addDummyPrefix, ""));
    }

    private static long varint(ByteBuffer b) {
        long v = 0;
        for (int shift = 0; shift < 64; shift += 7) {
            int x = b.get() & 0xFF;
            v |= (long) (x & 0x7F) << shift;
            if (x < 0x80) {
                return v;
            }
        }
        throw new IllegalStateException("varint too long");
    }

    private static ByteBuffer slice(ByteBuffer b) {
        int len = (int) varint(b);
        ByteBuffer s = b.slice(b.position(), len).order(ByteOrder.LITTLE_ENDIAN);
        b.position(b.position() + len);
        return s;
    }

    private static void skip(ByteBuffer b, int wireType) {
        switch (wireType) {
            case 0 -> varint(b);
            case 1 -> b.position(b.position() + 8);
            case 2 -> slice(b);
            case 5 -> b.position(b.position() + 4);
            default -> throw new IllegalStateException("wire type " + wireType);
        }
    }
}
