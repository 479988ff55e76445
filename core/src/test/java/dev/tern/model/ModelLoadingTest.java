package dev.tern.model;

import dev.tern.TernException;
import dev.tern.gguf.GGUFException;
import dev.tern.kv.BlockPool;
import dev.tern.kv.BlockTable;
import dev.tern.kv.KVCacheType;
import dev.tern.tensor.UnsupportedTensorTypeException;
import dev.tern.testing.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** GGUF and llama2.c loading: hyper-parameters, tensor mapping per architecture, and errors. */
class ModelLoadingTest {
    @TempDir
    Path dir;

    /** A GGUF file holding the given in-memory model under llama.cpp's names. */
    private static TinyGGUF gguf(String arch, Model m) {
        ModelConfig c = m.config();
        ModelWeights w = m.weights();
        TinyGGUF g = new TinyGGUF().put("general.architecture", arch)
                .put(arch + ".embedding_length", c.dim()).put(arch + ".feed_forward_length", c.ffnDim())
                .put(arch + ".block_count", c.layers()).put(arch + ".attention.head_count", c.heads())
                .put(arch + ".attention.head_count_kv", c.kvHeads()).put(arch + ".context_length", c.contextLength())
                .put(arch + ".attention.layer_norm_rms_epsilon", c.rmsEps()).put(arch + ".rope.freq_base", c.ropeTheta())
                .f32("token_embd.weight", w.tokenEmbedding())
                .f32("output_norm.weight", w.outputNorm(), c.dim());
        if (c.ropeFreqScale() != 1f) {
            g.put(arch + ".rope.scaling.type", "linear").put(arch + ".rope.scaling.factor", 1f / c.ropeFreqScale());
        }
        if (!c.tiedOutput()) {
            g.f32("output.weight", w.output());
        }
        if (w.ropeFreqFactors() != null) {
            g.f32("rope_freqs.weight", w.ropeFreqFactors(), w.ropeFreqFactors().length);
        }
        for (int l = 0; l < c.layers(); l++) {
            LayerWeights lw = w.layers()[l];
            String b = "blk." + l + ".";
            g.f32(b + "attn_norm.weight", lw.attnNorm(), c.dim()).f32(b + "ffn_norm.weight", lw.ffnNorm(), c.dim())
                    .f32(b + "attn_q.weight", lw.wq()).f32(b + "attn_k.weight", lw.wk()).f32(b + "attn_v.weight", lw.wv())
                    .f32(b + "attn_output.weight", lw.wo()).f32(b + "ffn_gate.weight", lw.gate())
                    .f32(b + "ffn_up.weight", lw.up()).f32(b + "ffn_down.weight", lw.down());
            if (lw.bq() != null) {
                g.f32(b + "attn_q.bias", lw.bq(), c.qDim()).f32(b + "attn_k.bias", lw.bk(), c.kvDim())
                        .f32(b + "attn_v.bias", lw.bv(), c.kvDim());
            }
            if (lw.qNorm() != null) {
                g.f32(b + "attn_q_norm.weight", lw.qNorm(), c.headDim()).f32(b + "attn_k_norm.weight", lw.kNorm(), c.headDim());
            }
        }
        return g;
    }

    private static float[] logits(Model m, int[] tokens) {
        try (WorkerPool workers = new WorkerPool(1)) {
            BlockTable seq = new BlockTable(new BlockPool(m.config().layers(), m.config().kvDim(), 8, KVCacheType.F32), 64);
            return new ForwardPass(m, workers).forward(new Batch().addSequence(seq, tokens, true));
        }
    }

