package dev.tern.model;

import dev.tern.kv.BlockPool;
import dev.tern.kv.BlockTable;
import dev.tern.kv.KVCacheType;
import dev.tern.tensor.GGMLType;
import dev.tern.tensor.Tensor;
import dev.tern.tensor.TensorFormat;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.Arrays;
import java.util.Random;

import static dev.tern.model.AttentionTest.gaussian;
import static dev.tern.model.ForwardPassTest.tokens;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * A token's attention and logits do not depend on its batch: the same bits alone, in a verify
 * pass, beside other sequences, with its KV sequence split between threads or not. Runs only in its
 * own JVM with the JIT stopped at C1 (core/pom.xml), where the Vector API's operations all run their
 * Java fallbacks, so that the comparison checks the order of our operations: compiled, C2 sums a
 * vector's lanes by halves instead of in order, the same in every kernel where it compiles the
 * sum, but a kernel's first calls run before that.
 */
class BatchInvarianceTest {
    private static final WorkerPool POOL = new WorkerPool(2);

    @AfterAll
    static void close() {
        POOL.close();
    }

    /**
     * A token's attention does not depend on its batch: alone (its KV sequence split for two threads
     * or not), among the next tokens of its sequence (a verify pass), among another sequence's tokens,
     * it gets the same bits.
     */
    @ParameterizedTest(name = "{0} cache, heads {1}/{2}, head size {3}")
    @CsvSource({"F32, 8, 2, 64", "F16, 8, 2, 64", "Q8_0, 8, 2, 64", "F16, 8, 4, 8", "F32, 6, 2, 40"})
    void aTokensAttentionDoesNotDependOnItsBatch(KVCacheType type, int heads, int kvHeads, int headDim) {
        ModelConfig c = new ModelConfig("llama", heads * headDim, 8, 2, heads, kvHeads, headDim, 8, 4096, 1e-5f, 1e4f,
                headDim, RopeStyle.NORMAL, 1f, false, false);
        Random random = new Random(heads + headDim);
        int kvDim = c.kvDim(), qDim = c.qDim(), layer = 1, fresh = 9;
        // a's tokens cross a block boundary and the length at which its KV sequence is first split
        int[] cached = {250, 60};
        BlockPool pool = new BlockPool(2, kvDim, headDim, 64, type);
        BlockTable a = null, b = null;
        for (int s = 0; s < 2; s++) {
            BlockTable seq = new BlockTable(pool, cached[s] + fresh);
            seq.grow(cached[s] + fresh);
            for (int p = 0; p < cached[s] + fresh; p++) {
                pool.write(seq.block(p), layer, p % BlockPool.BLOCK_SIZE, gaussian(random, kvDim, 1.5f), 0, gaussian(random, kvDim, 1f), 0);
            }
            if (s == 0) {
                a = seq;
            } else {
                b = seq;
            }
        }
        float[] qa = gaussian(random, fresh * qDim, 1f), qb = gaussian(random, fresh * qDim, 1f);
        Attention attention = new Attention(c);
        long differing = 0;
        float[] alone = new float[fresh * qDim];
        for (int i = 0; i < fresh; i++) {
            attend(attention, new Batch().add(0, a, cached[0] + i, false), Arrays.copyOfRange(qa, i * qDim, (i + 1) * qDim),
                    0, alone, i * qDim, qDim);
        }
        for (int splits : new int[]{0, 1, 3}) {
            Batch verify = new Batch();
            for (int i = 0; i < fresh; i++) {
                verify.add(0, a, cached[0] + i, false);
            }
            float[] out = new float[fresh * qDim];
            attend(attention, verify, qa, splits, out, 0, fresh * qDim);
            differing += differing(alone, out);
            if (splits == 0) {
                for (int i = 0; i < fresh; i++) {
                    float[] one = new float[qDim];
                    attend(attention, new Batch().add(0, a, cached[0] + i, false), Arrays.copyOfRange(qa, i * qDim, (i + 1) * qDim),
                            1, one, 0, qDim);
                    differing += differing(Arrays.copyOfRange(alone, i * qDim, (i + 1) * qDim), one);
                }
            }
        }
        Batch mixed = new Batch();
        float[] q = new float[2 * fresh * qDim];
        for (int i = 0; i < fresh; i++) {
            mixed.add(0, b, cached[1] + i, false);
            mixed.add(0, a, cached[0] + i, false);
            System.arraycopy(qb, i * qDim, q, 2 * i * qDim, qDim);
            System.arraycopy(qa, i * qDim, q, (2 * i + 1) * qDim, qDim);
        }
        float[] out = new float[2 * fresh * qDim];
        attend(attention, mixed, q, 0, out, 0, out.length);
        for (int i = 0; i < fresh; i++) {
            differing += differing(Arrays.copyOfRange(alone, i * qDim, (i + 1) * qDim),
                    Arrays.copyOfRange(out, (2 * i + 1) * qDim, (2 * i + 2) * qDim));
        }
        assertEquals(0, differing, "values whose bits depend on the batch");
    }

    /** Runs attention over the batch with queries q and copies its n outputs to out from at. */
    private static void attend(Attention attention, Batch batch, float[] q, int splits, float[] out, int at, int n) {
        float[] att = new float[q.length];
        attention.run(POOL, 1, batch, q, att, 0, splits);
        System.arraycopy(att, 0, out, at, n);
    }

    private static long differing(float[] expected, float[] actual) {
        long n = 0;
        for (int i = 0; i < expected.length; i++) {
            if (Float.floatToRawIntBits(expected[i]) != Float.floatToRawIntBits(actual[i])) {
                n++;
            }
        }
        return n;
    }

