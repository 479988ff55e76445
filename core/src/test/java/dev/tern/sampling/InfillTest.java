package dev.tern.sampling;

import dev.tern.gguf.GGUFFile;
import dev.tern.testing.Fixtures;
import dev.tern.tokenizer.Tokenizer;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The infill sampler against a line-by-line transcription of llama.cpp's {@code llama_sampler_infill_apply}
 * (every pair of candidates compared, as llama.cpp does), on stories260K's vocabulary and logits that put
 * tokens whose text begins another's at the top, then its draw: a softmax of the kept tokens' logits.
 */
class InfillTest {
    private static Tokenizer tokenizer;
    /** Pairs (shorter, longer) of token ids where the longer's text starts with the shorter's. */
    private static List<int[]> prefixPairs;

    @BeforeAll
    static void load() {
        try (GGUFFile f = GGUFFile.open(Fixtures.stories260K("stories260K-f32.gguf"))) {
            tokenizer = Tokenizer.fromGGUF(f);
        }
        prefixPairs = new ArrayList<>();
        for (int a = 0; a < tokenizer.vocabSize(); a++) {
            for (int b = 0; b < tokenizer.vocabSize(); b++) {
                byte[] pa = piece(a), pb = piece(b);
                if (a != b && pa.length > 0 && pa.length < pb.length && Arrays.equals(pa, 0, pa.length, pb, 0, pa.length)) {
                    prefixPairs.add(new int[]{a, b});
                }
            }
        }
        assertTrue(prefixPairs.size() > 50, "the vocabulary has tokens that begin others: " + prefixPairs.size());
    }

    private static byte[] piece(int id) {
        return tokenizer.isControl(id) ? new byte[0] : tokenizer.tokenBytes(id);
    }

    private static Sampler sampler(List<SamplerStage> order, long seed) {
        SamplerConfig c = new SamplerConfig(1f, 40, 1f, 0f, 1f, 64, 0f, 0f, seed).withAdvanced(AdvancedSampling.NONE.withChain(1, order));
        return new Sampler(c, tokenizer, null);
    }

    /** llama.cpp's infill apply over the whole vocabulary, then its dist sampler's softmax of what is left. */
    private static double[] reference(float[] logits) {
        int n = logits.length;
        Integer[] order = new Integer[n];
        for (int i = 0; i < n; i++) {
            order[i] = i;
        }
        Arrays.sort(order, Comparator.comparingDouble((Integer i) -> -logits[i]));
        int[] id = new int[n];
        float[] logit = new float[n];
        float[] p = new float[n];
        float max = logits[order[0]], sum = 0;
        for (int i = 0; i < n; i++) {
            id[i] = order[i];
            logit[i] = logits[order[i]];
            p[i] = (float) Math.exp(logit[i] - max);
            sum += p[i];
        }
        for (int i = 0; i < n; i++) {
            p[i] /= sum;
        }
        float pTxt = 0, pEog = 0;
        for (int i = 0; i < n; i++) {
            if (tokenizer.isEndOfGeneration(id[i])) {
                pEog += p[i];
            } else {
                pTxt += p[i];
            }
        }
        int size = n;
        if (3 * pEog * size > pTxt) {
            int m = 0;
            for (int i = 0; i < size; i++) {
                if (tokenizer.isEndOfGeneration(id[i])) {
                    id[m] = id[i];
                    logit[m] = logit[i];
                    p[m++] = p[i];
                }
            }
            return softmax(id, logit, m, n);
        }
        for (int i0 = 0; i0 < size; i0++) {
            for (int i1 = 0; i1 < size; i1++) {
                if (logit[i0] == Float.NEGATIVE_INFINITY) {
                    break;
                }
                if (i0 == i1 || logit[i1] == Float.NEGATIVE_INFINITY) {
                    continue;
                }
                byte[] b0 = piece(id[i0]), b1 = piece(id[i1]);
                if (b0.length > 0 && b0.length <= b1.length && Arrays.equals(b0, 0, b0.length, b1, 0, b0.length)) {
                    int dst = i0, src = i1;
                    if (p[i1] > p[i0]) {
                        dst = i1;
                        src = i0;
                    }
                    p[dst] += p[src];
                    logit[src] = Float.NEGATIVE_INFINITY;
                    p[src] = 0f;
                }
            }
        }
        int nonEog = 0, m = 0;
        float pSum = 0;
        for (int i = 0; i < size; i++) {
            boolean eog = tokenizer.isEndOfGeneration(id[i]);
            if (p[i] < 0.2f && !eog) {
                continue;
            }
            nonEog += eog ? 0 : 1;
            pSum += p[i];
            id[m] = id[i];
            logit[m] = logit[i];
            p[m++] = p[i];
        }
        if (nonEog == 0) {
            double[] out = new double[n];
            out[tokenizer.eos()] = 1;
            return out;
        }
        for (int i = 0; i < m; i++) {
            p[i] /= pSum;
        }
        float threshold = 1f / (nonEog + 1);
        int k = 0;
        for (int i = 0; i < m; i++) {
            if (p[i] < threshold && !tokenizer.isEndOfGeneration(id[i])) {
                continue;
            }
            id[k] = id[i];
            logit[k] = logit[i];
            p[k++] = p[i];
        }
        return softmax(id, logit, k, n);
    }

