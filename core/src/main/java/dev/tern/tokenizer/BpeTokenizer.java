package dev.tern.tokenizer;

import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.PriorityQueue;

/**
 * Byte-level BPE as llama.cpp's llm_tokenizer_bpe: the pre-tokenizer's words are mapped byte by byte
 * to GPT-2's printable characters, then adjacent symbols merge lowest rank first (leftmost on ties);
 * symbols left without a token fall back to their single bytes.
 */
final class BpeTokenizer extends VocabTokenizer {
    private final PreTokenizer pre;
    private final Map<String, Integer> mergeRank;
    private final boolean ignoreMerges;

    /** @param mergeRank rank of the merge "left right" (the two symbols joined by one space) */
    BpeTokenizer(Vocabulary vocab, PreTokenizer pre, Map<String, Integer> mergeRank, boolean ignoreMerges) {
        super(vocab);
        this.pre = pre;
        this.mergeRank = mergeRank;
        this.ignoreMerges = ignoreMerges;
    }

    @Override
    public int[] encode(String text, boolean addSpecial, boolean parseSpecial) {
        IntList out = new IntList();
        if (addSpecial && vocab.addBos && vocab.bos >= 0) {
            out.add(vocab.bos);
        }
        for (SpecialSplitter.Fragment f : SpecialSplitter.split(vocab, text, parseSpecial)) {
            if (f.text() == null) {
                out.add(f.token());
            } else {
                for (String word : pre.split(f.text())) {
                    encodeWord(ByteLevel.encode(word), out);
                }
            }
        }
        if (addSpecial && vocab.addEos && vocab.eos >= 0) {
            out.add(vocab.eos);
        }
        return out.toArray();
    }

    private record Bigram(int left, int right, String text, int rank) {
    }

    private void encodeWord(String w, IntList out) {
        if (ignoreMerges) {
            int id = vocab.id(w);
            if (id >= 0) {
                out.add(id);
                return;
            }
        }
        // Every mapped character stands for one byte and is a single UTF-16 char.
        int n = w.length();
        int[] len = new int[n];
        int[] prev = new int[n];
        int[] next = new int[n];
        for (int i = 0; i < n; i++) {
            len[i] = 1;
            prev[i] = i - 1;
            next[i] = i + 1 < n ? i + 1 : -1;
        }
        PriorityQueue<Bigram> queue = new PriorityQueue<>((a, b) -> a.rank != b.rank
                ? Integer.compare(a.rank, b.rank) : Integer.compare(a.left, b.left));
        for (int i = 1; i < n; i++) {
            addBigram(w, len, i - 1, i, queue);
        }
        while (!queue.isEmpty()) {
            Bigram b = queue.poll();
            int l = b.left;
            int r = b.right;
            if (len[l] == 0 || len[r] == 0 || len[l] + len[r] != b.text.length()) {
                continue; // stale: one side has merged since
            }
            len[l] += len[r];
            len[r] = 0;
            next[l] = next[r];
            if (next[r] >= 0) {
                prev[next[r]] = l;
            }
            addBigram(w, len, prev[l], l, queue);
            addBigram(w, len, l, next[l], queue);
        }
        for (int i = n > 0 ? 0 : -1; i != -1; i = next[i]) {
            String sym = w.substring(i, i + len[i]);
            int id = vocab.id(sym);
            if (id >= 0) {
                out.add(id);
            } else {
                for (int j = 0; j < sym.length(); j++) {
                    int b = vocab.id(sym.substring(j, j + 1));
                    if (b >= 0) {
                        out.add(b);
                    }
                }
            }
        }
    }

    private void addBigram(String w, int[] len, int left, int right, PriorityQueue<Bigram> queue) {
        if (left < 0 || right < 0) {
            return;
        }
        String l = w.substring(left, left + len[left]);
        String r = w.substring(right, right + len[right]);
        Integer rank = mergeRank.get(l + " " + r);
        if (rank != null) {
            queue.add(new Bigram(left, right, l + r, rank));
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
            return ByteLevel.decode(t);
        }
        return new byte[0];
    }
}
