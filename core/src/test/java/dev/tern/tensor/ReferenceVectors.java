package dev.tern.tensor;

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

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Decoding vectors made by an independent reference (llama.cpp's compiled code, gguf-py), kept
 * in test resources: after a comment header ('#' lines), each case is a line "TYPE <the blocks'
 * bytes in hex>" and a line of the decoded values' float32 bit patterns in hex.
 */
final class ReferenceVectors {
    record Case(GGMLType type, byte[] blocks, float[] values) {
    }

    private ReferenceVectors() {
    }

    /** The resource's lines but its comment header. */
    static List<String> lines(String resource) throws IOException {
        try (InputStream in = ReferenceVectors.class.getResourceAsStream(resource)) {
            return new String(in.readAllBytes(), StandardCharsets.US_ASCII).lines().filter(l -> !l.startsWith("#")).toList();
        }
    }

    /** Floats from their bit patterns in hex, space-separated. */
    static float[] floats(String hexBits) {
        String[] bits = hexBits.split(" ");
        float[] values = new float[bits.length];
        for (int j = 0; j < bits.length; j++) {
            values[j] = Float.intBitsToFloat(Integer.parseUnsignedInt(bits[j], 16));
        }
        return values;
    }

    /** The cases among these lines (pairs of a "TYPE hex" line and a values line). */
    static List<Case> cases(List<String> lines) {
        List<Case> cases = new ArrayList<>();
        for (int i = 0; i < lines.size(); i += 2) {
            String[] head = lines.get(i).split(" ");
            cases.add(new Case(GGMLType.valueOf(head[0]), HexFormat.of().parseHex(head[1]), floats(lines.get(i + 1))));
        }
        return cases;
    }

    static List<Case> cases(String resource) throws IOException {
        return cases(lines(resource));
    }

    /**
     * Quantizes {@code rows} rows of {@code cols} values one at a time, as ModelQuantizer does (with these
     * importance weights, or plainly where they are null), into a row buffer filled with 0x5A first so that a
     * byte the quantizer leaves unwritten shows, and checks each row's CRC-32 against
     * {@code expected[first + r]}, the checksums of llama.cpp's bytes.
     */
    static void assertRowChecksums(TensorFormat format, float[] values, int rows, int cols, float[] importance,
                                   String[] expected, int first, String what) {
        assertEquals(first + rows, expected.length, what + ": checksums");
        try (Arena arena = Arena.ofConfined()) {
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
                assertEquals(expected[first + r], String.format("%08x", crc.getValue()), what + " row " + r);
            }
        }
    }

    /** The blocks at byte {@code at} of a segment of their own, as a tensor's blocks lie anywhere in a file. */
    static MemorySegment segment(Arena arena, byte[] blocks, int at) {
        MemorySegment seg = arena.allocate(at + blocks.length);
        MemorySegment.copy(blocks, 0, seg, Blocks.I8, at, blocks.length);
        return seg;
    }

    /** dequantize gives each case's values bit for bit, at byte offsets 0 and 3 and into an offset output. */
    static void assertDequantizes(List<Case> cases, String reference) {
        try (Arena arena = Arena.ofConfined()) {
            for (Case c : cases) {
                int n = c.values().length;
                assertEquals(c.type().byteSize(n), c.blocks().length, c.type() + " case size");
                for (int at : new int[]{0, 3}) {
                    float[] out = new float[n + 2];
                    TensorFormat.of(c.type()).dequantize(segment(arena, c.blocks(), at), at, out, 1, n);
                    for (int i = 0; i < n; i++) {
                        assertEquals(Float.floatToIntBits(c.values()[i]), Float.floatToIntBits(out[1 + i]), c.type() + " " + n
                                + " values, offset " + at + ", value " + i + ": " + reference + " " + c.values()[i] + ", ours " + out[1 + i]);
                    }
                }
            }
        }
    }

    /** dot gives the sum of each case's values times random x to float rounding, at byte offsets 0 and 5. */
    static void assertDots(List<Case> cases) {
        Random rnd = new Random(5);
        try (Arena arena = Arena.ofConfined()) {
            for (Case c : cases) {
                int n = c.values().length;
                float[] x = DotKernelTest.gaussian(rnd, n + 1);
                double sum = 0, absSum = 0;
                for (int i = 0; i < n; i++) {
                    double p = (double) c.values()[i] * x[1 + i];
                    sum += p;
                    absSum += Math.abs(p);
                }
                for (int at : new int[]{0, 5}) {
                    float dot = TensorFormat.of(c.type()).dot(segment(arena, c.blocks(), at), at, x, 1, n);
                    assertEquals(sum, dot, 2.0 * n * 0x1p-24 * absSum, c.type() + " " + n + " values, offset " + at);
                }
            }
        }
    }
}
