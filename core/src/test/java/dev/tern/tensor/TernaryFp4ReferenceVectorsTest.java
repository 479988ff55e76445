package dev.tern.tensor;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/**
 * TQ1_0, TQ2_0 and MXFP4 against llama.cpp's compiled code, each file's header saying how it was
 * made: random blocks and their values as libggml's dequantize_row_tq1_0 / tq2_0 / mxfp4 decode
 * them (tq-mxfp4-dequantize-vectors.txt), and checksums of the bytes its quantizers make of rows
 * of values (tq-mxfp4-quantize-vectors.txt). dequantize must match bit for bit, dot their sum to
 * float rounding, quantize byte for byte.
 */
class TernaryFp4ReferenceVectorsTest {
    private static final int ROWS = 64;
    private static final int COLS = 512;

    private static List<ReferenceVectors.Case> cases() throws IOException {
        return ReferenceVectors.cases("tq-mxfp4-dequantize-vectors.txt");
    }

    @Test
    void dequantizeMatchesLibggmlBitForBit() throws IOException {
        List<ReferenceVectors.Case> cases = cases();
        assertEquals(List.of(GGMLType.TQ1_0, GGMLType.TQ1_0, GGMLType.TQ2_0, GGMLType.TQ2_0, GGMLType.MXFP4, GGMLType.MXFP4,
                GGMLType.MXFP4), cases.stream().map(ReferenceVectors.Case::type).toList());
        ReferenceVectors.assertDequantizes(cases, "libggml");
    }

    /** The cases whose values are all finite (MXFP4's last, with e up to 255, overflows to infinity on purpose). */
    @Test
    void dotMatchesLibggmlValuesTimesX() throws IOException {
        List<ReferenceVectors.Case> finite = cases().stream().filter(c -> {
            for (float v : c.values()) {
                if (!Float.isFinite(v)) {
                    return false;
                }
            }
            return true;
        }).toList();
        assertEquals(6, finite.size());
        ReferenceVectors.assertDots(finite);
    }

    /** Rows quantized one by one, as ModelQuantizer does, must be llama.cpp's bytes. */
    @Test
    void quantizeMatchesLlamaCppBytes() throws IOException {
        List<String> lines = ReferenceVectors.lines("tq-mxfp4-quantize-vectors.txt");
        assertEquals(List.of("checksum TQ1_0", "checksum TQ2_0", "checksum MXFP4", "edge TQ1_0", "edge TQ2_0", "edge MXFP4"),
                lines.stream().map(l -> l.substring(0, l.indexOf(' ', l.indexOf(' ') + 1))).toList());
        float[] checksum = IQ4ReferenceVectorsTest.checksumInput(ROWS, COLS);
        float[] edge = edgeInput();
        for (String line : lines) {
            String[] parts = line.split(" ");
            float[] values = parts[0].equals("edge") ? edge : checksum;
            TensorFormat format = TensorFormat.of(GGMLType.valueOf(parts[1]));
            ReferenceVectors.assertRowChecksums(format, values, ROWS, COLS, null, parts, 2, parts[0] + " " + format.type());
        }
    }

    /** The checksum file's "edge" rows, as its header describes them. */
    private static float[] edgeInput() {
        float[] a = new float[ROWS * COLS];
        for (int r = 0; r < ROWS; r++) {
            for (int c = 0; c < COLS; c++) {
                int g = (r * COLS + c) / 32, i = c % 32;
                int j = g % 7, k = (g * 5) % 270 - 142;
                float amax = Math.scalb(1f - j * 0x1p-24f, k);
                float t = ((i * 7 + g) % 32 - 16) / 16f;
                if (g % 3 == 1) {
                    t = -t;
                }
                float v = amax * t;
                if (r == ROWS - 1) {
                    v = v * 0x1p-126f * 0x1p-126f;
                }
                a[r * COLS + c] = v;
            }
        }
        return a;
    }
}
