package dev.tern.tensor;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/**
 * IQ2_XXS, IQ2_XS and IQ2_S quantized with an importance row (and IQ2_S without one, the only of
 * the three that llama.cpp defines so) must be llama.cpp's bytes: iq2-quantize-vectors.txt holds
 * the CRC-32 of each row as its compiled ggml_quantize_chunk makes it from {@link ImportanceInputs},
 * in three shapes, so that zero sub-blocks, zero-importance columns, outliers and points off the
 * grid (the neighbour search) all occur; with importance rows that are zero over whole
 * sub-blocks or everywhere, where no trial scale fits; and with whole super-blocks of zeros.
 */
class IQ2QuantizeReferenceTest {

    @Test
    void quantizeMatchesLlamaCppBytes() throws IOException {
        List<String> lines = ReferenceVectors.lines("iq2-quantize-vectors.txt");
        assertEquals(List.of("IQ2_XXS 64x512", "IQ2_XXS 8x4096", "IQ2_XXS 16x256",
                        "IQ2_XS 64x512", "IQ2_XS 8x4096", "IQ2_XS 16x256",
                        "IQ2_S 64x512", "IQ2_S 8x4096", "IQ2_S 16x256",
                        "IQ2_S 64x512 none", "IQ2_S 8x4096 none", "IQ2_S 16x256 none",
                        "IQ2_XXS 8x512 zeroruns", "IQ2_XS 8x512 zeroruns", "IQ2_S 8x512 zeroruns",
                        "IQ2_XXS 8x512 allzero", "IQ2_XS 8x512 allzero", "IQ2_S 8x512 allzero",
                        "IQ2_XXS 4x512 zeroblocks", "IQ2_XS 4x512 zeroblocks", "IQ2_S 4x512 zeroblocks"),
                lines.stream().map(l -> l.replaceAll("( [0-9a-f]{8})+$", "")).toList());
        for (String line : lines) {
            String[] parts = line.split(" ");
            TensorFormat format = TensorFormat.of(GGMLType.valueOf(parts[0]));
            String[] shape = parts[1].split("x");
            int rows = Integer.parseInt(shape[0]), cols = Integer.parseInt(shape[1]);
            String variant = parts[2].matches("[0-9a-f]{8}") ? "" : parts[2];
            ReferenceVectors.assertRowChecksums(format, values(variant, rows, cols), rows, cols, importance(variant, cols), parts,
                    variant.isEmpty() ? 2 : 3, parts[0] + " " + parts[1] + " " + variant);
        }
    }

    /** The rows the checksum file's header names: "zeroblocks" has whole super-blocks of zeros. */
    private static float[] values(String variant, int rows, int cols) {
        float[] v = ImportanceInputs.values(rows, cols);
        if (variant.equals("zeroblocks")) {
            for (int r = 0; r < rows; r++) {
                Arrays.fill(v, r * cols, r % 2 == 0 ? (r + 1) * cols : r * cols + 256, 0f);
            }
        }
        return v;
    }

    /** The importance row the checksum file's header names (null for "none"). */
    private static float[] importance(String variant, int cols) {
        float[] w = ImportanceInputs.importance(cols);
        switch (variant) {
            case "", "zeroblocks" -> {
            }
            case "none" -> w = null;
            case "zeroruns" -> {
                Arrays.fill(w, 0, 48, 0f);
                Arrays.fill(w, 64, 96, 0f);
                Arrays.fill(w, 300, 310, 0f);
            }
            case "allzero" -> Arrays.fill(w, 0f);
            default -> fail("unknown importance " + variant);
        }
        return w;
    }

    /** ggml_quantize_chunk asserts quant_weights != NULL for these two; Tern refuses instead. */
    @Test
    void withoutImportanceIsRefused() {
        for (GGMLType type : List.of(GGMLType.IQ2_XXS, GGMLType.IQ2_XS)) {
            UnsupportedOperationException e = assertThrows(UnsupportedOperationException.class,
                    () -> TensorFormat.of(type).quantize(new float[256], 0, 256, MemorySegment.ofArray(new byte[type.blockBytes]), 0));
            assertTrue(e.getMessage().contains("importance matrix"), e.getMessage());
        }
    }
}
