package dev.tern.engine;

import dev.tern.kv.KVCacheType;
import dev.tern.model.Model;
import dev.tern.testing.Fixtures;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Packed KV caches against the F32 cache on stories15M: same tokens, logits within a bound. */
class CacheTypeTest {
    private static final int STEPS = 60;

    @Test
    void packedCachesStayCloseToF32() {
        try (Model model = Model.load(Fixtures.stories15M("stories15M-distilled-f32.gguf"))) {
            int[] tokens = new int[STEPS + 5];
            float[][] f32 = decode(model, KVCacheType.F32, tokens, true);
            float[][] f16 = decode(model, KVCacheType.F16, tokens, false);
            float[][] q8 = decode(model, KVCacheType.Q8_0, tokens, false);
            double f16Diff = maxDiff(f32, f16), q8Diff = maxDiff(f32, q8);
            // measured: F16 1.5e-3, Q8_0 2.4e-2 over 60 steps; the bounds leave a few times that
            assertTrue(f16Diff < 0.01, "F16 cache logits differ by " + f16Diff);
            assertTrue(q8Diff < 0.1, "Q8_0 cache logits differ by " + q8Diff);
            assertTrue(q8Diff > f16Diff, "Q8_0 is coarser than F16");
        }
    }

    /** Logits at each step; with {@code greedy} the tokens are chosen (and recorded) greedily, else replayed. */
    private static float[][] decode(Model model, KVCacheType type, int[] tokens, boolean greedy) {
        int[] prompt = {1, 403, 407, 261, 378};
        float[][] logits = new float[STEPS][];
        try (Engine engine = new Engine(model, 2, 16, type); Session session = engine.newSession(256)) {
            logits[0] = session.forward(prompt);
            for (int step = 1; step < STEPS; step++) {
                if (greedy) {
                    tokens[step] = ReferenceDecodeTest.argmax(logits[step - 1]);
                }
                logits[step] = session.forward(tokens[step]);
            }
            assertEquals(prompt.length + STEPS - 1, session.position());
        }
        return logits;
    }

    private static double maxDiff(float[][] a, float[][] b) {
        double worst = 0;
        for (int s = 0; s < a.length; s++) {
            for (int i = 0; i < a[s].length; i++) {
                worst = Math.max(worst, Math.abs(a[s][i] - b[s][i]));
            }
        }
        return worst;
    }
}
