package dev.tern.engine;

import dev.tern.gguf.GGUFFile;
import dev.tern.model.Model;
import dev.tern.model.WorkerPool;
import dev.tern.testing.Fixtures;
import dev.tern.tokenizer.Tokenizer;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Perplexity on the first 12 KB of the GPL against llama.cpp's llama-perplexity on the same
 * files: within 0.2% for F32/F16, 0.5% for BF16 and the quantized types.
 */
class PerplexityReferenceTest {

    static Stream<Arguments> files() {
        Stream.Builder<Arguments> b = Stream.builder();
        for (String type : new String[]{"f32", "f16", "bf16"}) {
            for (int ctx : new int[]{128, 512}) {
                b.add(Arguments.of(Fixtures.stories260K("stories260K-" + type + ".gguf"), type, ctx,
                        Fixtures.stories260K("reference/perplexity-gpl3-12k.txt"), type.equals("bf16") ? 0.005 : 0.002));
            }
        }
        for (String type : new String[]{"f32", "q8_0", "q4_0", "q4_1", "q5_0", "q5_1", "q4_k_m", "q5_k_m", "q6_k"}) {
            b.add(Arguments.of(Fixtures.stories15M("stories15M-distilled-" + type + ".gguf"), type, 128,
                    Fixtures.stories15M("reference/perplexity-gpl3-12k.txt"), type.equals("f32") ? 0.002 : 0.005));
        }
        return b.build();
    }

    @ParameterizedTest(name = "{0} -c {2}")
    @MethodSource("files")
    void matchesLlamaPerplexity(Path modelFile, String type, int ctx, Path referenceFile, double relTolerance) throws Exception {
        double expected = Files.readAllLines(referenceFile).stream()
                .filter(l -> l.startsWith(type + " c=" + ctx + " "))
                .map(l -> Double.parseDouble(l.substring(l.lastIndexOf('=') + 1).trim()))
                .findFirst().orElseThrow(() -> new AssertionError("no reference for " + type + " c=" + ctx));
        String text = Files.readString(Fixtures.stories260K("reference/gpl3-12k.txt"), StandardCharsets.UTF_8);
        int[] tokens;
        try (GGUFFile f = GGUFFile.open(modelFile)) {
            tokens = Tokenizer.fromGGUF(f).encode(text, true, false);
        }
        try (Model model = Model.load(modelFile); WorkerPool pool = new WorkerPool(2)) {
            double ppl = Perplexity.perplexity(model, pool, tokens, ctx);
            assertEquals(expected, ppl, expected * relTolerance, modelFile.getFileName() + " -c " + ctx);
        }
    }
}
