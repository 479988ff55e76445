package dev.tern.tensor;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

/**
 * Vector building blocks for the block formats' dot kernels and dequantizers. Quants are handled
 * 16 at a time (one 128-bit byte vector, which every block layout divides evenly) and widened to
 * floats in {@link #PARTS} pieces of the preferred float species: one piece with 512-bit vectors,
 * two with 256-bit, four with 128-bit.
 */
final class Vec {
    /**
     * The kernels' float species: the CPU's widest (128 to 512 bits), or the width the system
     * property {@code tern.vector.bits} names (128, 256 or 512), so that the tests can check every
     * kernel family on any machine (a width the CPU lacks runs correctly, in plain Java, slowly).
     */
    static final VectorSpecies<Float> F = species(System.getProperty("tern.vector.bits"));
    static final VectorSpecies<Byte> B16 = ByteVector.SPECIES_128;
    static final int FL = F.length();
    static final int PARTS = 16 / FL;

    private Vec() {
    }

    private static VectorSpecies<Float> species(String bits) {
        if (bits != null) {
            return switch (bits) {
                case "128" -> FloatVector.SPECIES_128;
                case "256" -> FloatVector.SPECIES_256;
                case "512" -> FloatVector.SPECIES_512;
                default -> throw new IllegalArgumentException("tern.vector.bits must be 128, 256 or 512, not " + bits);
            };
        }
        int preferred = FloatVector.SPECIES_PREFERRED.length();
        return preferred >= 4 && preferred <= 16 ? FloatVector.SPECIES_PREFERRED : FloatVector.SPECIES_128;
    }

    static ByteVector load16(MemorySegment w, long off) {
        return ByteVector.fromMemorySegment(B16, w, off, ByteOrder.LITTLE_ENDIAN);
    }

    /** acc + Σ over the 16 quants q (signed bytes) of q[i]·x[xo+i], lane-wise. */
    static FloatVector fma16(ByteVector q, float[] x, int xo, FloatVector acc) {
        for (int p = 0; p < PARTS; p++) {
            FloatVector qf = (FloatVector) q.convertShape(VectorOperators.B2F, F, p);
            acc = qf.fma(FloatVector.fromArray(F, x, xo + p * FL), acc);
        }
        return acc;
    }

    /** acc + x[xo..xo+16), lane-wise. */
    static FloatVector sum16(float[] x, int xo, FloatVector acc) {
        for (int p = 0; p < PARTS; p++) {
            acc = acc.add(FloatVector.fromArray(F, x, xo + p * FL));
        }
        return acc;
    }

    /** acc + v·s, lane-wise, fused. */
    static FloatVector fmaScaled(FloatVector v, float s, FloatVector acc) {
        return v.fma(FloatVector.broadcast(F, s), acc);
    }

    /** out[oo..oo+16) = q·scale, lane-wise. */
    static void store16(ByteVector q, float scale, float[] out, int oo) {
        for (int p = 0; p < PARTS; p++) {
            ((FloatVector) q.convertShape(VectorOperators.B2F, F, p)).mul(scale).intoArray(out, oo + p * FL);
        }
    }

    /** out[oo..oo+16) = q·scale + offset, lane-wise, rounded after the product and after the sum as scalar code is. */
    static void store16(ByteVector q, float scale, float offset, float[] out, int oo) {
        for (int p = 0; p < PARTS; p++) {
            ((FloatVector) q.convertShape(VectorOperators.B2F, F, p)).mul(scale).add(offset).intoArray(out, oo + p * FL);
        }
    }
}
