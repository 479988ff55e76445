package dev.tern.gguf;

import dev.tern.TernException;
import dev.tern.tensor.GGMLType;
import dev.tern.testing.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.zip.CRC32;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

/**
 * llama-quantize's file types against llama.cpp's own llama_model_quantize (libllama of
 * node-llama-cpp 3.22.1, its default mode, not --pure): the type it chose for every tensor of
 * random shapes and of the fixtures, without and with an importance matrix
 * (llama-quantize-mix-types.txt), the tensors it refuses to convert without an importance matrix
 * (the same file and llama-quantize-imatrix-needed.txt), and whole files of the fixtures, which
 * must be llama.cpp's byte for byte (CRC-32 and size of the files it wrote from the same F32
 * GGUFs). stories260K's rows of 172 fit no 32-value block: for Q4_0, Q8_0, IQ4_NL and the like,
 * current llama.cpp (and Tern) refuse it, where that library wrote F16, so those are not among
 * the files.
 */
class QuantMixTest {
    /** llama-quantize-mix-types.txt's columns after output and token_embd: the kinds of a block's matrices. */
    private static final List<String> KINDS = List.of("attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down");
    private static final Map<String, Model> MODELS = new ConcurrentHashMap<>();

    @TempDir
    Path dir;

    /** A model as a mix sees it: its shape, and the tensors llama.cpp quantizes (their shapes) in its order. */
    private record Model(QuantMix.Shape shape, Map<String, long[]> tensors) {
    }

    /** The models of llama-quantize-mix-types.txt's header. */
    private static Model model(String name) {
        return MODELS.computeIfAbsent(name, n -> switch (n) {
            case "r2" -> random(2, 1, false, false, 256);
            case "r8" -> random(8, 1, false, false, 256);
            case "r16" -> random(16, 4, false, false, 512);
            case "r16t" -> random(24, 1, true, false, 768);
            case "r80" -> random(80, 8, false, true, 256);
            case "s15m" -> fixture(Fixtures.stories15M("stories15M-distilled-f32.gguf"));
            case "s260k" -> fixture(Fixtures.stories260K("stories260K-f32.gguf"));
            default -> throw new IllegalArgumentException(n);
        });
    }

    /** RandomModel's tensors at dim 256, 8 heads of 32, vocabulary 512. */
    private static Model random(int layers, int gqa, boolean tied, boolean is70B, int ffn) {
        List<String> names = new ArrayList<>(List.of("token_embd.weight"));
        if (!tied) {
            names.add("output.weight");
        }
        for (int l = 0; l < layers; l++) {
            for (String kind : KINDS) {
                names.add("blk." + l + "." + kind + ".weight");
            }
        }
        names.sort(ModelQuantizer.LLAMA_ORDER);
        Map<String, long[]> tensors = new LinkedHashMap<>();
        for (String n : names) {
            long rows = n.contains("attn_k") || n.contains("attn_v") ? 256 / gqa : n.contains("ffn_gate") || n.contains("ffn_up") ? ffn
                    : n.contains("ffn_down") ? 256 : n.startsWith("blk.") ? 256 : 512;
            tensors.put(n, new long[]{n.contains("ffn_down") ? ffn : 256, rows});
        }
        return new Model(new QuantMix.Shape(layers, gqa, tied, is70B), tensors);
    }

    private static Model fixture(Path file) {
        try (GGUFFile f = GGUFFile.open(file)) {
            Map<String, long[]> tensors = new LinkedHashMap<>();
            f.tensors().stream().filter(t -> ModelQuantizer.isQuantizable(t.name(), t.shape()))
                    .sorted(Comparator.comparing(GGUFTensorInfo::name, ModelQuantizer.LLAMA_ORDER))
                    .forEach(t -> tensors.put(t.name(), t.shape()));
            return new Model(QuantMix.Shape.of(f), tensors);
        }
    }

    private static List<String> lines(String resource) throws IOException {
        try (InputStream in = QuantMixTest.class.getResourceAsStream(resource)) {
            return new String(in.readAllBytes(), StandardCharsets.US_ASCII).lines().filter(l -> !l.startsWith("#")).toList();
        }
    }

    static List<String> typeLines() throws IOException {
        return lines("llama-quantize-mix-types.txt");
    }

