package dev.tern.kv;

import dev.tern.TernException;

import java.util.Arrays;

/**
 * One sequence's view of the KV cache: which pool block holds positions [16·i, 16·i+16), and
 * how many positions ({@link #length()}) hold valid keys and values. Positions are appended
 * by the forward pass and dropped by {@link #truncate}, which returns whole unused blocks to
 * the pool. {@code maxLength} is the sequence's context size.
 */
public final class BlockTable implements AutoCloseable {
    private final BlockPool pool;
    private final int maxLength;
    private int[] blocks = new int[4];
    private int blockCount;
    private int length;

    public BlockTable(BlockPool pool, int maxLength) {
        if (maxLength <= 0) {
            throw new IllegalArgumentException("maxLength " + maxLength);
        }
        this.pool = pool;
        this.maxLength = maxLength;
    }

    public BlockPool pool() {
        return pool;
    }

    /** Positions holding valid keys and values. */
    public int length() {
        return length;
    }

    public int maxLength() {
        return maxLength;
    }

    /** The pool block holding {@code position}. */
    public int block(int position) {
        return blocks[position / BlockPool.BLOCK_SIZE];
    }

    /** {@code position}'s slot in its block: the {@code slot} argument of {@link BlockPool#write}. */
    public int slot(int position) {
        return position % BlockPool.BLOCK_SIZE;
    }

    /** {@link #slot}·kvDim: where the position's row starts in a slot-major array of one block's rows. */
    public int slotOffset(int position) {
        return (position % BlockPool.BLOCK_SIZE) * pool.kvDim();
    }

    /**
     * Makes room for positions up to {@code newLength} and marks them valid; the caller then
     * writes their keys and values. Throws a TernException past the context size.
     */
    public void grow(int newLength) {
        if (newLength > maxLength) {
            throw new TernException("context length " + maxLength + " exceeded");
        }
        int need = BlockPool.blocksFor(newLength);
        if (need > blocks.length) {
            blocks = Arrays.copyOf(blocks, Math.max(need, 2 * blocks.length));
        }
        while (blockCount < need) {
            blocks[blockCount++] = pool.allocate();
        }
        length = Math.max(length, newLength);
    }

    /** Forgets positions from {@code newLength} on, freeing blocks no longer needed. */
    public void truncate(int newLength) {
        if (newLength < 0 || newLength > length) {
            throw new IllegalArgumentException("cannot truncate a sequence of length " + length + " to " + newLength);
        }
        int keep = BlockPool.blocksFor(newLength);
        while (blockCount > keep) {
            pool.release(blocks[--blockCount]);
        }
        length = newLength;
    }

    /** Returns every block to the pool. */
    @Override
    public void close() {
        truncate(0);
    }

    /**
     * Appends a full block of positions computed by another sequence (a prefix-cache hit): the
     * caller has already retained it for this table. The table must end at a block boundary.
     */
    public void appendShared(int block) {
        if (length % BlockPool.BLOCK_SIZE != 0 || length + BlockPool.BLOCK_SIZE > maxLength) {
            throw new IllegalStateException("cannot append a shared block to a sequence of length " + length);
        }
        if (blockCount == blocks.length) {
            blocks = Arrays.copyOf(blocks, 2 * blocks.length);
        }
        blocks[blockCount++] = block;
        length += BlockPool.BLOCK_SIZE;
    }
}
