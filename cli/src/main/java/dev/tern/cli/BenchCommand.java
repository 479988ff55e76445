package dev.tern.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tern.Tern;
import dev.tern.TernException;
import dev.tern.cli.bench.BenchResult;
import dev.tern.cli.bench.BenchRunner;
import dev.tern.cli.bench.MemoryBandwidth;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

/** {@code tern bench}: llama-bench's prompt and generation tests, with the memory-wall view. */
@Command(name = "bench", description = "Benchmark prompt processing (pp) and generation (tg), like llama-bench.")
final class BenchCommand implements Callable<Integer> {
    enum Output { md, json }

    @Spec
    CommandSpec spec;

    @Mixin
    ModelOptions modelOptions;

    @Option(names = {"-p", "--n-prompt"}, split = ",", description = "Prompt sizes, comma-separated, 0 = none (default: 512)")
    List<Integer> prompts = List.of(512);

    @Option(names = {"-n", "--n-gen"}, split = ",", description = "Generation lengths, comma-separated, 0 = none (default: 128)")
    List<Integer> gens = List.of(128);

    @Option(names = {"-d", "--n-depth"}, split = ",", description = "Tokens in the KV cache before each test (default: 0)")
    List<Integer> depths = List.of(0);

    @Option(names = {"-r", "--repetitions"}, description = "Timed repetitions per test (default: ${DEFAULT-VALUE})")
    int reps = 5;

    @Option(names = {"-o", "--output"}, description = "md or json (default: ${DEFAULT-VALUE})")
    Output output = Output.md;

    @Option(names = "--recompute", description = "Also time generation by recomputing the whole sequence every step (no KV cache)")
    boolean recompute;

    @Option(names = "--membw", description = "Only measure memory read bandwidth (1 thread and -t threads)")
    boolean membwOnly;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        int threads = modelOptions.threads;
        if (reps < 1) {
            throw new TernException("-r must be at least 1");
        }
        if (membwOnly) {
            for (int t : threads == 1 ? new int[]{1} : new int[]{1, threads}) {
                out.printf("memory read bandwidth, %d thread%s: %.1f GB/s%n", t, t == 1 ? "" : "s",
                        MemoryBandwidth.measure(1L << 30, t, 10) / 1e9);
            }
            return 0;
        }
        double bw = MemoryBandwidth.measure(1L << 30, threads, 10);
        err.printf("memory read bandwidth with %d threads: %.1f GB/s%n", threads, bw / 1e9);
        int maxDepth = depths.stream().mapToInt(Integer::intValue).max().orElse(0);
        int maxLen = Math.max(prompts.stream().mapToInt(Integer::intValue).max().orElse(0),
                gens.stream().mapToInt(Integer::intValue).max().orElse(0));
        List<BenchResult> results = new ArrayList<>();
        try (Tern tern = Tern.load(modelOptions.resolvedModel(), modelOptions.tokenizer,
                new Tern.Options(threads, maxDepth + maxLen + 1, 1, modelOptions.cacheType))) {
            if (maxDepth + maxLen + 1 > tern.model().config().contextLength()) {
                throw new TernException("depth " + maxDepth + " + " + maxLen + " tokens exceed the model's context "
                        + tern.model().config().contextLength());
            }
            BenchRunner runner = new BenchRunner(tern, threads, reps, modelOptions.cacheType, bw);
            for (int d : depths) {
                for (int p : prompts) {
                    if (p > 0) {
                        results.add(report(err, runner.prompt(p, d)));
                    }
                }
                for (int n : gens) {
                    if (n > 0) {
                        results.add(report(err, runner.generate(n, d)));
                        if (recompute) {
                            results.add(report(err, runner.generateByRecompute(n, d)));
                        }
                    }
                }
            }
        }
        if (output == Output.json) {
            out.println(json(results));
        } else {
            markdown(out, results, modelOptions.resolvedModel().getFileName().toString());
        }
        return 0;
    }

    private static BenchResult report(PrintWriter err, BenchResult r) {
        err.printf("  %s%s: %.2f ± %.2f tokens/s%n", r.test(), r.mode().equals("cached") ? "" : " (" + r.mode() + ")", r.avgTs(), r.stddevTs());
        return r;
    }

    private static void markdown(PrintWriter out, List<BenchResult> results, String model) {
        out.println("| model | size | params | threads | test | mode | t/s | MB/token | GB/s | % of bandwidth |");
        out.println("|---|---:|---:|---:|---|---|---:|---:|---:|---:|");
        for (BenchResult r : results) {
            boolean decode = r.nGen() > 0;
            out.printf("| %s | %.2f MiB | %.2f M | %d | %s | %s | %.2f ± %.2f | %s | %s | %s |%n", model, r.modelBytes() / 1048576.0,
                    r.parameters() / 1e6, r.nThreads(), r.test(), r.mode(), r.avgTs(), r.stddevTs(),
                    decode ? String.format("%.1f", r.bytesPerToken() / 1e6) : "",
                    decode ? String.format("%.1f", r.gbps()) : "", decode ? String.format("%.0f%%", r.rooflinePct()) : "");
        }
    }

    static String json(List<BenchResult> results) {
        ObjectMapper m = new ObjectMapper();
        ArrayNode arr = m.createArrayNode();
        for (BenchResult r : results) {
            ObjectNode o = arr.addObject();
            o.put("test", r.test());
            o.put("mode", r.mode());
            o.put("n_prompt", r.nPrompt());
            o.put("n_gen", r.nGen());
            o.put("n_depth", r.nDepth());
            o.put("n_threads", r.nThreads());
            o.put("avg_ts", r.avgTs());
            o.put("stddev_ts", r.stddevTs());
            o.put("model_bytes", r.modelBytes());
            o.put("model_n_params", r.parameters());
            if (r.nGen() > 0) {
                o.put("bytes_per_token", r.bytesPerToken());
                o.put("gbps", r.gbps());
                o.put("roofline_pct", r.rooflinePct());
            }
        }
        return arr.toPrettyString();
    }
}
