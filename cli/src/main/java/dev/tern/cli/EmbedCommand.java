package dev.tern.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import dev.tern.Tern;
import dev.tern.engine.EmbeddingNorm;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.util.List;
import java.util.concurrent.Callable;

/** {@code tern embed}: the embedding of each TEXT, one JSON array per line (as the server's /v1/embeddings). */
@Command(name = "embed", description = "Print the embedding of each TEXT as a JSON array of floats, one per line:"
        + " final hidden states pooled as the model says (Qwen3-Embedding: last token; else mean), at unit length"
        + " unless --embd-normalize says otherwise.")
final class EmbedCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    ModelOptions modelOptions;

    @Parameters(arity = "1..*", description = "The texts")
    List<String> texts;

    @Option(names = "--embd-normalize", description = "As llama-embedding's: -1 none, 0 largest magnitude 32760 (int16),"
            + " 1 taxicab, 2 Euclidean, p > 2 that p-norm (default: ${DEFAULT-VALUE})")
    int normalize = EmbeddingNorm.EUCLIDEAN;

    @Override
    public Integer call() {
        ObjectMapper json = new ObjectMapper();
        EmbeddingNorm.check(normalize);
        try (Tern tern = modelOptions.load()) {
            List<int[]> inputs = texts.stream().map(text -> tern.tokenizer().encode(text, true, false)).toList();
            for (float[] embedding : tern.embed(inputs, normalize)) {
                ArrayNode a = json.createArrayNode();
                for (float v : embedding) {
                    a.add(v);
                }
                spec.commandLine().getOut().println(a);
            }
        }
        return 0;
    }
}
