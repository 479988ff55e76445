package dev.tern.cli;

import dev.tern.TernException;
import dev.tern.gguf.QuantMix;
import dev.tern.gguf.RandomModel;
import dev.tern.tensor.GGMLType;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.nio.file.Path;
import java.util.Arrays;
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
    @Option(names = "--type", description = "Weight type, or a llama-quantize mix such as Q4_K_M (default: ${DEFAULT-VALUE})")
    String type = "Q8_0";
    @Option(names = "--tied", description = "Tie the output matrix to the embedding")
    boolean tied;
    @Option(names = "--seed", description = "Seed (default: ${DEFAULT-VALUE})")
    long seed = 42;
    @Option(names = "--arch", description = "llama or qwen3 (default: ${DEFAULT-VALUE})")
    String arch = "llama";
    @Option(names = "--head-dim", description = "Head width (default: dim / heads)")
    int headDim;
    @Option(names = "--reranker", description = "A reranker as Qwen3-Reranker's GGUF (rank pooling, a yes/no head, its template)")
    boolean reranker;

    @Override
    public Integer call() {
        String name = type.toUpperCase();
        RandomModel.Builder b = RandomModel.builder().dim(dim).ffn(ffn).layers(layers).heads(heads).kvHeads(kvHeads).vocab(vocab)
                .context(ctx).tiedOutput(tied).seed(seed).architecture(arch).headDim(headDim).reranker(reranker);
        // a mix of llama-quantize's that is not a tensor type of its own (Q4_K_M, …) is written as it mixes
        if (Arrays.stream(QuantMix.values()).anyMatch(m -> m.name().equals(name))
                && Arrays.stream(GGMLType.values()).noneMatch(t -> t.name().equals(name))) {
            b.mix(QuantMix.valueOf(name));
        } else {
            try {
                b.weightType(GGMLType.valueOf(name));
            } catch (IllegalArgumentException e) {
                throw new TernException("unknown type '" + type + "'");
            }
        }
        long t0 = System.nanoTime();
        b.build().write(out);
        spec.commandLine().getErr().printf("wrote %s in %.1f s%n", out, (System.nanoTime() - t0) / 1e9);
        return 0;
    }
}
