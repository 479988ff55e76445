package dev.tern.cli.bench;

import dev.tern.engine.Engine;
import dev.tern.kv.BlockTable;
import dev.tern.model.Batch;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * llama-batched-bench's measurement: B sequences each get a prompt of PP random tokens (processed
 * in passes of at most {@link #PASS_TOKENS} tokens across the sequences), then TG steps that each
 * decode one token of every sequence in one pass. Tokens are random and nothing is sampled: it
 * times the engine's passes, what a server's step costs without HTTP or a scheduler.
 */
public final class BatchedBench {
    /** Tokens per prompt pass, as the server's default --batch-tokens. */
    static final int PASS_TOKENS = 512;
    private final Engine engine;
    private final int vocab;
    private final SplittableRandom random = new SplittableRandom(1234);

    /** One row of the table: times in seconds. */
    public record Result(int pp, int tg, int b, double promptSeconds, double generateSeconds) {
        public int kvTokens() {
            return b * (pp + tg);
        }

        public double promptPerSecond() {
            return promptSeconds == 0 ? 0 : b * pp / promptSeconds;
        }

        public double generatePerSecond() {
            return generateSeconds == 0 ? 0 : b * tg / generateSeconds;
        }

        public double totalPerSecond() {
            return kvTokens() / (promptSeconds + generateSeconds);
        }
    }

    public BatchedBench(Engine engine, int vocab) {
        this.engine = engine;
        this.vocab = vocab;
    }

    /** One run of B sequences of PP prompt tokens and TG generated ones. */
    public Result run(int pp, int tg, int b) {
        List<BlockTable> seqs = new ArrayList<>();
        try {
            for (int i = 0; i < b; i++) {
                seqs.add(engine.newSequence(pp + tg + 1));
            }
            long t0 = System.nanoTime();
            Batch batch = new Batch();
            for (int i = 0; i < b; i++) {
                BlockTable s = seqs.get(i);
                for (int p = 0; p < pp; p++) {
                    batch.add(random.nextInt(vocab), s, p, p == pp - 1);
                    if (batch.size() == PASS_TOKENS) {
                        engine.forward(batch);
                        batch.clear();
                    }
                }
            }
            if (batch.size() > 0) {
                engine.forward(batch);
                batch.clear();
            }
            long t1 = System.nanoTime();
            for (int step = 0; step < tg; step++) {
                for (BlockTable s : seqs) {
                    batch.add(random.nextInt(vocab), s, pp + step, true);
                }
                engine.forward(batch);
                batch.clear();
            }
            long t2 = System.nanoTime();
            return new Result(pp, tg, b, (t1 - t0) / 1e9, (t2 - t1) / 1e9);
        } finally {
            seqs.forEach(engine::release);
        }
    }

    /** llama-batched-bench's table header. */
    public static String header() {
        return "|    PP |     TG |    B |   N_KV |   T_PP s | S_PP t/s |   T_TG s | S_TG t/s |      T s |    S t/s |\n"
                + "|-------|--------|------|--------|----------|----------|----------|----------|----------|----------|";
    }

    public static String row(Result r) {
        return String.format("| %5d | %6d | %4d | %6d | %8.3f | %8.2f | %8.3f | %8.2f | %8.3f | %8.2f |", r.pp(), r.tg(), r.b(),
                r.kvTokens(), r.promptSeconds(), r.promptPerSecond(), r.generateSeconds(), r.generatePerSecond(),
                r.promptSeconds() + r.generateSeconds(), r.totalPerSecond());
    }
}
