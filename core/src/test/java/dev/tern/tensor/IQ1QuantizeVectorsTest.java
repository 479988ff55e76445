package dev.tern.tensor;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.zip.CRC32;

import static org.junit.jupiter.api.Assertions.*;

/**
 * IQ1_S and IQ1_M quantizers against llama.cpp's compiled ones (iq1-quantize-vectors.txt, whose
 * header says how it was made): each row, quantized on its own as ModelQuantizer does, must give
 * llama.cpp's bytes, on shapes of 256, 512 and 4096 columns.
 */
class IQ1QuantizeVectorsTest {

    @Test
    void quantizeMatchesLlamaCppBytes() throws IOException {
        List<String> lines = ReferenceVectors.lines("iq1-quantize-vectors.txt");
        assertFalse(lines.isEmpty());
        try (Arena arena = Arena.ofConfined()) {
            for (String line : lines) {
                String[] parts = line.split(" ");
                TensorFormat format = TensorFormat.of(GGMLType.valueOf(parts[0]));
                String[] shape = parts[1].split("x");
                int rows = Integer.parseInt(shape[0]), cols = Integer.parseInt(shape[1]);
                float[] importance = switch (parts[2]) {
                    case "imatrix" -> ImportanceInputs.importance(cols);
                    case "none" -> null;
                    default -> throw new IllegalArgumentException(parts[2]);
                };
                assertEquals(rows + 3, parts.length, line.substring(0, 20));
                float[] values = ImportanceInputs.values(rows, cols);
                MemorySegment seg = arena.allocate(format.type().byteSize(cols));
                for (int r = 0; r < rows; r++) {
                    seg.fill((byte) 0x5A);
                    if (importance == null) {
                        format.quantize(values, r * cols, cols, seg, 0);
                    } else {
                        format.quantize(values, r * cols, cols, seg, 0, importance);
                    }
                    CRC32 crc = new CRC32();
                    crc.update(seg.asByteBuffer());
                    assertEquals(parts[3 + r], String.format("%08x", crc.getValue()),
                            parts[0] + " " + parts[1] + " " + parts[2] + " row " + r);
                }
            }
        }
    }

    @Test
    void iq1sWithoutImportanceIsRefused() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment seg = arena.allocate(GGMLType.IQ1_S.blockBytes);
            UnsupportedOperationException e = assertThrows(UnsupportedOperationException.class,
                    () -> IQ1_SFormat.INSTANCE.quantize(new float[256], 0, 256, seg, 0));
            assertTrue(e.getMessage().contains("importance matrix"), e.getMessage());
        }
    }
}
