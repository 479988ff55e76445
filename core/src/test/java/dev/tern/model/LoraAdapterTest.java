package dev.tern.model;

import dev.tern.TernException;
import dev.tern.gguf.GGUFFile;
import dev.tern.gguf.GGUFTensorInfo;
import dev.tern.gguf.GGUFWriter;
import dev.tern.gguf.MetadataValue;
import dev.tern.gguf.RandomModel;
import dev.tern.kv.BlockPool;
import dev.tern.kv.BlockTable;
import dev.tern.kv.KVCacheType;
import dev.tern.tensor.GGMLType;
import dev.tern.tensor.Tensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * LoRA adapters applied at run time against the independent reference: the same adapter merged
 * into the weights beforehand (W + s·B·A, computed here in double from the dequantized Q8_0 base
 * and written as an F32 model), through prefill and decode; and the adapter files Tern refuses.
 */
class LoraAdapterTest {
    private static final int DIM = 64, FFN = 128, LAYERS = 2, VOCAB = 320, RANK = 4;
    private static final float ALPHA = 8f;
    private static WorkerPool workers;

    @TempDir
    static Path dir;
    private static Path base;

    @BeforeAll
    static void start() {
        workers = new WorkerPool(2);
        base = dir.resolve("base.gguf");
        RandomModel.builder().dim(DIM).ffn(FFN).layers(LAYERS).heads(4).kvHeads(2).vocab(VOCAB).context(64)
                .weightType(GGMLType.Q8_0).seed(11).build().write(base);
    }

    @AfterAll
    static void stop() {
        workers.close();
    }

