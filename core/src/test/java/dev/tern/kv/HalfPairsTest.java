package dev.tern.kv;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorSpecies;
import org.junit.jupiter.api.Test;

import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** Every half, as either member of a lane, against Float.float16ToFloat. */
class HalfPairsTest {
    private static final VectorSpecies<Integer> I = IntVector.SPECIES_PREFERRED;

    @Test
    void exactWideningGivesFloat16ConversionsBits() {
        assertEquals(0, mismatches(false, HalfPairs::low, HalfPairs::high), "halves widened to other floats than Float.float16ToFloat gives");
    }

    /** The cheap widening times 2^112 is the half's value (so products with 2^112-scaled factors are the unscaled ones). */
    @Test
    void scaledWideningIsTheValueOverTwoToThe112ForFiniteHalves() {
        assertEquals(0, mismatches(true, HalfPairs::scaledLow, HalfPairs::scaledHigh), "finite halves widened to another value times 2^-112");
    }

    /** Each half in the low member beside a different high one, then the other way round; NaNs must stay NaNs, the rest keep every bit. */
    private static int mismatches(boolean scaled, Function<IntVector, FloatVector> low, Function<IntVector, FloatVector> high) {
        int lanes = I.length(), wrong = 0;
        int[] pairs = new int[lanes];
        float[] lo = new float[lanes], hi = new float[lanes];
        for (int h = 0; h < 1 << 16; h += lanes) {
            for (int l = 0; l < lanes; l++) {
                int a = h + l, b = (a * 40503 + 12345) & 0xFFFF;
                pairs[l] = b << 16 | a;
            }
            IntVector x = IntVector.fromArray(I, pairs, 0);
            low.apply(x).intoArray(lo, 0);
            high.apply(x).intoArray(hi, 0);
            for (int l = 0; l < lanes; l++) {
                wrong += differs(pairs[l] & 0xFFFF, lo[l], scaled) + differs(pairs[l] >>> 16, hi[l], scaled);
            }
        }
        return wrong;
    }

    private static int differs(int half, float widened, boolean scaled) {
        float expected = Float.float16ToFloat((short) half);
        if (scaled) {
            if (HalfPairs.nonFinite((short) half)) {
                return 0;
            }
            widened *= HalfPairs.SCALE;
        }
        // The hardware conversion may quiet a signalling NaN
        boolean same = Float.isNaN(expected) ? Float.isNaN(widened) : Float.floatToRawIntBits(expected) == Float.floatToRawIntBits(widened);
        return same ? 0 : 1;
    }
}
