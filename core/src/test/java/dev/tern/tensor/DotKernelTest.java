package dev.tern.tensor;

import jdk.incubator.vector.FloatVector;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

/** The Vector API dot kernels against the scalar dequantize-then-multiply reference. */
class DotKernelTest {

    static List<TensorFormat> formats() {
        return AllFormats.readable();
    }

    /** The build runs these tests once per vector width (core/pom.xml): each run must get the width it asks for. */
    @Test
    void kernelsUseTheVectorWidthAskedFor() {
        String bits = System.getProperty("tern.vector.bits");
        int expected = bits != null ? Integer.parseInt(bits)
                : Math.max(128, Math.min(512, FloatVector.SPECIES_PREFERRED.vectorBitSize()));
        assertEquals(expected, Vec.F.vectorBitSize());
        assertEquals(expected / 32, Vec.FL);
    }

    @ParameterizedTest
    @MethodSource("formats")
    void vectorDotMatchesScalarReference(TensorFormat format) {
        int bs = format.type().blockSize;
        // Element-wise formats get lengths that leave a scalar tail; block formats 1, 3, 7 and many blocks.
        int[] sizes = bs == 1 ? new int[]{1, 7, 33, 4099} : new int[]{bs, 3 * bs, 7 * bs, Math.max(4096, 16 * bs)};
        Random rnd = new Random(42 + format.type().id);
        try (Arena arena = Arena.ofConfined()) {
            for (int n : sizes) {
                for (int rep = 0; rep < 3; rep++) {
                    float[] w = gaussian(rnd, n);
                    int xOff = rnd.nextInt(5);
                    float[] x = gaussian(rnd, n + xOff + 3);
                    long byteOffset = format.type().blockBytes * (long) rnd.nextInt(3);
                    MemorySegment seg = arena.allocate(byteOffset + format.type().byteSize(n));
                    AllFormats.write(format, w, 0, n, seg, byteOffset);

                    float vec = format.dot(seg, byteOffset, x, xOff, n);
                    float ref = format.dotReference(seg, byteOffset, x, xOff, n);
                    float[] deq = new float[n];
                    format.dequantize(seg, byteOffset, deq, 0, n);
                    double absSum = 0;
                    for (int i = 0; i < n; i++) {
                        absSum += Math.abs((double) deq[i] * x[xOff + i]);
                    }
                    // Both sums round at most ~n times with unit roundoff 2^-24.
                    double tol = 2.0 * n * 0x1p-24 * absSum + 1e-30;
                    assertEquals(ref, vec, tol, format.type() + " n=" + n + " xOff=" + xOff + " byteOffset=" + byteOffset);
                }
            }
        }
    }

    /**
     * Many calls, so that the JIT compiles the kernels with real vector instructions: the
     * compiled code must still agree with the scalar reference (and dequantize stay exact).
     */
    @ParameterizedTest
    @MethodSource("formats")
    void compiledKernelsAgreeWithReference(TensorFormat format) {
        int n = 512;
        Random rnd = new Random(9);
        float[] w = gaussian(rnd, n);
        float[] x = gaussian(rnd, n);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment seg = arena.allocate(format.type().byteSize(n));
            AllFormats.write(format, w, 0, n, seg, 0);
            float[] expected = new float[n];
            format.dequantize(seg, 0, expected, 0, n);
            float ref = format.dotReference(seg, 0, x, 0, n);
            double absSum = 0;
            for (int i = 0; i < n; i++) {
                absSum += Math.abs((double) expected[i] * x[i]);
            }
            double tol = 2.0 * n * 0x1p-24 * absSum;
            float[] out = new float[n];
            for (int iter = 0; iter < 20_000; iter++) {
                float got = format.dot(seg, 0, x, 0, n);
                if (Math.abs(got - ref) > tol) {
                    fail(format.type() + " iteration " + iter + ": dot " + got + " vs reference " + ref);
                }
                if (iter % 8 == 0) {
                    format.dequantize(seg, 0, out, 0, n);
                    if (!java.util.Arrays.equals(expected, out)) {
                        fail(format.type() + " iteration " + iter + ": dequantize changed once compiled");
                    }
                }
            }
        }
    }

    static float[] gaussian(Random rnd, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) rnd.nextGaussian();
        }
        return a;
    }
}
