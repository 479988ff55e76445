package dev.tern.model;

import org.junit.jupiter.api.Test;

import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.atomic.AtomicIntegerArray;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class WorkerPoolTest {

    @Test
    void everyIndexRunsExactlyOnceAcrossManyLoops() {
        try (WorkerPool pool = new WorkerPool(3)) {
            for (int round = 0; round < 300; round++) {
                int n = 1 + round * 7;
                AtomicIntegerArray hits = new AtomicIntegerArray(n);
                pool.parallelFor(n, 1, (from, to) -> {
                    for (int i = from; i < to; i++) {
                        hits.incrementAndGet(i);
                    }
                });
                for (int i = 0; i < n; i++) {
                    assertEquals(1, hits.get(i), "round " + round + " index " + i);
                }
            }
        }
    }

    /**
     * Many tiny loops back to back, the decode pattern: a worker that is late for one loop must
     * neither run a chunk of it after the caller has moved on nor run a chunk of the next loop
     * with the previous loop's body or bounds.
     */
    @Test
    void backToBackTinyLoopsNeverMixUp() {
        try (WorkerPool pool = new WorkerPool(3)) {
            int[] slots = new int[8];
            for (int round = 0; round < 20_000; round++) {
                int n = 2 + round % 7;
                int mark = round;
                pool.parallelFor(n, 1, (from, to) -> {
                    for (int i = from; i < to; i++) {
                        if (slots[i] != mark - 1 && !(mark == 0 && slots[i] == 0)) {
                            slots[i] = Integer.MIN_VALUE;
                        } else {
                            slots[i] = mark;
                        }
                    }
                });
                for (int i = 0; i < n; i++) {
                    assertEquals(mark, slots[i], "round " + round + " index " + i);
                }
                for (int i = n; i < slots.length; i++) {
                    slots[i] = mark;
                }
            }
        }
    }

    /** One index per claim, and chunked loops before and after it keep their own bounds. */
    @Test
    void forEachRunsEveryIndexAloneAmongChunkedLoops() {
        try (WorkerPool pool = new WorkerPool(3)) {
            for (int round = 0; round < 200; round++) {
                int n = 1 + round % 40;
                AtomicIntegerArray hits = new AtomicIntegerArray(n);
                pool.parallelForEach(n, (from, to) -> {
                    assertEquals(from + 1, to, "one index per call");
                    hits.incrementAndGet(from);
                });
                AtomicIntegerArray chunked = new AtomicIntegerArray(n);
                pool.parallelFor(n, 1, (from, to) -> {
                    for (int i = from; i < to; i++) {
                        chunked.incrementAndGet(i);
                    }
                });
                for (int i = 0; i < n; i++) {
                    assertEquals(1, hits.get(i), "round " + round + " index " + i);
                    assertEquals(1, chunked.get(i), "round " + round + " index " + i);
                }
            }
        }
    }

    /**
     * Guided claims: a quarter of the loop first on two threads, then a quarter of what is left,
     * never less than the minimum (but the remainder at the end), shrinking as the loop goes on
     * whichever thread claims.
     */
    @Test
    void claimsShrinkTowardsTheEndButNotBelowTheSmallest() {
        try (WorkerPool pool = new WorkerPool(2)) {
            for (int round = 0; round < 50; round++) {
                ConcurrentSkipListMap<Integer, Integer> claims = new ConcurrentSkipListMap<>();
                pool.parallelFor(1000, 10, claims::put);
                assertEquals(250, claims.get(0), "the first claim");
                int expectedFrom = 0, last = Integer.MAX_VALUE;
                for (var claim : claims.entrySet()) {
                    assertEquals(expectedFrom, claim.getKey(), "claims tile the range");
                    int size = claim.getValue() - claim.getKey();
                    assertTrue(size <= last, "claim at " + claim.getKey() + " grew: " + size + " after " + last);
                    assertTrue(size >= 32 || claim.getValue() == 1000, "claim at " + claim.getKey() + " of " + size);
                    expectedFrom = claim.getValue();
                    last = size;
                }
                assertEquals(1000, expectedFrom);
                assertTrue(claims.size() > 8, "shrinking claims make more of them than eight equal ones: " + claims.size());
            }
        }
    }

    @Test
    void aFailureReachesTheCallerAndThePoolStaysUsable() {
        try (WorkerPool pool = new WorkerPool(2)) {
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> pool.parallelFor(100, 1, (from, to) -> {
                if (from <= 50 && 50 < to) {
                    throw new IllegalStateException("boom");
                }
            }));
            assertEquals("boom", e.getMessage());
            AtomicIntegerArray hits = new AtomicIntegerArray(10);
            pool.parallelFor(10, 1, (from, to) -> {
                for (int i = from; i < to; i++) {
                    hits.incrementAndGet(i);
                }
            });
            for (int i = 0; i < 10; i++) {
                assertEquals(1, hits.get(i));
            }
        }
    }

    @Test
    void smallRangesRunInlineOnTheCaller() {
        try (WorkerPool pool = new WorkerPool(2)) {
            Thread caller = Thread.currentThread();
            pool.parallelFor(5, 100, (from, to) -> {
                assertEquals(caller, Thread.currentThread());
                assertEquals(0, from);
                assertEquals(5, to);
            });
        }
        assertThrows(IllegalArgumentException.class, () -> new WorkerPool(0));
    }
}
