package dev.tern.model;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * Persistent worker threads for data-parallel loops. {@link #parallelFor} publishes the loop in
 * plain fields and bumps a volatile generation; the caller and the workers then claim chunks
 * from one atomic cursor that holds (generation, next index), so a worker that wakes up late
 * can never claim a chunk of a later loop, and the call returns as soon as every index is done.
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
    /**
     * Guided self-scheduling: a claim takes 1/(this · threads) of what is left, so chunks start
     * long (decode's kernels read each as four long memory streams) and shrink towards the end,
     * where the last chunk decides how long the other threads wait. With eight equal chunks the
     * caller waited 5–8% of a 1B decode for the other thread's last one (now 3.5–5%); smaller equal
     * chunks cost the kernels their long streams (docs/PERFORMANCE.md, twenty-eighth session).
     */
    private static final int SHARE_OF_REST = 2;
    /** The smallest claim, as a share of the loop per thread: 1/16 of a thread's part. */
    private static final int SMALLEST_SHARE = 16;

    private final Thread[] workers;
    /** generation << 32 | the next unclaimed index. */
    private final AtomicLong cursor = new AtomicLong();
    private final AtomicInteger done = new AtomicInteger();
    private volatile int generation;
    private volatile boolean closed;
    private volatile Throwable failure;
    // The current loop; written before the volatile generation bump that publishes it.
    private Range body;
    private int n;
    /** The smallest claim (the last may be shorter). */
    private int chunk;
    /** A claim takes (n - next) / divisor indices, at least chunk; 0: always chunk. */
    private int divisor;

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
     * Runs {@code body} over [0, n) split into chunks of at least {@code minChunk} indices that
     * shrink towards the end, in parallel; runs it inline when the range is too small to be worth sharing.
     */
    public void parallelFor(int n, int minChunk, Range body) {
        int smallest = Math.max(Math.max(1, minChunk), (n + threads() * SMALLEST_SHARE - 1) / (threads() * SMALLEST_SHARE));
        run(n, smallest, SHARE_OF_REST * threads(), body);
    }

    /**
     * Runs {@code body} over [0, n) one index at a time, in parallel: for few, long or uneven
     * items, where a claim costs nothing next to an item and a coarser split could leave one
     * thread finishing a big chunk alone while the others wait.
     */
    public void parallelForEach(int n, Range body) {
        run(n, 1, 0, body);
    }

    private synchronized void run(int n, int chunk, int divisor, Range body) {
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
        this.divisor = divisor;
        failure = null;
        done.set(0);
        int g = generation + 1;
        cursor.set((long) g << 32);
        generation = g;
        for (Thread w : workers) {
            LockSupport.unpark(w);
        }
        work(g);
        if (done.get() < n) {
            long since = System.nanoTime();
            while (done.get() < n) {
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
        int n = this.n, chunk = this.chunk, divisor = this.divisor;
        while (true) {
            long c = cursor.get();
            int from = (int) c;
            if ((int) (c >>> 32) != g || from >= n) {
                return;
            }
            int to = Math.min(n, from + (divisor == 0 ? chunk : Math.max(chunk, (n - from) / divisor)));
            if (!cursor.compareAndSet(c, (long) g << 32 | to)) {
                continue;
            }
            try {
                b.run(from, to);
            } catch (Throwable t) {
                failure = t;
            } finally {
                done.addAndGet(to - from);
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
