package dev.tern.engine;

import dev.tern.TernException;
import dev.tern.gguf.GGUFFile;
import dev.tern.gguf.ImportanceMatrix;
import dev.tern.model.Model;
import dev.tern.model.WorkerPool;
import dev.tern.tensor.Tensor;
import dev.tern.testing.Fixtures;
import dev.tern.tokenizer.Tokenizer;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The importance matrix of stories260K over the GPL's text. The first layer's q/k/v input is the
 * RMS-normalised token embedding, which the test computes on its own from the file's tensors: its
 * squares and values summed over the chunks' tokens (each chunk's first replaced by BOS, as
 * llama-imatrix does) must be the matrix's.
 */
class ImportanceCollectorTest {
    private static final int CTX = 64, CHUNKS = 5;

    private static int[] tokens(Path model) throws IOException {
        String text = Files.readString(Fixtures.stories260K("reference/gpl3-12k.txt"));
        try (GGUFFile f = GGUFFile.open(model)) {
            return Tokenizer.fromGGUF(f).encode(text, true, false);
        }
    }

    @Test
    void firstLayerInputsMatchAnIndependentComputation() throws IOException {
        Path file = Fixtures.stories260K("stories260K-f32.gguf");
        int[] tokens = tokens(file);
        ImportanceMatrix m;
        try (Model model = Model.load(file); WorkerPool pool = new WorkerPool(2)) {
            m = ImportanceCollector.collect(model, pool, tokens, CTX, CHUNKS, false, "gpl3").matrix();
        }
        int layers = 5;
        List<String> expectedNames = new ArrayList<>();
        for (int l = 0; l < layers; l++) {
            for (String w : new String[]{"attn_k", "attn_output", "attn_q", "attn_v", "ffn_down", "ffn_gate", "ffn_up"}) {
                expectedNames.add("blk." + l + "." + w + ".weight");
            }
        }
        assertEquals(expectedNames.stream().sorted().toList(), List.copyOf(m.entries().keySet()));
        for (ImportanceMatrix.Entry e : m.entries().values()) {
            assertArrayEquals(new float[]{CHUNKS * CTX}, e.counts());
        }
        assertEquals(172, m.entries().get("blk.3.ffn_down.weight").sumSquares().length);
        assertEquals(CHUNKS, m.chunkCount());
        assertEquals(CTX, m.chunkSize());
        assertEquals(List.of("gpl3"), m.datasets());

        double[][] expected = normalisedEmbeddingSums(file, tokens);
        ImportanceMatrix.Entry q = m.entries().get("blk.0.attn_q.weight");
        for (int j = 0; j < 64; j++) {
            assertEquals(expected[0][j], q.sumSquares()[j], 1e-4 * expected[0][j], "sum of squares, column " + j);
            assertEquals(expected[1][j], q.sums()[j], 1e-3 * Math.sqrt(expected[0][j]), "sum, column " + j);
        }
        // k and v read the same input
        assertArrayEquals(q.sumSquares(), m.entries().get("blk.0.attn_k.weight").sumSquares());
        assertArrayEquals(q.sumSquares(), m.entries().get("blk.0.attn_v.weight").sumSquares());
        float[] w = m.importance("blk.0.attn_q.weight");
        assertEquals(q.sumSquares()[7] / (CHUNKS * CTX), w[7]);
    }

