package dev.tern.tensor;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.zip.CRC32;

import static org.junit.jupiter.api.Assertions.*;

/**
 * IQ2_XXS, IQ2_XS and IQ2_S quantized with an importance row (and IQ2_S without one, the only of
 * the three that llama.cpp defines so) must be llama.cpp's bytes: iq2-quantize-vectors.txt holds
 * the CRC-32 of each row as its compiled ggml_quantize_chunk makes it from {@link ImportanceInputs},
 * in three shapes, so that zero sub-blocks, zero-importance columns, outliers and grid points off
 * the grid (the neighbour search) all occur.
 */
class IQ2QuantizeReferenceTest {

    @Test
    void quantizeMatchesLlamaCppBytes() throws IOException {
        List<String> lines = ReferenceVectors.lines("iq2-quantize-vectors.txt");
        assertEquals(List.of("IQ2_XXS 64x512", "IQ2_XXS 8x4096", "IQ2_XXS 16x256",
                "IQ2_XS 64x512", "IQ2_XS 8x4096", "IQ2_XS 16x256"),
                lines.stream().map(l -> l.substring(0, l.indexOf(' ', l.indexOf(' ') + 1))).toList());
        try (Arena arena = Arena.ofConfined()) {
            for (String line : lines) {
                String[] parts = line.split(" ");
                TensorFormat format = TensorFormat.of(GGMLType.valueOf(parts[0]));
                String[] shape = parts[1].split("x");
                int rows = Integer.parseInt(shape[0]), cols = Integer.parseInt(shape[1]);
                boolean plain = parts[2].equals("none");
                int first = plain ? 3 : 2;
                assertEquals(first + rows, parts.length, line.substring(0, 20));
                float[] values = ImportanceInputs.values(rows, cols);
                float[] importance = ImportanceInputs.importance(cols);
                MemorySegment seg = arena.allocate(format.type().byteSize(cols));
                for (int r = 0; r < rows; r++) {
                    seg.fill((byte) 0x5A);
                    if (plain) {
                        format.quantize(values, r * cols, cols, seg, 0);
                    } else {
                        format.quantize(values, r * cols, cols, seg, 0, importance);
                    }
                    CRC32 crc = new CRC32();
                    crc.update(seg.asByteBuffer());
                    assertEquals(parts[first + r], String.format("%08x", crc.getValue()),
                            parts[0] + " " + parts[1] + (plain ? " without importance" : "") + " row " + r);
                }
            }
        }
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
