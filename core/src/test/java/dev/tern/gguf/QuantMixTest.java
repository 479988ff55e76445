package dev.tern.gguf;

import dev.tern.tensor.GGMLType;
import dev.tern.testing.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.CRC32;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * llama-quantize's file types against llama.cpp's own llama_model_quantize (its default mode,
 * not --pure): the types it chose per tensor on two random shapes (llama-quantize-mix-types.txt),
 * and whole files of the fixtures, which must be llama.cpp's byte for byte (CRC-32 and size of the
 * files it wrote from the same F32 GGUFs, with libllama of node-llama-cpp 3.22.1). stories260K's
 * rows of 172 fit no 32-value block: for Q4_0, Q8_0, IQ4_NL and the like, current llama.cpp (and
 * Tern) refuse it, where that library wrote F16, so those are not among the files.
 */
class QuantMixTest {
    @TempDir
    Path dir;

    private static List<String> typeLines() throws IOException {
        try (InputStream in = QuantMixTest.class.getResourceAsStream("llama-quantize-mix-types.txt")) {
            return new String(in.readAllBytes(), StandardCharsets.US_ASCII).lines().filter(l -> !l.startsWith("#")).toList();
        }
    }

    /** A random model written in a mix has the types llama.cpp gave the same shape (r16: 16 layers, GQA 4). */
    @Test
    void randomModelsInAMixHaveLlamaCppsTypes() throws IOException {
        Path p = dir.resolve("r16.gguf");
        RandomModel.builder().dim(256).ffn(512).layers(16).heads(8).kvHeads(2).vocab(512).mix(QuantMix.Q4_K_M).build().write(p);
        String want = typeLines().stream().filter(l -> l.startsWith("r16 Q4_K_M ")).findFirst().orElseThrow();
        try (GGUFFile f = GGUFFile.open(p)) {
            assertEquals(15, f.getInt("general.file_type"));
            StringBuilder got = new StringBuilder("r16 Q4_K_M | " + f.tensor("output.weight").type() + " " + f.tensor("token_embd.weight").type());
            for (String kind : List.of("attn_v", "ffn_down", "attn_output")) {
                List<String> types = new ArrayList<>();
                for (int l = 0; l < 16; l++) {
                    types.add(f.tensor("blk." + l + "." + kind + ".weight").type().name());
                }
                got.append(" | ").append(String.join(",", types));
            }
            assertEquals(want, got.toString());
        }
    }

    @Test
    void tensorTypesAreLlamaCppsOnTwoShapes() throws IOException {
        List<String> lines = typeLines();
        assertEquals(2 * QuantMix.values().length, lines.size());
        for (String line : lines) {
            String[] parts = line.split(" \\| ");
            String[] head = parts[0].split(" ");
            boolean tied = head[0].equals("r16t");
            QuantMix.Shape shape = tied ? new QuantMix.Shape(24, 1, true, false) : new QuantMix.Shape(16, 4, false, false);
            QuantMix mix = QuantMix.valueOf(head[1]);
            String embd = mix.typeOf("token_embd.weight", 256, shape).name();
            assertEquals(parts[1], (tied ? "-" : mix.typeOf("output.weight", 256, shape).name()) + " " + embd, line);
            int layers = shape.layers();
            assertEquals(parts[2], types(mix, shape, layers, "attn_v"), line);
            assertEquals(parts[3], types(mix, shape, layers, "ffn_down"), line);
            assertEquals(parts[4], types(mix, shape, layers, "attn_output"), line);
        }
    }

    private static String types(QuantMix mix, QuantMix.Shape shape, int layers, String kind) {
        List<String> out = new ArrayList<>();
        for (int l = 0; l < layers; l++) {
            out.add(mix.typeOf("blk." + l + "." + kind + ".weight", 256, shape).name());
        }
        return String.join(",", out);
    }

    /** llama-quantize's --output-tensor-type, --token-embedding-type and --leave-output-tensor, with a mix and with --pure. */
    @ParameterizedTest
    @CsvSource({"Q4_K_M, false, Q8_0, , false, 16a3bfd0, 8767936", "Q4_K_M, false, , , true, 0d6f4be4, 9537984",
            "Q4_0, true, Q8_0, Q8_0, false, 1fd1f5ff, 8561088", "Q5_K_M, false, Q4_K, Q6_K, false, c8b59e39, 10310080"})
    void overridesAreLlamaCpps(QuantMix mix, boolean pure, GGMLType output, GGMLType embedding, boolean leave, String crc, long size)
            throws IOException {
        Path out = dir.resolve("o.gguf");
        ModelQuantizer.Overrides o = new ModelQuantizer.Overrides(output, embedding, leave);
        Path in = Fixtures.stories15M("stories15M-distilled-f32.gguf");
        if (pure) {
            ModelQuantizer.quantize(in, out, mix.base, o);
        } else {
            ModelQuantizer.quantize(in, out, mix, o);
        }
        assertCrc(out, crc, size, mix + " " + o);
    }

    private static void assertCrc(Path file, String crc, long size, String what) throws IOException {
        byte[] bytes = Files.readAllBytes(file);
        CRC32 c = new CRC32();
        c.update(bytes);
        assertEquals(size, bytes.length, what + " size");
        assertEquals(crc, String.format("%08x", c.getValue()), what);
    }

    /** stories260K's rows of 64 and 172 also take llama.cpp's fallbacks (Q5_0/Q5_1/IQ4_NL/Q4_0, F16). */
    @ParameterizedTest
    @CsvSource({
            "stories260K, Q3_K_S, 511a3191, 277024", "stories260K, Q3_K_M, bd8a829f, 281120", "stories260K, Q3_K_L, ecd43c1f, 282784",
            "stories260K, Q4_K_S, 0d702d81, 303072", "stories260K, Q4_K_M, 2bb73247, 304096", "stories260K, Q5_K_S, dfc89293, 315168",
            "stories260K, Q5_K_M, 803112c0, 316448",
            "stories260K, Q2_K, 160dde3a, 277024", "stories260K, Q6_K, 3f27f5a6, 379168", "stories260K, IQ4_XS, 4ed24426, 277024",
            "stories260K, TQ1_0, c2403c4a, 281120", "stories260K, TQ2_0, a0662ea2, 281120",
            "stories15M, Q3_K_M, f6beb1eb, 7215552", "stories15M, Q4_K_M, 827632fd, 8704448", "stories15M, Q5_K_M, b367b5d4, 10342848",
            "stories15M, Q4_0, 3105daac, 8366528", "stories15M, Q8_0, f0566bd9, 15638976", "stories15M, Q2_K, eef483cf, 5546432",
            "stories15M, Q6_K, 4a9de487, 12083648", "stories15M, IQ4_NL, 53aeb65f, 8366528", "stories15M, IQ4_XS, 6918e393, 7915968",
            "stories15M, TQ2_0, 00819451, 4053440", "stories15M, MXFP4_MOE, 43084599, 15638976"})
    void filesAreLlamaCppsByteForByte(String model, QuantMix mix, String crc, long size) throws IOException {
        Path in = model.equals("stories260K") ? Fixtures.stories260K("stories260K-f32.gguf")
                : Fixtures.stories15M("stories15M-distilled-f32.gguf");
        Path out = dir.resolve(mix + ".gguf");
        ModelQuantizer.quantize(in, out, mix);
        assertCrc(out, crc, size, model + " " + mix);
    }
}
