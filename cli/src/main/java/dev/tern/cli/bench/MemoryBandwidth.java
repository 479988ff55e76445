package dev.tern.cli.bench;

import jdk.incubator.vector.LongVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import java.util.concurrent.BrokenBarrierException;
import java.util.concurrent.CyclicBarrier;

/**
 * Measures sustained read bandwidth the way decoding uses memory: every thread streams its own
 * part of a buffer far larger than the caches, as four streams, with the widest vector loads.
 * The best of several passes is reported, since decode speed is bounded by what the memory
 * system can deliver.
 */
public final class MemoryBandwidth {
    private static final VectorSpecies<Long> S = LongVector.SPECIES_PREFERRED;

    private MemoryBandwidth() {
    }

    /** Best read bandwidth in bytes per second over {@code passes} passes of {@code bytes} by {@code threads}. */
    public static double measure(long bytes, int threads, int passes) {
        long line = 4L * S.vectorByteSize();
        long perThread = bytes / threads / line * line;
        try (Arena arena = Arena.ofShared()) {
            MemorySegment buf = arena.allocate(perThread * threads, 64);
            buf.fill((byte) 1); // touch every page so the first pass measures reads, not page faults
            long[] sink = new long[threads];
            CyclicBarrier start = new CyclicBarrier(threads + 1);
            CyclicBarrier end = new CyclicBarrier(threads + 1);
            Thread[] workers = new Thread[threads];
            for (int t = 0; t < threads; t++) {
                final int id = t;
                workers[t] = Thread.ofPlatform().daemon().start(() -> {
                    MemorySegment part = buf.asSlice(id * perThread, perThread);
                    try {
                        for (int p = 0; p < passes; p++) {
                            start.await();
                            sink[id] += readAll(part);
                            end.await();
                        }
                    } catch (InterruptedException | BrokenBarrierException e) {
                        Thread.currentThread().interrupt();
                    }
                });
            }
            double best = 0;
            for (int p = 0; p < passes; p++) {
                await(start);
                long t0 = System.nanoTime();
                await(end);
                long dt = System.nanoTime() - t0;
                best = Math.max(best, perThread * threads / (dt / 1e9));
            }
            for (Thread w : workers) {
                w.join();
            }
            if (sink[0] == 42) { // keeps the reads observable so the JIT cannot drop them
                System.err.print("");
            }
            return best;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    private static void await(CyclicBarrier b) throws InterruptedException {
        try {
            b.await();
        } catch (BrokenBarrierException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * Sums the segment as four quarters read side by side: four memory streams per thread, as
     * decode reads its weights (TensorFormat.dotRowsFour). One stream per thread reads slower:
     * on an AMD EPYC VM, 26–30 GB/s against 33–49 GB/s for four, with two threads.
     */
    private static long readAll(MemorySegment seg) {
        long quarter = seg.byteSize() / 4 / S.vectorByteSize() * S.vectorByteSize();
        MemorySegment p0 = seg.asSlice(0, quarter), p1 = seg.asSlice(quarter, quarter);
        MemorySegment p2 = seg.asSlice(2 * quarter, quarter), p3 = seg.asSlice(3 * quarter, quarter);
        LongVector a0 = LongVector.zero(S), a1 = a0, a2 = a0, a3 = a0;
        for (long i = 0; i < quarter; i += S.vectorByteSize()) {
            a0 = a0.add(LongVector.fromMemorySegment(S, p0, i, ByteOrder.LITTLE_ENDIAN));
            a1 = a1.add(LongVector.fromMemorySegment(S, p1, i, ByteOrder.LITTLE_ENDIAN));
            a2 = a2.add(LongVector.fromMemorySegment(S, p2, i, ByteOrder.LITTLE_ENDIAN));
            a3 = a3.add(LongVector.fromMemorySegment(S, p3, i, ByteOrder.LITTLE_ENDIAN));
        }
        return a0.add(a1).add(a2).add(a3).reduceLanes(VectorOperators.ADD);
    }
}
