package dev.tern.model;

import dev.tern.kv.BlockPool;
import dev.tern.kv.BlockTable;
import dev.tern.kv.KVCacheType;
import jdk.incubator.vector.FloatVector;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.Arrays;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The tiled attention against a plain double-precision attention over the same cached keys and
 * values (as the cache type stores them, computed here independently): MHA, GQA and MQA, head
 * sizes with vector tails, lengths around block boundaries, causal prefill after a cached
 * prefix, several sequences in one batch, and the KV sequence split 1..N ways.
 */
class AttentionTest {
    private static final WorkerPool POOL = new WorkerPool(2);

    @AfterAll
    static void close() {
        POOL.close();
    }

    @ParameterizedTest(name = "heads {0}/{1}, head size {2}, {3} cached + {4} new, {5} splits")
    @CsvSource({
            "4, 4, 16, 0, 1, 0", "8, 2, 64, 16, 1, 0", "8, 2, 64, 16, 1, 1", "8, 2, 64, 16, 1, 2",
            "8, 2, 64, 1000, 1, 3", "8, 2, 64, 1000, 1, 5", "8, 2, 64, 200, 1, 13", "4, 1, 64, 47, 1, 0",
            "4, 1, 64, 47, 1, 4", "6, 2, 40, 33, 1, 2", "3, 3, 8, 17, 1, 2", "2, 2, 24, 31, 1, 1",
            "8, 2, 64, 0, 37, 0", "8, 2, 64, 20, 37, 0", "2, 2, 24, 5, 40, 0", "6, 2, 40, 15, 18, 0",
            "4, 1, 64, 600, 20, 3", "2, 1, 32, 3, 60, 4", "1, 1, 64, 1000, 1, 0", "2, 1, 12, 9, 3, 0", "2, 2, 28, 20, 1, 1",
    })
    void matchesDoublePrecisionReferenceWithF32Cache(int heads, int kvHeads, int headDim, int cached, int fresh, int splits) {
        check(KVCacheType.F32, heads, kvHeads, headDim, new int[]{cached}, fresh, splits, 2e-5);
    }

    @ParameterizedTest(name = "{0} cache, heads {1}/{2}, {3} cached + {4} new, {5} splits")
    @CsvSource({
            "F16, 8, 2, 300, 1, 0", "F16, 8, 2, 300, 1, 4", "F16, 4, 4, 10, 30, 0", "F16, 8, 2, 100, 40, 0",
            "F16, 8, 2, 100, 40, 3",
            "Q8_0, 8, 2, 300, 1, 0", "Q8_0, 8, 2, 300, 1, 4", "Q8_0, 4, 4, 10, 30, 0",
    })
    void matchesReferenceOverPackedCaches(KVCacheType type, int heads, int kvHeads, int cached, int fresh, int splits) {
        check(type, heads, kvHeads, 64, new int[]{cached}, fresh, splits, type == KVCacheType.F16 ? 2e-3 : 2e-5);
    }

    /**
     * An F16 cache is read as stored (keys two rows a lane, values in interleaved groups of 32 where
     * heads are whole groups), four rows at a time in registers or through the buffers.
     */
    @ParameterizedTest(name = "F16 cache, heads {0}/{1}, head size {2}, {3} cached + {4} new")
    @CsvSource({
            "8, 2, 32, 300, 1", "8, 2, 96, 300, 1", "8, 2, 128, 70, 1", "8, 2, 40, 300, 1", "6, 3, 8, 40, 1",
            "8, 2, 96, 20, 37", "8, 4, 64, 50, 9",
    })
    void f16CacheOfEveryHeadSize(int heads, int kvHeads, int headDim, int cached, int fresh) {
        check(KVCacheType.F16, heads, kvHeads, headDim, new int[]{cached}, fresh, 0, 2e-3);
    }

