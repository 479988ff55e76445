package dev.tern.cli.bench;

import dev.tern.Tern;
import dev.tern.engine.Recompute;
import dev.tern.engine.Session;
import dev.tern.kv.KVCacheType;
import dev.tern.model.ModelFootprint;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Runs llama-bench style tests on a loaded model: prompt processing of P tokens as one batch,
 * and generation of N tokens one at a time, each after DEPTH tokens already in the cache (filled
 * once per test; every run starts from it again). Each test first runs untimed for at least the
 * warm-up time (the JIT compiles the kernels meanwhile; see {@link #DEFAULT_WARM_UP_SECONDS}),
 * then {@code reps} timed times.
 * Tokens are random, as in llama-bench.
 */
public final class BenchRunner {
    /**
     * Untimed running before a test's timed runs. One run of a small test (a 9-token prompt
     * takes milliseconds) ends long before C2 has compiled the kernels, and on two cores the
     * compiler threads compete with the spinning workers, so compiling takes seconds. stories15M
     * pp9, per-run times: after one warm-up run 25-56 ms falling to 9 over 30 runs (380 ± 210
     * t/s); after 3 s 3.5-4.4 ms (2391 ± 103 t/s). Speculative runs compile more shapes: after
     * 3 s the first timed prompt-lookup run was still at 632 t/s against 930-1060 for the rest;
     * after 5 s 1.57x and 1.67x over the plain runs.
     */
    public static final double DEFAULT_WARM_UP_SECONDS = 5;
    /** The least time spent timing each width's verify-pass cost ({@link #verifyCosts}). */
    private static final long VERIFY_COST_NANOS = 500_000_000L;
    private final Tern tern;
    private final int threads;
    private final int reps;
    private final ModelFootprint footprint;
    private final double bandwidth;
    private final long warmUpNanos;
    private final SplittableRandom random = new SplittableRandom(1234);
    /** The mode of the tests with a KV cache: "cached", or "batch-invariant" when the model was loaded so. */
    private final String cached;

    /**
     * @param bandwidth     measured read bytes/s for this thread count, or 0 if not measured
     * @param warmUpSeconds untimed running before each test (at least one run)
     */
    public BenchRunner(Tern tern, int threads, int reps, double bandwidth, double warmUpSeconds) {
        this.tern = tern;
        this.threads = threads;
        this.reps = reps;
        this.footprint = ModelFootprint.of(tern.model(), tern.engine().cache().bytesPerPosition());
        this.bandwidth = bandwidth;
        this.warmUpNanos = (long) (warmUpSeconds * 1e9);
        this.cached = tern.engine().batchInvariant() ? "batch-invariant" : "cached";
    }

    public ModelFootprint footprint() {
        return footprint;
    }

    public BenchResult prompt(int p, int depth) {
        double[] ts = new double[reps];
        try (Session s = tern.engine().newSession(depth + p)) {
            fill(s, depth);
            warmUp(() -> promptRun(s, p, depth));
            for (int r = 0; r < reps; r++) {
                ts[r] = p / promptRun(s, p, depth);
            }
        }
        Stats st = Stats.of(ts);
        return new BenchResult(name("pp", p, depth), p, 0, depth, threads, st.mean(), st.stddev(),
                footprint.modelBytes(), footprint.parameters(), 0, 0, 0, cached);
    }

    public BenchResult generate(int n, int depth) {
        double[] ts = new double[reps];
        try (Session s = tern.engine().newSession(depth + n + 1)) {
            fill(s, depth);
            warmUp(() -> generateRun(s, n, depth));
            for (int r = 0; r < reps; r++) {
                ts[r] = n / generateRun(s, n, depth);
            }
        }
        return decodeResult(name("tg", n, depth), n, depth, Stats.of(ts), cached);
    }

    /** llama-bench's pp+tg: a prompt of p tokens in one batch, then n generated; tokens/s over both. */
    public BenchResult promptThenGenerate(int p, int n, int depth) {
        double[] ts = new double[reps];
        try (Session s = tern.engine().newSession(depth + p + n + 1)) {
            fill(s, depth);
            warmUp(() -> promptThenGenerateRun(s, p, n, depth));
            for (int r = 0; r < reps; r++) {
                ts[r] = (p + n) / promptThenGenerateRun(s, p, n, depth);
            }
        }
        Stats st = Stats.of(ts);
        return new BenchResult(name("pp" + p + "+tg", n, depth), p, n, depth, threads, st.mean(), st.stddev(),
                footprint.modelBytes(), footprint.parameters(), 0, 0, 0, cached);
    }

    /** The naive loop: every generated token re-runs the whole sequence from position 0. */
    public BenchResult generateByRecompute(int n, int depth) {
        Recompute recompute = new Recompute(tern.model(), tern.engine().workers(), KVCacheType.F32);
        int reps = Math.min(this.reps, 2);
        double[] ts = new double[reps];
        for (int r = 0; r < reps; r++) {
            int[] seq = randomTokens(depth + n);
            long t0 = System.nanoTime();
            for (int i = depth; i < depth + n; i++) {
                recompute.lastLogits(java.util.Arrays.copyOf(seq, i + 1));
            }
            ts[r] = n / ((System.nanoTime() - t0) / 1e9);
        }
        return decodeResult(name("tg", n, depth), n, depth, Stats.of(ts), "recompute");
    }

    /**
     * Time of one forward pass over each of {@code widths} tokens relative to one decode step, all
     * at {@code depth}: what a speculative verify pass costs. The widths share one warm-up. Each
     * width alternates a step and a pass at least {@code reps} times and for at least
     * {@link #VERIFY_COST_NANOS}, and compares their total times: stories15M's step takes 2 ms, and
     * with three pairs one slow step or pass on this kind of shared machine moved its 9-token cost
     * between 1.6 and 2.6 steps from run to run.
     */
    public double[] verifyCosts(int[] widths, int depth) {
        int widest = Arrays.stream(widths).max().orElseThrow();
        double[] costs = new double[widths.length];
        try (Session s = tern.engine().newSession(depth + widest + 1)) {
            int start = Math.max(depth, 1);
            fill(s, start);
            warmUp(() -> {
                for (int k : widths) {
                    s.truncate(start);
                    s.forwardAll(randomTokens(k));
                }
            });
            for (int w = 0; w < widths.length; w++) {
                long one = 0, many = 0;
                long end = System.nanoTime() + VERIFY_COST_NANOS;
                for (int r = 0; r < reps || System.nanoTime() < end; r++) {
                    s.truncate(start);
                    long t0 = System.nanoTime();
                    s.forward(random.nextInt(tern.model().config().vocab()));
                    long t1 = System.nanoTime();
                    s.truncate(start);
                    s.forwardAll(randomTokens(widths[w]));
                    long t2 = System.nanoTime();
                    one += t1 - t0;
                    many += t2 - t1;
                }
                costs[w] = (double) many / one;
            }
        }
        return costs;
    }

    /** Runs {@code run} untimed, at least once and for at least the warm-up time. */
    public void warmUp(Runnable run) {
        long end = System.nanoTime() + warmUpNanos;
        do {
            run.run();
        } while (System.nanoTime() < end);
    }

    /** One timed prompt pass of p random tokens after depth; seconds. */
    private double promptRun(Session s, int p, int depth) {
        s.truncate(depth);
        int[] tokens = randomTokens(p);
        long t0 = System.nanoTime();
        s.forward(tokens);
        return (System.nanoTime() - t0) / 1e9;
    }

    /** One timed prompt pass of p random tokens after depth, then n timed decode steps; seconds. */
    private double promptThenGenerateRun(Session s, int p, int n, int depth) {
        return promptRun(s, p, depth) + decodeSteps(s, n);
    }

    /** n timed decode steps of random tokens after depth; seconds. */
    private double generateRun(Session s, int n, int depth) {
        s.truncate(depth);
        return decodeSteps(s, n);
    }

    /** n timed decode steps of random tokens where the session stands; seconds. */
    private double decodeSteps(Session s, int n) {
        long t0 = System.nanoTime();
        for (int i = 0; i < n; i++) {
            s.forward(random.nextInt(tern.model().config().vocab()));
        }
        return (System.nanoTime() - t0) / 1e9;
    }

    private BenchResult decodeResult(String test, int n, int depth, Stats st, String mode) {
        long bytes = footprint.bytesPerToken(depth + n / 2.0);
        double gbps = bytes * st.mean() / 1e9;
        double pct = bandwidth > 0 ? 100 * gbps * 1e9 / bandwidth : 0;
        return new BenchResult(test, 0, n, depth, threads, st.mean(), st.stddev(), footprint.modelBytes(),
                footprint.parameters(), bytes, gbps, pct, mode);
    }

    private void fill(Session s, int depth) {
        int chunk = 512;
        for (int done = 0; done < depth; done += chunk) {
            s.forward(randomTokens(Math.min(chunk, depth - done)));
        }
    }

    private int[] randomTokens(int n) {
        int[] t = new int[n];
        for (int i = 0; i < n; i++) {
            t[i] = random.nextInt(tern.model().config().vocab());
        }
        return t;
    }

    private static String name(String kind, int n, int depth) {
        return kind + n + (depth > 0 ? " @ d" + depth : "");
    }
}
