package dev.tern.tensor;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The importance-weighted quantizers against llama.cpp's compiled ggml_quantize_chunk with
 * quant_weights (imatrix-quantize-vectors.txt; its header says how it was made): every row,
 * quantized on its own as ModelQuantizer does, must be llama.cpp's bytes. The shapes reach the
 * row statistics of Q4_0..Q5_1 (several row lengths), zero sub-blocks and super-blocks, single
 * zero importances and a super-block of them.
 */
class WeightedQuantizeTest {

    @ParameterizedTest
    @ValueSource(strings = {"Q4_K", "Q6_K", "Q5_K", "Q3_K", "Q2_K", "Q4_0", "Q5_0", "Q4_1", "Q5_1"})
    void quantizeMatchesLlamaCppBytes(String typeName) throws IOException {
        List<String[]> lines = ReferenceVectors.lines("imatrix-quantize-vectors.txt").stream()
                .map(l -> l.split(" ")).filter(p -> p[0].equals(typeName)).toList();
        assertEquals(List.of("64x512", "8x4096", "16x256", "4x1024z"), lines.stream().map(p -> p[1]).toList());
        TensorFormat format = TensorFormat.of(GGMLType.valueOf(typeName));
        for (String[] parts : lines) {
            String shape = parts[1];
            boolean zeros = shape.endsWith("z");
            int rows = Integer.parseInt(shape.substring(0, shape.indexOf('x')));
            int cols = Integer.parseInt(shape.substring(shape.indexOf('x') + 1, shape.length() - (zeros ? 1 : 0)));
            assertEquals(rows + 2, parts.length, shape);
            float[] values = ImportanceInputs.values(rows, cols);
            float[] importance = ImportanceInputs.importance(cols);
            if (zeros) {
                for (int r = 0; r < rows; r++) {
                    Arrays.fill(values, r * cols, r * cols + 256, 0f);
                }
                Arrays.fill(importance, 512, 768, 0f);
            }
            ReferenceVectors.assertRowChecksums(format, values, rows, cols, importance, parts, 2, typeName + " " + shape);
        }
    }
}
