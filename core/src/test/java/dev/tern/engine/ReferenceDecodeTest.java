package dev.tern.engine;

import dev.tern.gguf.GGUFSplit;
import dev.tern.model.Model;
import dev.tern.testing.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Greedy decoding against llama.cpp's references: every stored decode of every model file.
 * Ids must match up to the first step where llama.cpp's own top-2 logits are nearly tied, and
 * the logits of its top-5 tokens must match within the file type's tolerance at every step
 * before that.
 */
class ReferenceDecodeTest {

    record Case(String name, Path model, Path reference, String type, float tolerance, float tieGap) {
        @Override
        public String toString() {
            return name;
        }
    }

    static List<Case> cases() {
        List<Case> cases = new ArrayList<>();
        for (String prompt : List.of("once", "beach", "zoo", "empty")) {
            for (String type : List.of("f32", "f16", "bf16")) {
                cases.add(of("stories260K-" + type + " " + prompt, Fixtures.stories260K("stories260K-" + type + ".gguf"),
                        Fixtures.stories260K("reference/" + prompt + "." + type + ".txt"), type));
            }
            cases.add(of("stories260K.bin " + prompt, Fixtures.stories260K("stories260K.bin"),
                    Fixtures.stories260K("reference/" + prompt + ".f32.txt"), "f32"));
        }
        for (String prompt : List.of("once", "beach")) {
            for (String type : List.of("f32", "q8_0", "q4_0", "q4_1", "q5_0", "q5_1", "q4_k_m", "q5_k_m", "q6_k")) {
                cases.add(of("stories15M-distilled-" + type + " " + prompt,
                        Fixtures.stories15M("stories15M-distilled-" + type + ".gguf"),
                        Fixtures.stories15M("reference/" + prompt + "." + type + ".txt"), type));
            }
        }
        return cases;
    }

    /**
     * F32 must agree to 1e-3 and 16-bit weights to 0.1, ids up to the first top-2 gap below
     * 0.05; quantized types (llama.cpp also quantizes their activations) to 0.3, ids up to the
     * first gap below 0.3. stories260K gets 1e-2 even in F32: with head size 8 and llama.cpp's
     * F16 KV cache, a value landing on the other side of an f16 rounding boundary (after float
     * sums done in another order than ggml's) moves its logits by up to ~0.009 after a few
     * dozen steps, while the first steps agree to 1e-5.
     */
    private static Case of(String name, Path model, Path reference, String type) {
        return switch (type) {
            case "f32" -> new Case(name, model, reference, type, name.startsWith("stories260K") ? 1e-2f : 1e-3f, 0.05f);
            // llama.cpp's own F16/BF16 logits differ from its F32 ones by up to 0.04 within two steps
            // (its 16-bit dot products round differently); ids still agree up to the 0.05 tie gap.
            case "f16", "bf16" -> new Case(name, model, reference, type, 0.1f, 0.05f);
            default -> new Case(name, model, reference, type, 0.3f, 0.3f);
        };
    }

    /** A model split into parts as llama.cpp's gguf-split writes them decodes as the whole file did in llama.cpp. */
    @Test
    void splitModelDecodesAsLlamaCppDid(@TempDir Path dir) throws Exception {
        List<GGUFSplit.Part> parts = GGUFSplit.split(Fixtures.stories15M("stories15M-distilled-q4_k_m.gguf"), dir.resolve("q4"), 20, 0, false);
        assertEquals(3, parts.size());
        greedyDecodeMatchesLlamaCpp(of("stories15M-distilled-q4_k_m in 3 parts, once", parts.getFirst().path(),
                Fixtures.stories15M("reference/once.q4_k_m.txt"), "q4_k_m"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void greedyDecodeMatchesLlamaCpp(Case c) throws Exception {
        ReferenceDecode ref = ReferenceDecode.read(c.reference());
        Model model = Model.load(c.model());
        try (model; Engine engine = new Engine(model, 2); Session session = engine.newSession(model.config().contextLength())) {
            int steps = ref.divergence(c.tieGap());
            float[] logits = session.forward(ref.promptIds());
            for (int step = 0; step < steps; step++) {
                for (int j = 0; j < ref.topIds()[step].length; j++) {
                    int id = ref.topIds()[step][j];
                    assertEquals(ref.topLogits()[step][j], logits[id], c.tolerance(),
                            c + ": logit of token " + id + " at step " + step);
                }
                int next = argmax(logits);
                assertEquals(ref.ids()[step], next, c + ": token at step " + step);
                if (step + 1 < steps) {
                    logits = session.forward(next);
                }
            }
        }
    }

    static int argmax(float[] x) {
        int best = 0;
        for (int i = 1; i < x.length; i++) {
            if (x[i] > x[best]) {
                best = i;
            }
        }
        return best;
    }
}
