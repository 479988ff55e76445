package dev.tern;

import dev.tern.gguf.GGUFFile;
import dev.tern.gguf.RandomModel;
import dev.tern.model.NaiveTransformer;
import dev.tern.testing.Fixtures;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.IntStream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Reranking (rank pooling with a classification head, as llama.cpp's converter writes Qwen3-Reranker):
 * each pair's score against the naive transformer's last hidden state times the file's two head rows,
 * through a softmax computed here in double.
 */
class RerankTest {
    private static final String QUERY = "what does a cat eat";
    private static final String[] DOCUMENTS = {"A cat eats fish and mice.", "The sun is a star.", "Cats like milk.",
            "Trains run on rails, far away from here, for hours and hours.", "?"};
    @TempDir
    static Path dir;
    private static Path reranker;

    @BeforeAll
    static void write() {
        reranker = dir.resolve("reranker.gguf");
        RandomModel.builder().architecture("qwen3").dim(64).ffn(128).layers(2).heads(4).kvHeads(2).vocab(300).context(1024)
                .std(0.2f).seed(11).reranker(true).build().write(reranker);
    }

    /** The file's cls.output rows, read by the GGUF reader alone. */
    private static double[][] head() {
        try (GGUFFile f = GGUFFile.open(reranker)) {
            float[] w = dev.tern.tensor.Tensor.of(f, f.tensor("cls.output.weight")).toFloats();
            double[][] rows = new double[2][64];
            for (int i = 0; i < 128; i++) {
                rows[i / 64][i % 64] = w[i];
            }
            return rows;
        }
    }

    @Test
    void scoresAreTheProbabilityOfTheFirstLabelOnTheLastTokensState() {
        double[][] head = head();
        try (Tern tern = Tern.load(reranker)) {
            assertTrue(tern.reranks());
            NaiveTransformer naive = new NaiveTransformer(tern.model());
            List<int[]> pairs = new ArrayList<>();
            for (String d : DOCUMENTS) {
                pairs.add(tern.rerankTokens(QUERY, d));
            }
            float[] scores = tern.rerank(pairs);
            assertEquals(DOCUMENTS.length, scores.length);
            double lowest = 1, highest = 0;
            for (int i = 0; i < DOCUMENTS.length; i++) {
                double[][] h = naive.finalHidden(pairs.get(i));
                double[] last = h[h.length - 1];
                double yes = 0, no = 0;
                for (int j = 0; j < last.length; j++) {
                    yes += head[0][j] * last[j];
                    no += head[1][j] * last[j];
                }
                double want = 1 / (1 + Math.exp(no - yes));
                assertEquals(want, scores[i], 1e-4, DOCUMENTS[i]);
                lowest = Math.min(lowest, want);
                highest = Math.max(highest, want);
            }
            assertTrue(highest - lowest > 0.01, "the pairs score apart: " + lowest + " to " + highest);
            // one at a time as all together
            assertEquals(scores[2], tern.rerank(List.of(pairs.get(2)))[0], 1e-6f);
        }
    }

    /** llama-server's layout: the rerank template with the query and document in place, tokenized without BOS. */
    @Test
    void pairsAreLaidOutByTheRerankTemplate() {
        try (Tern tern = Tern.load(reranker)) {
            int[] tokens = tern.rerankTokens("Q?", "D.");
            String text = tern.tokenizer().decode(tokens);
            assertTrue(text.contains("<Query>: Q?\n<Document>: D.<|im_end|>"), text);
            assertTrue(text.startsWith("<|im_start|>system\nJudge whether the Document"), text);
            assertTrue(text.endsWith("<|im_start|>assistant\n<think>\n\n</think>\n\n"), text);
            assertFalse(tokens[0] == tern.tokenizer().bos(), "no BOS of its own");
        }
    }

    /** Without a rerank template: BOS, query, then the document, as the vocabulary adds specials (no EOS here). */
    @Test
    void withoutATemplatePairsAreQueryThenDocumentAndOtherModelsRefuse() {
        try (Tern tern = Tern.load(Fixtures.stories260K("stories260K-f32.gguf"))) {
            assertFalse(tern.reranks());
            int[] q = tern.tokenizer().encode("a cat", false, false), d = tern.tokenizer().encode("a dog", false, false);
            int[] want = IntStream.concat(IntStream.concat(IntStream.of(tern.tokenizer().bos()), IntStream.of(q)), IntStream.of(d))
                    .toArray();
            assertFalse(tern.tokenizer().addEos());
            assertArrayEquals(want, tern.rerankTokens("a cat", "a dog"));
            TernException e = assertThrows(TernException.class, () -> tern.rerank(List.of(want)));
            assertTrue(e.getMessage().contains("does not rerank"), e.getMessage());
        }
    }
}