    /** A [rows × cols] factor of small random values. */
    private static float[] factor(Random rnd, int rows, int cols) {
        float[] v = new float[rows * cols];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) (rnd.nextGaussian() * 0.3);
        }
        return v;
    }

    /** One weight's factors, row-major: A of aRows rows (rank, or for the embedding one per token), B of rank columns. */
    private record Factors(float[] a, int aRows, float[] b) {
        static Factors random(Random rnd, int aRows, int aCols, int bRows) {
            return new Factors(factor(rnd, aRows, aCols), aRows, factor(rnd, bRows, RANK));
        }
    }

    /** An adapter file of these factors (ggml shapes: [columns, rows]), its metadata then edited. */
    private static Path adapter(String file, Map<String, Factors> pairs, Consumer<GGUFWriter> edit) {
        GGUFWriter w = new GGUFWriter();
        w.put("general.architecture", MetadataValue.of("llama"));
        w.put("general.type", MetadataValue.of("adapter"));
        w.put("adapter.type", MetadataValue.of("lora"));
        w.put("adapter.lora.alpha", MetadataValue.ofFloat32(ALPHA));
        edit.accept(w);
        pairs.forEach((name, f) -> {
            w.addTensor(name + ".lora_a", new long[]{f.a().length / f.aRows(), f.aRows()}, GGMLType.F32, f.a());
            w.addTensor(name + ".lora_b", new long[]{RANK, f.b().length / RANK}, GGMLType.F32, f.b());
        });
        Path p = dir.resolve(file);
        w.write(p);
        return p;
    }

    private static Map<String, Factors> pairs() {
        Random rnd = new Random(3);
        Map<String, Factors> m = new HashMap<>();
        m.put("blk.0.attn_q.weight", Factors.random(rnd, RANK, DIM, DIM));
        m.put("blk.1.attn_v.weight", Factors.random(rnd, RANK, DIM, DIM / 2));
        m.put("blk.0.ffn_down.weight", Factors.random(rnd, RANK, FFN, DIM));
        m.put("blk.1.ffn_gate.weight", Factors.random(rnd, RANK, DIM, FFN));
        m.put("output.weight", Factors.random(rnd, RANK, DIM, VOCAB));
        m.put("token_embd.weight", Factors.random(rnd, VOCAB, RANK, DIM));
        return m;
    }

    /** The base model with every adapted weight replaced by W + s·B·A (the embedding: row t + s·B·A[t]), all F32. */
    private static Path merged(Map<String, Factors> pairs, float s) {
        Path out = dir.resolve("merged.gguf");
        try (GGUFFile f = GGUFFile.open(base)) {
            GGUFWriter w = new GGUFWriter();
            w.putAll(f.metadata());
            w.remove("general.file_type").put("general.file_type", MetadataValue.ofUInt32(0));
            for (GGUFTensorInfo info : f.tensors()) {
                Tensor t = Tensor.of(f, info);
                float[] v = t.toFloats();
                Factors p = pairs.get(info.name());
                if (p != null) {
                    boolean embedding = info.name().equals("token_embd.weight");
                    for (int r = 0; r < t.rows(); r++) {
                        for (int c = 0; c < t.cols(); c++) {
                            double d = 0;
                            for (int k = 0; k < RANK; k++) {
                                d += embedding ? (double) p.b()[c * RANK + k] * p.a()[r * RANK + k]
                                        : (double) p.b()[r * RANK + k] * p.a()[k * t.cols() + c];
                            }
                            v[r * t.cols() + c] = (float) (v[r * t.cols() + c] + s * d);
                        }
                    }
                }
                w.addTensor(info.name(), info.shape(), GGMLType.F32, v);
            }
            w.write(out);
        }
        return out;
    }

    /** Logits of a 12-token prompt (one batched pass) then of 6 tokens decoded one at a time, concatenated. */
    private static float[] run(Model model) {
        ForwardPass pass = new ForwardPass(model, workers);
        BlockTable seq = new BlockTable(new BlockPool(LAYERS, model.config().kvDim(), 8, KVCacheType.F32), 64);
        int[] tokens = new Random(9).ints(18, 0, VOCAB).toArray();
        Batch prompt = new Batch();
        for (int i = 0; i < 12; i++) {
            prompt.add(tokens[i], seq, i, true);
        }
        float[] out = new float[18 * VOCAB];
        System.arraycopy(pass.forward(prompt), 0, out, 0, 12 * VOCAB);
        for (int i = 12; i < 18; i++) {
            System.arraycopy(pass.forward(new Batch().add(tokens[i], seq, i, true)), 0, out, i * VOCAB, VOCAB);
        }
        return out;
    }

    @Test
    void anAdapterAppliedAtRunTimeEqualsItsMergedWeights() {
        Map<String, Factors> pairs = pairs();
        float scale = 0.7f;
        Path file = adapter("a.gguf", pairs, w -> {
        });
        float[] want;
        try (Model m = Model.load(merged(pairs, scale * ALPHA / RANK))) {
            want = run(m);
        }
        float[] plain;
        try (Model m = Model.load(base)) {
            plain = run(m);
        }
        Model loaded = Model.load(base);
        try (Model m = loaded.withAdapters(List.of(LoraAdapter.load(file, loaded, scale)), Map.of())) {
            float[] got = run(m);
            ForwardPassTest.assertClose(want, got, "runtime LoRA against merged weights");
            double moved = 0;
            for (int i = 0; i < got.length; i++) {
                moved = Math.max(moved, Math.abs(got[i] - plain[i]));
            }
            assertTrue(moved > 0.1, "the adapter changes the logits: " + moved);
        }
    }

    /** Two sequences in one batch: the one whose tokens name the adapter gets it, the other the plain model. */
    @Test
    void aTokensOwnAdapterAppliesToItAlone() {
        Path file = adapter("own.gguf", pairs(), w -> {
        });
        int[] tokens = new Random(4).ints(10, 0, VOCAB).toArray();
        float[] plain, adapted;
        try (Model m = Model.load(base)) {
            plain = lastLogits(m, tokens, null);
        }
        Model loaded = Model.load(base);
        try (Model m = loaded.withAdapters(List.of(LoraAdapter.load(file, loaded, 1f)), Map.of())) {
            adapted = lastLogits(m, tokens, null);
        }
        Model again = Model.load(base);
        LoraAdapter own = LoraAdapter.load(file, again, 1f);
        try (Model m = again.withAdapters(List.of(), Map.of("own", own))) {
            ForwardPass pass = new ForwardPass(m, workers);
            BlockPool pool = new BlockPool(LAYERS, m.config().kvDim(), 8, KVCacheType.F32);
            BlockTable a = new BlockTable(pool, 64), b = new BlockTable(pool, 64);
            Batch batch = new Batch();
            for (int i = 0; i < tokens.length; i++) {
                batch.add(tokens[i], a, i, i == tokens.length - 1, own);
                batch.add(tokens[i], b, i, i == tokens.length - 1);
            }
            float[] both = pass.forward(batch);
            ForwardPassTest.assertClose(adapted, java.util.Arrays.copyOfRange(both, 0, VOCAB), "the sequence with the adapter");
            ForwardPassTest.assertClose(plain, java.util.Arrays.copyOfRange(both, VOCAB, 2 * VOCAB), "the sequence without");
        }
    }

    private static float[] lastLogits(Model m, int[] tokens, LoraAdapter own) {
        ForwardPass pass = new ForwardPass(m, workers);
        BlockTable seq = new BlockTable(new BlockPool(LAYERS, m.config().kvDim(), 8, KVCacheType.F32), 64);
        Batch batch = new Batch();
        for (int i = 0; i < tokens.length; i++) {
            batch.add(tokens[i], seq, i, i == tokens.length - 1, own);
        }
        return pass.forward(batch);
    }

    @Test
    void filesThatDoNotFitAreOneLineErrors() {
        Map<String, Factors> pairs = pairs();
        Random rnd = new Random(1);
        Map<String, Factors> unknown = Map.of("blk.7.attn_q.weight", Factors.random(rnd, RANK, DIM, DIM));
        Map<String, Factors> misshapen = Map.of("blk.0.attn_k.weight", Factors.random(rnd, RANK, DIM, DIM));
        List<Path> bad = List.of(
                adapter("arch.gguf", pairs, w -> w.put("general.architecture", MetadataValue.of("qwen2"))),
                adapter("type.gguf", pairs, w -> w.put("general.type", MetadataValue.of("model"))),
                adapter("unknown.gguf", unknown, w -> {
                }),
                adapter("shape.gguf", misshapen, w -> {
                }),
                adapter("alora.gguf", pairs, w -> w.put("adapter.alora.invocation_tokens", MetadataValue.ofArray(new int[]{1, 2}))));
        List<String> expected = List.of("architecture 'qwen2'", "not a LoRA adapter", "'blk.7.attn_q.weight', which the model does not have",
                "does not fit the model's 64x32", "aLoRA");
        try (Model m = Model.load(base)) {
            for (int i = 0; i < bad.size(); i++) {
                Path p = bad.get(i);
                TernException e = assertThrows(TernException.class, () -> LoraAdapter.load(p, m, 1f), p.toString());
                assertTrue(e.getMessage().contains(expected.get(i)), e.getMessage());
                assertFalse(e.getMessage().contains("\n"), e.getMessage());
            }
        }
    }
}
