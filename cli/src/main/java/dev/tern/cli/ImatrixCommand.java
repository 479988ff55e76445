package dev.tern.cli;

import dev.tern.Tern;
import dev.tern.TernException;
import dev.tern.engine.ImportanceCollector;
import dev.tern.gguf.ImportanceMatrix;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
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

    @Override
    public Integer call() {
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

    private void save(ImportanceMatrix m) {
        if (format.equals("dat")) {
            m.writeLegacy(output);
        } else {
            m.write(output);
        }
    }
}
