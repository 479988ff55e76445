package dev.tern.cli;

import dev.tern.TernException;
import dev.tern.gguf.GGUFSplit;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** {@code tern gguf-split}: llama.cpp's llama-gguf-split. */
@Command(name = "gguf-split", customSynopsis = "tern gguf-split [--split] [--split-max-tensors N | --split-max-size N(M|G)] [--no-tensor-first-split] [--dry-run] IN OUT_PREFIX%n"
        + "       tern gguf-split --merge [--dry-run] IN-00001-of-0000N.gguf OUT",
        description = "Split a GGUF model into parts (OUT_PREFIX-00001-of-0000N.gguf, ...) as llama-gguf-split does, or merge"
                + " such parts back into one file. Every model command reads a split model from its first part.")
final class GgufSplitCommand implements Callable<Integer> {
    private static final Pattern SIZE = Pattern.compile("(\\d{1,12})([MG])");

    @Spec
    CommandSpec spec;

    static final class Operation {
        @Option(names = "--split", description = "Split IN (the default)")
        boolean split;

        @Option(names = "--merge", description = "Merge the split model whose first part is IN into OUT")
        boolean merge;
    }

    @ArgGroup(exclusive = true)
    Operation operation = new Operation();

    static final class Limit {
        @Option(names = "--split-max-tensors", paramLabel = "N", description = "Most tensors per part (default: 128)")
        Integer tensors;

        @Option(names = "--split-max-size", paramLabel = "N(M|G)", description = "Most tensor bytes per part, in megabytes"
                + " or gigabytes (10^6, 10^9), e.g. 500M or 2G; a tensor larger than that gets a part of its own")
        String size;
    }

    @ArgGroup(exclusive = true)
    Limit limit = new Limit();

    @Option(names = "--no-tensor-first-split", description = "The first part holds the metadata only")
    boolean metadataOnly;

    @Option(names = "--dry-run", description = "Print the plan, write nothing")
    boolean dryRun;

    @Parameters(index = "0", paramLabel = "IN", description = "The model to split, or the first part of the one to merge")
    Path in;

    @Parameters(index = "1", paramLabel = "OUT", description = "The parts' name prefix, or the merged file")
    Path out;

    @Override
    public Integer call() {
        PrintWriter w = spec.commandLine().getOut();
        if (operation.merge) {
            if (limit.tensors != null || limit.size != null || metadataOnly) {
                throw new TernException("--merge takes no --split-max-tensors, --split-max-size or --no-tensor-first-split");
            }
            List<Path> parts = GGUFSplit.merge(in, out, dryRun);
            w.printf("%s %s from %d parts%n", dryRun ? "would merge" : "merged", out, parts.size());
            return 0;
        }
        int maxTensors = limit.tensors == null ? 128 : limit.tensors;
        if (maxTensors < 1) {
            throw new TernException("--split-max-tensors must be at least 1, got " + maxTensors);
        }
        long maxBytes = limit.size == null ? 0 : bytes(limit.size);
        List<GGUFSplit.Part> parts = GGUFSplit.split(in, out, maxTensors, maxBytes, metadataOnly, dryRun);
        w.printf("n_split: %d%n", parts.size());
        for (int i = 0; i < parts.size(); i++) {
            GGUFSplit.Part p = parts.get(i);
            w.printf(Locale.ROOT, "split %05d: n_tensors = %d, tensor bytes = %.1fM%s%n", i + 1, p.tensors().size(), p.bytes() / 1e6,
                    dryRun ? "" : ", " + p.path());
        }
        return 0;
    }

    /** llama-gguf-split's sizes: a whole number of megabytes (M, 10^6 bytes) or gigabytes (G, 10^9). */
    static long bytes(String size) {
        Matcher m = SIZE.matcher(size);
        if (!m.matches() || Long.parseLong(m.group(1)) == 0) {
            throw new TernException("--split-max-size must be a positive whole number followed by M or G, e.g. 500M or 2G; got '" + size + "'");
        }
        return Math.multiplyExact(Long.parseLong(m.group(1)), m.group(2).equals("M") ? 1_000_000L : 1_000_000_000L);
    }
}
