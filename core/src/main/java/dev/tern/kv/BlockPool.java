package dev.tern.kv;

import dev.tern.TernException;

import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;

/**
 * The KV cache's storage: a pool of fixed-size blocks, each holding the keys and values of
 * {@link #BLOCK_SIZE} consecutive positions for every layer ({@code kvDim} values per position,
 * packed in a {@link KVCacheType}'s storage: 4, 2 or 34/32 bytes a value). Positions are
 * written with {@link #write} and read a head at a time, widened to floats, with {@link #keys}
 * and {@link #values} (an F16 pool's also as stored, {@link #halfKeys}, {@link #halfValues}). Sequences own blocks through {@link BlockTable}s. Blocks are reference-counted so
 * that a future prefix cache can share one block among sequences; for now each has one owner.
 * Storage is allocated lazily, a slab of {@link #SLAB_BLOCKS} blocks at a time ({@link KVSlab}:
 * consecutive blocks are adjacent in memory), up to {@code maxBlocks}; the lowest free block is
 * handed out first, so that a sequence's blocks stay consecutive where they can. Not
 * thread-safe: one scheduler drives it.
 */
public final class BlockPool {
    public static final int BLOCK_SIZE = 16;

    private final int layers;
    private final int kvDim;
    private final int headDim;
    private final int maxBlocks;
    private final KVCacheType type;
    /** Blocks per slab of storage. */
    static final int SLAB_BLOCKS = 32;
    private final List<KVSlab> slabs = new ArrayList<>();
    /** Block ids below {@link #created} that no sequence holds. */
    private final BitSet free = new BitSet();
    /** Block ids handed out so far: [0, created) have storage. */
    private int created;
    private int[] refCount = new int[0];
    /** Whether an F16 slab ever stored an infinity or NaN ({@link #halvesFinite}). */
    private boolean nonFiniteHalves;

    /** A pool whose rows are one head of kvDim values. */
    public BlockPool(int layers, int kvDim, int maxBlocks, KVCacheType type) {
        this(layers, kvDim, kvDim, maxBlocks, type);
    }

