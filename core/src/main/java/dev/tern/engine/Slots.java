package dev.tern.engine;

import dev.tern.TernException;
import dev.tern.kv.BlockPool;
import dev.tern.kv.PrefixCache;
import dev.tern.model.LoraAdapter;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.BooleanSupplier;
import java.util.function.IntPredicate;

/**
 * llama-server's slots in a {@link Scheduler}: a running request holds one of {@code --parallel} slots,
 * and each slot remembers the tokens of the last request that ended in it, so that they can be saved to
 * a file, restored from one into the prefix cache, or erased. Every method runs holding the engine's
 * lock, as the scheduler's step does.
 */
final class Slots {
    private final Object engineLock;
    private final BlockPool pool;
    private final PrefixCache prefixCache;
    /** Per slot, the tokens of the last request that ended there (null: none), and its adapter. */
    private final int[][] tokens;
    private final LoraAdapter[] adapters;
    /** Per slot, the slot actions waiting for its request to end: no new request is given the slot meanwhile. */
    private final int[] waiters;

    /**
     * @param engineLock  the monitor the scheduler's steps hold, waited on while a slot is busy
     * @param prefixCache the scheduler's prefix cache, or null when it keeps none
     */
    Slots(Object engineLock, BlockPool pool, PrefixCache prefixCache, int count) {
        this.engineLock = engineLock;
        this.pool = pool;
        this.prefixCache = prefixCache;
        this.tokens = new int[count][];
        this.adapters = new LoraAdapter[count];
        this.waiters = new int[count];
    }

    /** The lowest slot no running request holds and no slot action waits for. */
    int free(List<ScheduledRequest> running) {
        boolean[] taken = taken(running);
        int s = 0;
        while (taken[s] || waiters[s] > 0) {
            s++;
        }
        return s;
    }

    /** Slots that slot actions wait for and no running request holds any more: kept from admission. */
    int heldIdle(List<ScheduledRequest> running) {
        boolean[] taken = taken(running);
        int held = 0;
        for (int s = 0; s < taken.length; s++) {
            if (waiters[s] > 0 && !taken[s]) {
                held++;
            }
        }
        return held;
    }

    private boolean[] taken(List<ScheduledRequest> running) {
        boolean[] taken = new boolean[tokens.length];
        for (ScheduledRequest q : running) {
            if (q.slot >= 0) {
                taken[q.slot] = true;
            }
        }
        return taken;
    }

    /** A request ended in {@code slot}, its cache holding {@code cached}: the slot remembers them and wakes its waiters. */
    void ended(int slot, int[] cached, LoraAdapter adapter) {
        tokens[slot] = cached;
        adapters[slot] = adapter;
        engineLock.notifyAll();
    }

    /**
     * Waits, holding the engine's lock except while waiting, until {@code busy} says no running request
     * holds the slot. Meanwhile admission gives the slot to no new request, so a busy server cannot keep
     * the action waiting forever. A TernException when {@code closed} says the scheduler closed first.
     */
    void awaitIdle(int slot, IntPredicate busy, BooleanSupplier closed) {
        if (slot < 0 || slot >= tokens.length) {
            throw new IllegalArgumentException("no slot " + slot + " (slots 0 to " + (tokens.length - 1) + ")");
        }
        waiters[slot]++;
        try {
            while (busy.test(slot)) {
                if (closed.getAsBoolean()) {
                    throw new TernException("the server is shutting down");
                }
                engineLock.wait(100);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new TernException("interrupted while waiting for slot " + slot);
        } finally {
            waiters[slot]--;
        }
    }

    /** See {@link Scheduler#saveSlot}. */
    SlotResult save(int slot, Path file, byte[] fingerprint) {
        int[] saved = tokens[slot];
        List<Integer> blocks = saved == null || prefixCache == null ? List.of() : prefixCache.acquire(hashes(slot));
        try {
            if (blocks.isEmpty()) {
                throw new TernException("slot " + slot + " holds no cached tokens to save");
            }
            int n = blocks.size() * BlockPool.BLOCK_SIZE;
            return new SlotResult(n, SessionFile.write(file, pool, Arrays.copyOf(saved, n), blocks::get, fingerprint));
        } finally {
            blocks.forEach(pool::release);
        }
    }

    /** See {@link Scheduler#restoreSlot}; {@code makeRoom} frees a block when it can. */
    SlotResult restore(int slot, Path file, byte[] fingerprint, IntPredicate makeRoom) {
        if (prefixCache == null) {
            throw new TernException("restoring a slot needs the prefix cache, which this server does not keep");
        }
        try (SessionFile.Stored stored = SessionFile.Stored.open(file, pool, fingerprint)) {
            int[] fromFile = stored.tokens();
            List<ByteBuffer> hashes = new ArrayList<>();
            PrefixCache.chain(hashes, null, fromFile, fromFile.length / BlockPool.BLOCK_SIZE);
            int restored = 0;
            for (ByteBuffer h : hashes) {
                if (prefixCache.contains(h)) {
                    stored.readChunk(-1, 0);
                } else {
                    if (!makeRoom.test(1)) {
                        break;
                    }
                    int block = pool.allocate();
                    try {
                        stored.readChunk(block, BlockPool.BLOCK_SIZE);
                        prefixCache.insert(h, block);
                    } finally {
                        // The cache holds its own reference; a block a damaged file left half written goes back.
                        pool.release(block);
                    }
                }
                restored += BlockPool.BLOCK_SIZE;
            }
            tokens[slot] = Arrays.copyOf(fromFile, restored);
            adapters[slot] = null;
            return new SlotResult(restored, fileSize(file));
        }
    }

    /** See {@link Scheduler#eraseSlot}. */
    SlotResult erase(int slot) {
        int[] erased = tokens[slot];
        if (erased == null) {
            return new SlotResult(0, 0);
        }
        if (prefixCache != null) {
            hashes(slot).forEach(prefixCache::remove);
        }
        tokens[slot] = null;
        return new SlotResult(erased.length, 0);
    }

    private List<ByteBuffer> hashes(int slot) {
        List<ByteBuffer> hashes = new ArrayList<>();
        PrefixCache.chain(hashes, adapters[slot] == null ? null : adapters[slot].cacheSalt(), tokens[slot],
                tokens[slot].length / BlockPool.BLOCK_SIZE);
        return hashes;
    }

    private static long fileSize(Path file) {
        try {
            return Files.size(file);
        } catch (IOException e) {
            return 0;
        }
    }
}
