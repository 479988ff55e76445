package dev.tern.kv;

/**
 * The keys and values of {@code blocks} consecutive pool blocks for every layer, in one
 * {@link KVCacheType}'s storage. Each layer's keys of all the slab's blocks are one array, block
 * after block, and so are its values: a sequence whose blocks are consecutive (as a fresh pool
 * gives them) is read as one stream per layer, which memory delivers two to three times faster
 * than the same bytes as separate arrays per block. Within a block keys are transposed —
 * component row r of kvDim holds that component for all {@link BlockPool#BLOCK_SIZE} slots (an
 * F16 slab interleaves the rows two by two) — so one head's keys are one contiguous run and a
 * vector over slots scores 16 positions at once without horizontal sums. Values are stored in
 * runs of {@code width} components (a head's, for F32 and F16): run by run, slot-major within
 * each, so that one head's values of a block are one contiguous run too.
 */
abstract sealed class KVSlab permits F32Slab, F16Slab, Q8Slab {
    static final int SLOTS = BlockPool.BLOCK_SIZE;

    final int kvDim;
    final int blocks;
    /** Components per run of values (divides kvDim). */
    final int width;

    KVSlab(int kvDim, int blocks, int width) {
        this.kvDim = kvDim;
        this.blocks = blocks;
        this.width = width;
    }

    /** Where component r of slot s's value in block b is, in a layer's value array. */
    final int valueAt(int b, int s, int r) {
        return base(b) + (r / width) * SLOTS * width + s * width + r % width;
    }

    /** Where block {@code b} (of this slab)'s keys or values of a layer start in that layer's array. */
    final int base(int b) {
        return b * SLOTS * kvDim;
    }

    /** Stores one position's key row k[kOff, kOff+kvDim) and value row v[vOff, ..) in {@code slot} of block b. */
    abstract void write(int b, int layer, int slot, float[] k, int kOff, float[] v, int vOff);

    /** dst[i·SLOTS + s] = component row0+i of slot s's key in block b, for i < rows and every slot. */
    abstract void keys(int b, int layer, int row0, int rows, float[] dst);

    /** dst[s·rows + i] = component row0+i of slot s's value in block b, for i < rows and s < slots. */
    abstract void values(int b, int layer, int row0, int rows, int slots, float[] dst);

    /** Bytes of key and value storage this slab holds. */
    abstract long bytes();
}
