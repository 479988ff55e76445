package dev.tern.tensor;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.zip.CRC32;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * IQ4_NL, IQ4_XS, IQ3_XXS and IQ3_S rows quantized one by one, with the importance row of
 * {@link ImportanceInputs} ("imatrix") or without ("plain"), must be llama.cpp's bytes: the
 * checksums in iq-importance-vectors.txt, whose header says how they were made. Three shapes, so
 * that rows of one super-block, of two and of sixteen occur, with zero sub-blocks, zero weights
 * and scales of many magnitudes.
 */
class IQImportanceVectorsTest {

    @Test
    void quantizeMatchesLlamaCppBytes() throws IOException {
        List<String> lines = ReferenceVectors.lines("iq-importance-vectors.txt");
        assertEquals(6, lines.size());
        try (Arena arena = Arena.ofConfined()) {
            for (String line : lines) {
                String[] parts = line.split(" ");
                TensorFormat format = TensorFormat.of(GGMLType.valueOf(parts[0]));
                int rows = Integer.parseInt(parts[1]);
                int cols = Integer.parseInt(parts[2]);
                float[] importance = switch (parts[3]) {
                    case "imatrix" -> ImportanceInputs.importance(cols);
                    case "plain" -> null;
                    default -> throw new IllegalArgumentException(parts[3]);
                };
                assertEquals(4 + rows, parts.length);
                float[] values = ImportanceInputs.values(rows, cols);
                MemorySegment seg = arena.allocate(format.type().byteSize(cols));
                for (int r = 0; r < rows; r++) {
                    if (importance == null) {
                        format.quantize(values, r * cols, cols, seg, 0);
                    } else {
                        format.quantize(values, r * cols, cols, seg, 0, importance);
                    }
                    CRC32 crc = new CRC32();
                    crc.update(seg.asByteBuffer());
                    assertEquals(parts[4 + r], String.format("%08x", crc.getValue()),
                            format.type() + " " + rows + "x" + cols + " " + parts[3] + " row " + r);
                }
            }
        }
    }
}
