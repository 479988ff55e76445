package dev.tern.kv;

/**
 * One pool block's keys and values for every layer, in one {@link KVCacheType}'s storage.
 * Keys are stored transposed — component row r of kvDim holds that component for all
 * {@link BlockPool#BLOCK_SIZE} slots — so one head's keys are one contiguous run and a vector
 * over slots scores 16 positions at once without horizontal sums. Values are slot-major.
 */
abstract sealed class KVBlock permits F32Block, F16Block, Q8Block {
    static final int SLOTS = BlockPool.BLOCK_SIZE;

    final int kvDim;

    KVBlock(int kvDim) {
        this.kvDim = kvDim;
    }

    /** Stores one position's key row k[kOff, kOff+kvDim) and value row v[vOff, ..) in {@code slot}. */
    abstract void write(int layer, int slot, float[] k, int kOff, float[] v, int vOff);

    /** dst[i·SLOTS + s] = component row0+i of slot s's key, for i < rows and every slot. */
    abstract void keys(int layer, int row0, int rows, float[] dst);

    /** dst[s·rows + i] = component row0+i of slot s's value, for i < rows and s < slots. */
    abstract void values(int layer, int row0, int rows, int slots, float[] dst);

    /** Bytes of key and value storage this block holds. */
    abstract long bytes();
}
