package dev.tern.kv;

import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Reuse of computed KV blocks across sequences with a common prompt prefix, as vLLM does: a
 * full block of {@link BlockPool#BLOCK_SIZE} positions is named by a hash chained over its
 * tokens and the previous block's hash, so equal hashes mean equal whole prefixes. The cache
 * holds one reference to every block it knows; a block only the cache references is idle and is
 * evicted least-recently-used first when the pool needs room. SHA-256 makes a false match
 * (which would silently corrupt an output) practically impossible. Not thread-safe: the
 * scheduler drives it together with its pool.
 */
public final class PrefixCache {
    private final BlockPool pool;
    /** Access-ordered: iteration starts at the least recently used block. */
    private final LinkedHashMap<ByteBuffer, Integer> blocks = new LinkedHashMap<>(64, 0.75f, true);
    private long queriedTokens;
    private long hitTokens;

    public PrefixCache(BlockPool pool) {
        this.pool = pool;
    }

    /**
     * The chained hash of the full block {@code tokens[from, from+BLOCK_SIZE)} whose previous
     * block hashed to {@code parent} (null for the first block).
     */
    public static ByteBuffer hash(ByteBuffer parent, int[] tokens, int from) {
        MessageDigest md;
        try {
            md = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        if (parent != null) {
            md.update(parent.duplicate());
        }
        ByteBuffer b = ByteBuffer.allocate(4 * BlockPool.BLOCK_SIZE);
        for (int i = 0; i < BlockPool.BLOCK_SIZE; i++) {
            b.putInt(tokens[from + i]);
        }
        md.update(b.flip());
        return ByteBuffer.wrap(md.digest()).asReadOnlyBuffer();
    }

    /**
     * Extends {@code hashes}, the chained hashes of the first full blocks of {@code tokens}, to
     * its first {@code full} blocks; the chain starts from {@code salt} (null: none).
     */
    public static void chain(List<ByteBuffer> hashes, ByteBuffer salt, int[] tokens, int full) {
        while (hashes.size() < full) {
            hashes.add(hash(hashes.isEmpty() ? salt : hashes.getLast(), tokens, hashes.size() * BlockPool.BLOCK_SIZE));
        }
    }

    /**
     * The cached blocks holding the longest prefix of {@code hashes} (one per full block, in
     * order), each retained once for the caller, who must release them (e.g. by closing the
     * {@link BlockTable} they were appended to). {@code tokens} is only counted for the hit rate.
     */
    public List<Integer> acquire(List<ByteBuffer> hashes, int tokens) {
        List<Integer> hit = acquire(hashes);
        queriedTokens += tokens;
        hitTokens += (long) hit.size() * BlockPool.BLOCK_SIZE;
        return hit;
    }

    /** As {@link #acquire(List, int)}, not counted as a prompt's lookup. */
    public List<Integer> acquire(List<ByteBuffer> hashes) {
        List<Integer> hit = new ArrayList<>();
        for (ByteBuffer h : hashes) {
            Integer block = blocks.get(h);
            if (block == null) {
                break;
            }
            pool.retain(block);
            hit.add(block);
        }
        // Re-touch from the last block back so that a chain's head is evicted after its tail.
        for (int i = hit.size() - 1; i >= 0; i--) {
            blocks.get(hashes.get(i));
        }
        return hit;
    }

    /**
     * Remembers that {@code block} holds the full block named {@code hash}; the cache takes its
     * own reference. Returns false (and keeps nothing) if that hash already names a block.
     */
    public boolean insert(ByteBuffer hash, int block) {
        if (blocks.containsKey(hash)) {
            return false;
        }
        pool.retain(block);
        blocks.put(hash, block);
        return true;
    }

    /** Whether a block named {@code hash} is cached. */
    public boolean contains(ByteBuffer hash) {
        return blocks.containsKey(hash);
    }

    /** Forgets the block named {@code hash} if no sequence uses it (it returns to the pool); false otherwise. */
    public boolean remove(ByteBuffer hash) {
        Integer block = blocks.get(hash);
        if (block == null || pool.refCount(block) != 1) {
            return false;
        }
        blocks.remove(hash);
        pool.release(block);
        return true;
    }

    /** Frees the least recently used idle block; false if every cached block is in use. */
    public boolean evictOne() {
        Iterator<Map.Entry<ByteBuffer, Integer>> it = blocks.entrySet().iterator();
        while (it.hasNext()) {
            int block = it.next().getValue();
            if (pool.refCount(block) == 1) {
                it.remove();
                pool.release(block);
                return true;
            }
        }
        return false;
    }

    /** Drops the cache's reference to every block (those no sequence uses return to the pool). */
    public void clear() {
        for (int block : blocks.values()) {
            pool.release(block);
        }
        blocks.clear();
    }

    /** Blocks the cache knows. */
    public int size() {
        return blocks.size();
    }

    /** Prompt tokens looked up so far. */
    public long queriedTokens() {
        return queriedTokens;
    }

    /** Of {@link #queriedTokens()}, those found in the cache. */
    public long hitTokens() {
        return hitTokens;
    }
}
