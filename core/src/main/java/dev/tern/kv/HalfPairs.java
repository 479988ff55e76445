package dev.tern.kv;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;

/**
 * Half-precision values read two to a 32-bit lane, as an F16 cache lays them out for attention
 * (keys: two components of one slot; values: components c and c + 16 of a group of 32), so that
 * one load fills two float vectors.
 * <p>
 * Widened the cheap way — the half's sign, exponent and fraction shifted into a float's places,
 * two shifts and an AND — a finite half h becomes exactly h · 2^-112 (subnormal halves too: they
 * land on float subnormals). Attention multiplies such keys by queries scaled by 2^112, and such
 * values by probabilities scaled so: both products are then the very real numbers of the
 * unscaled ones, and every multiply-add rounds to the same bits, for a quarter of the work of
 * {@link #low}'s exact conversion. Infinities and NaNs do not survive the shifts: a cache that
 * holds one ({@link BlockPool#halvesFinite}) is read exactly instead.
 */
public final class HalfPairs {
    /** What the cheap widening divides a finite half by. */
    public static final float SCALE = 0x1p112f;
    /** A float's sign, then the five exponent and ten fraction bits of a half moved to the float's places. */
    private static final int PLACES = 0x8FFFE000;

    private HalfPairs() {
    }

    /** The halves in each lane's low 16 bits, times 2^-112, exact for finite halves. */
    public static FloatVector scaledLow(IntVector pairs) {
        return pairs.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 3).and(PLACES).reinterpretAsFloats();
    }

    /** The halves in each lane's high 16 bits, times 2^-112, exact for finite halves. */
    public static FloatVector scaledHigh(IntVector pairs) {
        return pairs.lanewise(VectorOperators.ASHR, 3).and(PLACES).reinterpretAsFloats();
    }

    /** The halves in each lane's low 16 bits with the bits Float.float16ToFloat gives them. */
    public static FloatVector low(IntVector pairs) {
        return widen(pairs.and(0xFFFF));
    }

    /** The halves in each lane's high 16 bits with the bits Float.float16ToFloat gives them. */
    public static FloatVector high(IntVector pairs) {
        return widen(pairs.lanewise(VectorOperators.LSHR, 16));
    }

    /**
     * Half bit patterns (zero-extended lanes) as floats: exponent and fraction moved to a float's
     * places and multiplied by 2^112 to rebias them (exact, subnormal halves too), the sign put
     * back, and a half's infinities and NaNs given a float's all-ones exponent.
     */
    private static FloatVector widen(IntVector x) {
        IntVector magnitude = x.and(0x7fff).lanewise(VectorOperators.LSHL, 13);
        IntVector bits = magnitude.reinterpretAsFloats().mul(SCALE).reinterpretAsInts()
                .or(x.and(0x8000).lanewise(VectorOperators.LSHL, 16));
        return bits.blend(bits.or(0x7f800000), magnitude.compare(VectorOperators.GE, 0x0f800000)).reinterpretAsFloats();
    }

    /** Whether a half is an infinity or a NaN (all-ones exponent). */
    static boolean nonFinite(short h) {
        return (h & 0x7C00) == 0x7C00;
    }
}
