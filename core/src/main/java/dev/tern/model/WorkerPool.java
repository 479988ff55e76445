package dev.tern.model;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * Persistent worker threads for data-parallel loops. {@link #parallelFor} publishes the loop in
 * plain fields and bumps a volatile generation; the caller and the workers then claim chunks
 * from one atomic cursor that holds (generation, next chunk), so a worker that wakes up late
 * can never claim a chunk of a later loop, and the call returns as soon as every chunk is done.
 * Nothing is allocated per loop. Idle workers spin for {@link #SPIN_NANOS} (decode issues a
 * loop every few microseconds, and waking a parked thread costs tens of them), then park.
 * One loop at a time.
 */
public final class WorkerPool implements AutoCloseable {

    /** The body of a parallel loop: processes indices [from, to). */
    @FunctionalInterface
    public interface Range {
        void run(int from, int to);
    }

    private static final long SPIN_NANOS = 200_000;
    /**
     * How long the caller spins for the last chunks before yielding between checks: on a
     * machine busier than its cores, the worker holding a chunk may be descheduled, and
     * spinning would only keep it off the core.
     */
    private static final long WAIT_SPIN_NANOS = 50_000;
    /** Chunks per thread: enough for a thread slowed by a neighbour to hand work over, few enough to keep chunks long. */
    private static final int CHUNKS_PER_THREAD = 4;

    private final Thread[] workers;
    /** generation << 32 | index of the next unclaimed chunk. */
    private final AtomicLong cursor = new AtomicLong();
    private final AtomicInteger done = new AtomicInteger();
    private volatile int generation;
    private volatile boolean closed;
    private volatile Throwable failure;
    // The current loop; written before the volatile generation bump that publishes it.
    private Range body;
    private int n;
    private int chunk;
    private int chunks;

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
    public void parallelFor(int n, int minChunk, Range body) {
        int wanted = Math.min(threads() * CHUNKS_PER_THREAD, (n + minChunk - 1) / Math.max(1, minChunk));
        run(n, wanted <= 1 ? n : (n + wanted - 1) / wanted, body);
    }

    /**
     * Runs {@code body} over [0, n) one index at a time, in parallel: for few, long or uneven
     * items, where a claim costs nothing next to an item and a coarser split could leave one
     * thread finishing a big chunk alone while the others wait (split eight ways, a loop of equal
     * items idles one of two threads for half a chunk on average: a sixteenth of the loop).
     */
    public void parallelForEach(int n, Range body) {
        run(n, 1, body);
    }

    private synchronized void run(int n, int chunk, Range body) {
        if (n <= 0) {
            return;
        }
        if (workers.length == 0 || chunk >= n) {
            body.run(0, n);
            return;
        }
        this.body = body;
        this.n = n;
        this.chunk = chunk;
        this.chunks = (n + chunk - 1) / chunk;
        failure = null;
        done.set(0);
        int g = generation + 1;
        cursor.set((long) g << 32);
        generation = g;
        for (Thread w : workers) {
            LockSupport.unpark(w);
        }
        work(g);
        int total = chunks;
        if (done.get() < total) {
            long since = System.nanoTime();
            while (done.get() < total) {
                if (System.nanoTime() - since < WAIT_SPIN_NANOS) {
                    Thread.onSpinWait();
                } else {
                    Thread.yield();
                }
            }
        }
        // Seal this loop: a worker still holding its fields can claim nothing while the next loop is set up.
        cursor.set((long) g << 32 | Integer.MAX_VALUE);
        this.body = null;
        Throwable f = failure;
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

    /**
     * Claims and runs chunks of loop g until none is left. The loop's fields are read before
     * the first claim; that is safe because the caller cannot start the next loop while a chunk
     * of this one is unfinished, and a claim fails once the loop is sealed or the cursor has
     * moved to a later one.
     */
    private void work(int g) {
        Range b = body;
        int n = this.n, chunk = this.chunk, chunks = this.chunks;
        while (true) {
            long c = cursor.get();
            if ((int) (c >>> 32) != g || (int) c >= chunks) {
                return;
            }
            if (!cursor.compareAndSet(c, c + 1)) {
                continue;
            }
            int i = (int) c;
            try {
                b.run(i * chunk, Math.min(n, (i + 1) * chunk));
            } catch (Throwable t) {
                failure = t;
            } finally {
                done.incrementAndGet();
            }
        }
    }

    private void workerLoop() {
        int seen = generation;
        long idleSince = System.nanoTime();
        while (!closed) {
            int g = generation;
            if (g != seen) {
                seen = g;
                work(g);
                idleSince = System.nanoTime();
            } else if (System.nanoTime() - idleSince < SPIN_NANOS) {
                Thread.onSpinWait();
            } else {
                LockSupport.park(this);
                idleSince = System.nanoTime();
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
