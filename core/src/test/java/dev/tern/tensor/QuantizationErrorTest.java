package dev.tern.tensor;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

/** quantize → dequantize error, on Gaussian data and on llama.cpp's test-quantize-fns data. */
class QuantizationErrorTest {
    /**
     * test-quantize-fns: MAX_QUANTIZATION_TOTAL_ERROR, _3BITS for Q3_K, _2BITS for Q2_K and _TERNARY
     * for TQ1_0/TQ2_0; its dot error bound, MAX_DOT_PRODUCT_ERROR, is MAX_DOT_PRODUCT_ERROR_LOWBIT
     * for Q2_K and _TERNARY for TQ1_0/TQ2_0.
     */
    private static double llamaMaxTotalError(GGMLType type) {
        return switch (type) {
            case Q2_K -> 0.0075;
            case Q3_K -> 0.0040;
            case TQ1_0, TQ2_0 -> 0.01;
            default -> 0.002;
        };
    }

    private static double llamaMaxDotError(GGMLType type) {
        return switch (type) {
            case Q2_K -> 0.04;
            case TQ1_0, TQ2_0 -> 0.15;
            default -> 0.02;
        };
    }

    static List<TensorFormat> formats() {
        return AllFormats.lossy();
    }

    @ParameterizedTest
    @MethodSource("formats")
    void gaussianRoundTripIsWithinBound(TensorFormat format) {
        int n = 64 * 256;
        float[] data = DotKernelTest.gaussian(new Random(7), n);
        float[] back = roundTrip(format, data);
        double err = 0;
        double sq = 0;
        for (int i = 0; i < n; i++) {
            err += (back[i] - data[i]) * (double) (back[i] - data[i]);
            sq += data[i] * (double) data[i];
        }
        double rel = Math.sqrt(err / sq);
        assertTrue(rel < RoundTripBounds.relativeRmse(format.type()), format.type() + ": relative RMSE " + rel);
        assertTrue(rel > 0 || format.type() == GGMLType.F16, format.type() + " cannot be lossless on Gaussian data");
    }

    /** Degenerate blocks (all zero, constant, one outlier among zeros) must not produce NaNs or garbage. */
    @ParameterizedTest
    @MethodSource("formats")
    void degenerateBlocks(TensorFormat format) {
        int n = 512;
        float[] zeros = new float[n];
        assertArrayEquals(zeros, roundTrip(format, zeros), 0f, format.type() + " zeros");

        float[] constant = new float[n];
        Arrays.fill(constant, -0.75f);
        float[] back = roundTrip(format, constant);
        for (int i = 0; i < n; i++) {
            assertEquals(-0.75f, back[i], 0.75 * RoundTripBounds.relativeRmse(format.type()) * 2, format.type() + " constant at " + i);
        }

        float[] spike = new float[n];
        spike[37] = 1000f;
        spike[300] = -3e-3f;
        back = roundTrip(format, spike);
        for (int i = 0; i < n; i++) {
            assertTrue(Float.isFinite(back[i]), format.type() + " spike gave " + back[i] + " at " + i);
        }
        assertEquals(1000f, back[37], 1000 * RoundTripBounds.relativeRmse(format.type()), format.type() + " spike");
    }

    /** The same synthetic data, metric and thresholds as llama.cpp's tests/test-quantize-fns.cpp. */
    @ParameterizedTest
    @MethodSource("formats")
    void llamaCppTotalAndDotErrors(TensorFormat format) {
        int n = 32 * 128;
        float[] a = synthetic(0.0f, n);
        float[] b = synthetic(1.0f, n);
        float[] back = roundTrip(format, a);
        double sum = 0;
        for (int i = 0; i < n; i++) {
            double diff = a[i] - back[i];
            sum += diff * diff;
        }
        double totalError = Math.sqrt(sum) / n;
        assertTrue(totalError < llamaMaxTotalError(format.type()), format.type() + " total error " + totalError);

        try (Arena arena = Arena.ofConfined()) {
            MemorySegment q = arena.allocate(format.type().byteSize(n));
            format.quantize(a, 0, n, q, 0);
            double ref = 0;
            for (int i = 0; i < n; i++) {
                ref += a[i] * b[i];
            }
            double dotError = Math.abs(format.dot(q, 0, b, 0, n) - ref) / n;
            assertTrue(dotError < llamaMaxDotError(format.type()), format.type() + " dot error " + dotError);
        }
    }

    private static float[] synthetic(float offset, int n) {
        float[] d = new float[n];
        for (int i = 0; i < n; i++) {
            d[i] = (float) (0.1 + 2.0f * (float) Math.cos(i + offset));
        }
        return d;
    }

    private static float[] roundTrip(TensorFormat format, float[] data) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment q = arena.allocate(format.type().byteSize(data.length));
            format.quantize(data, 0, data.length, q, 0);
            float[] back = new float[data.length];
            format.dequantize(q, 0, back, 0, data.length);
            return back;
        }
    }
}