    @Test
    void qwen2GGUFHasBiasesNeoxRopeAndComputesLikeTheNaiveModel() throws IOException {
        Model source = TinyModel.random(TinyModel.config(32, 48, 2, 4, 2, 40, RopeStyle.NEOX, 8, 1f), 21, false);
        Path file = dir.resolve("qwen2.gguf");
        gguf("qwen2", source).write(file);
        try (Model m = Model.load(file)) {
            ModelConfig c = m.config();
            assertEquals("qwen2", c.architecture());
            assertEquals(RopeStyle.NEOX, c.ropeStyle());
            assertTrue(c.qkvBias());
            assertFalse(c.tiedOutput());
            assertEquals(1_000_000f, c.ropeTheta());
            assertEquals(40, c.vocab());
            assertEquals(8, c.headDim());
            assertArrayEquals(source.weights().layers()[1].bk(), m.weights().layers()[1].bk());
            int[] tokens = {3, 1, 4, 1, 5, 9, 2, 6};
            ForwardPassTest.assertClose(new NaiveTransformer(source).lastLogits(tokens), logits(m, tokens), "qwen2 gguf");
        }
    }

    @Test
    void qwen3GGUFHasHeadNormsWideHeadsAndComputesLikeTheNaiveModel() throws IOException {
        Model source = TinyModel.random(TinyModel.qwen3(32, 48, 2, 4, 2, 16, 40), 22, false);
        Path file = dir.resolve("qwen3.gguf");
        gguf("qwen3", source).put("qwen3.attention.key_length", 16).put("qwen3.attention.value_length", 16).write(file);
        try (Model m = Model.load(file)) {
            ModelConfig c = m.config();
            assertEquals("qwen3", c.architecture());
            assertEquals(RopeStyle.NEOX, c.ropeStyle());
            assertFalse(c.qkvBias());
            assertEquals(16, c.headDim());
            assertEquals(64, c.qDim(), "4 heads of 16 over a width of 32");
            assertArrayEquals(source.weights().layers()[1].kNorm(), m.weights().layers()[1].kNorm());
            int[] tokens = {3, 1, 4, 1, 5, 9, 2, 6};
            ForwardPassTest.assertClose(new NaiveTransformer(source).lastLogits(tokens), logits(m, tokens), "qwen3 gguf");
        }
        Path broken = dir.resolve("qwen3-no-norms.gguf");
        gguf("qwen3", source).put("qwen3.attention.key_length", 16).without("blk.0.attn_q_norm.weight").write(broken);
        TernException e = assertThrows(TernException.class, () -> Model.load(broken));
        assertTrue(e.getMessage().contains("blk.0.attn_q_norm.weight"), e.getMessage());
    }

    @Test
    void llamaGGUFWithTiedOutputRopeFreqsAndLinearScaling() throws IOException {
        ModelConfig config = TinyModel.config(32, 48, 1, 4, 1, 40, RopeStyle.NORMAL, 8, 0.25f);
        Model source = TinyModel.random(config, 22, true);
        Path file = dir.resolve("llama.gguf");
        gguf("llama", source).write(file);
        try (Model m = Model.load(file)) {
            assertTrue(m.config().tiedOutput());
            assertFalse(m.config().qkvBias());
            assertSame(m.weights().tokenEmbedding(), m.weights().output());
            assertNotNull(m.weights().ropeFreqFactors());
            assertEquals(0.25f, m.config().ropeFreqScale());
            int[] tokens = {7, 7, 8, 30, 2};
            ForwardPassTest.assertClose(new NaiveTransformer(source).lastLogits(tokens), logits(m, tokens), "llama gguf");
        }
    }

    @Test
    void unknownArchitectureIsAOneLineError() throws IOException {
        Path file = dir.resolve("gpt2.gguf");
        new TinyGGUF().put("general.architecture", "gpt2").write(file);
        TernException e = assertThrows(TernException.class, () -> Model.load(file));
        assertEquals("unsupported model architecture 'gpt2' (supported: llama, qwen2, qwen3)", e.getMessage());
    }

