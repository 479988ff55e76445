package dev.tern.gguf;

import dev.tern.Tern;
import dev.tern.TernException;
import dev.tern.engine.Session;
import dev.tern.kv.KVCacheType;
import dev.tern.tensor.GGMLType;
import dev.tern.tensor.Tensor;
import dev.tern.testing.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

class RandomModelTest {
    @TempDir
    Path dir;

    private static List<String> expectedNames(int layers, boolean output) {
        List<String> names = new ArrayList<>(List.of("token_embd.weight"));
        for (int l = 0; l < layers; l++) {
            for (String s : List.of("attn_norm", "attn_q", "attn_k", "attn_v", "attn_output", "ffn_norm", "ffn_gate", "ffn_up", "ffn_down")) {
                names.add("blk." + l + "." + s + ".weight");
            }
        }
        names.add("output_norm.weight");
        if (output) {
            names.add("output.weight");
        }
        return names;
    }

    @Test
    void smallModelHasLlamaCppNamesShapesAndMetadata() {
        Path p = dir.resolve("small.gguf");
        RandomModel.builder().dim(64).ffn(160).layers(3).heads(8).kvHeads(2).vocab(300).context(128)
                .ropeTheta(500000f).rmsEps(1e-6f).name("tiny").build().write(p);
        try (GGUFFile f = GGUFFile.open(p)) {
            assertEquals("llama", f.getString("general.architecture"));
            assertEquals("tiny", f.getString("general.name"));
            assertEquals(64, f.getInt("llama.embedding_length"));
            assertEquals(160, f.getInt("llama.feed_forward_length"));
            assertEquals(3, f.getInt("llama.block_count"));
            assertEquals(8, f.getInt("llama.attention.head_count"));
            assertEquals(2, f.getInt("llama.attention.head_count_kv"));
            assertEquals(128, f.getInt("llama.context_length"));
            assertEquals(8, f.getInt("llama.rope.dimension_count"));
            assertEquals(500000f, f.getFloat("llama.rope.freq_base"));
            assertEquals(1e-6f, f.getFloat("llama.attention.layer_norm_rms_epsilon"));
            assertEquals(0, f.getInt("general.file_type"));
            for (String k : List.of("llama.embedding_length", "llama.block_count", "llama.attention.head_count_kv", "general.file_type")) {
                assertEquals(GGUFValueType.UINT32, f.metadata().get(k).type(), k);
            }
            assertEquals(GGUFValueType.FLOAT32, f.metadata().get("llama.rope.freq_base").type());

            assertEquals(expectedNames(3, true), f.tensors().stream().map(GGUFTensorInfo::name).toList());
            assertArrayEquals(new long[]{64, 300}, f.tensor("token_embd.weight").shape());
            assertArrayEquals(new long[]{64, 64}, f.tensor("blk.2.attn_q.weight").shape());
            assertArrayEquals(new long[]{64, 16}, f.tensor("blk.2.attn_k.weight").shape());
            assertArrayEquals(new long[]{64, 16}, f.tensor("blk.0.attn_v.weight").shape());
            assertArrayEquals(new long[]{64, 64}, f.tensor("blk.1.attn_output.weight").shape());
            assertArrayEquals(new long[]{64, 160}, f.tensor("blk.1.ffn_gate.weight").shape());
            assertArrayEquals(new long[]{64, 160}, f.tensor("blk.1.ffn_up.weight").shape());
            assertArrayEquals(new long[]{160, 64}, f.tensor("blk.1.ffn_down.weight").shape());
            assertArrayEquals(new long[]{64}, f.tensor("blk.1.ffn_norm.weight").shape());
            assertArrayEquals(new long[]{64, 300}, f.tensor("output.weight").shape());
            for (GGUFTensorInfo t : f.tensors()) {
                assertEquals(GGMLType.F32, t.type(), t.name());
            }

            assertEquals("llama", f.getString("tokenizer.ggml.model"));
            String[] tokens = f.getStringArray("tokenizer.ggml.tokens");
            int[] types = f.getIntArray("tokenizer.ggml.token_type");
            assertEquals(300, tokens.length);
            assertEquals(300, types.length);
            assertEquals(300, f.getFloatArray("tokenizer.ggml.scores").length);
            assertEquals(List.of("<unk>", "<s>", "</s>", "<0x00>"), List.of(tokens).subList(0, 4));
            assertEquals("<0xFF>", tokens[258]);
            assertEquals("▁", tokens[259]);
            assertArrayEquals(new int[]{2, 3, 3, 6}, java.util.Arrays.copyOf(types, 4));
            assertEquals(6, types[258]);
            assertEquals(1, types[259]);
            assertEquals(300, java.util.Set.of(tokens).size(), "tokens are distinct");
            assertEquals(1, f.getInt("tokenizer.ggml.bos_token_id"));
            assertEquals(2, f.getInt("tokenizer.ggml.eos_token_id"));
        }
    }

