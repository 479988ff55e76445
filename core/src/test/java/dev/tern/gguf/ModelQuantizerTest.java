package dev.tern.gguf;

import dev.tern.TernException;
import dev.tern.tensor.GGMLType;
import dev.tern.tensor.TensorFormat;
import dev.tern.testing.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.io.IOException;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

class ModelQuantizerTest {
    @TempDir
    Path dir;

    /** llama-quantize's output for each type (the "pure" ones are byte-for-byte targets). */
    private static Path reference(GGMLType type) {
        return switch (type) {
            case F32 -> Fixtures.stories260K("stories260K-f32.gguf");
            case F16 -> Fixtures.stories260K("stories260K-f16.gguf");
            case BF16 -> Fixtures.stories260K("stories260K-bf16.gguf");
            case Q8_0 -> Fixtures.stories15M("stories15M-distilled-q8_0.gguf");
            case Q4_0 -> Fixtures.stories15M("stories15M-distilled-q4_0.gguf");
            case Q4_1 -> Fixtures.stories15M("stories15M-distilled-q4_1.gguf");
            case Q5_0 -> Fixtures.stories15M("stories15M-distilled-q5_0.gguf");
            case Q5_1 -> Fixtures.stories15M("stories15M-distilled-q5_1.gguf");
            case Q4_K -> Fixtures.stories15M("stories15M-distilled-q4_k_m.gguf");
            case Q5_K -> Fixtures.stories15M("stories15M-distilled-q5_k_m.gguf");
            case Q6_K -> Fixtures.stories15M("stories15M-distilled-q6_k.gguf");
            default -> throw new AssertionError("no reference for " + type);
        };
    }

    private static Path source(GGMLType type) {
        return switch (type) {
            case F32, F16, BF16 -> Fixtures.stories260K("stories260K-f32.gguf");
            default -> Fixtures.stories15M("stories15M-distilled-f32.gguf");
        };
    }

    /**
     * Every type Tern supports, against llama-quantize's file of that type: same metadata
     * (but file_type, which names the mix), same tensors in the same order, our type for every
     * weight matrix and F32 for the rest, and identical bytes wherever llama.cpp chose the same
     * type. A type whose TensorFormat is missing fails here.
     */
    @ParameterizedTest
    @EnumSource(value = GGMLType.class, names = {"F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q4_K", "Q5_K", "Q6_K"})
    void matchesLlamaQuantize(GGMLType type) throws IOException {
        assertTrue(type.isSupported());
        Path out = dir.resolve("out.gguf");
        ModelQuantizer.quantize(source(type), out, type);
        int same = 0;
        int quantized = 0;
        try (GGUFFile ours = GGUFFile.open(out); GGUFFile ref = GGUFFile.open(reference(type)); GGUFFile src = GGUFFile.open(source(type))) {
            Map<String, MetadataValue> expected = new LinkedHashMap<>(ref.metadata());
            expected.putIfAbsent("general.quantization_version", MetadataValue.ofUInt32(2));
            expected.put("general.file_type", MetadataValue.ofUInt32(ModelQuantizer.fileType(type)));
            assertEquals(expected.keySet(), ours.metadata().keySet());
            expected.forEach((k, v) -> GGUFWriterTest.assertSameValue(k, v, ours.metadata().get(k)));
            // the F32 reference is the unsorted source: llama-quantize's order comes from its F16 output
            try (GGUFFile order = GGUFFile.open(reference(type == GGMLType.F32 ? GGMLType.F16 : type))) {
                assertEquals(names(order), names(ours), "tensor order");
            }
            for (GGUFTensorInfo t : ours.tensors()) {
                GGUFTensorInfo r = ref.tensor(t.name());
                assertArrayEquals(r.shape(), t.shape(), t.name());
                GGMLType want = t.shape().length == 1 ? src.tensor(t.name()).type() : type;
                assertEquals(want, t.type(), t.name());
                if (t.type() == r.type()) {
                    same++;
                    if (t.type() == type && type != GGMLType.F32) {
                        quantized++;
                    }
                    assertArrayEquals(ref.data(r).toArray(ValueLayout.JAVA_BYTE), ours.data(t).toArray(ValueLayout.JAVA_BYTE), t.name());
                }
            }
            assertTrue(type == GGMLType.F32 || quantized >= 10, "only " + quantized + " tensors comparable");
        }
        if (type == GGMLType.Q8_0 || type == GGMLType.Q6_K) {
            // llama.cpp's mix is uniform for these: the whole file must be identical
            assertEquals(-1, Files.mismatch(out, reference(type)), "first differing byte");
        }
        assertTrue(same > 0);
    }

