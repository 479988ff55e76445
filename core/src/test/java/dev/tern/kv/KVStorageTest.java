package dev.tern.kv;

import dev.tern.TernException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** Packed key/value storage: what comes back per head, and what a block costs. */
class KVStorageTest {
    private static final int SLOTS = BlockPool.BLOCK_SIZE;

    /**
     * Keys and values come back as stored, per head and over ranges across heads, from blocks in
     * the first and in a later slab, for pools that store values by head and by whole row.
     */
    @ParameterizedTest
    @EnumSource(KVCacheType.class)
    void headsReadBackAsStored(KVCacheType type) {
        // Heads of 48 and of 64 (a multiple of Q8_0's groups of 32).
        for (int[] shape : new int[][]{{96, 48}, {128, 64}}) {
            headsReadBackAsStored(type, shape[0], shape[1]);
        }
    }

    private static void headsReadBackAsStored(KVCacheType type, int kvDim, int headDim) {
        int layers = 2;
        for (BlockPool pool : new BlockPool[]{new BlockPool(layers, kvDim, headDim, 40, type), new BlockPool(layers, kvDim, 2, type)}) {
            int blocks = pool.maxBlocks();
            for (int i = 0; i < blocks; i++) {
                assertEquals(i, pool.allocate(), "a fresh pool hands out blocks in order");
            }
            for (int block : new int[]{0, blocks - 1}) {
                Random random = new Random(3 + block);
                float[][] k = new float[SLOTS][], v = new float[SLOTS][];
                for (int s = 0; s < SLOTS; s++) {
                    k[s] = gaussian(random, kvDim);
                    v[s] = gaussian(random, kvDim);
                    pool.write(block, 1, s, k[s], 0, v[s], 0);
                    pool.write(block, 0, s, gaussian(random, kvDim), 0, gaussian(random, kvDim), 0);
                }
                for (int[] range : new int[][]{{0, headDim}, {headDim, headDim}, {40, 20}, {headDim - 10, 20}, {0, kvDim}, {kvDim - 1, 1}}) {
                    int row0 = range[0], rows = range[1];
                    float[] keys = new float[rows * SLOTS], values = new float[SLOTS * rows];
                    pool.keys(block, 1, row0, rows, keys);
                    pool.values(block, 1, row0, rows, 11, values);
                    float[] expectedKeys = new float[rows * SLOTS], expectedValues = new float[SLOTS * rows];
                    for (int s = 0; s < SLOTS; s++) {
                        float[] ks = stored(type, k[s]), vs = stored(type, v[s]);
                        for (int i = 0; i < rows; i++) {
                            expectedKeys[i * SLOTS + s] = ks[row0 + i];
                            if (s < 11) {
                                expectedValues[s * rows + i] = vs[row0 + i];
                            }
                        }
                    }
                    String what = type + ", " + pool.valueWidth() + " values stored together, block " + block + ", rows " + row0 + "+" + rows;
                    assertArrayEquals(expectedKeys, keys, what + ": keys");
                    assertArrayEquals(expectedValues, values, what + ": values");
                }
            }
        }
    }

    @Test
    void packedBlocksAreSmaller() {
        int layers = 16, kvDim = 512;
        long f32 = new BlockPool(layers, kvDim, 1, KVCacheType.F32).blockBytes();
        assertEquals(2L * layers * SLOTS * kvDim * 4, f32);
        assertEquals(f32 / 2, new BlockPool(layers, kvDim, 1, KVCacheType.F16).blockBytes());
        assertEquals(f32 * 34 / 128, new BlockPool(layers, kvDim, 1, KVCacheType.Q8_0).blockBytes());
        assertEquals(2.0 * layers * kvDim * 2, new BlockPool(layers, kvDim, 1, KVCacheType.F16).bytesPerPosition());
        assertEquals(2.0 * layers * kvDim * 34 / 32, new BlockPool(layers, kvDim, 1, KVCacheType.Q8_0).bytesPerPosition());
    }

    @Test
    void q8CacheNeedsRowsOfWholeBlocks() {
        assertEquals("a Q8_0 KV cache needs rows of a multiple of 32 values; this model's are 48",
                assertThrows(TernException.class, () -> new BlockPool(1, 48, 1, KVCacheType.Q8_0)).getMessage());
    }

    /** x as each type stores it, computed without the storage classes (Q8_0: ggml's quantize_row_q8_0_ref). */
    private static float[] stored(KVCacheType type, float[] x) {
        float[] y = new float[x.length];
        for (int b = 0; b < x.length; b += 32) {
            float amax = 0;
            for (int i = b; i < b + 32; i++) {
                amax = Math.max(amax, Math.abs(x[i]));
            }
            float d = amax / 127, id = d == 0 ? 0 : 1 / d;
            for (int i = b; i < b + 32; i++) {
                y[i] = switch (type) {
                    case F32 -> x[i];
                    case F16 -> Float.float16ToFloat(Float.floatToFloat16(x[i]));
                    case Q8_0 -> (x[i] < 0 ? -1 : 1) * Math.round(Math.abs(x[i] * id)) * Float.float16ToFloat(Float.floatToFloat16(d));
                };
            }
        }
        return y;
    }

    private static float[] gaussian(Random random, int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) random.nextGaussian() * 3;
        }
        return x;
    }
}
