package dev.tern;

import dev.tern.engine.Session;
import dev.tern.kv.KVCacheType;
import dev.tern.testing.Fixtures;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * A model loaded batch-invariant ({@code tern --batch-invariant}) gives a token the same logits in a
 * verify pass as in one-token steps, with quantized weights from a real file (Q8_0; Q4_K with Q6_K). Runs only in its own
 * JVM with the JIT stopped at C1 (core/pom.xml), as the other BatchInvarianceTests do.
 */
class BatchInvarianceTest {
    @ParameterizedTest
    @ValueSource(strings = {"q8_0", "q4_k_m"})
    void aBatchInvariantModelsVerifyPassGivesItsStepsLogits(String type) {
        int[] prompt = {1, 403, 407, 261, 378, 10}, next = {283, 335, 307, 429, 411, 262, 264, 366, 263};
        try (Tern tern = Tern.load(Fixtures.stories15M("stories15M-distilled-" + type + ".gguf"), null,
                new Tern.Options(2, 64, 1, KVCacheType.F16, null, List.of(), List.of(), false, true));
             Session session = tern.newSession()) {
            int v = tern.model().config().vocab();
            session.forward(prompt);
            float[] verify = session.forwardAll(next);
            session.truncate(prompt.length);
            long differing = 0;
            for (int i = 0; i < next.length; i++) {
                float[] step = session.forward(next[i]);
                for (int j = 0; j < v; j++) {
                    differing += Float.floatToRawIntBits(step[j]) != Float.floatToRawIntBits(verify[i * v + j]) ? 1 : 0;
                }
            }
            assertEquals(0, differing, "logits whose bits depend on the batch");
        }
    }
}
