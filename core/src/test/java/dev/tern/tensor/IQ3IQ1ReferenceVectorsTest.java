package dev.tern.tensor;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
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

    private static List<ReferenceVectors.Case> cases() throws IOException {
        return ReferenceVectors.cases("iq3-iq1-dequantize-vectors.txt");
    }

    @Test
    void casesCoverEachTypeWithQuantizedAndRandomBlocks() throws IOException {
        List<ReferenceVectors.Case> cases = cases();
        assertEquals(TYPES.stream().flatMap(t -> java.util.stream.Stream.of(t, t)).toList(), cases.stream().map(ReferenceVectors.Case::type).toList());
        for (ReferenceVectors.Case c : cases) {
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
        ReferenceVectors.assertDequantizes(cases(), "libggml");
    }

    @Test
    void dotMatchesLibggmlValuesTimesX() throws IOException {
        ReferenceVectors.assertDots(cases());
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

    /** IQ1_S needs an importance matrix, as ggml asserts; llama.cpp quantizes IQ1_M without one too (IQ1QuantizeVectorsTest). */
    @Test
    void onlyIq1SNeedsImportance() {
        assertTrue(GGMLType.IQ1_S.requiresImportance());
        assertFalse(GGMLType.IQ1_M.requiresImportance());
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment seg = arena.allocate(GGMLType.IQ1_S.blockBytes);
            assertThrows(UnsupportedOperationException.class, () -> TensorFormat.of(GGMLType.IQ1_S).quantize(new float[256], 0, 256, seg, 0));
        }
    }
}
