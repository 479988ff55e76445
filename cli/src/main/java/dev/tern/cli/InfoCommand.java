package dev.tern.cli;

import dev.tern.gguf.GGUFFile;
import dev.tern.gguf.ImportanceMatrix;
import dev.tern.gguf.GGUFTensorInfo;
import dev.tern.gguf.MetadataValue;
import dev.tern.gguf.QuantMix;
import dev.tern.tensor.GGMLType;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Option;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;

/** {@code tern info}: what a GGUF file holds, without loading the model. */
@Command(name = "info", description = "Show architecture, shapes, tensor types, tokenizer and size of a GGUF model.")
final class InfoCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = {"-m", "--model"}, description = "GGUF file (default: stories260K)")
    Path model;

    @Option(names = "--tensors", description = "List every tensor")
    boolean listTensors;

    @Override
    public Integer call() {
        Path path = ModelLocator.resolve(model);
        PrintWriter out = spec.commandLine().getOut();
        try (GGUFFile f = GGUFFile.open(path)) {
            String arch = f.getString("general.architecture", "?");
            out.printf("file:          %s (GGUF v%d, %.2f MiB%s)%n", path, f.version(), f.fileSize() / 1048576.0,
                    f.parts().size() > 1 ? " in " + f.parts().size() + " parts" : "");
            if (f.getString("general.type", "").equals("imatrix")) {
                ImportanceMatrix m = ImportanceMatrix.read(path);
                out.printf("imatrix:       %d weights, %d chunks of %d tokens, from %s%n", m.entries().size(), m.chunkCount(),
                        m.chunkSize(), String.join(", ", m.datasets()));
                return 0;
            }
            out.printf("name:          %s%n", f.getString("general.name", "?"));
            out.printf("architecture:  %s%n", arch);
            if (f.has("general.file_type")) {
                out.printf("file type:     %s%n", QuantMix.fileTypeName(f.getInt("general.file_type")));
            }
            for (String key : new String[]{"context_length", "embedding_length", "feed_forward_length", "block_count",
                    "attention.head_count", "attention.head_count_kv", "rope.freq_base", "attention.layer_norm_rms_epsilon",
                    "pooling_type"}) {
                MetadataValue v = f.metadata().get(arch + "." + key);
                if (v != null) {
                    out.printf("%-14s %s%n", key.substring(key.lastIndexOf('.') + 1) + ":", v);
                }
            }
            out.printf("tokenizer:     %s (pre: %s), %d tokens%n", f.getString("tokenizer.ggml.model", "none"),
                    f.getString("tokenizer.ggml.pre", "default"),
                    f.has("tokenizer.ggml.tokens") ? f.metadata().get("tokenizer.ggml.tokens").length() : 0);
            out.printf("chat template: %s%n", f.has("tokenizer.chat_template") ? "yes" : "no");
            if (f.has("quantize.imatrix.entries_count")) {
                out.printf("imatrix:       %s (%d weights, %d chunks, from %s)%n", f.getString("quantize.imatrix.file", "?"),
                        f.getInt("quantize.imatrix.entries_count"), f.getInt("quantize.imatrix.chunks_count", 0),
                        f.getString("quantize.imatrix.dataset", "?"));
            }
            Map<GGMLType, long[]> byType = new TreeMap<>();
            long params = 0;
            for (GGUFTensorInfo t : f.tensors()) {
                long[] acc = byType.computeIfAbsent(t.type(), k -> new long[2]);
                acc[0]++;
                acc[1] += t.byteSize();
                params += t.elementCount();
            }
            out.printf("tensors:       %d, %,d parameters%n", f.tensors().size(), params);
            byType.forEach((type, acc) -> out.printf("  %-6s %4d tensors %10.2f MiB%n", type, acc[0], acc[1] / 1048576.0));
            if (listTensors) {
                for (GGUFTensorInfo t : f.tensors()) {
                    out.println("  " + t);
                }
            }
        }
        return 0;
    }
}
