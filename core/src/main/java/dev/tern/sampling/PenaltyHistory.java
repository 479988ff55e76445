package dev.tern.sampling;

import java.util.Arrays;

/**
 * The window of recent tokens the repetition penalties look at, with a count per token so
 * applying the penalties costs O(window) rather than O(vocabulary).
 */
final class PenaltyHistory {
    private final int[] counts;
    private final boolean bounded;
    private int[] ring;
    private int head; // index of the oldest token
    private int size;
    // Marks tokens already penalised in the current pass; an epoch avoids clearing it each time.
    private final int[] seen;
    private int epoch;

    /** @param lastN window length; negative keeps every token */
    PenaltyHistory(int vocabSize, int lastN) {
        counts = new int[vocabSize];
        seen = new int[vocabSize];
        bounded = lastN >= 0;
        ring = new int[bounded ? lastN : 64];
    }

    void add(int token) {
        if (bounded) {
            if (ring.length == 0) {
                return;
            }
            if (size == ring.length) {
                counts[ring[head]]--;
                ring[head] = token;
                head = (head + 1) % ring.length;
            } else {
                ring[(head + size) % ring.length] = token;
                size++;
            }
        } else {
            if (size == ring.length) {
                ring = Arrays.copyOf(ring, ring.length * 2);
            }
            ring[size++] = token;
        }
        counts[token]++;
    }

    void clear() {
        Arrays.fill(counts, 0);
        head = 0;
        size = 0;
    }

    int count(int token) {
        return counts[token];
    }

    /**
     * Applies llama.cpp's penalties to the candidates whose token is in the window: over the whole
     * vocabulary in id order (the stage's default place, first) it walks the window, once per
     * distinct token, else the candidates.
     */
    void apply(Candidates c, float repeat, float frequency, float presence) {
        if (size == 0) {
            return;
        }
        c.sorted = false;
        if (!c.inIdOrder) {
            for (int i = 0; i < c.size; i++) {
                int n = counts[c.ids[i]];
                if (n > 0) {
                    c.logits[i] = penalised(c.logits[i], n, repeat, frequency, presence);
                }
            }
            return;
        }
        if (++epoch == 0) {
            Arrays.fill(seen, 0);
            epoch = 1;
        }
        for (int i = 0; i < size; i++) {
            int t = ring[(head + i) % ring.length];
            if (seen[t] == epoch) {
                continue;
            }
            seen[t] = epoch;
            c.logits[t] = penalised(c.logits[t], counts[t], repeat, frequency, presence);
        }
    }

    private static float penalised(float logit, int count, float repeat, float frequency, float presence) {
        // llama.cpp: non-positive logits are multiplied so the penalty always lowers them
        float l = logit <= 0f ? logit * repeat : logit / repeat;
        return l - (count * frequency + presence);
    }
}