    @Test
    void tiedOutputHasNoOutputTensor() {
        Path p = dir.resolve("tied.gguf");
        RandomModel.builder().layers(1).tiedOutput(true).build().write(p);
        try (GGUFFile f = GGUFFile.open(p)) {
            assertEquals(expectedNames(1, false), f.tensors().stream().map(GGUFTensorInfo::name).toList());
        }
    }

    /** A Qwen3 shape: heads wider than dim / heads, per-head q/k norms; it loads as qwen3 and runs. */
    @Test
    void qwen3ShapeLoadsAndRuns() {
        Path p = dir.resolve("qwen3.gguf");
        RandomModel.builder().architecture("qwen3").dim(64).headDim(32).heads(4).kvHeads(2).ffn(96).layers(2).vocab(300)
                .std(0.05f).build().write(p);
        try (GGUFFile f = GGUFFile.open(p)) {
            assertArrayEquals(new long[]{64, 128}, f.tensor("blk.1.attn_q.weight").shape());
            assertArrayEquals(new long[]{128, 64}, f.tensor("blk.1.attn_output.weight").shape());
            assertArrayEquals(new long[]{32}, f.tensor("blk.1.attn_k_norm.weight").shape());
        }
        try (Tern tern = Tern.load(p, null, new Tern.Options(1, 64, 1, KVCacheType.F32, null)); Session s = tern.newSession()) {
            assertEquals("qwen3", tern.model().config().architecture());
            assertEquals(32, tern.model().config().headDim());
            float[] logits = s.forward(new int[]{5, 6, 7});
            assertEquals(300, logits.length);
            for (float v : logits) {
                assertTrue(Float.isFinite(v));
            }
        }
        assertThrows(TernException.class, () -> RandomModel.builder().architecture("gpt2").build());
        assertThrows(TernException.class, () -> RandomModel.builder().headDim(7).build());
    }

    /** Sample moments over every matrix: mean 0, the requested std, Gaussian kurtosis 3; norms exactly 1. */
    @Test
    void weightsHaveTheRequestedDistribution() {
        Path p = dir.resolve("std.gguf");
        RandomModel.builder().dim(128).ffn(256).layers(2).heads(4).kvHeads(2).vocab(512).std(0.05f).seed(7).build().write(p);
        try (GGUFFile f = GGUFFile.open(p)) {
            double n = 0, s1 = 0, s2 = 0, s4 = 0;
            for (GGUFTensorInfo t : f.tensors()) {
                float[] v = Tensor.of(f, t).toFloats();
                if (t.shape().length == 1) {
                    for (float x : v) {
                        assertEquals(1f, x, t.name());
                    }
                    continue;
                }
                double ts2 = 0;
                for (float x : v) {
                    n++;
                    s1 += x;
                    s2 += (double) x * x;
                    s4 += (double) x * x * x * x;
                    ts2 += (double) x * x;
                }
                assertEquals(0.05, Math.sqrt(ts2 / v.length), 0.05 * 0.1, t.name());
            }
            double mean = s1 / n;
            double var = s2 / n - mean * mean;
            assertEquals(0, mean, 0.001);
            assertEquals(0.05, Math.sqrt(var), 0.05 * 0.01);
            assertEquals(3.0, s4 / n / (var * var), 0.05, "kurtosis");
            float[] q = Tensor.of(f, f.tensor("blk.0.attn_q.weight")).toFloats();
            float[] o = Tensor.of(f, f.tensor("blk.0.attn_output.weight")).toFloats();
            assertFalse(java.util.Arrays.equals(q, o), "each tensor draws its own values");
        }
    }