    /**
     * With F32 weights, whose tiles give a token the same arithmetic whatever the batch, a token's
     * logits do not depend on its batch: nine tokens in one pass (as speculation verifies them) give
     * each one's one-token step bit for bit, and so does a pass shared with another sequence's
     * tokens; across the first chunk boundary of the softmax (256 positions, unsplit) and across 512
     * positions, where two threads split a decode step's KV sequence.
     */
    @ParameterizedTest(name = "{0} cache, {1}-token prompt")
    @CsvSource({"F32, 250", "F16, 250", "Q8_0, 250", "F32, 505", "F16, 505", "Q8_0, 505"})
    void aTokensLogitsDoNotDependOnItsBatch(KVCacheType type, int promptLength) {
        ModelConfig c = TinyModel.config(64, 96, 2, 4, 2, 40, RopeStyle.NORMAL, 16, 1f);
        ForwardPass pass = new ForwardPass(TinyModel.random(c, 11, false), POOL);
        assertEquals(0, logitsDependingOnTheBatch(pass, type, promptLength), type + ": logits whose bits depend on the batch");
    }

    /**
     * With quantized weights, whose batched tiles do other arithmetic than their one-token kernels,
     * a pass asked to be batch-invariant (tern's --batch-invariant) gives the same guarantee: the
     * K-quants' and Q5_0's own kernels in tile order with 512-bit vectors, Q3_K's rows decoded first.
     * F32 rows this short take panels in every batch, the option's too (with 8-lane vectors its
     * 18-token pass once went through F32's one-token kernels, which add otherwise than panels).
     */
    @ParameterizedTest(name = "{0} weights")
    @ValueSource(strings = {"Q8_0", "Q4_0", "Q4_K", "Q5_K", "Q6_K", "Q5_0", "Q3_K", "F32"})
    void quantizedLogitsDoNotDependOnTheBatchWhenAskedNotTo(String type) {
        ModelConfig c = TinyModel.config(256, 256, 2, 4, 2, 40, RopeStyle.NORMAL, 64, 1f);
        TensorFormat format = TensorFormat.of(GGMLType.valueOf(type));
        ForwardPass pass = new ForwardPass(TinyModel.random(c, 12, false, format), POOL, true);
        assertEquals(0, logitsDependingOnTheBatch(pass, KVCacheType.F16, 60), type + ": logits whose bits depend on the batch");
    }

    /**
     * With 512-bit vectors Q4_0's, IQ4_NL's and Q4_1's kernels look their weights up in a table of
     * levels times the block's scale (plus its min) and add as the tiles do, so they need no option.
     */
    @ParameterizedTest(name = "{0} weights")
    @ValueSource(strings = {"Q4_0", "IQ4_NL", "Q4_1"})
    void nibbleBlockLogitsDoNotDependOnTheBatch(String type) {
        assumeTrue(Tensor.vectorBits() == 512, "the tile-order kernels are the 512-bit ones");
        ModelConfig c = TinyModel.config(256, 256, 2, 4, 2, 40, RopeStyle.NORMAL, 64, 1f);
        TensorFormat format = TensorFormat.of(GGMLType.valueOf(type));
        ForwardPass pass = new ForwardPass(TinyModel.random(c, 12, false, format), POOL);
        assertEquals(0, logitsDependingOnTheBatch(pass, KVCacheType.F16, 60), type + ": logits whose bits depend on the batch");
    }

    /**
     * After a prompt, nine tokens' logits one step at a time, then in one pass (as speculation
     * verifies them), then in a pass shared with another sequence's tokens: how many of the later
     * two passes' values differ from the steps' in their bits.
     */
    private static long logitsDependingOnTheBatch(ForwardPass pass, KVCacheType type, int promptLength) {
        ModelConfig c = pass.config();
        BlockPool pool = new BlockPool(c.layers(), c.kvDim(), 40, type);
        BlockTable a = new BlockTable(pool, 520), b = new BlockTable(pool, 40);
        int[] prompt = tokens(promptLength, c.vocab(), 4), next = tokens(9, c.vocab(), 5), other = tokens(30, c.vocab(), 6);
        pass.forward(new Batch().addSequence(a, prompt, false));
        pass.forward(new Batch().addSequence(b, Arrays.copyOf(other, 21), false));
        int v = c.vocab();
        float[] steps = new float[next.length * v];
        for (int i = 0; i < next.length; i++) {
            System.arraycopy(pass.forward(new Batch().add(next[i], a, prompt.length + i, true)), 0, steps, i * v, v);
        }
        a.truncate(prompt.length);
        Batch pass9 = new Batch();
        for (int i = 0; i < next.length; i++) {
            pass9.add(next[i], a, prompt.length + i, true);
        }
        float[] verify = pass.forward(pass9);
        a.truncate(prompt.length);
        Batch mixed = new Batch();
        for (int i = 0; i < next.length; i++) {
            mixed.add(next[i], a, prompt.length + i, true);
            mixed.add(other[21 + i], b, 21 + i, false);
        }
        float[] shared = pass.forward(mixed);
        long differing = 0;
        for (int i = 0; i < steps.length; i++) {
            int bits = Float.floatToRawIntBits(steps[i]);
            differing += (bits != Float.floatToRawIntBits(verify[i]) ? 1 : 0) + (bits != Float.floatToRawIntBits(shared[i]) ? 1 : 0);
        }
        return differing;
    }
}
