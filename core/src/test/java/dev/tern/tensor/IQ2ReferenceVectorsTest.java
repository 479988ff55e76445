package dev.tern.tensor;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.zip.CRC32;

import static org.junit.jupiter.api.Assertions.*;

/**
 * IQ2_XXS, IQ2_XS and IQ2_S against llama.cpp's compiled code, as iq2-dequantize-vectors.txt's
 * header says: blocks made by its quantizers from random rows and blocks of random bytes, with
 * their values as its dequantize_row_* decodes them, which dequantize must match bit for bit and
 * dot to float rounding; and, per type, blocks that use every grid entry, whose decoded values
 * must have the CRC-32 of llama.cpp's.
 */
class IQ2ReferenceVectorsTest {

    private record Case(GGMLType type, byte[] blocks, float[] values) {
    }

    private static List<String> lines() throws IOException {
        try (InputStream in = IQ2ReferenceVectorsTest.class.getResourceAsStream("iq2-dequantize-vectors.txt")) {
            return new String(in.readAllBytes(), StandardCharsets.US_ASCII).lines().filter(l -> !l.startsWith("#")).toList();
        }
    }

    private static List<Case> cases() throws IOException {
        List<String> lines = lines().stream().filter(l -> !l.contains(" grid ")).toList();
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

    private static MemorySegment segment(Arena arena, byte[] blocks, int at) {
        MemorySegment seg = arena.allocate(at + blocks.length);
        MemorySegment.copy(blocks, 0, seg, Blocks.I8, at, blocks.length);
        return seg;
    }

    @Test
    void dequantizeMatchesLlamaCppBitForBit() throws IOException {
        List<Case> cases = cases();
        assertEquals(List.of(GGMLType.IQ2_XXS, GGMLType.IQ2_XXS, GGMLType.IQ2_XXS, GGMLType.IQ2_XS, GGMLType.IQ2_XS,
                GGMLType.IQ2_XS, GGMLType.IQ2_S, GGMLType.IQ2_S, GGMLType.IQ2_S), cases.stream().map(Case::type).toList());
        try (Arena arena = Arena.ofConfined()) {
            for (Case c : cases) {
                int n = c.values().length;
                assertEquals(c.type().byteSize(n), c.blocks().length, c.type() + " case size");
                // At an odd offset too, as blocks of a tensor lie in a file.
                for (int at : new int[]{0, 3}) {
                    float[] out = new float[n + 2];
                    TensorFormat.of(c.type()).dequantize(segment(arena, c.blocks(), at), at, out, 1, n);
                    for (int i = 0; i < n; i++) {
                        assertEquals(Float.floatToIntBits(c.values()[i]), Float.floatToIntBits(out[1 + i]),
                                c.type() + " " + n + " values, offset " + at + ", value " + i + ": llama.cpp " + c.values()[i] + ", ours " + out[1 + i]);
                    }
                }
            }
        }
    }

    @Test
    void dotMatchesLlamaCppValuesTimesX() throws IOException {
        Random rnd = new Random(5);
        try (Arena arena = Arena.ofConfined()) {
            for (Case c : cases()) {
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

    @Test
    void everyGridEntryDecodesAsLlamaCpp() throws IOException {
        List<String> lines = lines().stream().filter(l -> l.contains(" grid ")).toList();
        assertEquals(List.of("IQ2_XXS", "IQ2_XS", "IQ2_S"), lines.stream().map(l -> l.substring(0, l.indexOf(' '))).toList());
        try (Arena arena = Arena.ofConfined()) {
            for (String line : lines) {
                String[] parts = line.split(" ");
                GGMLType type = GGMLType.valueOf(parts[0]);
                byte[] blocks = HexFormat.of().parseHex(parts[2]);
                int n = blocks.length / type.blockBytes * type.blockSize;
                assertEquals(switch (type) {
                    case IQ2_XXS -> 256;
                    case IQ2_XS -> 512;
                    default -> 1024;
                }, n / 8, type + ": one group per grid entry");
                float[] out = new float[n];
                TensorFormat.of(type).dequantize(segment(arena, blocks, 0), 0, out, 0, n);
                ByteBuffer bytes = ByteBuffer.allocate(4 * n).order(ByteOrder.LITTLE_ENDIAN);
                bytes.asFloatBuffer().put(out);
                CRC32 crc = new CRC32();
                crc.update(bytes);
                assertEquals(parts[3], String.format("%08x", crc.getValue()), type + " values' CRC-32");
            }
        }
    }

    @Test
    void quantizeIsRefused() {
        for (GGMLType type : List.of(GGMLType.IQ2_XXS, GGMLType.IQ2_XS, GGMLType.IQ2_S)) {
            assertTrue(type.isSupported(), type + " is read");
            assertFalse(type.isQuantizable(), type + " is not written");
            assertThrows(UnsupportedOperationException.class,
                    () -> TensorFormat.of(type).quantize(new float[256], 0, 256, MemorySegment.ofArray(new byte[type.blockBytes]), 0));
        }
    }
}
