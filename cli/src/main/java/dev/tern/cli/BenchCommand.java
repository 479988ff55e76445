package dev.tern.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tern.Tern;
import dev.tern.TernException;
import dev.tern.cli.bench.BenchResult;
import dev.tern.cli.bench.BenchRunner;
import dev.tern.cli.bench.CpuInfo;
import dev.tern.cli.bench.MemoryBandwidth;
import dev.tern.cli.bench.Stats;
import dev.tern.engine.GenerationResult;
import dev.tern.engine.Generator;
import dev.tern.engine.Session;
import dev.tern.sampling.Sampler;
import dev.tern.sampling.SamplerConfig;
import dev.tern.spec.Proposer;
import dev.tern.spec.SpeculativeGenerator;
import dev.tern.spec.SpeculativeResult;
import dev.tern.tensor.Aligned;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
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

    @Option(names = {"-pg", "--n-prompt-gen"}, paramLabel = "P,N", description = "Prompt then generation, as llama-bench's:"
            + " P prompt tokens in one batch, then N generated, tokens/s over both; repeatable")
    List<String> promptGens = List.of();

    @Option(names = {"-r", "--repetitions"}, description = "Timed repetitions per test (default: ${DEFAULT-VALUE})")
    int reps = 5;

    @Option(names = "--warmup", description = "Seconds of untimed running before each test, at least one run (default: ${DEFAULT-VALUE})")
    double warmUpSeconds = BenchRunner.DEFAULT_WARM_UP_SECONDS;

    @Option(names = {"-o", "--output"}, description = "md or json (default: ${DEFAULT-VALUE})")
    Output output = Output.md;

    @Option(names = "--recompute", description = "Also time generation by recomputing the whole sequence every step (no KV cache)")
    boolean recompute;

    @Mixin
    SpeculationOptions speculation;

    @Option(names = "--prompt", description = "With --spec/--draft-model: the prompt greedy generation starts from (default: ${DEFAULT-VALUE})")
    String prompt = "Once upon a time";

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
        if (!(warmUpSeconds >= 0)) {
            throw new TernException("--warmup must be a number of seconds, 0 or more");
        }
        if (membwOnly) {
            out.printf("cpu: %s%n", CpuInfo.detect().describe(Runtime.getRuntime().availableProcessors()));
            for (int t : threads == 1 ? new int[]{1} : new int[]{1, threads}) {
                out.printf("memory read bandwidth, %d thread%s: %.1f GB/s%n", t, t == 1 ? "" : "s",
                        MemoryBandwidth.measure(1L << 30, t, 10) / 1e9);
            }
            return 0;
        }
        if (Aligned.OFFSET == 0) {
            err.println("note: this JVM does not align arrays to cache lines (-XX:ObjectAlignmentInBytes=64, as ./tern "
                    + "passes): batched matmuls run slower than they can");
        }
        List<int[]> pgs = promptGens.stream().map(BenchCommand::promptGen).toList();
        int maxDepth = depths.stream().mapToInt(Integer::intValue).max().orElse(0);
        int maxLen = Math.max(Math.max(prompts.stream().mapToInt(Integer::intValue).max().orElse(0),
                gens.stream().mapToInt(Integer::intValue).max().orElse(0)), pgs.stream().mapToInt(pg -> pg[0] + pg[1]).max().orElse(0));
        List<BenchResult> results = new ArrayList<>();
        CpuInfo cpu = CpuInfo.detect();
        Path model = modelOptions.resolvedModel();
        // Measured before the model loads (a missing file has failed by now): after a load with
        // --mlock the JIT recompiled these reads, shared JDK code polluted by the load's segment
        // accesses, and they ran at 12–13 GB/s against 33–40 in the same process before it.
        double bw = MemoryBandwidth.measure(1L << 30, threads, 10);
        try (Tern tern = Tern.load(model, modelOptions.tokenizer,
                modelOptions.options(threads, speculation.enabled() ? Math.max(0, modelOptions.contextSize) : maxDepth + maxLen + 1, 1,
                        null))) {
            if (!speculation.enabled() && maxDepth + maxLen + 1 > tern.model().config().contextLength()) {
                throw new TernException("depth " + maxDepth + " + " + maxLen + " tokens exceed the model's context "
                        + tern.model().config().contextLength());
            }
            err.printf("cpu: %s%n", cpu.describe(Runtime.getRuntime().availableProcessors()));
            err.printf("memory read bandwidth with %d threads: %.1f GB/s%n", threads, bw / 1e9);
            BenchRunner runner = new BenchRunner(tern, threads, reps, bw, warmUpSeconds);
            if (speculation.enabled()) {
                speculative(tern, runner, out, err);
                return 0;
            }
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
                for (int[] pg : pgs) {
                    results.add(report(err, runner.promptThenGenerate(pg[0], pg[1], d)));
                }
            }
        }
        if (output == Output.json) {
            out.println(json(results, cpu));
        } else {
            markdown(out, results, modelOptions.resolvedModel().getFileName().toString());
        }
        return 0;
    }

    /**
     * Greedy generation of -n tokens from --prompt, alone and with speculation, alternated for
     * -r repetitions; plus the cost of one verify pass of draft-max + 1 tokens.
     */
    private void speculative(Tern tern, BenchRunner runner, PrintWriter out, PrintWriter err) {
        int n = gens.getFirst();
        int[] ids = tern.tokenizer().encode(prompt, true, false);
        if (ids.length + n > tern.contextSize()) {
            throw new TernException("prompt + -n " + n + " exceed the context " + tern.contextSize());
        }
        double[] plain = new double[reps];
        double[] spec = new double[reps];
        double acceptance = 0;
        double perPass = 0;
        double proposeMs = 0, verifyMs = 0, plainMs = 0;
        runner.warmUp(() -> {
            plainRun(tern, ids, n);
            speculativeRun(tern, ids, n);
        });
        for (int r = 0; r < reps; r++) {
            GenerationResult g = plainRun(tern, ids, n);
            plain[r] = g.timings().predictedPerSecond();
            plainMs += g.timings().predictedMs() / reps;
            SpeculativeResult sr = speculativeRun(tern, ids, n);
            spec[r] = sr.generation().timings().predictedPerSecond();
            acceptance += sr.stats().acceptanceRate() / reps;
            perPass += sr.stats().tokensPerPass() / reps;
            proposeMs += sr.stats().proposeMs() / reps;
            verifyMs += sr.stats().verifyMs() / reps;
        }
        int k = speculation.draftMax + 1;
        // The growth with width is what decides how long a proposal pays off.
        List<Integer> widths = new ArrayList<>();
        for (int w = 2; w < k; w *= 2) {
            widths.add(w);
        }
        widths.add(k);
        double[] costs = runner.verifyCosts(widths.stream().mapToInt(Integer::intValue).toArray(), ids.length);
        double cost = costs[costs.length - 1];
        Stats a = Stats.of(plain);
        Stats b = Stats.of(spec);
        out.printf("| mode | tokens | t/s | acceptance | tokens per target pass |%n|---|---:|---:|---:|---:|%n");
        out.printf("| plain | %d | %.2f ± %.2f | | |%n", n, a.mean(), a.stddev());
        out.printf("| %s | %d | %.2f ± %.2f | %.1f%% | %.2f |%n", speculation.mode(), n, b.mean(), b.stddev(), 100 * acceptance, perPass);
        // On a shared machine one slow run moves the ratio of the means; each repetition runs both, so
        // the median of the pairs' ratios is printed beside it.
        double[] ratios = new double[reps];
        for (int r = 0; r < reps; r++) {
            ratios[r] = spec[r] / plain[r];
        }
        out.printf("%nspeed-up: %.2fx (median of the %d paired runs: %.2fx); one verify pass of %d tokens costs %.2fx one decode step%n",
                b.mean() / a.mean(), reps, Stats.median(ratios), k, cost);
        out.printf(Locale.ROOT, "time per run: plain %.1f ms; speculative %.1f ms proposing + %.1f ms in target passes%n",
                plainMs, proposeMs, verifyMs);
        List<String> curve = new ArrayList<>();
        for (int i = 0; i < costs.length; i++) {
            curve.add(String.format(Locale.ROOT, "%d tokens %.2fx", widths.get(i), costs[i]));
        }
        out.println("verify pass cost by width: " + String.join(", ", curve));
    }

    private static GenerationResult plainRun(Tern tern, int[] ids, int n) {
        try (Session s = tern.newSession()) {
            return Generator.generate(s, tern.tokenizer(), ids,
                    new Sampler(SamplerConfig.greedy(), tern.tokenizer().vocabSize()), n, (id, text) -> true);
        }
    }

    private SpeculativeResult speculativeRun(Tern tern, int[] ids, int n) {
        try (Session s = tern.newSession();
             Proposer proposer = speculation.proposer(tern, SamplerConfig.greedy(), modelOptions.cacheType())) {
            return SpeculativeGenerator.generate(s, tern.tokenizer(), ids,
                    new Sampler(SamplerConfig.greedy(), tern.tokenizer().vocabSize()), proposer, speculation.lengths(), n,
                    (id, text) -> true);
        }
    }

    /** -pg's "P,N": two positive counts. */
    private static int[] promptGen(String value) {
        String[] f = value.split(",");
        try {
            if (f.length == 2) {
                int p = Integer.parseInt(f[0].trim()), n = Integer.parseInt(f[1].trim());
                if (p > 0 && n > 0) {
                    return new int[]{p, n};
                }
            }
        } catch (NumberFormatException e) {
            // The message below says what is expected.
        }
        throw new TernException("-pg takes two positive counts, prompt and generation, as 512,128; got '" + value + "'");
    }

    private static BenchResult report(PrintWriter err, BenchResult r) {
        err.printf("  %s%s: %.2f ± %.2f tokens/s%n", r.test(), r.mode().equals("cached") ? "" : " (" + r.mode() + ")", r.avgTs(), r.stddevTs());
        return r;
    }

    private static void markdown(PrintWriter out, List<BenchResult> results, String model) {
        out.println("| model | size | params | threads | test | mode | t/s | MB/token | GB/s | % of bandwidth |");
        out.println("|---|---:|---:|---:|---|---|---:|---:|---:|---:|");
        for (BenchResult r : results) {
            boolean decode = r.decode();
            out.printf("| %s | %.2f MiB | %.2f M | %d | %s | %s | %.2f ± %.2f | %s | %s | %s |%n", model, r.modelBytes() / 1048576.0,
                    r.parameters() / 1e6, r.nThreads(), r.test(), r.mode(), r.avgTs(), r.stddevTs(),
                    decode ? String.format("%.1f", r.bytesPerToken() / 1e6) : "",
                    decode ? String.format("%.1f", r.gbps()) : "", decode ? String.format("%.0f%%", r.rooflinePct()) : "");
        }
    }

    static String json(List<BenchResult> results, CpuInfo cpu) {
        ObjectMapper m = new ObjectMapper();
        ArrayNode arr = m.createArrayNode();
        for (BenchResult r : results) {
            ObjectNode o = arr.addObject();
            o.put("cpu_info", cpu.name());
            o.put("vector_bits", cpu.vectorBits());
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
            if (r.decode()) {
                o.put("bytes_per_token", r.bytesPerToken());
                o.put("gbps", r.gbps());
                o.put("roofline_pct", r.rooflinePct());
            }
        }
        return arr.toPrettyString();
    }
}
