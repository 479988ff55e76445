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

import static org.junit.jupiter.api.Assertions.*;

/**
 * IQ3_XXS, IQ3_S, IQ1_S and IQ1_M against llama.cpp's compiled code (iq3-iq1-dequantize-vectors.txt,
 * its header saying how it was made): blocks that libggml's quantizers made and blocks of random
 * bytes, with their values as libggml's dequantize_row_* decodes them. Dequantize must match bit
 * for bit; dot must match the values' products with x to float rounding.
 */
class IQ3IQ1ReferenceVectorsTest {
    private static final List<GGMLType> TYPES = List.of(GGMLType.IQ3_XXS, GGMLType.IQ3_S, GGMLType.IQ1_S, GGMLType.IQ1_M);

    private record Case(GGMLType type, byte[] blocks, float[] values) {
    }

    private static List<Case> cases() throws IOException {
        List<String> lines;
        try (InputStream in = IQ3IQ1ReferenceVectorsTest.class.getResourceAsStream("iq3-iq1-dequantize-vectors.txt")) {
            lines = new String(in.readAllBytes(), StandardCharsets.US_ASCII).lines().filter(l -> !l.startsWith("#")).toList();
        }
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
    void casesCoverEachTypeWithQuantizedAndRandomBlocks() throws IOException {
        List<Case> cases = cases();
        assertEquals(TYPES.stream().flatMap(t -> java.util.stream.Stream.of(t, t)).toList(), cases.stream().map(Case::type).toList());
        for (Case c : cases) {
            assertEquals(c.type().byteSize(c.values().length), c.blocks().length, c.type() + " case size");
            long nonZero = 0;
            for (float v : c.values()) {
                nonZero += v != 0 ? 1 : 0;
            }
            assertTrue(nonZero > c.values().length / 2, c.type() + ": the values are mostly zero");
        }
    }

    @Test
    void dequantizeMatchesLibggmlBitForBit() throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            for (Case c : cases()) {
                int n = c.values().length;
                // At an odd offset too, as blocks of a tensor lie in a file.
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

    @Test
    void dotMatchesLibggmlValuesTimesX() throws IOException {
        Random rnd = new Random(5);
        try (Arena arena = Arena.ofConfined()) {
            for (Case c : cases()) {
                int n = c.values().length;
                MemorySegment seg = arena.allocate(3 + c.blocks().length);
                MemorySegment.copy(c.blocks(), 0, seg, Blocks.I8, 3, c.blocks().length);
                float[] x = DotKernelTest.gaussian(rnd, n + 1);
                double sum = 0, absSum = 0;
                for (int i = 0; i < n; i++) {
                    double p = (double) c.values()[i] * x[1 + i];
                    sum += p;
                    absSum += Math.abs(p);
                }
                assertEquals(sum, TensorFormat.of(c.type()).dot(seg, 3, x, 1, n), 2.0 * n * 0x1p-24 * absSum, c.type() + " " + n + " values");
            }
        }
    }

    /** The dot kernel's table-free signs against ksigns_iq2xs (itself checked by dequantize): every 7-bit group in every place. */
    @Test
    void spreadSignsMatchKsigns() {
        for (int l = 0; l < 4; l++) {
            for (int v = 0; v < 128; v++) {
                int aux = v << 7 * l | 0x5 << 28;
                assertEquals(IQ2Grids.KSIGNS[v] << 8 * l, IQ3_XXSFormat.spreadSigns(aux), "group " + l + " value " + v);
                assertEquals(IQ3_XXSFormat.signs(aux), IQ3_XXSFormat.spreadSigns(aux));
            }
        }
        Random rnd = new Random(9);
        for (int k = 0; k < 10_000; k++) {
            int aux = rnd.nextInt();
            assertEquals(IQ3_XXSFormat.signs(aux), IQ3_XXSFormat.spreadSigns(aux));
        }
    }

    @Test
    void readOnly() {
        try (Arena arena = Arena.ofConfined()) {
            for (GGMLType t : TYPES) {
                assertTrue(t.isSupported(), t + " supported");
                assertFalse(t.isQuantizable(), t + " quantizable");
                MemorySegment seg = arena.allocate(t.blockBytes);
                assertThrows(UnsupportedOperationException.class, () -> TensorFormat.of(t).quantize(new float[256], 0, 256, seg, 0));
            }
        }
    }
}