    /** A pool of rows of kvDim values in heads of headDim: a head's values of a block are stored together. */
    public BlockPool(int layers, int kvDim, int headDim, int maxBlocks, KVCacheType type) {
        if (layers < 0 || kvDim <= 0 || maxBlocks <= 0 || headDim <= 0 || kvDim % headDim != 0) {
            throw new IllegalArgumentException("layers " + layers + ", kvDim " + kvDim + ", headDim " + headDim + ", maxBlocks " + maxBlocks);
        }
        if (type == KVCacheType.Q8_0 && kvDim % KVCacheType.Q8_BLOCK != 0) {
            throw new TernException("a Q8_0 KV cache needs rows of a multiple of " + KVCacheType.Q8_BLOCK
                    + " values; this model's are " + kvDim);
        }
        this.layers = layers;
        this.kvDim = kvDim;
        this.headDim = headDim;
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

    /** Components of a position's value stored together: headDim, or kvDim where the type packs whole rows (Q8_0). */
    public int valueWidth() {
        return type.valueWidth(kvDim, headDim);
    }

    public int layers() {
        return layers;
    }

    public int maxBlocks() {
        return maxBlocks;
    }

    /** Blocks currently owned by some sequence. */
    public int usedBlocks() {
        return created - free.cardinality();
    }

    /** Bytes of keys and values one cached position takes across all layers. */
    public double bytesPerPosition() {
        return 2.0 * layers * kvDim * type.bytesPerValue();
    }

    /** Bytes of key and value storage one block holds (allocated storage, as measured). */
    public long blockBytes() {
        return type.newSlab(layers, kvDim, headDim, 1).bytes();
    }

    /** A fresh block with one reference; its contents are stale until written. */
    public int allocate() {
        int id = free.nextSetBit(0);
        if (id >= 0) {
            free.clear(id);
        } else if (created < maxBlocks) {
            id = created++;
            if (id % SLAB_BLOCKS == 0) {
                slabs.add(type.newSlab(layers, kvDim, headDim, Math.min(SLAB_BLOCKS, maxBlocks - id)));
            }
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
            free.set(block);
        }
    }

    public int refCount(int block) {
        return refCount[block];
    }

    /**
     * Stores one position's key row k[kOff, kOff+kvDim) and value row v[vOff, ..) of
     * {@code layer} in {@code slot} (position % BLOCK_SIZE) of {@code block}, rounded or
     * quantized to the cache type.
     */
    public void write(int block, int layer, int slot, float[] k, int kOff, float[] v, int vOff) {
        KVSlab slab = slabs.get(block / SLAB_BLOCKS);
        slab.write(block % SLAB_BLOCKS, layer, slot, k, kOff, v, vOff);
        if (slab instanceof F16Slab f && f.nonFinite) {
            nonFiniteHalves = true;
        }
    }

    /**
     * Keys of components [row0, row0+rows) (one head: row0 = head·headDim) of {@code layer}
     * in {@code block}, transposed: dst[i·BLOCK_SIZE + s] is component row0+i of slot s, for
     * every slot (slots not yet written hold stale values).
     */
    public void keys(int block, int layer, int row0, int rows, float[] dst) {
        slabs.get(block / SLAB_BLOCKS).keys(block % SLAB_BLOCKS, layer, row0, rows, dst);
    }

    /**
     * An F16 pool's keys of {@code layer} as stored, for kernels that widen them in registers: the
     * array holding {@code block}'s, where component row0 + i of slot s is at {@link
     * #halfKeyAt}(block, row0) + (i & ~1)·BLOCK_SIZE + 2s + (i & 1), for an even row0 (rows two by
     * two, {@link HalfPairs}).
     */
    public short[] halfKeys(int block, int layer) {
        return f16(block).halfKeys(layer);
    }

    /** Where component row0 (even) of {@code block}'s keys starts in {@link #halfKeys}'s array. */
    public int halfKeyAt(int block, int row0) {
        return f16(block).keyBase(block % SLAB_BLOCKS) + row0 * BLOCK_SIZE;
    }

    /**
     * An F16 pool's values of {@code layer} as stored: the array holding {@code block}'s, where slot
     * s of the head starting at component row0 starts at {@link #halfValueAt}(block, row0) + s·headDim.
     * Where {@link #valuesGrouped}, component g·32 + c of a head (c &lt; 16) is at + g·32 + 2c and
     * component g·32 + 16 + c beside it (+ 1); else component c at + c.
     */
    public short[] halfValues(int block, int layer) {
        return f16(block).halfValues(layer);
    }

    /** Where slot 0 of the head at component row0 (a multiple of headDim) of {@code block}'s values starts in {@link #halfValues}'s array. */
    public int halfValueAt(int block, int row0) {
        return f16(block).valueAt(block % SLAB_BLOCKS, 0, row0);
    }

    /** Whether an F16 pool's heads of values are whole groups of 32 components, stored interleaved. */
    public boolean valuesGrouped() {
        return type == KVCacheType.F16 && F16Slab.grouped(valueWidth());
    }

    /**
     * Whether every half ever written to this F16 pool is finite: then {@link HalfPairs}' cheap
     * widening is exact. An infinity or NaN (an overflowing model) makes readers widen exactly from then on.
     */
    public boolean halvesFinite() {
        return !nonFiniteHalves;
    }

    private F16Slab f16(int block) {
        if (type != KVCacheType.F16) {
            throw new IllegalStateException("a " + type + " pool has no half-precision storage");
        }
        return (F16Slab) slabs.get(block / SLAB_BLOCKS);
    }

    /** Values of components [row0, row0+rows) of slots [0, slots): dst[s·rows + i]. */
    public void values(int block, int layer, int row0, int rows, int slots, float[] dst) {
        slabs.get(block / SLAB_BLOCKS).values(block % SLAB_BLOCKS, layer, row0, rows, slots, dst);
    }

    private void checkLive(int block) {
        if (block < 0 || block >= created || refCount[block] <= 0) {
            throw new IllegalStateException("block " + block + " is not allocated");
        }
    }
}
