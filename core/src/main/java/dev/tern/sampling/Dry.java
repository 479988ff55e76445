package dev.tern.sampling;

import dev.tern.tokenizer.Tokenizer;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.WeakHashMap;

/**
 * llama.cpp's DRY sampler (ported there from koboldcpp): the recent tokens, and for each token
 * that would extend a repetition of at least the allowed length the penalty it takes. Found as
 * llama.cpp finds it: the last sequence breaker bounds how far back a repetition may reach, a
 * backwards Z-algorithm gives each position's longest repeat of the text's end, and each token
 * that followed such a repeat gets the longest one's penalty.
 */
final class Dry {
    /** llama.cpp clamps breakers to 40 bytes and their tails to 20 tokens. */
    private static final int MAX_BREAKER_BYTES = 40;
    private static final int MAX_TAIL_TOKENS = 20;
    /** About ln(Float.MAX_VALUE): the exponent is clamped so the penalty stays finite. */
    private static final float FLOAT_MAX_LOG = 88.7228391f;
    private static final Map<Tokenizer, Map<List<String>, Map<Integer, List<int[]>>>> BREAKERS = new WeakHashMap<>();

    private final DrySampling settings;
    /** Head token → the tokens that must follow it to complete a breaker; empty: it breaks alone. */
    private final Map<Integer, List<int[]>> breakers;
    private final int[] ring;
    private int first;
    private int size;

    Dry(DrySampling settings, Tokenizer tokenizer) {
        this(settings, breakers(tokenizer, settings.breakers()));
    }

    /** With the breakers as token sequences already (head → tails), as llama.cpp's tests give them. */
    Dry(DrySampling settings, Map<Integer, List<int[]>> breakers) {
        this.settings = settings;
        this.breakers = breakers;
        this.ring = new int[settings.penaltyLastN()];
    }

    void accept(int token) {
        if (size == ring.length) {
            ring[first] = token;
            first = (first + 1) % ring.length;
        } else {
            ring[(first + size++) % ring.length] = token;
        }
    }

    void clear() {
        first = 0;
        size = 0;
    }

    /** The i-th token from the end (0: the last). */
    private int back(int i) {
        return ring[(first + size - 1 - i) % ring.length];
    }

    /** Takes each repetition-extending candidate's penalty off its logit. */
    void apply(Candidates c) {
        int n = size;
        int allowed = settings.allowedLength();
        if (n <= allowed) {
            return;
        }
        int limit = repeatLimit(n);
        if (limit < allowed) {
            return;
        }
        int[] repeat = repeatCounts(n, limit);
        Map<Integer, Integer> longest = new HashMap<>();
        for (int i = 0; i < n - 1; i++) {
            if (repeat[i] >= allowed) {
                longest.merge(back(n - 2 - i), repeat[i], Math::max);
            }
        }
        int maxExponent = settings.base() > 1.000001f ? (int) (FLOAT_MAX_LOG / (float) Math.log(settings.base())) : 0;
        for (int i = 0; i < c.size; i++) {
            Integer length = longest.get(c.ids[i]);
            if (length == null || breaksAlone(c.ids[i])) {
                continue;
            }
            int exponent = length - allowed;
            if (maxExponent > 0 && exponent > maxExponent) {
                exponent = maxExponent;
            }
            c.logits[i] -= (float) (settings.multiplier() * Math.pow(settings.base(), exponent));
        }
        c.sorted = false;
    }

    /** How far back a repetition may reach: up to the most recent complete sequence breaker. */
    private int repeatLimit(int n) {
        for (int i = 0; i < n; i++) {
            List<int[]> tails = breakers.get(back(i));
            if (tails == null) {
                continue;
            }
            int longest = -1;
            for (int[] tail : tails) {
                if (tail.length > longest && tail.length <= i && endsAt(tail, i)) {
                    longest = tail.length;
                }
            }
            if (longest >= 0) {
                return i - longest;
            }
        }
        return n;
    }

    private boolean endsAt(int[] tail, int i) {
        for (int o = 0; o < tail.length; o++) {
            if (tail[o] != back(i - o - 1)) {
                return false;
            }
        }
        return true;
    }

