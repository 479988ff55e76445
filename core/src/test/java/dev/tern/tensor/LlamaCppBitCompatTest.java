package dev.tern.tensor;

import dev.tern.gguf.GGUFFile;
import dev.tern.gguf.GGUFTensorInfo;
import dev.tern.testing.Fixtures;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Our reference quantizers must reproduce llama-quantize's output byte for byte: every
 * non-F32 2-D tensor of the quantized stories15M files (and the F16/BF16 stories260K files) is
 * re-quantized from the model's F32 file and compared.
 * Also checks that dequantizing llama.cpp's bytes lands close to the F32 original.
 */
class LlamaCppBitCompatTest {

    @ParameterizedTest
    @CsvSource({"stories15M-distilled, q8_0, Q8_0", "stories15M-distilled, q4_0, Q4_0 Q6_K",
            "stories15M-distilled, q4_1, Q4_1 Q6_K", "stories15M-distilled, q5_0, Q5_0 Q6_K",
            "stories15M-distilled, q5_1, Q5_1 Q6_K", "stories15M-distilled, q4_k_m, Q4_K Q6_K",
            "stories15M-distilled, q5_k_m, Q5_K Q6_K", "stories15M-distilled, q6_k, Q6_K",
            "stories260K, f16, F16", "stories260K, bf16, BF16"})
    void quantizersMatchLlamaQuantize(String model, String variant, String expectedTypes) {
        List<String> mismatches = new ArrayList<>();
        Set<GGMLType> seen = EnumSet.noneOf(GGMLType.class);
        Path dir = Fixtures.models().resolve(model);
        try (GGUFFile f32 = GGUFFile.open(dir.resolve(model + "-f32.gguf"));
             GGUFFile q = GGUFFile.open(dir.resolve(model + "-" + variant + ".gguf"));
             Arena arena = Arena.ofConfined()) {
            for (GGUFTensorInfo info : q.tensors()) {
                if (info.shape().length != 2 || info.type() == GGMLType.F32) {
                    continue;
                }
                seen.add(info.type());
                GGUFTensorInfo src = f32.tensor(info.name());
                assertEquals(GGMLType.F32, src.type(), info.name());
                float[] values = f32.data(src).toArray(ValueLayout.JAVA_FLOAT_UNALIGNED);
                TensorFormat format = TensorFormat.of(info.type());
                MemorySegment ours = arena.allocate(info.byteSize());
                int cols = Math.toIntExact(info.rowLength());
                long rowBytes = info.type().byteSize(cols);
                for (int r = 0; r < info.rows(); r++) {
                    format.quantize(values, r * cols, cols, ours, r * rowBytes);
                }
                MemorySegment theirs = q.data(info);
                long at = ours.mismatch(theirs);
                if (at >= 0) {
                    mismatches.add(info + " first differs at byte " + at + " (block " + at / info.type().blockBytes + ")");
                }
                assertDequantizedClose(format, theirs, values, info);
            }
        }
        for (String t : expectedTypes.split(" ")) {
            assertTrue(seen.contains(GGMLType.valueOf(t)), variant + " has no " + t + " tensor, only " + seen);
        }
        assertTrue(mismatches.isEmpty(), seen + ": " + mismatches.size() + " tensors differ:\n" + String.join("\n", mismatches));
    }

    /** llama.cpp's bytes, decoded by us, must be near the original: RMSE well below the data's RMS. */
    private static void assertDequantizedClose(TensorFormat format, MemorySegment data, float[] original, GGUFTensorInfo info) {
        float[] decoded = new float[original.length];
        int cols = Math.toIntExact(info.rowLength());
        long rowBytes = info.type().byteSize(cols);
        for (int r = 0; r < info.rows(); r++) {
            format.dequantize(data, r * rowBytes, decoded, r * cols, cols);
        }
        double err = 0;
        double sq = 0;
        for (int i = 0; i < original.length; i++) {
            double d = decoded[i] - original[i];
            err += d * d;
            sq += (double) original[i] * original[i];
        }
        double rel = Math.sqrt(err / sq);
        assertTrue(rel < RoundTripBounds.relativeRmse(info.type()), info + ": relative RMSE " + rel);
    }
}
