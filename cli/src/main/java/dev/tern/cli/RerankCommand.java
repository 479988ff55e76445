package dev.tern.cli;

import dev.tern.Tern;
import dev.tern.TernException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.stream.IntStream;

/** {@code tern rerank}: each DOCUMENT's relevance to QUERY by a reranking model, best first (as the server's /v1/rerank). */
@Command(name = "rerank", description = "Score each DOCUMENT's relevance to QUERY with a reranking model (Qwen3-Reranker):"
        + " one line per document, best first: the score, a tab, the document's index, a tab, the document.")
final class RerankCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    ModelOptions modelOptions;

    @Parameters(index = "0", description = "The query")
    String query;

    @Parameters(index = "1..*", arity = "1..*", description = "The documents")
    List<String> documents;

    @Option(names = "--top-n", description = "Only the best N documents (default: all)")
    Integer topN;

    @Override
    public Integer call() {
        if (topN != null && topN < 0) {
            throw new TernException("--top-n must be 0 or more, got " + topN);
        }
        try (Tern tern = modelOptions.load()) {
            float[] scores = tern.rerank(documents.stream().map(d -> tern.rerankTokens(query, d)).toList());
            IntStream.range(0, scores.length).boxed().sorted((a, b) -> Float.compare(scores[b], scores[a]))
                    .limit(topN == null ? scores.length : topN)
                    .forEach(i -> spec.commandLine().getOut().printf(Locale.ROOT, "%.6f\t%d\t%s%n", scores[i], i,
                            documents.get(i).replace('\n', ' ')));
        }
        return 0;
    }
}
