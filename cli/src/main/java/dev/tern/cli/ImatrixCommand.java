package dev.tern.cli;

import dev.tern.Tern;
import dev.tern.TernException;
import dev.tern.engine.ImportanceCollector;
import dev.tern.gguf.ImportanceMatrix;
import dev.tern.gguf.ImportanceStatistics;
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

/** {@code tern imatrix}: llama-imatrix's importance matrix of a model over a calibration text. */
@Command(name = "imatrix", description = "Compute an importance matrix over a text file, as llama-imatrix does,"
        + " for tern quantize --imatrix (and llama-quantize).")
final class ImatrixCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    ModelOptions modelOptions;

    @Option(names = {"-f", "--file"}, description = "Calibration text file")
    Path file;

    @Option(names = "--in-file", paramLabel = "FILE", description = "An importance matrix to add this run's to (or, without -f,"
            + " to merge with the others); repeatable")
    List<Path> inFiles = new ArrayList<>();

    @Option(names = {"-o", "--output"}, description = "Output file (default: ${DEFAULT-VALUE})")
    Path output = Path.of("imatrix.gguf");

    @Option(names = "--chunks", description = "At most this many chunks of -c tokens (default: all)")
    int chunks = Integer.MAX_VALUE;

    @Option(names = "--process-output", description = "Collect the output matrix's inputs too")
    boolean processOutput;

    @Option(names = "--output-format", paramLabel = "gguf|dat", description = "gguf (default) or llama-imatrix's legacy dat")
    String format = "gguf";

    @Option(names = "--show-statistics", description = "Print statistics of the one --in-file matrix per weight and per layer"
            + " (llama-imatrix --show-statistics): layers with cos sim near 1 are the candidates for tern quantize --prune-layers")
    boolean showStatistics;

    @Override
    public Integer call() {
        if (showStatistics) {
            if (inFiles.size() != 1 || file != null) {
                throw new TernException("--show-statistics takes exactly one --in-file and no -f");
            }
            printStatistics(inFiles.getFirst());
            return 0;
        }
        if (file == null && inFiles.isEmpty()) {
            throw new TernException("imatrix needs -f FILE, --in-file FILE, or both");
        }
        if (!format.equals("gguf") && !format.equals("dat")) {
            throw new TernException("--output-format must be gguf or dat, got '" + format + "'");
        }
        List<ImportanceMatrix> parts = new ArrayList<>();
        inFiles.forEach(f -> parts.add(ImportanceMatrix.read(f)));
        if (file == null) {
            ImportanceMatrix merged = ImportanceMatrix.merge(parts, modelOptions.contextSize > 0 ? modelOptions.contextSize : 512);
            save(merged);
            spec.commandLine().getErr().printf("merged %d files, %d entries; wrote %s%n", parts.size(), merged.entries().size(), output);
            return 0;
        }
        String text = TextFiles.readAsPrompt(file);
        try (Tern tern = modelOptions.load()) {
            int ctx = modelOptions.chunkSize(tern);
            int[] tokens = tern.tokenizer().encode(text, true, false);
            long t0 = System.nanoTime();
            ImportanceCollector.Result r = ImportanceCollector.collect(tern.model(), tern.engine().workers(), tokens, ctx,
                    chunks, processOutput, file.toString());
            parts.add(r.matrix());
            save(ImportanceMatrix.merge(parts, ctx));
            spec.commandLine().getErr().printf("%d chunks of %d tokens, %d entries, %.1f s; wrote %s%n", r.chunks(), ctx,
                    r.matrix().entries().size(), (System.nanoTime() - t0) / 1e9, output);
            spec.commandLine().getOut().printf("perplexity: %.4f%n", r.perplexity());
        }
        return 0;
    }

    private void printStatistics(Path in) {
        ImportanceMatrix m = ImportanceMatrix.read(in);
        List<ImportanceStatistics.Tensor> tensors = ImportanceStatistics.tensors(m);
        PrintWriter out = spec.commandLine().getOut();
        out.printf("%s: %d weights, %d chunks of %d tokens%n%n", in, tensors.size(), m.chunkCount(), m.chunkSize());
        out.printf("%5s  %-16s %12s %11s %11s %11s %11s %7s %6s %8s %8s %7s %8s%n", "layer", "weight", "sum(E[x2])", "min", "max",
                "mean", "std dev", "active", "n", "entropy", "E (norm)", "ZD", "cos sim");
        for (ImportanceStatistics.Tensor t : tensors) {
            out.printf(Locale.ROOT, "%5s  %-16s %12.4f %11.4g %11.4g %11.4g %11.4g %6.2f%% %6d %8.4f %7.2f%% %6.2f%% %8s%n",
                    t.layer() < 0 ? "-" : Integer.toString(t.layer()), shortName(t.name()), t.sum(), t.min(), t.max(), t.mean(), t.stdDev(),
                    100 * t.active(), t.n(), t.entropy(), 100 * t.normalizedEntropy(), 100 * t.zdScore(), cos(t.cosSim()));
        }
        out.printf("%n%5s %14s %8s %8s%n", "layer", "sum(E[x2])", "mean ZD", "cos sim");
        for (ImportanceStatistics.Layer l : ImportanceStatistics.layers(tensors)) {
            out.printf(Locale.ROOT, "%5d %14.4f %7.2f%% %8s%n", l.layer(), l.sum(), 100 * l.zdScore(), cos(l.cosSim()));
        }
    }

    /** blk.3.attn_q.weight as attn_q, as llama-imatrix's table names them. */
    private static String shortName(String name) {
        String s = name.replaceFirst("^blk\\.\\d+\\.", "");
        return s.endsWith(".weight") ? s.substring(0, s.length() - ".weight".length()) : s;
    }

    private static String cos(double c) {
        return Double.isNaN(c) ? "-" : String.format(Locale.ROOT, "%.4f", c);
    }

    private void save(ImportanceMatrix m) {
        if (format.equals("dat")) {
            m.writeLegacy(output);
        } else {
            m.write(output);
        }
    }
}