    /**
     * repeat[last − k] = how many of the last tokens also end k positions earlier (at most limit):
     * the Z-algorithm run backwards, as llama.cpp's.
     */
    private int[] repeatCounts(int n, int limit) {
        int[] repeat = new int[n];
        int last = n - 1;
        int lt = 0;
        int rt = 0;
        for (int k = 1; k < n; k++) {
            if (k > rt) {
                int m = 0;
                while (m + k < n && back(m) == back(m + k)) {
                    m++;
                }
                repeat[last - k] = Math.min(m, limit);
                if (m > 0) {
                    lt = k;
                    rt = k + m - 1;
                }
            } else {
                int p = k - lt;
                int rightPart = rt - k + 1;
                if (repeat[last - p] < rightPart) {
                    repeat[last - k] = Math.min(repeat[last - p], limit);
                } else {
                    int i = rt + 1;
                    while (i < n && back(i) == back(i - k)) {
                        i++;
                    }
                    repeat[last - k] = Math.min(i - k, limit);
                    lt = k;
                    rt = i - 1;
                }
            }
        }
        return repeat;
    }

    private boolean breaksAlone(int token) {
        List<int[]> tails = breakers.get(token);
        return tails != null && tails.stream().anyMatch(t -> t.length == 0);
    }

    /** The breakers' token sequences for this vocabulary, made once per tokenizer and list (a scan of the vocabulary). */
    private static Map<Integer, List<int[]>> breakers(Tokenizer tokenizer, List<String> strings) {
        synchronized (BREAKERS) {
            return BREAKERS.computeIfAbsent(tokenizer, t -> new HashMap<>()).computeIfAbsent(strings, s -> scan(tokenizer, s));
        }
    }

    /**
     * llama.cpp's get_overlapping_token_sequences: a token whose text contains a breaker breaks
     * alone; a token whose text ends with the breaker's beginning breaks with the tokens of the
     * breaker's rest (tokenized on its own, at most 20).
     */
    private static Map<Integer, List<int[]>> scan(Tokenizer tokenizer, List<String> strings) {
        Map<Integer, List<int[]>> out = new HashMap<>();
        byte[][] words = new byte[tokenizer.vocabSize()][];
        for (int id = 0; id < words.length; id++) {
            words[id] = tokenizer.decode(new int[]{id}).getBytes(StandardCharsets.UTF_8);
        }
        for (String s : strings) {
            byte[] str = s.getBytes(StandardCharsets.UTF_8);
            if (str.length == 0) {
                continue;
            }
            str = Arrays.copyOf(str, Math.min(str.length, MAX_BREAKER_BYTES));
            for (int id = 0; id < words.length; id++) {
                byte[] word = words[id];
                if (indexOf(word, str, 0) >= 0) {
                    add(out, id, new int[0]);
                    continue;
                }
                for (int pos = indexOf(word, new byte[]{str[0]}, 0); pos >= 0; pos = indexOf(word, new byte[]{str[0]}, pos + 1)) {
                    int i = 1;
                    boolean match = true;
                    for (; i < str.length && i + pos < word.length; i++) {
                        if (word[pos + i] != str[i]) {
                            match = false;
                            break;
                        }
                    }
                    if (match) {
                        String rest = new String(str, i, str.length - i, StandardCharsets.UTF_8);
                        int[] tail = tokenizer.encode(rest, false, false);
                        add(out, id, Arrays.copyOf(tail, Math.min(tail.length, MAX_TAIL_TOKENS)));
                    }
                }
            }
        }
        return out;
    }

    private static void add(Map<Integer, List<int[]>> out, int id, int[] tail) {
        List<int[]> tails = out.computeIfAbsent(id, k -> new ArrayList<>());
        if (tails.stream().noneMatch(t -> Arrays.equals(t, tail))) {
            tails.add(tail);
        }
    }

    private static int indexOf(byte[] hay, byte[] needle, int from) {
        outer:
        for (int i = from; i + needle.length <= hay.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (hay[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return i;
        }
        return -1;
    }
}