    private static double[] softmax(int[] id, float[] logit, int size, int n) {
        double[] out = new double[n];
        double max = Double.NEGATIVE_INFINITY, z = 0;
        for (int i = 0; i < size; i++) {
            max = Math.max(max, logit[i]);
        }
        for (int i = 0; i < size; i++) {
            z += Math.exp(logit[i] - max);
        }
        for (int i = 0; i < size; i++) {
            out[id[i]] += Math.exp(logit[i] - max) / z;
        }
        return out;
    }

    /** Random logits with a few tokens on top, among them chains of tokens beginning one another. */
    private static float[] logits(Random r, float eosLogit) {
        float[] l = new float[tokenizer.vocabSize()];
        for (int i = 0; i < l.length; i++) {
            l[i] = (float) r.nextGaussian();
        }
        for (int k = 0; k < 3; k++) {
            int[] pair = prefixPairs.get(r.nextInt(prefixPairs.size()));
            l[pair[0]] = 6 + 2 * r.nextFloat();
            l[pair[1]] = 6 + 2 * r.nextFloat();
        }
        l[tokenizer.eos()] = eosLogit;
        return l;
    }

    @Test
    void distributionIsLlamaCpps() {
        Random r = new Random(7);
        int merged = 0, ended = 0, endOnly = 0;
        for (int trial = 0; trial < 300; trial++) {
            float eos = trial % 10 == 0 ? 9f : trial % 10 == 1 ? 7.5f : (float) r.nextGaussian();
            float[] l = logits(r, eos);
            double[] want = reference(l);
            float[] got = sampler(List.of(SamplerStage.INFILL), trial).probabilities(l.clone());
            for (int i = 0; i < l.length; i++) {
                assertEquals(want[i], got[i], 1e-5, "trial " + trial + " token " + i);
            }
            int kept = 0;
            for (float x : got) {
                kept += x > 0 ? 1 : 0;
            }
            merged += kept >= 1 && kept <= 3 ? 1 : 0;
            ended += got[tokenizer.eos()] == 1f ? 1 : 0;
            endOnly += got[tokenizer.eos()] > 0.999f ? 1 : 0;
        }
        assertTrue(merged > 100 && ended > 0 && endOnly > 0, merged + " " + ended + " " + endOnly);
    }

    /** The draw follows that distribution: llama.vscode's chain, top-k 40 and top-p 0.99 first. */
    @Test
    void drawsFollowTheDistribution() {
        Random r = new Random(11);
        List<SamplerStage> chain = List.of(SamplerStage.TOP_K, SamplerStage.TOP_P, SamplerStage.INFILL);
        float[] l = logits(r, 0f);
        float[] p = sampler(chain, 1).probabilities(l.clone());
        int[] counts = new int[l.length];
        int draws = 4000;
        for (int s = 0; s < draws; s++) {
            counts[sampler(chain, s).sample(l.clone())]++;
        }
        for (int i = 0; i < l.length; i++) {
            if (p[i] == 0) {
                assertEquals(0, counts[i], "a filtered token was drawn: " + i);
            } else {
                double sd = Math.sqrt(draws * p[i] * (1 - p[i]));
                assertEquals(draws * p[i], counts[i], 5 * sd + 1, "token " + i);
            }
        }
    }

    @Test
    void namedAndLetteredAsLlamaCpp() {
        assertEquals(SamplerStage.INFILL, SamplerStage.named("infill"));
        assertEquals(List.of(SamplerStage.TOP_K, SamplerStage.TOP_P, SamplerStage.INFILL), SamplerStage.parseLetters("kpi"));
        assertThrows(IllegalArgumentException.class, () -> new Sampler(
                SamplerConfig.defaults().withAdvanced(AdvancedSampling.NONE.withChain(1, List.of(SamplerStage.INFILL))), 512));
    }
}
