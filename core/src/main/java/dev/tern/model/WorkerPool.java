package dev.tern.model;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

/**
 * Persistent worker threads for data-parallel loops. {@link #parallelFor} hands a range to
 * the workers by publishing it and bumping a generation counter (no task objects, no queue);
 * the calling thread works too, threads claim chunks from an atomic counter, and the call
 * returns when every chunk is done. Idle workers spin briefly, then park. One loop at a time.
 */
public final class WorkerPool implements AutoCloseable {

    /** The body of a parallel loop: processes indices [from, to). */
    @FunctionalInterface
    public interface Range {
        void run(int from, int to);
    }

    private static final int SPINS = 20_000;

    private final Thread[] workers;
    private final AtomicInteger nextChunk = new AtomicInteger();
    private final AtomicInteger busy = new AtomicInteger();
    private volatile int generation;
    private volatile boolean closed;
    private Range body;
    private int total;
    private int chunk;
    private volatile Throwable failure;

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
        this.body = body;
        this.total = n;
        this.chunk = (n + chunks - 1) / chunks;
        nextChunk.set(0);
        busy.set(workers.length);
        generation++; // volatile write publishes the fields above
        for (Thread w : workers) {
            LockSupport.unpark(w);
        }
        try {
            work(body, n, chunk);
        } catch (RuntimeException | Error e) {
            failure = e;
        }
        for (int spins = 0; busy.get() != 0; spins++) {
            if (spins < SPINS) {
                Thread.onSpinWait();
            } else {
                Thread.yield();
            }
        }
        this.body = null;
        Throwable f = failure;
        failure = null;
        if (f instanceof RuntimeException r) {
            throw r;
        }
        if (f instanceof Error err) {
            throw err;
        }
    }

    private void work(Range body, int n, int chunk) {
        for (int c; (c = nextChunk.getAndIncrement()) * chunk < n; ) {
            int from = c * chunk;
            body.run(from, Math.min(n, from + chunk));
        }
    }

    private void workerLoop() {
        int seen = 0;
        while (true) {
            for (int spins = 0; generation == seen && !closed; spins++) {
                if (spins < SPINS) {
                    Thread.onSpinWait();
                } else {
                    LockSupport.park(this);
                }
            }
            if (closed) {
                return;
            }
            seen = generation;
            try {
                work(body, total, chunk);
            } catch (Throwable t) {
                failure = t;
            }
            busy.decrementAndGet();
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
