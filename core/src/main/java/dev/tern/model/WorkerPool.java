package dev.tern.model;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

/**
 * Persistent worker threads for data-parallel loops. {@link #parallelFor} publishes one small
 * job (the range, its chunking and two counters) in a volatile field; the caller and the
 * workers claim chunks from the job's atomic counter, and the call returns as soon as every
 * chunk is done — a worker that wakes up late finds nothing left and is never waited for.
 * Idle workers spin briefly, then park. One loop at a time.
 */
public final class WorkerPool implements AutoCloseable {

    /** The body of a parallel loop: processes indices [from, to). */
    @FunctionalInterface
    public interface Range {
        void run(int from, int to);
    }

    private static final int SPINS = 5_000;

    private final Thread[] workers;
    private volatile Job job;
    private volatile boolean closed;

    private static final class Job {
        final Range body;
        final int n;
        final int chunk;
        final int chunks;
        final AtomicInteger next = new AtomicInteger();
        final AtomicInteger done = new AtomicInteger();
        volatile Throwable failure;

        Job(Range body, int n, int chunks) {
            this.body = body;
            this.n = n;
            this.chunk = (n + chunks - 1) / chunks;
            this.chunks = (n + chunk - 1) / chunk;
        }

        void work() {
            for (int c; (c = next.getAndIncrement()) < chunks; ) {
                try {
                    body.run(c * chunk, Math.min(n, (c + 1) * chunk));
                } catch (Throwable t) {
                    failure = t;
                } finally {
                    done.incrementAndGet();
                }
            }
        }
    }

    /** A pool running loops on {@code threads} threads in all, the caller included. */
    public WorkerPool(int threads) {
        if (threads < 1) {
            throw new IllegalArgumentException("threads must be at least 1, got " + threads);
        }
        workers = new Thread[threads - 1];
        for (int i = 0; i < workers.length; i++) {
            workers[i] = Thread.ofPlatform().daemon().name("tern-worker-" + (i + 1)).start(this::workerLoop);
        }
    }

    /** The default size: one thread per available core. */
    public static int defaultThreads() {
        return Runtime.getRuntime().availableProcessors();
    }

    public int threads() {
        return workers.length + 1;
    }

    /**
     * Runs {@code body} over [0, n) split into chunks of at least {@code minChunk} indices,
     * in parallel; runs it inline when the range is too small to be worth sharing.
     */
    public synchronized void parallelFor(int n, int minChunk, Range body) {
        if (n <= 0) {
            return;
        }
        int chunks = Math.min(threads() * 4, (n + minChunk - 1) / Math.max(1, minChunk));
        if (workers.length == 0 || chunks <= 1) {
            body.run(0, n);
            return;
        }
        Job j = new Job(body, n, chunks);
        job = j;
        for (Thread w : workers) {
            LockSupport.unpark(w);
        }
        j.work();
        for (int spins = 0; j.done.get() < j.chunks; spins++) {
            if (spins < SPINS) {
                Thread.onSpinWait();
            } else {
                Thread.yield();
            }
        }
        Throwable f = j.failure;
        if (f instanceof RuntimeException r) {
            throw r;
        }
        if (f instanceof Error err) {
            throw err;
        }
        if (f != null) {
            throw new IllegalStateException(f);
        }
    }

    private void workerLoop() {
        Job seen = null;
        int spins = 0;
        while (!closed) {
            Job j = job;
            if (j != null && j != seen) {
                seen = j;
                spins = 0;
                j.work();
            } else if (spins++ < SPINS) {
                Thread.onSpinWait();
            } else {
                LockSupport.park(this);
            }
        }
    }

    @Override
    public void close() {
        closed = true;
        for (Thread w : workers) {
            LockSupport.unpark(w);
        }
    }
}
