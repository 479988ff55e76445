package dev.tern.tensor;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/**
 * IQ4_NL and IQ4_XS against independent references, each file's header saying how it was made:
 * random blocks and their values as gguf-py's numpy dequantizers decode them
 * (iq4-dequantize-vectors.txt), and checksums of the bytes llama.cpp's compiled quantizers make
 * of rows of values (iq4-quantize-vectors.txt). numpy rounds as ggml does (one product per value for
 * IQ4_NL; d·(sc−32), then times the level, for IQ4_XS), so dequantize must match bit for bit;
 * dot must match their sum to float rounding; quantize must match byte for byte.
 */
class IQ4ReferenceVectorsTest {

    private static List<ReferenceVectors.Case> cases() throws IOException {
        return ReferenceVectors.cases("iq4-dequantize-vectors.txt");
    }

    @Test
    void dequantizeMatchesGgufPyBitForBit() throws IOException {
        List<ReferenceVectors.Case> cases = cases();
        assertEquals(List.of(GGMLType.IQ4_NL, GGMLType.IQ4_NL, GGMLType.IQ4_NL, GGMLType.IQ4_XS, GGMLType.IQ4_XS),
                cases.stream().map(ReferenceVectors.Case::type).toList());
        ReferenceVectors.assertDequantizes(cases, "gguf-py");
    }

    @Test
    void dotMatchesGgufPyValuesTimesX() throws IOException {
        ReferenceVectors.assertDots(cases());
    }

    /**
     * Rows quantized one by one, as ModelQuantizer does, must be llama.cpp's bytes: 64 rows
     * (65,536 codes), enough that the scale search's odd cases occur (one trial fewer on either
     * side changes about one IQ4_NL block in fifty).
     */
    @Test
    void quantizeMatchesLlamaCppBytes() throws IOException {
        int rows = 64, cols = 512;
        float[] values = checksumInput(rows, cols);
        List<String> lines = ReferenceVectors.lines("iq4-quantize-vectors.txt");
        assertEquals(List.of("IQ4_NL", "IQ4_XS"), lines.stream().map(l -> l.substring(0, l.indexOf(' '))).toList());
        for (String line : lines) {
            String[] parts = line.split(" ");
            TensorFormat format = TensorFormat.of(GGMLType.valueOf(parts[0]));
            ReferenceVectors.assertRowChecksums(format, values, rows, cols, null, parts, 1, parts[0]);
        }
    }

    /** The rows the checksum file's header describes: exact integers from an LCG, scaled by powers of two. */
    static float[] checksumInput(int rows, int cols) {
        float[] a = new float[rows * cols];
        long s = 42;
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                int v = -3 << 21;
                for (int k = 0; k < 3; k++) {
                    s = s * 6364136223846793005L + 1442695040888963407L;
                    v += (int) (s >>> 42);
                }
                if (r % 4 == 3) {
                    v = v >> 19 << 19;
                }
                a[r * cols + c] = v * Math.scalb(1f, r % 9 - 30);
            }
            if (r % 4 == 1) {
                java.util.Arrays.fill(a, r * cols + 32, r * cols + 64, 0f);
            }
            if (r % 4 == 2) {
                a[r * cols + 7 * r % cols] *= 64;
            }
        }
        return a;
    }
}