    @Test
    void longropeScalingIsRefused() throws IOException {
        Model source = TinyModel.random(TinyModel.config(32, 48, 1, 4, 2, 40, RopeStyle.NORMAL, 8, 1f), 1, false);
        Path file = dir.resolve("longrope.gguf");
        gguf("llama", source).put("llama.rope.scaling.type", "longrope").write(file);
        assertEquals(file + ": RoPE scaling 'longrope' is not supported (supported: none, linear, yarn, llama3 via rope_freqs.weight)",
                assertThrows(GGUFException.class, () -> Model.load(file)).getMessage());
    }

    @Test
    void missingTensorIsAGGUFException() throws IOException {
        Model source = TinyModel.random(TinyModel.config(32, 48, 1, 4, 2, 40, RopeStyle.NORMAL, 8, 1f), 1, false);
        Path file = dir.resolve("broken.gguf");
        gguf("llama", source).without("blk.0.ffn_up.weight").write(file);
        GGUFException e = assertThrows(GGUFException.class, () -> Model.load(file));
        assertEquals(file + ": missing tensor 'blk.0.ffn_up.weight'", e.getMessage());
    }

    @Test
    void unsupportedTensorTypeIsReported() throws IOException {
        Model source = TinyModel.random(TinyModel.config(32, 256, 1, 4, 2, 40, RopeStyle.NORMAL, 8, 1f), 1, false);
        Path file = dir.resolve("iq.gguf");
        gguf("llama", source).without("blk.0.ffn_down.weight")
                .raw("blk.0.ffn_down.weight", 15, new byte[32 * 292], 256, 32) // Q8_K: 292 bytes per 256 values
                .write(file);
        assertThrows(UnsupportedTensorTypeException.class, () -> Model.load(file));
    }

    @Test
    void llama2cCheckpointMatchesItsGGUFConversion() {
        try (Model bin = Model.load(Fixtures.stories260K("stories260K.bin"));
             Model gguf = Model.load(Fixtures.stories260K("stories260K-f32.gguf"))) {
            ModelConfig a = bin.config(), b = gguf.config();
            assertEquals(b.dim(), a.dim());
            assertEquals(b.ffnDim(), a.ffnDim());
            assertEquals(b.layers(), a.layers());
            assertEquals(b.heads(), a.heads());
            assertEquals(4, a.kvHeads());
            assertEquals(b.kvHeads(), a.kvHeads());
            assertEquals(b.vocab(), a.vocab());
            assertEquals(512, a.contextLength());
            assertTrue(a.tiedOutput());
            assertArrayEquals(gguf.weights().layers()[4].ffnNorm(), bin.weights().layers()[4].ffnNorm());
            assertArrayEquals(gguf.weights().layers()[2].wk().toFloats(), bin.weights().layers()[2].wk().toFloats());
            assertArrayEquals(gguf.weights().output().toFloats(), bin.weights().output().toFloats());
            assertArrayEquals(gguf.weights().outputNorm(), bin.weights().outputNorm());
        }
    }

    @Test
    void truncatedOrForeignFilesAreOneLineErrors() throws IOException {
        byte[] bin = Files.readAllBytes(Fixtures.stories260K("stories260K.bin"));
        Path cut = dir.resolve("cut.bin");
        Files.write(cut, Arrays.copyOf(bin, bin.length / 2));
        TernException e = assertThrows(TernException.class, () -> Model.load(cut));
        assertTrue(e.getMessage().startsWith(cut + ": truncated llama2.c checkpoint: "), e.getMessage());
        Path text = dir.resolve("notes.txt");
        Files.writeString(text, "hello, this is not a model at all");
        e = assertThrows(TernException.class, () -> Model.load(text));
        assertTrue(e.getMessage().startsWith(text + ": not a GGUF file or llama2.c checkpoint"), e.getMessage());
        assertEquals(dir.resolve("none.gguf") + ": no such file",
                assertThrows(TernException.class, () -> Model.load(dir.resolve("none.gguf"))).getMessage());
    }
}
