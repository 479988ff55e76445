package dev.tern.tensor;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.HexFormat;
import java.util.List;
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

    private static List<String> lines() throws IOException {
        return ReferenceVectors.lines("iq2-dequantize-vectors.txt");
    }

    private static List<ReferenceVectors.Case> cases() throws IOException {
        return ReferenceVectors.cases(lines().stream().filter(l -> !l.contains(" grid ")).toList());
    }

    @Test
    void dequantizeMatchesLlamaCppBitForBit() throws IOException {
        List<ReferenceVectors.Case> cases = cases();
        assertEquals(List.of(GGMLType.IQ2_XXS, GGMLType.IQ2_XXS, GGMLType.IQ2_XXS, GGMLType.IQ2_XS, GGMLType.IQ2_XS,
                GGMLType.IQ2_XS, GGMLType.IQ2_S, GGMLType.IQ2_S, GGMLType.IQ2_S), cases.stream().map(ReferenceVectors.Case::type).toList());
        ReferenceVectors.assertDequantizes(cases, "llama.cpp");
    }

    @Test
    void dotMatchesLlamaCppValuesTimesX() throws IOException {
        ReferenceVectors.assertDots(cases());
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
                TensorFormat.of(type).dequantize(ReferenceVectors.segment(arena, blocks, 0), 0, out, 0, n);
                ByteBuffer bytes = ByteBuffer.allocate(4 * n).order(ByteOrder.LITTLE_ENDIAN);
                bytes.asFloatBuffer().put(out);
                CRC32 crc = new CRC32();
                crc.update(bytes);
                assertEquals(parts[3], String.format("%08x", crc.getValue()), type + " values' CRC-32");
            }
        }
    }
}
