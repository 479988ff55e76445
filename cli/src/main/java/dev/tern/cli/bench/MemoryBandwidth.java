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
 * part of a buffer far larger than the caches, with the widest vector loads. The best of several
 * passes is reported, since decode speed is bounded by what the memory system can deliver.
 */
public final class MemoryBandwidth {
    private static final VectorSpecies<Long> S = LongVector.SPECIES_PREFERRED;

    private MemoryBandwidth() {
    }

    /** Best read bandwidth in bytes per second over {@code passes} passes of {@code bytes} by {@code threads}. */
    public static double measure(long bytes, int threads, int passes) {
        long perThread = bytes / threads / S.vectorByteSize() * S.vectorByteSize();
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

    private static long readAll(MemorySegment seg) {
        LongVector a0 = LongVector.zero(S), a1 = a0, a2 = a0, a3 = a0;
        long step = S.vectorByteSize();
        long n = seg.byteSize();
        long i = 0;
        for (; i + 4 * step <= n; i += 4 * step) {
            a0 = a0.add(LongVector.fromMemorySegment(S, seg, i, ByteOrder.LITTLE_ENDIAN));
            a1 = a1.add(LongVector.fromMemorySegment(S, seg, i + step, ByteOrder.LITTLE_ENDIAN));
            a2 = a2.add(LongVector.fromMemorySegment(S, seg, i + 2 * step, ByteOrder.LITTLE_ENDIAN));
            a3 = a3.add(LongVector.fromMemorySegment(S, seg, i + 3 * step, ByteOrder.LITTLE_ENDIAN));
        }
        return a0.add(a1).add(a2).add(a3).reduceLanes(VectorOperators.ADD);
    }
}
