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
    /** Whether candidate i is still token i: the whole vocabulary as filled, none dropped or moved. */
    boolean inIdOrder;
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
        inIdOrder = true;
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
        inIdOrder = false;
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

    /** llama.cpp's top-p: the shortest sorted prefix, of at least minKeep, whose probability mass reaches p. */
    void topP(float p, int minKeep) {
        if (p >= 1f || size <= 1) {
            return;
        }
        sort();
        softmax();
        float cum = 0f;
        for (int i = 0; i < size; i++) {
            cum += probs[i];
            if (cum >= p && i + 1 >= minKeep) {
                size = i + 1;
                return;
            }
        }
    }

    /**
     * llama.cpp's min-p: drops tokens whose logit is below max + ln(p), i.e. prob < p * max prob;
     * when that would leave fewer than minKeep, the best minKeep stay (sorted).
     */
    void minP(float p, int minKeep) {
        if (p <= 0f || size <= 1) {
            return;
        }
        float max = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < size; i++) {
            max = Math.max(max, logits[i]);
        }
        float threshold = max + (float) Math.log(p);
        int kept = 0;
        for (int i = 0; i < size; i++) {
            if (logits[i] >= threshold) {
                kept++;
            }
        }
        if (kept < minKeep) {
            sort();
            size = Math.min(size, minKeep);
            return;
        }
        int n = 0;
        for (int i = 0; i < size; i++) {
            if (logits[i] >= threshold) {
                ids[n] = ids[i];
                logits[n] = logits[i];
                n++;
            }
        }
        inIdOrder &= n == size;
        size = n; // order preserved, so a sorted array stays sorted
    }

    /** adaptive-p's transform: how wide the favoured band of probabilities is, the score at its centre, how fast scores fall. */
    private static final float ADAPTIVE_INV_WIDTH = 1f / 0.3f;
    private static final float ADAPTIVE_PEAK = 5f;
    private static final float ADAPTIVE_SHARPNESS = 10f;

    /**
     * llama.cpp's adaptive-p transform: each candidate's logit becomes a score that peaks where its
     * probability equals {@code target}, falling quadratically near it and linearly in the tails;
     * a masked (-infinity) logit stays masked. Leaves the probabilities before it in {@code before}.
     */
    void adaptiveP(float target, float[] before) {
        softmax();
        for (int i = 0; i < size; i++) {
            before[i] = probs[i];
            if (logits[i] == Float.NEGATIVE_INFINITY) {
                continue;
            }
            float d = Math.abs((probs[i] - target) * ADAPTIVE_INV_WIDTH);
            logits[i] = ADAPTIVE_PEAK - ADAPTIVE_SHARPNESS * d * d / (1f + d);
        }
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

    /**
     * llama.cpp's temperature: logits divided by it; at or below zero only the first largest logit
     * stays finite (dynamic temperature can reach zero).
     */
    void scale(float temperature) {
        if (temperature <= 0f) {
            int best = 0;
            for (int i = 1; i < size; i++) {
                if (logits[i] > logits[best]) {
                    logits[best] = Float.NEGATIVE_INFINITY;
                    best = i;
                } else {
                    logits[i] = Float.NEGATIVE_INFINITY;
                }
            }
            return;
        }
        for (int i = 0; i < size; i++) {
            logits[i] /= temperature;
        }
    }

    /**
     * llama.cpp's temperature with a dynamic range: from {@code temperature - range} (not below 0)
     * to {@code temperature + range}, by the candidates' entropy over its largest possible value
     * raised to {@code exponent}.
     */
    void scale(float temperature, float range, float exponent) {
        if (range <= 0f) {
            scale(temperature);
            return;
        }
        if (size <= 1) {
            return;
        }
        float lowest = Math.max(0f, temperature - range);
        float highest = temperature + range;
        float maxEntropy = -(float) Math.log(1f / size);
        sort();
        softmax();
        float entropy = 0f;
        for (int i = 0; i < size; i++) {
            float p = probs[i];
            if (p > 0f) {
                entropy -= p * (float) Math.log(p);
            }
        }
        scale(lowest + (highest - lowest) * (float) Math.pow(entropy / maxEntropy, exponent));
    }

    /**
     * llama.cpp's top-n-sigma: logits more than n standard deviations (of the finite logits) below
     * the largest become -inf; the order and size stay.
     */
    void topNSigma(float n) {
        if (n <= 0f || size <= 1) {
            return;
        }
        float max = logits[0];
        float sum = 0f;
        int valid = 0;
        for (int i = 0; i < size; i++) {
            if (logits[i] != Float.NEGATIVE_INFINITY) {
                max = Math.max(max, logits[i]);
                sum += logits[i];
                valid++;
            }
        }
        float mean = valid > 0 ? sum / valid : 0f;
        float acc = 0f;
        for (int i = 0; i < size; i++) {
            if (logits[i] != Float.NEGATIVE_INFINITY) {
                // llama.cpp squares in double (pow) and adds into a float.
                double d = logits[i] - mean;
                acc = (float) (acc + d * d);
            }
        }
        float std = valid > 0 ? (float) Math.sqrt(acc / valid) : 0f;
        float floor = max - n * std;
        for (int i = 0; i < size; i++) {
            if (logits[i] < floor) {
                logits[i] = Float.NEGATIVE_INFINITY;
            }
        }
    }

    /**
     * llama.cpp's locally typical sampling: the candidates ordered by how far their surprise is from
     * the entropy, cut after the first whose running mass exceeds p. Leaves them in that order
     * (unsorted), which is the order the draw walks. A zero probability counts nothing towards the
     * entropy here, where llama.cpp's 0·log 0 makes it NaN.
     */
    void typical(float p, int minKeep) {
        if (p >= 1f) {
            return;
        }
        sort();
        softmax();
        float entropy = 0f;
        for (int i = 0; i < size; i++) {
            if (probs[i] > 0f) {
                entropy += -probs[i] * (float) Math.log(probs[i]);
            }
        }
        // Scores are non-negative, so their bits sort as they do; the index breaks ties, as a stable sort.
        for (int i = 0; i < size; i++) {
            float score = Math.abs(-(float) Math.log(probs[i]) - entropy);
            keys[i] = ((long) Float.floatToIntBits(score) << 32) | i;
        }
        Arrays.sort(keys, 0, size);
        int kept = size;
        float cum = 0f;
        for (int i = 0; i < size; i++) {
            cum += probs[(int) keys[i]];
            if (cum > p && (minKeep == 0 || i >= minKeep - 1)) {
                kept = i + 1;
                break;
            }
        }
        int[] oldIds = Arrays.copyOf(ids, size);
        float[] oldLogits = Arrays.copyOf(logits, size);
        float[] oldProbs = Arrays.copyOf(probs, size);
        for (int i = 0; i < kept; i++) {
            int from = (int) keys[i];
            ids[i] = oldIds[from];
            logits[i] = oldLogits[from];
            probs[i] = oldProbs[from];
        }
        size = kept;
        sorted = false;
        inIdOrder = false;
    }

    /**
     * XTC's cut (the caller has drawn its chance): every candidate at or above the threshold's
     * probability but the least likely of them goes, when at least two reach it and minKeep stay.
     */
    void excludeTopChoices(float threshold, int minKeep) {
        sort();
        softmax();
        int last = 0;
        for (int i = 0; i < size; i++) {
            if (probs[i] >= threshold) {
                last = i;
            } else {
                break;
            }
        }
        if (last > 0 && size - last >= minKeep) {
            int n = size - last;
            System.arraycopy(ids, last, ids, 0, n);
            System.arraycopy(logits, last, logits, 0, n);
            System.arraycopy(probs, last, probs, 0, n);
            size = n;
            inIdOrder = false;
        }
    }

    /**
     * libstdc++'s {@code std::discrete_distribution} over the current probabilities, as llama.cpp's
     * Mirostat draws: weights normalised in double, the first running sum reaching a uniform double.
     * Fewer than two candidates take the first without a draw, as libstdc++ does.
     */
    int drawDiscrete(Mt19937 rng) {
        if (size < 2) {
            return 0;
        }
        double total = 0;
        for (int i = 0; i < size; i++) {
            total += probs[i];
        }
        double u = rng.nextDouble();
        double run = 0;
        for (int i = 0; i < size - 1; i++) {
            run += probs[i] / total;
            if (run >= u) {
                return i;
            }
        }
        return size - 1;
    }
}