    private static List<String> names(GGUFFile f) {
        return f.tensors().stream().map(GGUFTensorInfo::name).toList();
    }

    @Test
    void f32ToF32KeepsEveryTensorAndOrdersThemAsLlamaCpp() {
        Path in = Fixtures.stories260K("stories260K-f32.gguf");
        Path out = dir.resolve("f32.gguf");
        ModelQuantizer.quantize(in, out, GGMLType.F32);
        try (GGUFFile a = GGUFFile.open(in); GGUFFile b = GGUFFile.open(out); GGUFFile f16 = GGUFFile.open(Fixtures.stories260K("stories260K-f16.gguf"))) {
            List<String> keys = new ArrayList<>(a.metadata().keySet());
            keys.add("general.quantization_version");
            keys.add("general.file_type");
            assertEquals(keys, List.copyOf(b.metadata().keySet()));
            a.metadata().forEach((k, v) -> GGUFWriterTest.assertSameValue(k, v, b.metadata().get(k)));
            assertEquals(2L, b.metadata().get("general.quantization_version").value());
            assertEquals(0L, b.metadata().get("general.file_type").value());
            assertEquals(names(f16), names(b), "llama-quantize's tensor order");
            for (GGUFTensorInfo t : a.tensors()) {
                GGUFTensorInfo u = b.tensor(t.name());
                assertEquals(GGMLType.F32, u.type());
                assertArrayEquals(a.data(t).toArray(ValueLayout.JAVA_BYTE), b.data(u).toArray(ValueLayout.JAVA_BYTE), t.name());
            }
        }
    }