    @Test
    void sameSeedSameFileOtherSeedOtherWeights() throws IOException {
        Path a = dir.resolve("a.gguf");
        Path b = dir.resolve("b.gguf");
        Path c = dir.resolve("c.gguf");
        RandomModel.builder().seed(1).build().write(a);
        RandomModel.builder().seed(1).build().write(b);
        RandomModel.builder().seed(2).build().write(c);
        assertEquals(-1, Files.mismatch(a, b));
        assertNotEquals(-1, Files.mismatch(a, c));
        assertEquals(Files.size(a), Files.size(c));
    }

    @Test
    void copiesTheTokenizerOfAMatchingVocabulary() {
        Path vocab = Fixtures.stories260K("stories260K-f32.gguf");
        Path p = dir.resolve("tok.gguf");
        RandomModel.builder().vocab(512).tokenizer(vocab).build().write(p);
        try (GGUFFile f = GGUFFile.open(p); GGUFFile v = GGUFFile.open(vocab)) {
            int copied = 0;
            for (Map.Entry<String, MetadataValue> e : v.metadata().entrySet()) {
                if (e.getKey().startsWith("tokenizer.")) {
                    GGUFWriterTest.assertSameValue(e.getKey(), e.getValue(), f.metadata().get(e.getKey()));
                    copied++;
                }
            }
            assertEquals(9, copied);
        }
        Path q = dir.resolve("tok600.gguf");
        RandomModel.builder().vocab(600).tokenizer(vocab).build().write(q);
        try (GGUFFile f = GGUFFile.open(q)) {
            assertEquals(600, f.getStringArray("tokenizer.ggml.tokens").length);
            assertEquals("<0x41>", f.getStringArray("tokenizer.ggml.tokens")[3 + 0x41]);
        }
    }

    @Test
    void rejectsInconsistentOptions() {
        assertThrows(TernException.class, () -> RandomModel.builder().dim(64).heads(5).build());
        assertThrows(TernException.class, () -> RandomModel.builder().dim(64).heads(8).kvHeads(3).build());
        assertThrows(TernException.class, () -> RandomModel.builder().dim(0).build());
        assertThrows(TernException.class, () -> RandomModel.builder().weightType(GGMLType.Q8_K).build());
        assertThrows(TernException.class, () -> RandomModel.builder().vocab(100).build());
        // a vocabulary file of another size falls back to synthesizing, which 100 tokens cannot hold
        RandomModel small = RandomModel.builder().vocab(100).tokenizer(Fixtures.stories260K("stories260K-f32.gguf")).build();
        assertThrows(TernException.class, () -> small.write(dir.resolve("x.gguf")));
        assertFalse(Files.exists(dir.resolve("x.gguf")));
        // Q8_0 has no fallback for FFN rows of 172
        TernException e = assertThrows(TernException.class, () -> RandomModel.builder().dim(64).ffn(172).weightType(GGMLType.Q8_0).build());
        assertTrue(e.getMessage().contains("ffn_down") && e.getMessage().contains("172"), e.getMessage());
    }

    /**
     * Every supported weight type: the matrices are of that type and decode to the requested std
     * (types Tern only reads are random blocks scaled to it, so within a looser bound).
     */
    @ParameterizedTest
    @EnumSource(value = GGMLType.class, names = {"F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q2_K", "Q3_K", "Q4_K",
            "Q5_K", "Q6_K", "IQ4_NL", "IQ4_XS", "TQ1_0", "TQ2_0", "MXFP4", "IQ2_XXS", "IQ2_XS", "IQ2_S", "IQ3_XXS", "IQ3_S", "IQ1_S",
            "IQ1_M"})
    void writesEveryWeightType(GGMLType type) {
        Path p = dir.resolve("t.gguf");
        RandomModel.builder().dim(256).ffn(512).layers(1).heads(4).kvHeads(4).vocab(512).weightType(type).build().write(p);
        try (GGUFFile f = GGUFFile.open(p)) {
            assertEquals(ModelQuantizer.fileType(type), f.getInt("general.file_type"));
            for (GGUFTensorInfo t : f.tensors()) {
                assertEquals(t.shape().length == 1 ? GGMLType.F32 : type, t.type(), t.name());
                if (t.shape().length == 2) {
                    float[] v = Tensor.of(f, t).toFloats();
                    double s2 = 0;
                    for (float x : v) {
                        s2 += (double) x * x;
                    }
                    assertEquals(0.02, Math.sqrt(s2 / v.length), 0.02 * (type.isGridSearched() ? 0.25 : 0.1), t.name());
                }
            }
        }
    }
}
