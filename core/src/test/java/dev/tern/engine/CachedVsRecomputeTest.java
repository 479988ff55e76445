package dev.tern.engine;

import dev.tern.TernException;
import dev.tern.kv.KVCacheType;
import dev.tern.model.Model;
import dev.tern.model.ModelConfig;
import dev.tern.model.RopeStyle;
import dev.tern.model.TinyModel;
import dev.tern.testing.Fixtures;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** The KV-cached session against the recompute-everything oracle, including rollback. */
class CachedVsRecomputeTest {

    /**
     * With an F32 cache: an F16 cache rounds, and a last-bit difference between the JIT's and
     * the interpreter's vector reductions can flip a rounding, which is not what this tests.
     */
    @Test
    void stories260KGreedyDecodeCachedEqualsRecompute() {
        try (Model model = Model.load(Fixtures.stories260K("stories260K.bin"));
             Engine engine = new Engine(model, 2, 64, KVCacheType.F32);
             Session session = engine.newSession(512)) {
            Recompute oracle = new Recompute(model, engine.workers(), KVCacheType.F32);
            int[] seq = {1, 403, 407, 261, 378};
            float[] logits = session.forward(seq);
            for (int step = 0; step < 40; step++) {
                assertClose(oracle.lastLogits(seq), logits, "step " + step);
                int next = ReferenceDecodeTest.argmax(logits);
                seq = Arrays.copyOf(seq, seq.length + 1);
                seq[seq.length - 1] = next;
                logits = session.forward(next);
            }
            assertEquals(seq.length, session.position());
        }
    }

    @Test
    void qwen2StyleModelCachedEqualsRecompute() {
        ModelConfig c = TinyModel.config(32, 48, 2, 4, 1, 40, RopeStyle.NEOX, 8, 1f);
        Model model = TinyModel.random(c, 11, false);
        try (Engine engine = new Engine(model, 2, 16, KVCacheType.F32); Session session = engine.newSession(64)) {
            Recompute oracle = new Recompute(model, engine.workers(), KVCacheType.F32);
            int[] tokens = random(50, c.vocab(), 4);
            session.forward(Arrays.copyOf(tokens, 3));
            for (int n = 4; n <= tokens.length; n++) {
                float[] logits = session.forward(tokens[n - 1]);
                assertClose(oracle.lastLogits(Arrays.copyOf(tokens, n)), logits, "after " + n + " tokens");
            }
        }
    }

    /** Speculative decoding's pattern: score k tokens in one pass, keep a prefix, roll back the rest. */
    @Test
    void verifyManyTokensThenRollBack() {
        ModelConfig c = TinyModel.config(32, 48, 2, 4, 2, 40, RopeStyle.NORMAL, 8, 1f);
        Model model = TinyModel.random(c, 13, false);
        try (Engine engine = new Engine(model, 2, 16, KVCacheType.F32); Session session = engine.newSession(64)) {
            Recompute oracle = new Recompute(model, engine.workers(), KVCacheType.F32);
            int[] tokens = random(12, c.vocab(), 8);
            session.forward(Arrays.copyOf(tokens, 7));
            float[] rows = session.forwardAll(Arrays.copyOfRange(tokens, 7, 12));
            float[] expected = oracle.logits(tokens, 7);
            assertEquals(5 * c.vocab(), rows.length);
            assertClose(expected, rows, "verified rows");
            session.truncate(9);
            float[] next = session.forward(tokens[9]);
            assertClose(Arrays.copyOfRange(expected, 2 * c.vocab(), 3 * c.vocab()), next, "after rollback");
        }
    }

    @Test
    void truncateRollsBackAndFreesBlocks() {
        ModelConfig c = TinyModel.config(32, 48, 2, 4, 2, 40, RopeStyle.NORMAL, 8, 1f);
        Model model = TinyModel.random(c, 12, false);
        try (Engine engine = new Engine(model, 2, 16, KVCacheType.F32); Session session = engine.newSession(64)) {
            Recompute oracle = new Recompute(model, engine.workers(), KVCacheType.F32);
            int[] tokens = random(40, c.vocab(), 5);
            session.forward(tokens);
            assertEquals(3, engine.cache().usedBlocks());
            session.truncate(13);
            assertEquals(13, session.position());
            assertEquals(1, engine.cache().usedBlocks());
            int[] branch = random(6, c.vocab(), 6);
            float[] logits = session.forward(branch);
            int[] expected = Arrays.copyOf(tokens, 19);
            System.arraycopy(branch, 0, expected, 13, 6);
            assertClose(oracle.lastLogits(expected), logits, "after rollback");
            assertEquals(2, engine.cache().usedBlocks());
        }
        assertThrows(IllegalArgumentException.class, () -> {
            try (Engine engine = new Engine(model, 1); Session s = engine.newSession(8)) {
                s.truncate(1);
            }
        });
    }

    @Test
    void contextOverflowIsAOneLineError() {
        ModelConfig c = TinyModel.config(32, 48, 1, 4, 2, 40, RopeStyle.NORMAL, 8, 1f);
        try (Engine engine = new Engine(TinyModel.random(c, 1, false), 1); Session s = engine.newSession(10)) {
            s.forward(random(10, c.vocab(), 1));
            TernException e = assertThrows(TernException.class, () -> s.forward(3));
            assertEquals("context length 10 exceeded", e.getMessage());
            assertEquals(10, s.position());
        }
    }

    static int[] random(int n, int vocab, long seed) {
        Random r = new Random(seed);
        return r.ints(n, 0, vocab).toArray();
    }

    static void assertClose(float[] expected, float[] actual, String what) {
        for (int i = 0; i < expected.length; i++) {
            assertEquals(expected[i], actual[i], 1e-4f * Math.max(1f, Math.abs(expected[i])), what + ": logit " + i);
        }
    }

}
