package dev.tern.tensor;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.util.Arrays;
import java.util.List;
import java.util.function.IntFunction;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * IQ4_NL, IQ4_XS, IQ3_XXS and IQ3_S rows quantized one by one, with an importance row
 * ("imatrix") or without ("plain"), must be llama.cpp's bytes: the checksums in the resources,
 * whose headers say how they were made. Lines are "TYPE ROWS COLS imatrix|plain" and a CRC-32
 * per row.
 */
class IQImportanceVectorsTest {

    /** llama-quantize writes IQ3_XXS and IQ3_S without an importance matrix too (weights x²), so Tern does. */
    @Test
    void iq3TypesAreWritten() {
        assertFalse(GGMLType.IQ3_XXS.requiresImportance());
        assertFalse(GGMLType.IQ3_S.requiresImportance());
    }

    /**
     * The rows and importance row of {@link ImportanceInputs} in three shapes, so that rows of
     * one super-block, of two and of sixteen occur, with zero sub-blocks, zero weights and scales
     * of many magnitudes.
     */
    @Test
    void quantizeMatchesLlamaCppBytes() throws IOException {
        assertChecksums("iq-importance-vectors.txt", 18, ImportanceInputs::values, ImportanceInputs::importance);
    }

    /**
     * Rows at the edges of the searches ({@link #edgeRows}): all zero, below IQ3_XXS's threshold,
     * one value, a zero super-block, all equal, many ties, tiny, all negative; the importance row
     * zero in columns 100..199.
     */
    @Test
    void edgeRowsMatchLlamaCppBytes() throws IOException {
        assertChecksums("iq-importance-edge-vectors.txt", 8, (rows, cols) -> edgeRows(), cols -> {
            float[] w = ImportanceInputs.importance(cols);
            Arrays.fill(w, 100, 200, 0f);
            return w;
        });
    }

    /** The 8 rows of 512 of the edge file's header, from the first 5 rows of {@link ImportanceInputs#values}. */
    private static float[] edgeRows() {
        int cols = 512;
        float[] b = ImportanceInputs.values(8, cols);
        float[] v = new float[8 * cols];
        for (int j = 0; j < cols; j++) {
            v[cols + j] = b[j] * 0x1p-40f;
            v[3 * cols + j] = j < 256 ? b[cols + j] : 0f;
            v[4 * cols + j] = 0.25f;
            v[5 * cols + j] = (float) Math.rint(b[2 * cols + j] * 64) / 64;
            v[6 * cols + j] = b[3 * cols + j] * 1e-7f;
            v[7 * cols + j] = -Math.abs(b[4 * cols + j]);
        }
        v[2 * cols + 300] = 3f;
        return v;
    }

    private interface Rows {
        float[] values(int rows, int cols);
    }

    private static void assertChecksums(String resource, int lineCount, Rows rowsOf, IntFunction<float[]> importanceOf)
            throws IOException {
        List<String> lines = ReferenceVectors.lines(resource);
        assertEquals(lineCount, lines.size());
        for (String line : lines) {
            String[] parts = line.split(" ");
            TensorFormat format = TensorFormat.of(GGMLType.valueOf(parts[0]));
            int rows = Integer.parseInt(parts[1]);
            int cols = Integer.parseInt(parts[2]);
            float[] importance = switch (parts[3]) {
                case "imatrix" -> importanceOf.apply(cols);
                case "plain" -> null;
                default -> throw new IllegalArgumentException(parts[3]);
            };
            ReferenceVectors.assertRowChecksums(format, rowsOf.values(rows, cols), rows, cols, importance, parts, 4,
                    format.type() + " " + rows + "x" + cols + " " + parts[3]);
        }
    }
}
