package dev.tern.engine;

import dev.tern.gguf.GGUFFile;
import dev.tern.gguf.GGUFTensorInfo;
import dev.tern.gguf.ModelQuantizer;
import dev.tern.kv.KVCacheType;
import dev.tern.model.Model;
import dev.tern.tensor.GGMLType;
import dev.tern.testing.Fixtures;
import dev.tern.tokenizer.Tokenizer;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * stories15M quantized by us to Q3_K and Q2_K (every weight matrix, as llama-quantize --pure),
 * run end to end: perplexity on the first 12 KB of the GPL (-c 128, llama.cpp's F32 value
 * 103.6154), and a decode, token by token, against the batch path's logits.
 */
class LowBitKQuantPerplexityTest {
    private static final double F32_PPL = 103.6154;

    @TempDir
    Path dir;

    /**
     * Perplexity runs the batch path (rows dequantized, then multiplied as F32), so it checks the
     * layouts and the quantizers on a real model. This model is out of its domain on the GPL:
     * llama.cpp's files of the other types land within 1% of F32 (Q4_K_M 103.57), and ours land
     * slightly below it (Q3_K 102.5, Q2_K 100.7: noise can help a model this far from its
     * text). Levels, scales or mins read wrongly turn the output into noise: Q2_K's mins
     * dropped from the dequantizer gave 7956. So the bounds (±10% for Q3_K, −10%/+30% for Q2_K's
     * coarser levels) fail a broken layout and pass a correct one with room. The decode, one
     * token at a time, runs the matrix × vector kernels instead, which must agree with the batch
     * path to float rounding (Q3_K's kernel with the sign of its −4 offset flipped fails there at
     * the first token, while its perplexity does not move).
     */
    @ParameterizedTest
    @CsvSource({"Q3_K, 0.9, 1.1", "Q2_K, 0.9, 1.3"})
    void perplexityStaysNearF32AndDecodeAgreesWithBatch(GGMLType type, double low, double high) throws Exception {
        Path out = dir.resolve(type + ".gguf");
        ModelQuantizer.quantize(Fixtures.stories15M("stories15M-distilled-f32.gguf"), out, type);
        String text = Files.readString(Fixtures.stories260K("reference/gpl3-12k.txt"), StandardCharsets.UTF_8);
        int[] tokens;
        try (GGUFFile f = GGUFFile.open(out)) {
            tokens = Tokenizer.fromGGUF(f).encode(text, true, false);
            assertEquals(44, f.tensors().stream().map(GGUFTensorInfo::type).filter(type::equals).count(),
                    "weight matrices of type " + type);
        }
        try (Model model = Model.load(out); Engine engine = new Engine(model, 2, 64, KVCacheType.F32);
             Session session = engine.newSession(64)) {
            double ppl = Perplexity.perplexity(model, engine.workers(), tokens, 128);
            assertTrue(ppl > low * F32_PPL && ppl < high * F32_PPL, type + " perplexity " + ppl + " against F32's " + F32_PPL);

            int[] prefix = Arrays.copyOf(tokens, 48);
            float[] batch = new Recompute(model, engine.workers(), KVCacheType.F32).logits(prefix, 0);
            int vocab = model.config().vocab();
            for (int i = 0; i < prefix.length; i++) {
                CachedVsRecomputeTest.assertClose(Arrays.copyOfRange(batch, i * vocab, (i + 1) * vocab), session.forward(prefix[i]),
                        type + " decode at " + i);
            }
        }
    }
}
