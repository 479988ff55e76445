package dev.tern.sampling;

import dev.tern.tokenizer.Tokenizer;

import java.util.Arrays;
import java.util.Map;
import java.util.WeakHashMap;

/**
 * llama.cpp's infill sampler, which code-completion plugins (llama.vscode, llama.vim) put after
 * top-k and top-p: when ending is likely enough (3·p(end)·n &gt; p(text)) only the end-of-generation
 * tokens stay; otherwise a token whose text begins another's takes over the other's probability
 * (the likelier of the two keeps both), tokens under 0.2 go, and then those under 1/(n+1) of what
 * is left, n the text tokens left; with none left the completion ends. The end-of-generation
 * tokens always stay. Probabilities are compared as llama.cpp computes them; the draw afterwards is
 * over the kept tokens' logits, as llama.cpp's dist sampler draws.
 */
final class Infill {
    private static final byte[] NONE = new byte[0];
    /** What the stage reads of a vocabulary, made once per tokenizer: requests of one server share it. */
    private static final Map<Tokenizer, Vocabulary> VOCABULARIES = new WeakHashMap<>();

    /**
     * @param pieces each token's text as llama.cpp's token_to_piece gives it without special tokens (none for them)
     * @param end    the token a completion with nothing likely to write ends with: EOS, else the first
     *               end-of-generation token, -1 without any
     */
    private record Vocabulary(byte[][] pieces, int end) {
    }

    private final Tokenizer tokenizer;
    private final byte[][] pieces;
    private final int end;

    Infill(Tokenizer tokenizer) {
        this.tokenizer = tokenizer;
        Vocabulary v = vocabulary(tokenizer);
        this.pieces = v.pieces();
        this.end = v.end();
    }

    private static Vocabulary vocabulary(Tokenizer tokenizer) {
        synchronized (VOCABULARIES) {
            return VOCABULARIES.computeIfAbsent(tokenizer, t -> {
                byte[][] pieces = new byte[t.vocabSize()][];
                for (int id = 0; id < pieces.length; id++) {
                    pieces[id] = t.isControl(id) ? NONE : t.tokenBytes(id);
                }
                int[] eog = t.endOfGenerationIds();
                int eos = t.eos();
                return new Vocabulary(pieces, eos >= 0 && t.isEndOfGeneration(eos) ? eos : eog.length > 0 ? eog[0] : -1);
            });
        }
    }

    void apply(Candidates c) {
        c.sort();
        c.softmax();
        float pText = 0, pEnd = 0;
        for (int i = 0; i < c.size; i++) {
            if (tokenizer.isEndOfGeneration(c.ids[i])) {
                pEnd += c.probs[i];
            } else {
                pText += c.probs[i];
            }
        }
        if (3 * pEnd * c.size > pText) {
            keep(c, Float.POSITIVE_INFINITY);
            return;
        }
        combinePrefixes(c);
        int text = likelyText(c);
        if (text == 0) {
            // Nothing likely enough to write: end here (a vocabulary without an end token keeps the merged candidates).
            if (end >= 0) {
                c.ids[0] = end;
                c.logits[0] = 1f;
                c.probs[0] = 1f;
                c.size = 1;
            }
            return;
        }
        keep(c, 0.2f);
        normalize(c);
        keep(c, 1f / (text + 1));
        normalize(c);
    }

    /** How many text tokens have probability at least 0.2. */
    private int likelyText(Candidates c) {
        int n = 0;
        for (int i = 0; i < c.size; i++) {
            n += c.probs[i] >= 0.2f && !tokenizer.isEndOfGeneration(c.ids[i]) ? 1 : 0;
        }
        return n;
    }

    /** Keeps, in order, the end-of-generation tokens and those of probability at least {@code min}. */
    private void keep(Candidates c, float min) {
        int n = 0;
        for (int i = 0; i < c.size; i++) {
            if (tokenizer.isEndOfGeneration(c.ids[i]) || c.probs[i] >= min) {
                c.ids[n] = c.ids[i];
                c.logits[n] = c.logits[i];
                c.probs[n] = c.probs[i];
                n++;
            }
        }
        c.size = n;
    }

    private static void normalize(Candidates c) {
        float sum = 0;
        for (int i = 0; i < c.size; i++) {
            sum += c.probs[i];
        }
        for (int i = 0; i < c.size; i++) {
            c.probs[i] /= sum;
        }
    }

    /**
     * For each candidate i0 in order, each later or earlier candidate i1 (in order) whose text starts
     * with i0's: the less likely of the two gives its probability to the other and leaves (logit -inf),
     * until i0 itself has left. The candidates whose text starts with a given one's are found as a range
     * of them sorted by text, rather than by comparing every pair.
     */
    private void combinePrefixes(Candidates c) {
        int n = c.size;
        byte[][] text = new byte[n][];
        Integer[] byText = new Integer[n];
        for (int i = 0; i < n; i++) {
            text[i] = pieces[c.ids[i]];
            byText[i] = i;
        }
        Arrays.sort(byText, (a, b) -> Arrays.compareUnsigned(text[a], text[b]));
        int[] rank = new int[n];
        for (int r = 0; r < n; r++) {
            rank[byText[r]] = r;
        }
        int[] starting = new int[n];
        for (int i0 = 0; i0 < n; i0++) {
            byte[] prefix = text[i0];
            if (prefix.length == 0) {
                continue;
            }
            // Texts that start with prefix follow it in the sorted order (equal texts may sit either side).
            int from = rank[i0];
            while (from > 0 && Arrays.equals(text[byText[from - 1]], prefix)) {
                from--;
            }
            int m = 0;
            for (int r = from; r < n && startsWith(text[byText[r]], prefix); r++) {
                if (byText[r] != i0) {
                    starting[m++] = byText[r];
                }
            }
            Arrays.sort(starting, 0, m);
            for (int k = 0; k < m && c.logits[i0] != Float.NEGATIVE_INFINITY; k++) {
                int i1 = starting[k];
                if (c.logits[i1] == Float.NEGATIVE_INFINITY) {
                    continue;
                }
                int dst = c.probs[i1] > c.probs[i0] ? i1 : i0, src = dst == i0 ? i1 : i0;
                c.probs[dst] += c.probs[src];
                c.logits[src] = Float.NEGATIVE_INFINITY;
                c.probs[src] = 0f;
            }
        }
    }

    private static boolean startsWith(byte[] text, byte[] prefix) {
        return text.length >= prefix.length && Arrays.equals(text, 0, prefix.length, prefix, 0, prefix.length);
    }
}
