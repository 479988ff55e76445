package dev.tern.kv;

import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PrefixCacheTest {
    private static int[] tokens(int n, int salt) {
        int[] t = new int[n];
        for (int i = 0; i < n; i++) {
            t[i] = i * 7 + salt;
        }
        return t;
    }

    @Test
    void hashesChainOverTheWholePrefix() {
        int[] a = tokens(32, 0);
        int[] b = a.clone();
        b[3]++;
        ByteBuffer a0 = PrefixCache.hash(null, a, 0), b0 = PrefixCache.hash(null, b, 0);
        assertEquals(a0, PrefixCache.hash(null, a.clone(), 0));
        assertNotEquals(a0, b0);
        // Same second block, different first block: the chain tells them apart.
        assertNotEquals(PrefixCache.hash(a0, a, 16), PrefixCache.hash(b0, b, 16));
    }

    @Test
    void acquireStopsAtTheFirstMissAndRetains() {
        BlockPool pool = new BlockPool(1, 4, 8, KVCacheType.F32);
        PrefixCache cache = new PrefixCache(pool);
        int[] t = tokens(48, 1);
        ByteBuffer h0 = PrefixCache.hash(null, t, 0), h1 = PrefixCache.hash(h0, t, 16), h2 = PrefixCache.hash(h1, t, 32);
        int b0 = pool.allocate(), b2 = pool.allocate();
        assertTrue(cache.insert(h0, b0));
        assertTrue(cache.insert(h2, b2));
        assertFalse(cache.insert(h0, b2), "a hash names one block");
        List<Integer> hit = cache.acquire(List.of(h0, h1, h2), 48);
        assertEquals(List.of(b0), hit);
        assertEquals(3, pool.refCount(b0), "owner, cache and the new user");
        assertEquals(16, cache.hitTokens());
        assertEquals(48, cache.queriedTokens());
    }

    @Test
    void evictsOnlyIdleBlocksLeastRecentlyUsedFirst() {
        BlockPool pool = new BlockPool(1, 4, 8, KVCacheType.F32);
        PrefixCache cache = new PrefixCache(pool);
        ByteBuffer[] h = new ByteBuffer[3];
        int[] b = new int[3];
        for (int i = 0; i < 3; i++) {
            h[i] = PrefixCache.hash(null, tokens(16, 10 * i), 0);
            b[i] = pool.allocate();
            cache.insert(h[i], b[i]);
            pool.release(b[i]); // the sequence that computed it is done: only the cache holds it
        }
        cache.acquire(List.of(h[0]), 16); // b0 in use again and most recent
        assertEquals(3, pool.usedBlocks());
        assertTrue(cache.evictOne());
        assertEquals(0, pool.refCount(b[1]), "b1 is the least recently used idle block");
        assertTrue(cache.evictOne());
        assertEquals(0, pool.refCount(b[2]));
        assertFalse(cache.evictOne(), "b0 is still in use");
        pool.release(b[0]);
        assertTrue(cache.evictOne());
        assertEquals(0, pool.usedBlocks());
    }
}
