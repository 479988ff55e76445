package dev.tern.kv;

import dev.tern.TernException;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class BlockTableTest {

    @Test
    void blocksAreTakenAsPositionsGrowAndReturnedOnTruncate() {
        BlockPool pool = new BlockPool(2, 8, 10, KVCacheType.F32);
        BlockTable seq = new BlockTable(pool, 100);
        seq.grow(1);
        assertEquals(1, pool.usedBlocks());
        seq.grow(16);
        assertEquals(1, pool.usedBlocks());
        seq.grow(17);
        assertEquals(2, pool.usedBlocks());
        assertNotEquals(seq.block(0), seq.block(16));
        assertEquals(seq.block(16), seq.block(31));
        assertEquals(3 * 8, seq.slotOffset(19));
        seq.grow(40);
        assertEquals(3, pool.usedBlocks());
        seq.truncate(16);
        assertEquals(16, seq.length());
        assertEquals(1, pool.usedBlocks());
        seq.close();
        assertEquals(0, pool.usedBlocks());
    }

    @Test
    void freedBlocksAreReusedAndSharedBlocksSurviveOneRelease() {
        BlockPool pool = new BlockPool(1, 4, 2, KVCacheType.F16);
        int a = pool.allocate();
        pool.retain(a);
        pool.release(a);
        assertEquals(1, pool.refCount(a));
        pool.release(a);
        assertEquals(a, pool.allocate());
        assertThrows(IllegalStateException.class, () -> pool.release(7));
    }

    @Test
    void limitsAreOneLineErrors() {
        BlockPool pool = new BlockPool(1, 4, 2, KVCacheType.F32);
        BlockTable seq = new BlockTable(pool, 20);
        assertEquals("context length 20 exceeded", assertThrows(TernException.class, () -> seq.grow(21)).getMessage());
        BlockTable other = new BlockTable(pool, 100);
        other.grow(32);
        assertEquals("KV cache is full: all 2 blocks of 16 positions are in use",
                assertThrows(TernException.class, () -> seq.grow(1)).getMessage());
        assertThrows(IllegalArgumentException.class, () -> other.truncate(33));
    }

    @Test
    void f16CacheRoundsToHalfPrecision() {
        assertEquals(1.0009765625f, KVCacheType.F16.round(1.0007f));
        assertEquals(1.0007f, KVCacheType.F32.round(1.0007f));
    }
}