    /**
     * The types the mix gives a model's tensors, after ModelQuantizer's row-size fallback; a test
     * meeting a 256-value IQ type whose rows do not fit is skipped while that fallback lacks
     * llama.cpp's IQ4_NL for it.
     */
    private static Map<String, GGMLType> types(QuantMix mix, Model m, boolean importance, Map<String, GGMLType> explicit) {
        Map<String, GGMLType> out = new LinkedHashMap<>();
        m.tensors().forEach((name, shape) -> {
            GGMLType chosen = explicit.getOrDefault(name, mix.typeOf(name, shape[0], m.shape(), importance));
            try {
                out.put(name, ModelQuantizer.tensorType(name, shape, GGMLType.F32, chosen));
            } catch (TernException e) {
                assumeFalse(chosen.name().startsWith("IQ") && chosen.blockSize == 256,
                        "ModelQuantizer.tensorType has no fallback for " + chosen + " (llama.cpp's: IQ4_NL)");
                throw e;
            }
        });
        return out;
    }

    /** A kind's types by layer, a run of n equal types written T*n. */
    private static String byLayer(Map<String, GGMLType> types, int layers, String kind) {
        List<String> runs = new ArrayList<>();
        for (int l = 0; l < layers; ) {
            GGMLType t = types.get("blk." + l + "." + kind + ".weight");
            int n = 1;
            while (l + n < layers && types.get("blk." + (l + n) + "." + kind + ".weight") == t) {
                n++;
            }
            runs.add(n == 1 ? t.name() : t + "*" + n);
            l += n;
        }
        return String.join(",", runs);
    }

    /** The tensors that need an importance matrix (QuantMix.needsImportance), in llama.cpp's order. */
    private static List<String> needing(QuantMix mix, Map<String, GGMLType> types) {
        return types.entrySet().stream().filter(e -> mix.needsImportance(e.getKey(), e.getValue())).map(Map.Entry::getKey).toList();
    }

    @ParameterizedTest
    @MethodSource("typeLines")
    void tensorTypesAreLlamaCpps(String line) {
        String[] parts = line.split(" \\| ");
        String[] head = parts[0].split(" ");
        Model m = model(head[0]);
        QuantMix mix = QuantMix.valueOf(head[1]);
        boolean importance = head[2].equals("imatrix");
        Map<String, GGMLType> types = types(mix, m, importance, Map.of());
        assertEquals(parts[1], (m.shape().tiedOutput() ? "-" : types.get("output.weight").name()) + " " + types.get("token_embd.weight"), line);
        for (int k = 0; k < KINDS.size(); k++) {
            assertEquals(parts[2 + k], byLayer(types, m.shape().layers(), KINDS.get(k)), line + ": " + KINDS.get(k));
        }
        if (!importance) {
            assertEquals(parts[9], needing(mix, types).stream().findFirst().orElse("-"), line + ": refused for");
        }
    }

    @Test
    void everyMixIsInTheTypesFile() throws IOException {
        Set<String> mixes = new TreeSet<>();
        typeLines().forEach(l -> mixes.add(l.split(" ")[1]));
        assertEquals(new TreeSet<>(Arrays.stream(QuantMix.values()).map(Enum::name).toList()), mixes);
    }

    /** The tensors llama_model_quantize refuses to convert without an entry in the importance matrix. */
    @ParameterizedTest
    @MethodSource("neededLines")
    void importanceIsNeededWhereLlamaCppNeedsIt(String line) {
        String[] parts = line.split(" \\| ");
        String[] head = parts[0].split(" ");
        QuantMix mix = QuantMix.valueOf(head[1]);
        Map<String, GGMLType> explicit = new HashMap<>();
        for (int i = 2; i < head.length; i++) {
            String[] kv = head[i].split("=");
            explicit.put(kv[0], GGMLType.valueOf(kv[1]));
        }
        List<String> want = parts[1].equals("-") ? List.of() : List.of(parts[1].split(" "));
        assertEquals(want, needing(mix, types(mix, model(head[0]), true, explicit)), line);
    }

    static List<String> neededLines() throws IOException {
        return lines("llama-quantize-imatrix-needed.txt");
    }

    /** A random model written in a mix has the types llama.cpp gave the same shape (r16: 16 layers, GQA 4). */
    @Test
    void randomModelsInAMixHaveLlamaCppsTypes() throws IOException {
        Path p = dir.resolve("r16.gguf");
        RandomModel.builder().dim(256).ffn(512).layers(16).heads(8).kvHeads(2).vocab(512).mix(QuantMix.Q4_K_M).build().write(p);
        String want = typeLines().stream().filter(l -> l.startsWith("r16 Q4_K_M - ")).findFirst().orElseThrow();
        try (GGUFFile f = GGUFFile.open(p)) {
            assertEquals(15, f.getInt("general.file_type"));
            Map<String, GGMLType> types = new LinkedHashMap<>();
            f.tensors().forEach(t -> types.put(t.name(), t.type()));
            StringBuilder got = new StringBuilder("r16 Q4_K_M - | " + types.get("output.weight") + " " + types.get("token_embd.weight"));
            KINDS.forEach(k -> got.append(" | ").append(byLayer(types, 16, k)));
            assertEquals(want, got + " | -");
        }
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
