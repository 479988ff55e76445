package dev.tern.engine;

import dev.tern.kv.KVCacheType;
import dev.tern.model.Model;
import dev.tern.model.NaiveTransformer;
import dev.tern.model.Pooling;
import dev.tern.model.RopeStyle;
import dev.tern.model.TinyModel;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** Embeddings: the engine's pooled, normalised hidden states against the naive transformer's, in double. */
class EmbeddingTest {

    private static float[] expected(NaiveTransformer naive, int[] tokens, Pooling pooling) {
        return expected(naive, tokens, pooling, true);
    }

    private static float[] expected(NaiveTransformer naive, int[] tokens, Pooling pooling, boolean unit) {
        double[][] h = naive.finalHidden(tokens);
        double[] v = new double[h[0].length];
        for (int t = 0; t < h.length; t++) {
            boolean used = pooling == Pooling.MEAN || (pooling == Pooling.CLS ? t == 0 : t == h.length - 1);
            for (int j = 0; used && j < v.length; j++) {
                v[j] += h[t][j] / (pooling == Pooling.MEAN ? h.length : 1);
            }
        }
        double norm = 0;
        for (double x : v) {
            norm += x * x;
        }
        float[] out = new float[v.length];
        for (int j = 0; j < v.length; j++) {
            out[j] = (float) (unit ? v[j] / Math.sqrt(norm) : v[j]);
        }
        return out;
    }

    @Test
    void everyPoolingMatchesTheNaiveModel() {
        for (Model model : new Model[]{TinyModel.random(TinyModel.config(32, 48, 2, 4, 2, 40, RopeStyle.NORMAL, 8, 1f), 5, false),
                TinyModel.random(TinyModel.qwen3(32, 48, 2, 4, 2, 16, 40), 6, false)}) {
            NaiveTransformer naive = new NaiveTransformer(model);
            try (Engine engine = new Engine(model, 2, 16, KVCacheType.F16)) {
                int[] tokens = {3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5};
                for (Pooling p : Pooling.values()) {
                    float[] want = expected(naive, tokens, p), got = engine.embed(tokens, p);
                    for (int j = 0; j < want.length; j++) {
                        assertEquals(want[j], got[j], 2e-5, model.config().architecture() + " " + p + " [" + j + "]");
                    }
                }
                for (Pooling p : Pooling.values()) {
                    float[] want = expected(naive, tokens, p, false), got = engine.embed(List.of(tokens), p, EmbeddingNorm.NONE).getFirst();
                    for (int j = 0; j < want.length; j++) {
                        assertEquals(want[j], got[j], 2e-5 * Math.max(1, Math.abs(want[j])), "as pooled, " + p + " [" + j + "]");
                    }
                }
                assertEquals(0, engine.cache().usedBlocks(), "the shared cache is left untouched");
                assertThrows(IllegalArgumentException.class, () -> engine.embed(new int[0], Pooling.MEAN));
            }
        }
    }

    /** Inputs sharing passes (and one longer than a pass, run alone in pieces) get each its own embedding. */
    @Test
    void inputsSharingPassesEmbedAsAlone() {
        Model model = TinyModel.random(TinyModel.config(32, 48, 2, 4, 2, 40, RopeStyle.NORMAL, 8, 1f), 7, false);
        NaiveTransformer naive = new NaiveTransformer(model);
        java.util.Random random = new java.util.Random(3);
        List<int[]> inputs = new ArrayList<>();
        for (int length : new int[]{11, 1, 7, 20, 530, 3, 300, 250}) {
            inputs.add(random.ints(length, 0, 40).toArray());
        }
        try (Engine engine = new Engine(model, 2, 16, KVCacheType.F16)) {
            for (Pooling p : Pooling.values()) {
                List<float[]> got = engine.embed(inputs, p);
                assertEquals(inputs.size(), got.size());
                for (int k = 0; k < inputs.size(); k++) {
                    float[] want = expected(naive, inputs.get(k), p);
                    for (int j = 0; j < want.length; j++) {
                        assertEquals(want[j], got.get(k)[j], 2e-5, p + " input " + k + " [" + j + "]");
                    }
                }
            }
            assertEquals(0, engine.cache().usedBlocks());
        }
    }
}
