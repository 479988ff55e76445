package dev.tern.tensor;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/**
 * IQ1_S and IQ1_M quantizers against llama.cpp's compiled ones (iq1-quantize-vectors.txt, whose
 * header says how it was made): each row, quantized on its own as ModelQuantizer does, must give
 * llama.cpp's bytes, on shapes of 256, 512 and 4096 columns and on rows made to reach the
 * quantizers' rare paths ({@link #edgeRows}).
 */
class IQ1QuantizeVectorsTest {

    @Test
    void quantizeMatchesLlamaCppBytes() throws IOException {
        List<String> lines = ReferenceVectors.lines("iq1-quantize-vectors.txt");
        assertFalse(lines.isEmpty());
        for (String line : lines) {
            String[] parts = line.split(" ");
            TensorFormat format = TensorFormat.of(GGMLType.valueOf(parts[0]));
            boolean edge = parts[1].equals("edge");
            String[] shape = (edge ? "8x512" : parts[1]).split("x");
            int rows = Integer.parseInt(shape[0]), cols = Integer.parseInt(shape[1]);
            float[] importance = switch (parts[2]) {
                case "imatrix" -> edge ? edgeImportance() : ImportanceInputs.importance(cols);
                case "none" -> null;
                default -> throw new IllegalArgumentException(parts[2]);
            };
            float[] values = edge ? edgeRows() : ImportanceInputs.values(rows, cols);
            ReferenceVectors.assertRowChecksums(format, values, rows, cols, importance, parts, 3,
                    parts[0] + " " + parts[1] + " " + parts[2]);
        }
    }

    /**
     * The "edge" rows of the checksum file: ImportanceInputs.values(8, 512) with, in row r,
     * columns 64..95 all (r − 4)·2^−10 (constant sub-blocks, all zero in row 4), columns 256..511
     * zero in row 0 (a zero super-block), columns 96..127 alternately ±2^−9 in odd rows, and in
     * rows r%4 == 3 columns 128 + j −0 for j%3 == 0 and +0 for j%3 == 1 (zeros of both signs,
     * which the sort takes as equal).
     */
    static float[] edgeRows() {
        int cols = 512;
        float[] v = ImportanceInputs.values(8, cols);
        for (int r = 0; r < 8; r++) {
            int o = r * cols;
            java.util.Arrays.fill(v, o + 64, o + 96, (r - 4) * 0x1p-10f);
            if (r == 0) {
                java.util.Arrays.fill(v, o + 256, o + 512, 0f);
            }
            for (int j = 0; j < 32; j++) {
                if (r % 2 == 1) {
                    v[o + 96 + j] = j % 2 == 0 ? 0x1p-9f : -0x1p-9f;
                }
                if (r % 4 == 3 && j % 3 < 2) {
                    v[o + 128 + j] = j % 3 == 0 ? -0f : 0f;
                }
            }
        }
        return v;
    }

    /** ImportanceInputs.importance(512) with columns 0..31 zero: a sub-block without weight. */
    static float[] edgeImportance() {
        float[] w = ImportanceInputs.importance(512);
        java.util.Arrays.fill(w, 0, 32, 0f);
        return w;
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
