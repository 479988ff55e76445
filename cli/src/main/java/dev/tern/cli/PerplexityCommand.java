package dev.tern.cli;

import dev.tern.Tern;
import dev.tern.TernException;
import dev.tern.engine.KlDivergence;
import dev.tern.engine.Perplexity;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;

/** {@code tern perplexity}: llama-perplexity's measure on a text file, and its KL divergence against a base model. */
@Command(name = "perplexity", description = "Perplexity of the model on a text file, computed as llama.cpp's llama-perplexity does;"
        + " with --kl-divergence-base FILE it also saves the model's log-probabilities there, and with --kl-divergence it"
        + " compares the model against such a file (as llama-perplexity does: its files and Tern's are interchangeable).")
final class PerplexityCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    ModelOptions modelOptions;

    @Option(names = {"-f", "--file"}, description = "Text file (not with --kl-divergence, which reads the base file's tokens)")
    Path file;

    @Option(names = "--kl-divergence-base", paramLabel = "FILE", description = "Base log-probabilities file: written, or read with --kl-divergence")
    Path base;

    @Option(names = "--kl-divergence", description = "Compare the model with the base file's distributions")
    boolean compare;

    @Override
    public Integer call() {
        if (compare == (file != null)) {
            throw new TernException(compare ? "--kl-divergence reads its tokens from --kl-divergence-base, not -f"
                    : "perplexity needs -f FILE (or --kl-divergence with --kl-divergence-base)");
        }
        if (compare && base == null) {
            throw new TernException("--kl-divergence needs --kl-divergence-base FILE");
        }
        String text = file == null ? null : TextFiles.readAsPrompt(file);
        try (Tern tern = modelOptions.load()) {
            long t0 = System.nanoTime();
            if (compare) {
                print(KlDivergence.compare(tern.model(), tern.engine().workers(), base), spec.commandLine().getOut());
                spec.commandLine().getErr().printf("%.1f s%n", (System.nanoTime() - t0) / 1e9);
                return 0;
            }
            int ctx = modelOptions.chunkSize(tern);
            int[] tokens = tern.tokenizer().encode(text, true, false);
            double ppl = base == null ? Perplexity.perplexity(tern.model(), tern.engine().workers(), tokens, ctx)
                    : KlDivergence.writeBase(tern.model(), tern.engine().workers(), tokens, ctx, base);
            spec.commandLine().getErr().printf("%d tokens, %d chunks of %d, %.1f s%n", tokens.length, tokens.length / ctx, ctx, (System.nanoTime() - t0) / 1e9);
            spec.commandLine().getOut().printf("perplexity: %.4f%n", ppl);
        }
        return 0;
    }

    /** llama-perplexity's KL-divergence report, its last line {@code kld: MEAN}. */
    private static void print(KlDivergence.Result r, PrintWriter out) {
        out.printf("chunks: %d, positions: %d%n", r.chunks(), r.positions());
        out.printf("Mean PPL(Q)           : %10.6f%n", r.perplexity());
        out.printf("Mean ln(PPL(Q)/PPL(base)): %10.6f ± %10.6f%n", r.logPplRatio(), r.logPplRatioError());
        out.printf("Same top p            : %7.3f ± %5.3f %%%n", 100 * r.sameTop(), 100 * r.sameTopError());
        out.printf("Maximum KLD           : %10.6f%n", r.kldPercentile(1));
        out.printf("99.0%%   KLD           : %10.6f%n", r.kldPercentile(0.99));
        out.printf("95.0%%   KLD           : %10.6f%n", r.kldPercentile(0.95));
        out.printf("90.0%%   KLD           : %10.6f%n", r.kldPercentile(0.90));
        out.printf("Median  KLD           : %10.6f%n", r.kldPercentile(0.5));
        out.printf("10.0%%   KLD           : %10.6f%n", r.kldPercentile(0.10));
        out.printf("Minimum KLD           : %10.6f%n", r.kldPercentile(0));
        out.printf("kld: %.6f ± %.6f%n", r.meanKld(), r.meanKldError());
    }
}