    /**
     * Against llama.cpp's own importance matrix of the same model, text and chunks (its compiled libraries
     * running llama-imatrix's procedure; the resource's header says how): the same weights, the same token
     * counts, and the sums of squares within 0.1% per column and 0.01% in total. The products' inputs differ
     * only by float rounding (llama.cpp's own CPU variants differ at the 1e-5 level).
     */
    @Test
    void matchesLlamaImatrix() throws IOException {
        Path file = Fixtures.stories260K("stories260K-f32.gguf");
        ImportanceMatrix m;
        try (Model model = Model.load(file); WorkerPool pool = new WorkerPool(2)) {
            m = ImportanceCollector.collect(model, pool, tokens(file), 128, Integer.MAX_VALUE, false, "gpl3").matrix();
        }
        assertEquals(58, m.chunkCount());
        List<String> lines;
        try (var in = ImportanceCollectorTest.class.getResourceAsStream("llama-imatrix-stories260K.txt")) {
            lines = new String(in.readAllBytes()).lines().filter(l -> !l.startsWith("#")).toList();
        }
        assertEquals(lines.size(), m.entries().size());
        for (String line : lines) {
            String[] f = line.split(" ");
            ImportanceMatrix.Entry e = m.entries().get(f[0]);
            assertNotNull(e, f[0]);
            assertEquals(Float.parseFloat(f[1]), e.counts()[0], f[0]);
            double total = 0;
            for (float v : e.sumSquares()) {
                total += v;
            }
            double expectedTotal = Double.parseDouble(f[2]);
            assertEquals(expectedTotal, total, 1e-4 * expectedTotal, f[0]);
            for (int j = 0; j < 16; j++) {
                double expected = Double.parseDouble(f[3 + j]);
                assertEquals(expected, e.sumSquares()[j], 1e-3 * expected, f[0] + " column " + j);
            }
        }
    }

    /** Σ x² and Σ x of RMSNorm(embedding)·attn_norm over the chunks' tokens, in double, from the file alone. */
    private static double[][] normalisedEmbeddingSums(Path file, int[] tokens) {
        try (GGUFFile f = GGUFFile.open(file)) {
            Tensor embedding = Tensor.of(f, f.tensor("token_embd.weight"));
            float[] norm = Tensor.of(f, f.tensor("blk.0.attn_norm.weight")).toFloats();
            float eps = f.getFloat("llama.attention.layer_norm_rms_epsilon");
            int dim = embedding.cols();
            double[][] sums = new double[2][dim];
            float[] x = new float[dim];
            for (int c = 0; c < CHUNKS; c++) {
                for (int i = 0; i < CTX; i++) {
                    int token = i == 0 ? tokens[0] : tokens[c * CTX + i];
                    embedding.dequantizeRow(token, x, 0);
                    double ss = 0;
                    for (float v : x) {
                        ss += (double) v * v;
                    }
                    double scale = 1 / Math.sqrt(ss / dim + eps);
                    for (int j = 0; j < dim; j++) {
                        double y = x[j] * scale * norm[j];
                        sums[0][j] += y * y;
                        sums[1][j] += y;
                    }
                }
            }
            return sums;
        }
    }

    @Test
    void outputMatrixOnlyWhenAsked() throws IOException {
        Path file = Fixtures.stories15M("stories15M-distilled-f32.gguf");
        int[] tokens = tokens(file);
        try (Model model = Model.load(file); WorkerPool pool = new WorkerPool(2)) {
            ImportanceMatrix without = ImportanceCollector.collect(model, pool, tokens, 32, 2, false, "t").matrix();
            ImportanceMatrix with = ImportanceCollector.collect(model, pool, tokens, 32, 2, true, "t").matrix();
            assertFalse(without.entries().containsKey("output.weight"));
            // every position's logits, so the output matrix counts the chunks' every token
            assertArrayEquals(new float[]{64}, with.entries().get("output.weight").counts());
            assertEquals(without.entries().size() + 1, with.entries().size());
        }
    }

    @Test
    void refusesWhatLlamaImatrixRefuses() throws IOException {
        Path file = Fixtures.stories260K("stories260K-f32.gguf");
        int[] tokens = tokens(file);
        try (Model model = Model.load(file); WorkerPool pool = new WorkerPool(1)) {
            assertTrue(assertThrows(TernException.class, () -> ImportanceCollector.collect(model, pool, tokens, 8, 1, false, "t"))
                    .getMessage().contains("at least 16"));
            int[] short_ = java.util.Arrays.copyOf(tokens, 100);
            assertTrue(assertThrows(TernException.class, () -> ImportanceCollector.collect(model, pool, short_, 64, 9, false, "t"))
                    .getMessage().contains("at least 128 tokens"));
        }
        // llama2.c checkpoints name their weights otherwise: refused before any chunk runs
        try (Model model = Model.load(Fixtures.stories260K("stories260K.bin")); WorkerPool pool = new WorkerPool(1)) {
            assertTrue(assertThrows(TernException.class, () -> ImportanceCollector.collect(model, pool, tokens, 64, 2, false, "t"))
                    .getMessage().contains("needs a GGUF model"));
        }
    }
}
