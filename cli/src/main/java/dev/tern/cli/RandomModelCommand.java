package dev.tern.cli;

import dev.tern.TernException;
import dev.tern.gguf.RandomModel;
import dev.tern.tensor.GGMLType;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.nio.file.Path;
import java.util.concurrent.Callable;

/** {@code tern random-model}: a Llama GGUF of any shape with random weights, for benchmarks. */
@Command(name = "random-model", description = "Write a Llama model with random weights (for benchmarks of real size).")
final class RandomModelCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Parameters(index = "0", description = "Output GGUF")
    Path out;

    @Option(names = "--dim", description = "Embedding size (default: ${DEFAULT-VALUE})")
    int dim = 2048;
    @Option(names = "--ffn", description = "Feed-forward size (default: ${DEFAULT-VALUE})")
    int ffn = 8192;
    @Option(names = "--layers", description = "Layers (default: ${DEFAULT-VALUE})")
    int layers = 16;
    @Option(names = "--heads", description = "Attention heads (default: ${DEFAULT-VALUE})")
    int heads = 32;
    @Option(names = "--kv-heads", description = "KV heads (default: ${DEFAULT-VALUE})")
    int kvHeads = 8;
    @Option(names = "--vocab", description = "Vocabulary size (default: ${DEFAULT-VALUE})")
    int vocab = 32000;
    @Option(names = "--ctx", description = "Context length (default: ${DEFAULT-VALUE})")
    int ctx = 4096;
    @Option(names = "--type", description = "Weight type (default: ${DEFAULT-VALUE})")
    String type = "Q8_0";
    @Option(names = "--tied", description = "Tie the output matrix to the embedding")
    boolean tied;
    @Option(names = "--seed", description = "Seed (default: ${DEFAULT-VALUE})")
    long seed = 42;
    @Option(names = "--arch", description = "llama or qwen3 (default: ${DEFAULT-VALUE})")
    String arch = "llama";
    @Option(names = "--head-dim", description = "Head width (default: dim / heads)")
    int headDim;

    @Override
    public Integer call() {
        GGMLType t;
        try {
            t = GGMLType.valueOf(type.toUpperCase());
        } catch (IllegalArgumentException e) {
            throw new TernException("unknown type '" + type + "'");
        }
        long t0 = System.nanoTime();
        RandomModel.builder().dim(dim).ffn(ffn).layers(layers).heads(heads).kvHeads(kvHeads).vocab(vocab).context(ctx)
                .weightType(t).tiedOutput(tied).seed(seed).architecture(arch).headDim(headDim).build().write(out);
        spec.commandLine().getErr().printf("wrote %s in %.1f s%n", out, (System.nanoTime() - t0) / 1e9);
        return 0;
    }
}
