package dev.tern.model;

import dev.tern.TernException;
import dev.tern.kv.BlockPool;
import dev.tern.kv.BlockTable;
import dev.tern.kv.KVCacheType;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** The cached, batched forward pass against a plain double-precision transformer with no cache. */
class ForwardPassTest {
    private static WorkerPool workers;

    @BeforeAll
    static void start() {
        workers = new WorkerPool(2);
    }

    @AfterAll
    static void stop() {
        workers.close();
    }

    record Shape(String name, ModelConfig config, boolean freqFactors) {
        @Override
        public String toString() {
            return name;
        }
    }

    static List<Shape> shapes() {
        return List.of(
                new Shape("MHA llama", TinyModel.config(32, 48, 2, 4, 4, 40, RopeStyle.NORMAL, 8, 1f), false),
                new Shape("GQA 4:2 llama", TinyModel.config(32, 48, 2, 4, 2, 40, RopeStyle.NORMAL, 8, 1f), false),
                new Shape("MQA 4:1 llama", TinyModel.config(32, 48, 2, 4, 1, 40, RopeStyle.NORMAL, 8, 1f), false),
                new Shape("qwen2 NEOX + biases, GQA", TinyModel.config(32, 48, 2, 4, 2, 40, RopeStyle.NEOX, 8, 1f), false),
                new Shape("NEOX partial rope", TinyModel.config(32, 48, 1, 2, 1, 40, RopeStyle.NEOX, 8, 1f), false),
                new Shape("llama3 freq factors + linear scaling", TinyModel.config(32, 48, 2, 4, 2, 40, RopeStyle.NORMAL, 8, 0.5f), true),
                new Shape("qwen3 q/k norms, heads of 16 over width 32", TinyModel.qwen3(32, 48, 2, 4, 2, 16, 40), false));
    }

    static int[] tokens(int n, int vocab, long seed) {
        Random r = new Random(seed);
        int[] t = new int[n];
        for (int i = 0; i < n; i++) {
            t[i] = r.nextInt(vocab);
        }
        return t;
    }

    /** Prompt as one batch, then one token at a time across three cache blocks; each step against the naive model. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("shapes")
    void incrementalDecodeMatchesNaiveTransformer(Shape shape) {
        Model model = TinyModel.random(shape.config(), 42, shape.freqFactors());
        NaiveTransformer naive = new NaiveTransformer(model);
        ForwardPass pass = new ForwardPass(model, workers);
        BlockTable seq = new BlockTable(new BlockPool(shape.config().layers(), shape.config().kvDim(), 8, KVCacheType.F32), 64);
        int[] all = tokens(40, shape.config().vocab(), 7);
        int prompt = 9;
        float[] logits = pass.forward(new Batch().addSequence(seq, java.util.Arrays.copyOf(all, prompt), true));
        for (int n = prompt; ; n++) {
            assertClose(naive.lastLogits(java.util.Arrays.copyOf(all, n)), logits, shape + " after " + n + " tokens");
            if (n == all.length) {
                break;
            }
            logits = pass.forward(new Batch().add(all[n], seq, n, true));
        }
        assertEquals(all.length, seq.length());
    }

    /** Two sequences of different lengths interleaved in one batch give each one's own logits. */
    @Test
    void sequencesInOneBatchDoNotSeeEachOther() {
        ModelConfig c = TinyModel.config(32, 48, 2, 4, 2, 40, RopeStyle.NORMAL, 8, 1f);
        Model model = TinyModel.random(c, 3, false);
        NaiveTransformer naive = new NaiveTransformer(model);
        ForwardPass pass = new ForwardPass(model, workers);
        BlockPool pool = new BlockPool(c.layers(), c.kvDim(), 16, KVCacheType.F32);
        BlockTable a = new BlockTable(pool, 64), b = new BlockTable(pool, 64);
        int[] ta = tokens(20, c.vocab(), 1), tb = tokens(5, c.vocab(), 2);
        Batch batch = new Batch();
        for (int i = 0; i < 20; i++) {
            batch.add(ta[i], a, i, i == 19 || i == 10);
            if (i < 5) {
                batch.add(tb[i], b, i, i == 4);
            }
        }
        float[] logits = pass.forward(batch);
        int v = c.vocab();
        assertEquals(3 * v, logits.length);
        // Rows in batch order: b's last (batch index 9), a's 11th, a's last.
        assertClose(naive.lastLogits(tb), java.util.Arrays.copyOfRange(logits, 0, v), "sequence b");
        assertClose(naive.lastLogits(java.util.Arrays.copyOf(ta, 11)), java.util.Arrays.copyOfRange(logits, v, 2 * v), "sequence a at 11");
        assertClose(naive.lastLogits(ta), java.util.Arrays.copyOfRange(logits, 2 * v, 3 * v), "sequence a");
        assertEquals(BlockPool.blocksFor(20) + BlockPool.blocksFor(5), pool.usedBlocks());
    }

