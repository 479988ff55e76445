package dev.tern.sampling;

import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * DRY against llama.cpp's own unit tests (tests/test-sampling.cpp, test_dry): logits ln p, the
 * history accepted, DRY applied, then the probabilities compared with llama.cpp's expectations.
 * The model-level cases (string breakers turned into token sequences) are in
 * {@link SeededSamplingReferenceTest}.
 */
class DryTest {

    @Test
    void noRepeatLongerThanAllowedGoesFree() {
        check(new float[]{0.25f, 0.25f, 0.25f, 0.25f}, new int[]{0, 1}, new float[]{0.25f, 0.25f, 0.25f, 0.25f}, 1f, 1.1f, 2, 4, Map.of());
    }

    @Test
    void theTokenThatWouldExtendARepeatIsPenalised() {
        check(new float[]{0.25f, 0.25f, 0.25f, 0.25f}, new int[]{0, 1, 2, 0, 1},
                new float[]{0.296923f, 0.296923f, 0.109232f, 0.296923f}, 1f, 1.1f, 2, 5, Map.of());
        check(new float[]{0.2f, 0.2f, 0.2f, 0.2f, 0.2f}, new int[]{0, 1, 2, 0, 1},
                new float[]{0.241818f, 0.241818f, 0.032727f, 0.241818f, 0.241818f}, 2f, 1.1f, 2, 5, Map.of());
    }

    @Test
    void aBreakerStopsTheRepeat() {
        check(new float[]{0.2f, 0.2f, 0.2f, 0.2f, 0.2f}, new int[]{0, 1, 3, 4, 0, 1}, new float[]{0.2f, 0.2f, 0.2f, 0.2f, 0.2f},
                1f, 1.1f, 2, 6, Map.of(3, List.of(new int[0])));
    }

    @Test
    void aRepeatWithinTheAllowedLengthGoesFree() {
        check(new float[]{0.2f, 0.2f, 0.2f, 0.2f, 0.2f}, new int[]{0, 1, 2, 3, 4, 0, 1}, new float[]{0.2f, 0.2f, 0.2f, 0.2f, 0.2f},
                1f, 1.1f, 4, 7, Map.of());
    }

    private static void check(float[] probs, int[] history, float[] expected, float multiplier, float base, int allowed, int lastN,
                              Map<Integer, List<int[]>> breakers) {
        Dry dry = new Dry(new DrySampling(multiplier, base, allowed, lastN, List.of()), breakers);
        for (int t : history) {
            dry.accept(t);
        }
        float[] logits = new float[probs.length];
        for (int i = 0; i < probs.length; i++) {
            logits[i] = (float) Math.log(probs[i]);
        }
        Candidates c = new Candidates(probs.length);
        c.fill(logits);
        dry.apply(c);
        c.softmax();
        float[] got = new float[probs.length];
        for (int i = 0; i < c.size; i++) {
            got[c.ids[i]] = c.probs[i];
        }
        for (int i = 0; i < probs.length; i++) {
            assertEquals(expected[i], got[i], 1e-5, "token " + i + " of " + Arrays.toString(got));
        }
    }
}
