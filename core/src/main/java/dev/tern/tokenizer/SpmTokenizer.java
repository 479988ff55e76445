package dev.tern.tokenizer;

import dev.tern.TernException;

import java.nio.charset.StandardCharsets;
import java.util.PriorityQueue;

/**
 * SentencePiece-style BPE as llama.cpp's llm_tokenizer_spm: spaces become '▁' (with a leading one
 * when the vocabulary asks for a space prefix), adjacent pieces merge highest score first (leftmost
 * on ties), and pieces that are not tokens fall back to &lt;0xXX&gt; byte tokens.
 */
final class SpmTokenizer extends VocabTokenizer {
    private static final char SPACE_MARK = '\u2581';
    private final int[] byteTokens = new int[256];

    SpmTokenizer(Vocabulary vocab) {
        super(vocab);
        for (int b = 0; b < 256; b++) {
            int id = vocab.id(String.format("<0x%02X>", b));
            byteTokens[b] = id >= 0 ? id : vocab.id(String.valueOf((char) b));
        }
    }

    @Override
    public int[] encode(String text, boolean addSpecial, boolean parseSpecial) {
        IntList out = new IntList();
        if (addSpecial && vocab.addBos) {
            out.add(vocab.bos);
        }
        boolean prevSpecial = true;
        for (SpecialSplitter.Fragment f : SpecialSplitter.split(vocab, text, parseSpecial)) {
            if (f.text() == null) {
                out.add(f.token());
                prevSpecial = true;
            } else {
                String s = vocab.addSpacePrefix && prevSpecial ? " " + f.text() : f.text();
                tokenize(s.replace(' ', SPACE_MARK), out);
                prevSpecial = false;
            }
        }
        if (addSpecial && vocab.addEos) {
            out.add(vocab.eos);
        }
        return out.toArray();
    }

    private record Bigram(int left, int right, float score, int size) {
    }

    private void tokenize(String s, IntList out) {
        int n = s.codePointCount(0, s.length());
        int[] start = new int[n];
        int[] len = new int[n];
        int[] prev = new int[n];
        int[] next = new int[n];
        for (int i = 0, off = 0; i < n; i++) {
            start[i] = off;
            len[i] = Character.charCount(s.codePointAt(off));
            off += len[i];
            prev[i] = i - 1;
            next[i] = i + 1 < n ? i + 1 : -1;
        }
        PriorityQueue<Bigram> queue = new PriorityQueue<>((a, b) -> a.score != b.score
                ? Float.compare(b.score, a.score) : Integer.compare(a.left, b.left));
        for (int i = 1; i < n; i++) {
            addBigram(s, start, len, i - 1, i, queue);
        }
        while (!queue.isEmpty()) {
            Bigram b = queue.poll();
            int l = b.left;
            int r = b.right;
            if (len[l] == 0 || len[r] == 0 || len[l] + len[r] != b.size) {
                continue; // stale: one side has merged since
            }
            len[l] += len[r];
            len[r] = 0;
            next[l] = next[r];
            if (next[r] >= 0) {
                prev[next[r]] = l;
            }
            addBigram(s, start, len, prev[l], l, queue);
            addBigram(s, start, len, l, next[l], queue);
        }
        for (int i = n > 0 ? 0 : -1; i != -1; i = next[i]) {
            String piece = s.substring(start[i], start[i] + len[i]);
            int id = vocab.id(piece);
            if (id >= 0) {
                out.add(id);
            } else {
                for (byte b : piece.getBytes(StandardCharsets.UTF_8)) {
                    int byteId = byteTokens[b & 0xFF];
                    if (byteId < 0) {
                        // llama.cpp fails here too (token_to_id.at): there is no way to spell this byte
                        throw new TernException(String.format("vocabulary has no token for byte 0x%02X", b & 0xFF));
                    }
                    out.add(byteId);
                }
            }
        }
    }

    private void addBigram(String s, int[] start, int[] len, int left, int right, PriorityQueue<Bigram> queue) {
        if (left < 0 || right < 0) {
            return;
        }
        int size = len[left] + len[right];
        int id = vocab.id(s.substring(start[left], start[left] + size));
        if (id >= 0) {
            queue.add(new Bigram(left, right, vocab.score[id], size));
        }
    }

    @Override
    public byte[] tokenBytes(int id) {
        check(id);
        String t = vocab.text[id];
        if (vocab.has(id, TokenAttr.CONTROL | TokenAttr.USER_DEFINED)) {
            return t.getBytes(StandardCharsets.UTF_8);
        }
        if (vocab.has(id, TokenAttr.NORMAL)) {
            return t.replace(SPACE_MARK, ' ').getBytes(StandardCharsets.UTF_8);
        }
        if (vocab.has(id, TokenAttr.BYTE)) {
            return new byte[]{(byte) Integer.parseInt(t.substring(3, 5), 16)};
        }
        if (vocab.has(id, TokenAttr.UNKNOWN)) {
            return "\u2585".getBytes(StandardCharsets.UTF_8); // llama.cpp prints unknown pieces as ▅
        }
        return new byte[0];
    }
}
