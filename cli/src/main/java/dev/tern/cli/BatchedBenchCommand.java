package dev.tern.cli;

import dev.tern.Tern;
import dev.tern.TernException;
import dev.tern.cli.bench.BatchedBench;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.util.List;
import java.util.concurrent.Callable;

/** {@code tern batched-bench}: llama-batched-bench's table of parallel sequences' prompt and generation speed. */
@Command(name = "batched-bench", description = "Benchmark B sequences decoding together, like llama-batched-bench:"
        + " prompt (S_PP) and generation (S_TG) tokens/s over all of them.")
final class BatchedBenchCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    ModelOptions modelOptions;

    @Option(names = {"-npp"}, split = ",", paramLabel = "PP", description = "Prompt tokens of each sequence (default: 128)")
    List<Integer> prompts = List.of(128);

    @Option(names = {"-ntg"}, split = ",", paramLabel = "TG", description = "Tokens each sequence generates (default: 64)")
    List<Integer> gens = List.of(64);

    @Option(names = {"-npl"}, split = ",", paramLabel = "B", description = "Sequences decoding together (default: 1,2,4,8,16)")
    List<Integer> parallel = List.of(1, 2, 4, 8, 16);

    @Option(names = "--warmup", description = "Seconds of untimed runs first, while the JIT compiles the kernels; at least one run"
            + " (default: ${DEFAULT-VALUE})")
    double warmup = 5;

    @Override
    public Integer call() {
        for (List<Integer> l : List.of(prompts, gens, parallel)) {
            if (l.isEmpty() || l.stream().anyMatch(v -> v < 1)) {
                throw new TernException("-npp, -ntg and -npl take positive numbers");
            }
        }
        if (!(warmup >= 0)) {
            throw new TernException("--warmup must be a number of seconds, 0 or more");
        }
        int context = prompts.stream().mapToInt(Integer::intValue).max().orElseThrow()
                + gens.stream().mapToInt(Integer::intValue).max().orElseThrow() + 1;
        int sequences = parallel.stream().mapToInt(Integer::intValue).max().orElseThrow();
        PrintWriter out = spec.commandLine().getOut();
        try (Tern tern = Tern.load(modelOptions.resolvedModel(), modelOptions.tokenizer,
                modelOptions.options(modelOptions.threads, context, sequences, null))) {
            if (context > tern.model().config().contextLength()) {
                throw new TernException("-npp + -ntg (" + (context - 1) + ") exceed the model's context of "
                        + tern.model().config().contextLength());
            }
            BatchedBench bench = new BatchedBench(tern.engine(), tern.model().config().vocab());
            long until = System.nanoTime() + (long) (warmup * 1e9);
            do {
                bench.run(prompts.getFirst(), gens.getFirst(), parallel.getLast());
            } while (System.nanoTime() < until);
            out.println("model " + modelOptions.resolvedModel().getFileName() + ", threads " + modelOptions.threads + ", KV cache "
                    + modelOptions.cacheType());
            out.println();
            out.println(BatchedBench.header());
            for (int pp : prompts) {
                for (int tg : gens) {
                    for (int b : parallel) {
                        out.println(BatchedBench.row(bench.run(pp, tg, b)));
                        out.flush();
                    }
                }
            }
        }
        return 0;
    }
}