    @Test
    void overflowingTheContextLeavesTheSequenceUnchanged() {
        ModelConfig c = TinyModel.config(32, 48, 1, 4, 2, 40, RopeStyle.NORMAL, 8, 1f);
        ForwardPass pass = new ForwardPass(TinyModel.random(c, 5, false), workers);
        BlockTable seq = new BlockTable(new BlockPool(c.layers(), c.kvDim(), 4, KVCacheType.F32), 6);
        pass.forward(new Batch().addSequence(seq, new int[]{1, 2, 3, 4}, true));
        TernException e = assertThrows(TernException.class, () -> pass.forward(new Batch().addSequence(seq, new int[]{5, 6, 7}, true)));
        assertEquals("context length 6 exceeded", e.getMessage());
        assertEquals(4, seq.length());
        assertThrows(TernException.class, () -> pass.forward(new Batch().add(99, seq, 4, true)));
        assertEquals(4, seq.length());
    }

    @Test
    void aFullCacheIsAOneLineErrorAndRollsBack() {
        ModelConfig c = TinyModel.config(32, 48, 1, 4, 2, 40, RopeStyle.NORMAL, 8, 1f);
        ForwardPass pass = new ForwardPass(TinyModel.random(c, 5, false), workers);
        BlockPool pool = new BlockPool(c.layers(), c.kvDim(), 2, KVCacheType.F32);
        BlockTable a = new BlockTable(pool, 64), b = new BlockTable(pool, 64);
        pass.forward(new Batch().addSequence(a, tokens(20, c.vocab(), 1), true));
        TernException e = assertThrows(TernException.class, () -> pass.forward(new Batch().addSequence(b, tokens(3, c.vocab(), 2), true)));
        assertEquals("KV cache is full: all 2 blocks of 16 positions are in use", e.getMessage());
        assertEquals(0, b.length());
        assertEquals(2, pool.usedBlocks());
    }

    static void assertClose(float[] expected, float[] actual, String what) {
        assertEquals(expected.length, actual.length, what);
        float scale = 0;
        for (float e : expected) {
            scale = Math.max(scale, Math.abs(e));
        }
        for (int i = 0; i < expected.length; i++) {
            assertEquals(expected[i], actual[i], 1e-4f * Math.max(1f, scale), what + ": logit " + i);
        }
    }

    @Test
    void logitsOnlyForTokensThatAsk() {
        ModelConfig c = TinyModel.config(32, 48, 1, 4, 2, 40, RopeStyle.NORMAL, 8, 1f);
        ForwardPass pass = new ForwardPass(TinyModel.random(c, 5, false), workers);
        BlockTable seq = new BlockTable(new BlockPool(c.layers(), c.kvDim(), 4, KVCacheType.F32), 64);
        assertArrayEquals(new float[0], pass.forward(new Batch().addSequence(seq, new int[]{1, 2, 3}, false)));
        assertEquals(3, seq.length());
    }
}