    /**
     * An infinity in an F16 cache (a key or value past 65504) turns its reading exact for good:
     * the rows it reaches give the infinities and NaNs the exact conversion gives, not the finite
     * stand-ins the cheap widening would make of them. Decode (four rows a head) and a 9-token pass.
     */
    @ParameterizedTest(name = "{0} new")
    @CsvSource({"1", "9"})
    void f16CacheHoldingAnInfinityIsReadExactly(int fresh) {
        int heads = 8, kvHeads = 2, headDim = 64, cached = 40, length = cached + fresh;
        ModelConfig c = new ModelConfig("llama", heads * headDim, 8, 1, heads, kvHeads, headDim, 8, 4096, 1e-5f, 1e4f,
                headDim, RopeStyle.NORMAL, 1f, false, false);
        Random random = new Random(11);
        int kvDim = c.kvDim(), qDim = c.qDim();
        BlockPool pool = new BlockPool(1, kvDim, headDim, 10, KVCacheType.F16);
        BlockTable seq = new BlockTable(pool, length);
        seq.grow(length);
        float[][] k = new float[length][], v = new float[length][];
        for (int p = 0; p < length; p++) {
            k[p] = gaussian(random, kvDim, 1.5f);
            v[p] = gaussian(random, kvDim, 1f);
            if (p == 5) {
                v[p][3] = 1e6f;
                k[p][headDim + 7] = -1e6f;
            }
            pool.write(seq.block(p), 0, p % BlockPool.BLOCK_SIZE, k[p], 0, v[p], 0);
            k[p] = stored(KVCacheType.F16, k[p]);
            v[p] = stored(KVCacheType.F16, v[p]);
        }
        assertTrue(!pool.halvesFinite() && Float.isInfinite(v[5][3]) && Float.isInfinite(k[5][headDim + 7]));
        Batch batch = new Batch();
        for (int i = 0; i < fresh; i++) {
            batch.add(0, seq, cached + i, false);
        }
        float[] q = gaussian(random, fresh * qDim, 1f), att = new float[fresh * qDim];
        new Attention(c).run(POOL, 0, batch, q, att, 0, 0);
        int nonFinite = 0;
        for (int t = 0; t < fresh; t++) {
            for (int h = 0; h < heads; h++) {
                double[] expected = reference(KVCacheType.F16, q, t * qDim + h * headDim, headDim, k, v, (h / (heads / kvHeads)) * headDim,
                        cached + t);
                for (int d = 0; d < headDim; d++) {
                    float got = att[t * qDim + h * headDim + d];
                    if (Double.isFinite(expected[d])) {
                        assertEquals(expected[d], got, 2e-3, "token " + t + ", head " + h + ", component " + d);
                    } else {
                        nonFinite++;
                        assertEquals(Double.isNaN(expected[d]), Float.isNaN(got), "token " + t + ", head " + h + ", component " + d);
                        assertTrue(!Float.isFinite(got), "token " + t + ", head " + h + ", component " + d + ": " + got);
                    }
                }
            }
        }
        assertTrue(nonFinite > 0, "the infinities reached no output");
    }

    @Test
    void interleavedSequencesInOneBatch() {
        check(KVCacheType.F32, 8, 2, 32, new int[]{3, 40, 17}, 2, 0, 2e-5);
        check(KVCacheType.F32, 8, 2, 32, new int[]{3, 40, 17}, 2, 3, 2e-5);
    }

    /**
     * Sequences s get {@code cached[s]} positions of random keys and values, then {@code fresh}
     * more whose queries form the batch (sequences interleaved token by token).
     */
    private static void check(KVCacheType type, int heads, int kvHeads, int headDim, int[] cached, int fresh,
                              int splits, double tolerance) {
        check(type, heads, kvHeads, headDim, headDim, cached, fresh, splits, tolerance);
    }

    /**
     * An F16 pool whose runs of values are whole rows of 32 (two heads of 16): its groups are the
     * pool's, not the model's heads', and its values are read exactly through the pool.
     */
    @Test
    void f16PoolWithRunsWiderThanAHead() {
        check(KVCacheType.F16, 8, 2, 16, 32, new int[]{70}, 1, 0, 2e-3);
        check(KVCacheType.F16, 8, 2, 16, 32, new int[]{20}, 9, 0, 2e-3);
    }

    /** {@link #check}, the pool's values stored in runs of {@code poolHeadDim} components. */
    private static void check(KVCacheType type, int heads, int kvHeads, int headDim, int poolHeadDim, int[] cached, int fresh,
                              int splits, double tolerance) {
        ModelConfig c = new ModelConfig("llama", heads * headDim, 8, 2, heads, kvHeads, headDim, 8, 4096, 1e-5f, 1e4f,
                headDim, RopeStyle.NORMAL, 1f, false, false);
        Random random = new Random(heads * 31L + headDim * 7L + cached[0] + fresh * 1000L + splits);
        int kvDim = c.kvDim(), qDim = c.qDim(), layer = 1;
        BlockPool pool = new BlockPool(2, kvDim, poolHeadDim, 400, type);
        BlockTable[] seqs = new BlockTable[cached.length];
        float[][][] k = new float[cached.length][][], v = new float[cached.length][][];
        for (int s = 0; s < seqs.length; s++) {
            int length = cached[s] + fresh;
            seqs[s] = new BlockTable(pool, length);
            seqs[s].grow(length);
            k[s] = new float[length][];
            v[s] = new float[length][];
            for (int p = 0; p < length; p++) {
                k[s][p] = gaussian(random, kvDim, 1.5f);
                v[s][p] = gaussian(random, kvDim, 1f);
                int block = seqs[s].block(p), slot = p % BlockPool.BLOCK_SIZE;
                pool.write(block, 0, slot, gaussian(random, kvDim, 9f), 0, gaussian(random, kvDim, 9f), 0);
                pool.write(block, layer, slot, k[s][p], 0, v[s][p], 0);
                k[s][p] = stored(type, k[s][p]);
                v[s][p] = stored(type, v[s][p]);
            }
        }
        Batch batch = new Batch();
        for (int i = 0; i < fresh; i++) {
            for (int s = 0; s < seqs.length; s++) {
                batch.add(0, seqs[s], cached[s] + i, false);
            }
        }
        float[] q = gaussian(random, batch.size() * qDim, 1f);
        int attOff = 5;  // written from an offset, as the forward pass writes it to a cache-line boundary
        float[] att = new float[attOff + batch.size() * qDim + 3];
        Arrays.fill(att, Float.NaN);
        new Attention(c).run(POOL, layer, batch, q, att, attOff, splits);
        for (int i : new int[] {0, attOff - 1, att.length - 1}) {
            assertTrue(Float.isNaN(att[i]), "wrote outside its range at " + i);
        }

        int group = heads / kvHeads;
        double worst = 0;
        for (int t = 0; t < batch.size(); t++) {
            int s = t % seqs.length, pos = batch.position(t);
            for (int h = 0; h < heads; h++) {
                double[] expected = reference(type, q, t * qDim + h * headDim, headDim, k[s], v[s], (h / group) * headDim, pos);
                for (int d = 0; d < headDim; d++) {
                    worst = Math.max(worst, Math.abs(expected[d] - att[attOff + t * qDim + h * headDim + d]));
                }
            }
        }
        assertTrue(worst <= tolerance, "largest difference " + worst + " > " + tolerance);
    }

