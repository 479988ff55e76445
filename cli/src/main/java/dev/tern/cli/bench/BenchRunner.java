package dev.tern.cli.bench;

import dev.tern.Tern;
import dev.tern.engine.Recompute;
import dev.tern.engine.Session;
import dev.tern.kv.KVCacheType;

import java.util.SplittableRandom;

/**
 * Runs llama-bench style tests on a loaded model: prompt processing of P tokens as one batch,
 * and generation of N tokens one at a time, each after DEPTH tokens already in the cache (filled
 * once per test; every run starts from it again). Each test runs once to warm up, then
 * {@code reps} timed times. Tokens are random, as in llama-bench.
 */
public final class BenchRunner {
    private final Tern tern;
    private final int threads;
    private final int reps;
    private final ModelFootprint footprint;
    private final double bandwidth;
    private final SplittableRandom random = new SplittableRandom(1234);

    /** @param bandwidth measured read bytes/s for this thread count, or 0 if not measured */
    public BenchRunner(Tern tern, int threads, int reps, double bandwidth) {
        this.tern = tern;
        this.threads = threads;
        this.reps = reps;
        this.footprint = ModelFootprint.of(tern.model(), tern.engine().cache().bytesPerPosition());
        this.bandwidth = bandwidth;
    }

    public ModelFootprint footprint() {
        return footprint;
    }

    public BenchResult prompt(int p, int depth) {
        double[] ts = new double[reps];
        try (Session s = tern.engine().newSession(depth + p)) {
            fill(s, depth);
            for (int r = -1; r < reps; r++) {
                s.truncate(depth);
                int[] tokens = randomTokens(p);
                long t0 = System.nanoTime();
                s.forward(tokens);
                double sec = (System.nanoTime() - t0) / 1e9;
                if (r >= 0) {
                    ts[r] = p / sec;
                }
            }
        }
        Stats st = Stats.of(ts);
        return new BenchResult(name("pp", p, depth), p, 0, depth, threads, st.mean(), st.stddev(),
                footprint.modelBytes(), footprint.parameters(), 0, 0, 0, "cached");
    }

    public BenchResult generate(int n, int depth) {
        double[] ts = new double[reps];
        try (Session s = tern.engine().newSession(depth + n + 1)) {
            fill(s, depth);
            for (int r = -1; r < reps; r++) {
                s.truncate(depth);
                long t0 = System.nanoTime();
                for (int i = 0; i < n; i++) {
                    s.forward(random.nextInt(tern.model().config().vocab()));
                }
                double sec = (System.nanoTime() - t0) / 1e9;
                if (r >= 0) {
                    ts[r] = n / sec;
                }
            }
        }
        return decodeResult(name("tg", n, depth), n, depth, Stats.of(ts), "cached");
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
     * Time of one forward pass over {@code k} tokens relative to one decode step, both at
     * {@code depth}: what a speculative verify pass costs.
     */
    public double verifyCost(int k, int depth) {
        double[] one = new double[reps];
        double[] many = new double[reps];
        try (Session s = tern.engine().newSession(depth + k + 1)) {
            fill(s, Math.max(depth, 1));
            for (int r = -1; r < reps; r++) {
                s.truncate(Math.max(depth, 1));
                long t0 = System.nanoTime();
                s.forward(random.nextInt(tern.model().config().vocab()));
                long t1 = System.nanoTime();
                s.truncate(Math.max(depth, 1));
                s.forwardAll(randomTokens(k));
                long t2 = System.nanoTime();
                if (r >= 0) {
                    one[r] = t1 - t0;
                    many[r] = t2 - t1;
                }
            }
        }
        return Stats.of(many).mean() / Stats.of(one).mean();
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
