package dev.tern.kv;

import dev.tern.TernException;

import java.util.ArrayList;
import java.util.List;

/**
 * The KV cache's storage: a pool of fixed-size blocks, each holding the keys and values of
 * {@link #BLOCK_SIZE} consecutive positions for every layer ({@code kvDim} values per position,
 * stored with the precision of a {@link KVCacheType}). Sequences own blocks through {@link BlockTable}s. Blocks are reference-counted so
 * that a future prefix cache can share one block among sequences; for now each has one owner.
 * Blocks are allocated lazily, up to {@code maxBlocks}. Not thread-safe: one scheduler drives it.
 */
public final class BlockPool {
    public static final int BLOCK_SIZE = 16;

    private final int layers;
    private final int kvDim;
    private final int maxBlocks;
    private final KVCacheType type;
    /** keys.get(block)[layer]: BLOCK_SIZE × kvDim floats, position-major. */
    private final List<float[][]> keys = new ArrayList<>();
    private final List<float[][]> values = new ArrayList<>();
    private final List<Integer> free = new ArrayList<>();
    private int[] refCount = new int[0];

    public BlockPool(int layers, int kvDim, int maxBlocks, KVCacheType type) {
        if (layers < 0 || kvDim <= 0 || maxBlocks <= 0) {
            throw new IllegalArgumentException("layers " + layers + ", kvDim " + kvDim + ", maxBlocks " + maxBlocks);
        }
        this.layers = layers;
        this.kvDim = kvDim;
        this.maxBlocks = maxBlocks;
        this.type = type;
    }

    public KVCacheType type() {
        return type;
    }

    /** Blocks needed to hold {@code positions} positions. */
    public static int blocksFor(int positions) {
        return (positions + BLOCK_SIZE - 1) / BLOCK_SIZE;
    }

    public int kvDim() {
        return kvDim;
    }

    public int layers() {
        return layers;
    }

    public int maxBlocks() {
        return maxBlocks;
    }

    /** Blocks currently owned by some sequence. */
    public int usedBlocks() {
        return keys.size() - free.size();
    }

    /** A fresh block with one reference; its contents are stale until written. */
    public int allocate() {
        int id;
        if (!free.isEmpty()) {
            id = free.removeLast();
        } else if (keys.size() < maxBlocks) {
            id = keys.size();
            keys.add(new float[layers][BLOCK_SIZE * kvDim]);
            values.add(new float[layers][BLOCK_SIZE * kvDim]);
            if (refCount.length <= id) {
                refCount = java.util.Arrays.copyOf(refCount, Math.max(16, 2 * refCount.length));
            }
        } else {
            throw new TernException("KV cache is full: all " + maxBlocks + " blocks of " + BLOCK_SIZE + " positions are in use");
        }
        refCount[id] = 1;
        return id;
    }

    /** Adds a reference to a block (a sequence sharing a cached prefix). */
    public void retain(int block) {
        checkLive(block);
        refCount[block]++;
    }

    /** Drops a reference; the block returns to the pool when none remain. */
    public void release(int block) {
        checkLive(block);
        if (--refCount[block] == 0) {
            free.add(block);
        }
    }

    public int refCount(int block) {
        return refCount[block];
    }

    /** Keys of {@code layer} in {@code block}: slot s occupies [s·kvDim, (s+1)·kvDim). */
    public float[] keys(int block, int layer) {
        return keys.get(block)[layer];
    }

    /** Values of {@code layer} in {@code block}, laid out like {@link #keys}. */
    public float[] values(int block, int layer) {
        return values.get(block)[layer];
    }

    private void checkLive(int block) {
        if (block < 0 || block >= keys.size() || refCount[block] <= 0) {
            throw new IllegalStateException("block " + block + " is not allocated");
        }
    }
}