    /** softmax(q·K[0..pos]ᵀ/√d)·V[0..pos] in double; an F16 cache's query is rounded as ggml rounds it. */
    private static double[] reference(KVCacheType type, float[] q, int qOff, int headDim, float[][] k, float[][] v,
                                      int kvOff, int pos) {
        double[] scores = new double[pos + 1];
        double max = Double.NEGATIVE_INFINITY;
        for (int p = 0; p <= pos; p++) {
            double dot = 0;
            for (int d = 0; d < headDim; d++) {
                dot += (double) type.round(q[qOff + d]) * k[p][kvOff + d];
            }
            scores[p] = dot / Math.sqrt(headDim);
            max = Math.max(max, scores[p]);
        }
        double sum = 0;
        for (int p = 0; p <= pos; p++) {
            scores[p] = Math.exp(scores[p] - max);
            sum += scores[p];
        }
        double[] out = new double[headDim];
        for (int p = 0; p <= pos; p++) {
            for (int d = 0; d < headDim; d++) {
                out[d] += scores[p] / sum * v[p][kvOff + d];
            }
        }
        return out;
    }

    /** x as the cache type stores it: F16 rounds each value, Q8_0 quantizes runs of 32 as ggml's block_q8_0. */
    private static float[] stored(KVCacheType type, float[] x) {
        float[] y = x.clone();
        switch (type) {
            case F32 -> {
            }
            case F16 -> {
                for (int i = 0; i < y.length; i++) {
                    y[i] = Float.float16ToFloat(Float.floatToFloat16(y[i]));
                }
            }
            case Q8_0 -> {
                for (int b = 0; b < y.length; b += 32) {
                    float amax = 0;
                    for (int i = b; i < b + 32; i++) {
                        amax = Math.max(amax, Math.abs(y[i]));
                    }
                    float d = amax / 127, id = d == 0 ? 0 : 1 / d, dh = Float.float16ToFloat(Float.floatToFloat16(d));
                    for (int i = b; i < b + 32; i++) {
                        y[i] = Math.round(Math.abs(x[i] * id)) * Math.signum(x[i]) * dh;
                    }
                }
            }
        }
        return y;
    }

    static float[] gaussian(Random random, int n, float sigma) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) random.nextGaussian() * sigma;
        }
        return x;
    }

    @Test
    void vectorHalfRoundingMatchesFloat16ConversionOnProbabilities() {
        // uniform, spread over exponents down to half subnormals, exact ties, just above half values
        Random random = new Random(5);
        int lanes = FloatVector.SPECIES_PREFERRED.length();
        float[] x = new float[lanes], y = new float[lanes];
        for (int trial = 0; trial < 200_000; trial++) {
            for (int i = 0; i < lanes; i++) {
                x[i] = switch (trial % 4) {
                    case 0 -> random.nextFloat();
                    case 1 -> (float) Math.scalb(random.nextFloat(), -random.nextInt(30));
                    case 2 -> {
                        short h = (short) random.nextInt(0x3C00);
                        yield (Float.float16ToFloat(h) + Float.float16ToFloat((short) (h + 1))) / 2;
                    }
                    default -> i == 0 ? 0f : Math.nextUp(Float.float16ToFloat((short) random.nextInt(0x3C00)));
                };
                x[i] = Math.abs(x[i]);
            }
            AttentionKernel.roundToHalf(FloatVector.fromArray(FloatVector.SPECIES_PREFERRED, x, 0)).intoArray(y, 0);
            for (int i = 0; i < lanes; i++) {
                assertEquals(Float.float16ToFloat(Float.floatToFloat16(x[i])), y[i], "rounding " + x[i]);
            }
        }
    }
}