    /** F16 and BF16 sources decode to F32 exactly (checked against a plain bit-level decoding). */
    @ParameterizedTest
    @EnumSource(value = GGMLType.class, names = {"F16", "BF16"})
    void widensHalfPrecisionSources(GGMLType from) {
        Path in = Fixtures.stories260K(from == GGMLType.F16 ? "stories260K-f16.gguf" : "stories260K-bf16.gguf");
        Path out = dir.resolve("wide.gguf");
        ModelQuantizer.quantize(in, out, GGMLType.F32);
        try (GGUFFile a = GGUFFile.open(in); GGUFFile b = GGUFFile.open(out)) {
            assertEquals(0L, b.metadata().get("general.file_type").value());
            for (GGUFTensorInfo t : a.tensors()) {
                GGUFTensorInfo u = b.tensor(t.name());
                assertEquals(GGMLType.F32, u.type());
                float[] got = b.data(u).toArray(ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN));
                if (t.type() == GGMLType.F32) {
                    assertArrayEquals(a.data(t).toArray(ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN)), got, t.name());
                    continue;
                }
                assertEquals(from, t.type(), t.name());
                short[] half = a.data(t).toArray(ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN));
                assertEquals(half.length, got.length);
                for (int i = 0; i < half.length; i++) {
                    float want = from == GGMLType.F16 ? Float.float16ToFloat(half[i]) : Float.intBitsToFloat((half[i] & 0xFFFF) << 16);
                    assertEquals(Float.floatToIntBits(want), Float.floatToIntBits(got[i]), t.name() + "[" + i + "]");
                }
            }
        }
    }

    /**
     * llama-quantize --tensor-type: the first pattern found in a name decides that tensor's type instead of
     * the mix, still through the row-size fallback; tensors no pattern names keep the mix's choice.
     */
    @Test
    void tensorTypePatternsOverrideTheMix() {
        Path in = Fixtures.stories15M("stories15M-distilled-f32.gguf");
        Path mixed = dir.resolve("mix.gguf"), manual = dir.resolve("manual.gguf");
        ModelQuantizer.quantize(in, mixed, QuantMix.Q4_K_M);
        ModelQuantizer.Overrides o = new ModelQuantizer.Overrides(null, null, false, List.of(
                new ModelQuantizer.TensorType(java.util.regex.Pattern.compile("blk\\.[0-2]\\.ffn_down"), GGMLType.Q8_0),
                new ModelQuantizer.TensorType(java.util.regex.Pattern.compile("ffn_down|attn_v"), GGMLType.Q5_K)), false, List.of());
        ModelQuantizer.quantize(in, manual, QuantMix.Q4_K_M, o);
        try (GGUFFile a = GGUFFile.open(mixed); GGUFFile b = GGUFFile.open(manual)) {
            for (GGUFTensorInfo t : a.tensors()) {
                String n = t.name();
                GGMLType expected = n.matches("blk\\.[0-2]\\.ffn_down.*") ? GGMLType.Q8_0
                        : n.contains("ffn_down") || n.contains("attn_v") ? GGMLType.Q5_K : t.type();
                assertEquals(expected, b.tensor(n).type(), n);
            }
        }
    }

    /**
     * With an importance matrix each quantized tensor's rows go through the weighted quantizer with that
     * tensor's own mean squares; tensors the matrix lacks, and the embedding, are quantized plainly.
     */
    @Test
    void importanceReachesEachTensorsQuantizer() {
        Path in = Fixtures.stories15M("stories15M-distilled-f32.gguf");
        Map<String, ImportanceMatrix.Entry> entries = new LinkedHashMap<>();
        java.util.Random r = new java.util.Random(5);
        for (String name : List.of("blk.0.attn_q.weight", "blk.2.ffn_down.weight")) {
            int cols = name.contains("ffn_down") ? 1024 : 512;
            float[] squares = new float[cols];
            for (int j = 0; j < cols; j++) {
                squares[j] = (float) Math.exp(4 * r.nextGaussian());
            }
            entries.put(name, new ImportanceMatrix.Entry(squares, null, new float[]{100}));
        }
        ImportanceMatrix m = new ImportanceMatrix(entries, List.of("t.txt"), 3, 128);
        Path out = dir.resolve("q4_0.gguf");
        ModelQuantizer.quantize(in, out, GGMLType.Q4_0, ModelQuantizer.Overrides.NONE, m);
        try (GGUFFile src = GGUFFile.open(in); GGUFFile q = GGUFFile.open(out)) {
            assertEquals(2, q.getInt("quantize.imatrix.entries_count"));
            assertEquals(3, q.getInt("quantize.imatrix.chunks_count"));
            assertEquals("t.txt", q.getString("quantize.imatrix.dataset"));
            for (String name : List.of("blk.0.attn_q.weight", "blk.2.ffn_down.weight", "blk.0.attn_k.weight")) {
                GGUFTensorInfo t = src.tensor(name);
                int cols = (int) t.shape()[0];
                float[] row = new float[cols];
                TensorFormat.of(GGMLType.F32).dequantize(src.data(t), 0, row, 0, cols);
                long bytes = GGMLType.Q4_0.byteSize(cols);
                try (java.lang.foreign.Arena arena = java.lang.foreign.Arena.ofConfined()) {
                    java.lang.foreign.MemorySegment expected = arena.allocate(bytes);
                    float[] w = m.importance(name);
                    if (w == null) {
                        TensorFormat.of(GGMLType.Q4_0).quantize(row, 0, cols, expected, 0);
                    } else {
                        TensorFormat.of(GGMLType.Q4_0).quantize(row, 0, cols, expected, 0, w);
                    }
                    assertEquals(-1, expected.mismatch(q.data(q.tensor(name)).asSlice(0, bytes)), name);
                    if (w != null) {
                        java.lang.foreign.MemorySegment plain = arena.allocate(bytes);
                        TensorFormat.of(GGMLType.Q4_0).quantize(row, 0, cols, plain, 0);
                        assertNotEquals(-1, plain.mismatch(expected), name + ": the importance changes the first row");
                    }
                }
            }
        }
        ImportanceMatrix wrong = new ImportanceMatrix(Map.of("blk.1.attn_v.weight",
                new ImportanceMatrix.Entry(new float[100], null, new float[]{1})), List.of(), 1, 128);
        TernException e = assertThrows(TernException.class,
                () -> ModelQuantizer.quantize(in, dir.resolve("bad.gguf"), GGMLType.Q4_0, ModelQuantizer.Overrides.NONE, wrong));
        assertTrue(e.getMessage().contains("100 values") && e.getMessage().contains("blk.1.attn_v.weight"), e.getMessage());
    }

    @Test
    void sameTypeIsACopy() {
        Path in = Fixtures.stories15M("stories15M-distilled-q8_0.gguf");
        Path out = dir.resolve("copy.gguf");
        ModelQuantizer.quantize(in, out, GGMLType.Q8_0);
        assertDoesNotThrow(() -> assertEquals(-1, Files.mismatch(in, out)));
    }

    @Test
    void refusesToRequantize() {
        Path in = Fixtures.stories15M("stories15M-distilled-q8_0.gguf");
        TernException e = assertThrows(TernException.class, () -> ModelQuantizer.quantize(in, dir.resolve("x.gguf"), GGMLType.Q4_0));
        assertTrue(e.getMessage().contains("requantiz") && e.getMessage().contains(in.getFileName().toString()), e.getMessage());
        assertFalse(Files.exists(dir.resolve("x.gguf")));
    }

    @Test
    void rowsThatDoNotFitQ8_0BlocksFailLikeLlamaCpp() {
        Path in = Fixtures.stories260K("stories260K-f32.gguf");
        TernException e = assertThrows(TernException.class, () -> ModelQuantizer.quantize(in, dir.resolve("x.gguf"), GGMLType.Q8_0));
        assertTrue(e.getMessage().contains("stories260K-f32.gguf") && e.getMessage().contains("ffn_down") && e.getMessage().contains("172"),
                e.getMessage());
    }

    /** stories260K's rows of 64 and 172 fit no IQ4_XS block: IQ4_NL takes the 64s, F16 the 172s, as in llama.cpp. */
    @Test
    void iq4XsFallsBackToIq4NlThenF16() {
        Path out = dir.resolve("xs.gguf");
        ModelQuantizer.quantize(Fixtures.stories260K("stories260K-f32.gguf"), out, GGMLType.IQ4_XS);
        try (GGUFFile f = GGUFFile.open(out)) {
            assertEquals(30L, f.metadata().get("general.file_type").value());
            for (GGUFTensorInfo t : f.tensors()) {
                GGMLType want = t.shape().length == 1 ? GGMLType.F32 : t.shape()[0] == 172 ? GGMLType.F16 : GGMLType.IQ4_NL;
                assertEquals(want, t.type(), t.name() + " " + java.util.Arrays.toString(t.shape()));
            }
        }
    }

    /**
     * stories260K's rows of 64 and 172 fit no ternary block: Q4_0 takes the 64s, F16 the 172s, as
     * llama.cpp's tensor_type_fallback does (llama_model_quantize of llama.cpp v0.5.0 wrote the same
     * bytes, with --pure, in a scratch comparison).
     */
    @ParameterizedTest
    @EnumSource(value = GGMLType.class, names = {"TQ1_0", "TQ2_0"})
    void ternaryFallsBackToQ4_0ThenF16(GGMLType type) {
        Path out = dir.resolve("tq.gguf");
        ModelQuantizer.quantize(Fixtures.stories260K("stories260K-f32.gguf"), out, type);
        try (GGUFFile f = GGUFFile.open(out)) {
            assertEquals((long) ModelQuantizer.fileType(type), f.metadata().get("general.file_type").value());
            for (GGUFTensorInfo t : f.tensors()) {
                GGMLType want = t.shape().length == 1 ? GGMLType.F32 : t.shape()[0] == 172 ? GGMLType.F16 : GGMLType.Q4_0;
                assertEquals(want, t.type(), t.name() + " " + java.util.Arrays.toString(t.shape()));
            }
        }
    }

    @Test
    void tensorTypeRules() {
        long[] mat = {96, 8};
        long[] odd = {172, 64};
        assertEquals(GGMLType.Q4_K, ModelQuantizer.tensorType("blk.0.attn_q.weight", new long[]{256, 8}, GGMLType.F32, GGMLType.Q4_K));
        assertEquals(GGMLType.Q5_0, ModelQuantizer.tensorType("blk.0.attn_q.weight", mat, GGMLType.F32, GGMLType.Q4_K));
        assertEquals(GGMLType.Q5_1, ModelQuantizer.tensorType("blk.0.attn_q.weight", mat, GGMLType.F32, GGMLType.Q5_K));
        assertEquals(GGMLType.Q8_0, ModelQuantizer.tensorType("blk.0.attn_q.weight", mat, GGMLType.F32, GGMLType.Q6_K));
        assertEquals(GGMLType.Q3_K, ModelQuantizer.tensorType("blk.0.attn_q.weight", new long[]{256, 8}, GGMLType.F32, GGMLType.Q3_K));
        assertQ2KAndQ3KFallBackToQ4_0(mat, odd);
        assertEquals(GGMLType.F16, ModelQuantizer.tensorType("blk.0.ffn_down.weight", odd, GGMLType.F32, GGMLType.Q6_K));
        assertEquals(GGMLType.BF16, ModelQuantizer.tensorType("blk.0.ffn_down.weight", odd, GGMLType.F32, GGMLType.BF16));
        assertThrows(TernException.class, () -> ModelQuantizer.tensorType("blk.0.ffn_down.weight", odd, GGMLType.F32, GGMLType.Q4_1));
        assertEquals(GGMLType.IQ4_NL, ModelQuantizer.tensorType("blk.0.attn_q.weight", mat, GGMLType.F32, GGMLType.IQ4_XS));
        assertEquals(GGMLType.F16, ModelQuantizer.tensorType("blk.0.ffn_down.weight", odd, GGMLType.F32, GGMLType.IQ4_XS));
        assertThrows(TernException.class, () -> ModelQuantizer.tensorType("blk.0.ffn_down.weight", odd, GGMLType.F32, GGMLType.IQ4_NL));
        for (GGMLType t : new GGMLType[]{GGMLType.TQ1_0, GGMLType.TQ2_0}) {
            assertEquals(t, ModelQuantizer.tensorType("blk.0.attn_q.weight", new long[]{256, 8}, GGMLType.F32, t));
            assertEquals(GGMLType.Q4_0, ModelQuantizer.tensorType("blk.0.attn_q.weight", mat, GGMLType.F32, t));
            assertEquals(GGMLType.F16, ModelQuantizer.tensorType("blk.0.ffn_down.weight", odd, GGMLType.F32, t));
        }
        assertEquals(GGMLType.MXFP4, ModelQuantizer.tensorType("blk.0.attn_q.weight", mat, GGMLType.F32, GGMLType.MXFP4));
        assertEquals(GGMLType.MXFP4, ModelQuantizer.tensorType("token_embd.weight", new long[]{64, 512}, GGMLType.F16, GGMLType.MXFP4));
        assertThrows(TernException.class, () -> ModelQuantizer.tensorType("blk.0.ffn_down.weight", odd, GGMLType.F32, GGMLType.MXFP4));
        assertEquals(GGMLType.F32, ModelQuantizer.tensorType("blk.0.attn_norm.weight", new long[]{64}, GGMLType.F32, GGMLType.Q8_0));
        assertEquals(GGMLType.F32, ModelQuantizer.tensorType("output_norm.weight", new long[]{64}, GGMLType.F32, GGMLType.Q8_0));
        assertEquals(GGMLType.F32, ModelQuantizer.tensorType("blk.0.attn_q.bias", new long[]{64, 2}, GGMLType.F32, GGMLType.Q8_0));
        assertEquals(GGMLType.F32, ModelQuantizer.tensorType("blk.0.x.weight", new long[]{64, 1}, GGMLType.F32, GGMLType.Q8_0));
        assertEquals(GGMLType.F32, ModelQuantizer.tensorType("blk.0.ffn_gate_inp.weight", new long[]{64, 8}, GGMLType.F32, GGMLType.Q8_0));
        assertEquals(GGMLType.Q8_0, ModelQuantizer.tensorType("blk.0.ffn_up_exps.weight", new long[]{64, 8, 4}, GGMLType.F32, GGMLType.Q8_0));
        assertEquals(GGMLType.Q8_0, ModelQuantizer.tensorType("token_embd.weight", new long[]{64, 512}, GGMLType.F16, GGMLType.Q8_0));
        assertEquals(GGMLType.Q8_0, ModelQuantizer.tensorType("output.weight", new long[]{64, 512}, GGMLType.F16, GGMLType.Q8_0));
    }

    /**
     * llama.cpp's tensor_type_fallback sends Q2_K/Q3_K rows that do not split into 256-blocks to Q4_0
     * (32-blocks), and to F16 past that (older llama.cpp sent them to IQ4_NL).
     */
    private static void assertQ2KAndQ3KFallBackToQ4_0(long[] mat, long[] odd) {
        for (GGMLType t : new GGMLType[]{GGMLType.Q2_K, GGMLType.Q3_K}) {
            assertEquals(GGMLType.F16, ModelQuantizer.tensorType("blk.0.ffn_down.weight", odd, GGMLType.F32, t));
            assertEquals(GGMLType.Q4_0, ModelQuantizer.tensorType("blk.0.attn_q.weight", mat, GGMLType.F32, t));
        }
    }

    @Test
    void fileTypesAreLlamaFtypes() {
        assertEquals(0, ModelQuantizer.fileType(GGMLType.F32));
        assertEquals(1, ModelQuantizer.fileType(GGMLType.F16));
        assertEquals(32, ModelQuantizer.fileType(GGMLType.BF16));
        assertEquals(7, ModelQuantizer.fileType(GGMLType.Q8_0));
        assertEquals(2, ModelQuantizer.fileType(GGMLType.Q4_0));
        assertEquals(18, ModelQuantizer.fileType(GGMLType.Q6_K));
        assertEquals(10, ModelQuantizer.fileType(GGMLType.Q2_K));
        assertEquals(11, ModelQuantizer.fileType(GGMLType.Q3_K));
        assertEquals(25, ModelQuantizer.fileType(GGMLType.IQ4_NL));
        assertEquals(30, ModelQuantizer.fileType(GGMLType.IQ4_XS));
        assertEquals(36, ModelQuantizer.fileType(GGMLType.TQ1_0));
        assertEquals(37, ModelQuantizer.fileType(GGMLType.TQ2_0));
        assertEquals(38, ModelQuantizer.fileType(GGMLType.MXFP4));
        // llama.h's numbers for the lattice types
        assertEquals(19, ModelQuantizer.fileType(GGMLType.IQ2_XXS));
        assertEquals(20, ModelQuantizer.fileType(GGMLType.IQ2_XS));
        assertEquals(23, ModelQuantizer.fileType(GGMLType.IQ3_XXS));
        assertEquals(24, ModelQuantizer.fileType(GGMLType.IQ1_S));
        assertEquals(26, ModelQuantizer.fileType(GGMLType.IQ3_S));
        assertEquals(28, ModelQuantizer.fileType(GGMLType.IQ2_S));
        assertEquals(31, ModelQuantizer.fileType(GGMLType.IQ1_M));
        assertThrows(TernException.class, () -> ModelQuantizer.fileType(GGMLType.Q8_K));
        TernException e = assertThrows(TernException.class, () -> ModelQuantizer.requireQuantizable(GGMLType.Q8_K));
        assertTrue(e.getMessage().startsWith("cannot quantize to Q8_K (types Tern writes: F32, F16"), e.getMessage());
    }

    @Test
    void llamaOrderSortsBlocksNumerically() {
        List<String> names = new ArrayList<>(List.of("blk.10.a.weight", "token_embd.weight", "blk.2.b.weight", "blk.2.a.weight", "output.weight"));
        names.sort(ModelQuantizer.LLAMA_ORDER);
        assertEquals(List.of("output.weight", "token_embd.weight", "blk.2.a.weight", "blk.2.b.weight", "blk.10.a.weight"), names);
    }
}
