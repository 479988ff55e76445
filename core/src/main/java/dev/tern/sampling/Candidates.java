package dev.tern.sampling;

import java.util.Arrays;

/**
 * The tokens still in the running and their logits, as llama.cpp's token-data array: filters
 * shrink it, and once sorted it is in descending logit order (ties: lower id first).
 * Buffers are reused between calls because vocabularies reach 150k entries.
 */
final class Candidates {
    int[] ids;
    float[] logits;
    float[] probs;
    int size;
    boolean sorted;
    private long[] keys;

    Candidates(int vocabSize) {
        ids = new int[vocabSize];
        logits = new float[vocabSize];
        probs = new float[vocabSize];
        keys = new long[vocabSize];
    }

    /** Every token, unsorted. */
    void fill(float[] all) {
        for (int i = 0; i < all.length; i++) {
            ids[i] = i;
        }
        System.arraycopy(all, 0, logits, 0, all.length);
        size = all.length;
        sorted = false;
    }

    /**
     * Orders by descending logit, then ascending id. The key packs an order-preserving
     * transform of the float with the id so a primitive sort does the work.
     */
    static long key(float logit, int id) {
        int bits = Float.floatToIntBits(logit);
        int ordered = bits ^ ((bits >> 31) & 0x7fffffff); // ascending as signed int
        return ((long) ~ordered << 32) | (id & 0xffffffffL);
    }

    private static int idOf(long key) {
        return (int) key;
    }

    void sort() {
        if (sorted) {
            return;
        }
        for (int i = 0; i < size; i++) {
            keys[i] = key(logits[i], ids[i]);
        }
        Arrays.sort(keys, 0, size);
        unpack(size);
        sorted = true;
    }

    private void unpack(int n) {
        // ids first from keys, then logits: the logit of each id is recovered from the key.
        for (int i = 0; i < n; i++) {
            long k = keys[i];
            ids[i] = idOf(k);
            int ordered = ~(int) (k >>> 32);
            int bits = ordered ^ ((ordered >> 31) & 0x7fffffff);
            logits[i] = Float.intBitsToFloat(bits);
        }
        size = n;
    }

    /**
     * Keeps the k best, sorted, without sorting everything: a bounded max-heap of keys, O(n log k).
     * A k of at least the size sorts them all, as llama.cpp's does: the draw's order depends on it.
     */
    void topK(int k) {
        if (k <= 0) {
            return;
        }
        if (k >= size) {
            sort();
            return;
        }
        long[] heap = keys;
        // Build the heap in place over the first k keys; the rest are compared to the worst kept.
        int n = 0;
        for (int i = 0; i < size; i++) {
            long kk = key(logits[i], ids[i]);
            if (n < k) {
                heap[n] = kk;
                siftUp(heap, n++);
            } else if (kk < heap[0]) {
                heap[0] = kk;
                siftDown(heap, k);
            }
        }
        Arrays.sort(heap, 0, k);
        unpack(k);
        sorted = true;
    }

    private static void siftUp(long[] h, int i) {
        long x = h[i];
        while (i > 0) {
            int parent = (i - 1) >>> 1;
            if (h[parent] >= x) {
                break;
            }
            h[i] = h[parent];
            i = parent;
        }
        h[i] = x;
    }

    private static void siftDown(long[] h, int n) {
        long x = h[0];
        int i = 0;
        while (true) {
            int c = 2 * i + 1;
            if (c >= n) {
                break;
            }
            if (c + 1 < n && h[c + 1] > h[c]) {
                c++;
            }
            if (h[c] <= x) {
                break;
            }
            h[i] = h[c];
            i = c;
        }
        h[i] = x;
    }

    /** Softmax of the current logits into {@link #probs}, in float like llama.cpp. */
    void softmax() {
        exps();
        float sum = 0f;
        for (int i = 0; i < size; i++) {
            sum += probs[i];
        }
        for (int i = 0; i < size; i++) {
            probs[i] /= sum;
        }
    }

    /** probs[i] = exp(logit - the largest logit), in float, as llama.cpp's samplers compute them. */
    private void exps() {
        float max = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < size; i++) {
            max = Math.max(max, logits[i]);
        }
        for (int i = 0; i < size; i++) {
            probs[i] = (float) Math.exp(logits[i] - max);
        }
    }

    /** llama.cpp's top-p: the shortest sorted prefix whose probability mass reaches p. */
    void topP(float p) {
        if (p >= 1f || size <= 1) {
            return;
        }
        sort();
        softmax();
        float cum = 0f;
        for (int i = 0; i < size; i++) {
            cum += probs[i];
            if (cum >= p) {
                size = i + 1;
                return;
            }
        }
    }

    /** llama.cpp's min-p: drops tokens whose logit is below max + ln(p), i.e. prob < p * max prob. */
    void minP(float p) {
        if (p <= 0f || size <= 1) {
            return;
        }
        float max = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < size; i++) {
            max = Math.max(max, logits[i]);
        }
        float threshold = max + (float) Math.log(p);
        int n = 0;
        for (int i = 0; i < size; i++) {
            if (logits[i] >= threshold) {
                ids[n] = ids[i];
                logits[n] = logits[i];
                n++;
            }
        }
        size = n; // order preserved, so a sorted array stays sorted
    }

    /**
     * llama.cpp's dist sampler: the index of the candidate, in the present order, at which the
     * running sum of exp(logit - max) (floats, summed in double) first reaches u times the total.
     */
    int draw(double u) {
        exps();
        double total = 0;
        for (int i = 0; i < size; i++) {
            total += probs[i];
        }
        double target = total * u;
        double run = 0;
        for (int i = 0; i < size; i++) {
            run += probs[i];
            if (run >= target) {
                return i;
            }
        }
        return size - 1;
    }

    void scale(float temperature) {
        for (int i = 0; i < size; i++) {
            logits[i] /= temperature;
        }
    }
}
