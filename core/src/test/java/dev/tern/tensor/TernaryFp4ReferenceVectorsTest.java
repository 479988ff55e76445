package dev.tern.tensor;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.zip.CRC32;

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

    private record Case(GGMLType type, byte[] blocks, float[] values) {
    }

    private static List<String> lines(String resource) throws IOException {
        try (InputStream in = TernaryFp4ReferenceVectorsTest.class.getResourceAsStream(resource)) {
            return new String(in.readAllBytes(), StandardCharsets.US_ASCII).lines().filter(l -> !l.startsWith("#")).toList();
        }
    }

    private static List<Case> cases() throws IOException {
        List<String> lines = lines("tq-mxfp4-dequantize-vectors.txt");
        List<Case> cases = new ArrayList<>();
        for (int i = 0; i < lines.size(); i += 2) {
            String[] head = lines.get(i).split(" ");
            String[] bits = lines.get(i + 1).split(" ");
            float[] values = new float[bits.length];
            for (int j = 0; j < bits.length; j++) {
                values[j] = Float.intBitsToFloat(Integer.parseUnsignedInt(bits[j], 16));
            }
            cases.add(new Case(GGMLType.valueOf(head[0]), HexFormat.of().parseHex(head[1]), values));
        }
        return cases;
    }

    @Test
    void dequantizeMatchesLibggmlBitForBit() throws IOException {
        List<Case> cases = cases();
        assertEquals(List.of(GGMLType.TQ1_0, GGMLType.TQ1_0, GGMLType.TQ2_0, GGMLType.TQ2_0, GGMLType.MXFP4, GGMLType.MXFP4,
                GGMLType.MXFP4), cases.stream().map(Case::type).toList());
        try (Arena arena = Arena.ofConfined()) {
            for (Case c : cases) {
                int n = c.values().length;
                assertEquals(c.type().byteSize(n), c.blocks().length, c.type() + " case size");
                for (int at : new int[]{0, 3}) {
                    MemorySegment seg = arena.allocate(at + c.blocks().length);
                    MemorySegment.copy(c.blocks(), 0, seg, Blocks.I8, at, c.blocks().length);
                    float[] out = new float[n + 2];
                    TensorFormat.of(c.type()).dequantize(seg, at, out, 1, n);
                    for (int i = 0; i < n; i++) {
                        assertEquals(Float.floatToIntBits(c.values()[i]), Float.floatToIntBits(out[1 + i]),
                                c.type() + " " + n + " values, offset " + at + ", value " + i + ": libggml " + c.values()[i] + ", ours " + out[1 + i]);
                    }
                }
            }
        }
    }

    /** The cases whose values are all finite (MXFP4's last, with e up to 255, overflows to infinity on purpose). */
    @Test
    void dotMatchesLibggmlValuesTimesX() throws IOException {
        Random rnd = new Random(11);
        int checked = 0;
        try (Arena arena = Arena.ofConfined()) {
            for (Case c : cases()) {
                int n = c.values().length;
                MemorySegment seg = arena.allocate(c.blocks().length);
                MemorySegment.copy(c.blocks(), 0, seg, Blocks.I8, 0, c.blocks().length);
                float[] x = DotKernelTest.gaussian(rnd, n + 1);
                double sum = 0, absSum = 0;
                for (int i = 0; i < n; i++) {
                    double p = (double) c.values()[i] * x[1 + i];
                    sum += p;
                    absSum += Math.abs(p);
                }
                if (!Double.isFinite(absSum)) {
                    continue;
                }
                checked++;
                assertEquals(sum, TensorFormat.of(c.type()).dot(seg, 0, x, 1, n), 2.0 * n * 0x1p-24 * absSum, c.type() + " " + n + " values");
            }
        }
        assertEquals(6, checked);
    }

    /** Rows quantized one by one, as ModelQuantizer does, must be llama.cpp's bytes. */
    @Test
    void quantizeMatchesLlamaCppBytes() throws IOException {
        List<String> lines = lines("tq-mxfp4-quantize-vectors.txt");
        assertEquals(List.of("checksum TQ1_0", "checksum TQ2_0", "checksum MXFP4", "edge TQ1_0", "edge TQ2_0", "edge MXFP4"),
                lines.stream().map(l -> l.substring(0, l.indexOf(' ', l.indexOf(' ') + 1))).toList());
        float[] checksum = IQ4ReferenceVectorsTest.checksumInput(ROWS, COLS);
        float[] edge = edgeInput();
        try (Arena arena = Arena.ofConfined()) {
            for (String line : lines) {
                String[] parts = line.split(" ");
                float[] values = parts[0].equals("edge") ? edge : checksum;
                TensorFormat format = TensorFormat.of(GGMLType.valueOf(parts[1]));
                assertEquals(ROWS + 2, parts.length);
                MemorySegment seg = arena.allocate(format.type().byteSize(COLS));
                for (int r = 0; r < ROWS; r++) {
                    format.quantize(values, r * COLS, COLS, seg, 0);
                    CRC32 crc = new CRC32();
                    crc.update(seg.asByteBuffer());
                    assertEquals(parts[2 + r], String.format("%08x", crc.getValue()), parts[0] + " " + format.type() + " row " + r);
                }
            }
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
