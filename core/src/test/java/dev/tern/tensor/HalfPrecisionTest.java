package dev.tern.tensor;

import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

/** F16 and BF16 conversions against independent formulations, including NaN, infinities and subnormals. */
class HalfPrecisionTest {
    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** ggml_compute_fp32_to_fp16 as ggml writes it (the FP16 library's bit trick). */
    private static short ggmlFp32ToFp16(float f) {
        float scaleToInf = Float.intBitsToFloat(0x77800000);
        float scaleToZero = Float.intBitsToFloat(0x08800000);
        float base = (Math.abs(f) * scaleToInf) * scaleToZero;
        int w = Float.floatToRawIntBits(f);
        int shl1W = w + w;
        int sign = w & 0x80000000;
        int bias = shl1W & 0xFF000000;
        if (Integer.compareUnsigned(bias, 0x71000000) < 0) {
            bias = 0x71000000;
        }
        base = Float.intBitsToFloat((bias >>> 1) + 0x07800000) + base;
        int bits = Float.floatToRawIntBits(base);
        int expBits = (bits >>> 13) & 0x00007C00;
        int mantissaBits = bits & 0x00000FFF;
        int nonsign = expBits + mantissaBits;
        return (short) ((sign >>> 16) | (Integer.compareUnsigned(shl1W, 0xFF000000) > 0 ? 0x7E00 : nonsign));
    }

    /** Round to nearest even by comparing distances to the two bf16 neighbours in double. */
    private static short nearestBf16(float f) {
        int u = Float.floatToRawIntBits(f);
        if (Float.isNaN(f)) {
            return (short) ((u >>> 16) | 0x40);
        }
        if (Float.isInfinite(f)) {
            return (short) (u >>> 16);
        }
        int down = u & 0xFFFF0000;
        int up = down + 0x10000;
        double dDown = Math.abs((double) f - Float.intBitsToFloat(down));
        double dUp = Math.abs((double) Float.intBitsToFloat(up) - f);
        if (Float.isInfinite(Float.intBitsToFloat(up))) {
            // Past the largest finite bf16 the neighbour "up" is infinity: compare with the next step instead.
            dUp = Math.abs(0x1p128 * Math.signum(f) - f);
        }
        if (dDown < dUp || (dDown == dUp && ((down >>> 16) & 1) == 0)) {
            return (short) (down >>> 16);
        }
        return (short) (up >>> 16);
    }

    private static float[] interestingFloats() {
        Random rnd = new Random(3);
        float[] specials = {0f, -0f, Float.NaN, Float.intBitsToFloat(0x7f800001), Float.intBitsToFloat(0xffc00123),
                Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, Float.MAX_VALUE, -Float.MAX_VALUE, Float.MIN_VALUE,
                Float.MIN_NORMAL, 65504f, 65519.99f, 65520f, -65520f, 0x1p-24f, 0x1p-25f, 0x1.8p-25f, 0x1p-14f,
                1f + 0x1p-11f, 1f + 0x3p-11f, 1f + 0x1p-8f, 1f + 0x3p-8f, 6.1035156e-5f, 3.3895314e38f, 3.3961776e38f};
        float[] out = Arrays.copyOf(specials, specials.length + 200_000);
        for (int i = specials.length; i < out.length; i++) {
            // Random bit patterns cover every exponent; scaled Gaussians cover the fp16 range densely.
            out[i] = i % 2 == 0 ? Float.intBitsToFloat(rnd.nextInt()) : (float) (rnd.nextGaussian() * Math.pow(2, rnd.nextInt(40) - 28));
        }
        return out;
    }

    @Test
    void f16QuantizeMatchesGgmlBitTrick() {
        float[] values = interestingFloats();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment seg = arena.allocate(2L * values.length);
            F16Format.INSTANCE.quantize(values, 0, values.length, seg, 0);
            for (int i = 0; i < values.length; i++) {
                float v = values[i];
                assertEquals(ggmlFp32ToFp16(v), seg.get(I16, 2L * i), () -> "fp16 of " + v);
            }
        }
    }

    @Test
    void bf16QuantizeRoundsToNearestEven() {
        float[] values = interestingFloats();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment seg = arena.allocate(2L * values.length);
            BF16Format.INSTANCE.quantize(values, 0, values.length, seg, 0);
            for (int i = 0; i < values.length; i++) {
                float v = values[i];
                assertEquals(nearestBf16(v), seg.get(I16, 2L * i), () -> "bf16 of " + v + " " + Integer.toHexString(Float.floatToRawIntBits(v)));
            }
        }
    }

    /** Every fp16 bit pattern through the vector dot kernel decodes as Float.float16ToFloat does. */
    @Test
    void f16DotDecodesEveryBitPattern() {
        int n = 16;
        float[] pick = new float[n];
        pick[0] = 1f;
        float[] ones = new float[n];
        Arrays.fill(ones, 1f);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment seg = arena.allocate(2L * n);
            for (int h = 0; h < 65536; h++) {
                seg.fill((byte) 0);
                float v = Float.float16ToFloat((short) h);
                if (Float.isFinite(v)) {
                    seg.set(I16, 0, (short) h);
                    assertEquals(Float.floatToRawIntBits(v) == 0x80000000 ? 0f : v, F16Format.INSTANCE.dot(seg, 0, pick, 0, n), 0f, "fp16 0x" + Integer.toHexString(h));
                } else {
                    for (int i = 0; i < n; i++) {
                        seg.set(I16, 2L * i, (short) h);
                    }
                    assertEquals(v, F16Format.INSTANCE.dot(seg, 0, ones, 0, n), "fp16 0x" + Integer.toHexString(h));
                }
            }
        }
    }

    /** {@code count} standard normal values rounded to fp16, in a segment of their own. */
    private static MemorySegment gaussianHalves(Arena arena, Random rnd, int count) {
        MemorySegment seg = arena.allocate(2L * count);
        for (int i = 0; i < count; i++) {
            seg.set(I16, 2L * i, Float.floatToFloat16((float) rnd.nextGaussian()));
        }
        return seg;
    }

    /**
     * The four-range matrix × vector kernel, which widens assuming finite values, gives what dot
     * gives, also for rows holding an infinity or a NaN and the finite rows beside them.
     */
    @Test
    void f16DotRowsFourMatchesDotWithInfinitiesAndNaNs() {
        int n = 37, rows = 3;
        long rowBytes = 2L * n;
        Random rnd = new Random(3);
        float[] x = DotKernelTest.gaussian(rnd, n);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment seg = gaussianHalves(arena, rnd, 4 * rows * n);
            // Range 1's middle row gets +inf in its vector part, range 3's last row a NaN.
            seg.set(I16, rowBytes * (rows + 1) + 2L * 5, (short) 0x7C00);
            seg.set(I16, rowBytes * (3 * rows + 2) + 2L * 20, (short) 0x7E01);
            long[] offsets = {0, rowBytes * rows, rowBytes * 2 * rows, rowBytes * 3 * rows};
            int[] outs = {0, rows, 2 * rows, 3 * rows};
            float[] out = new float[4 * rows];
            F16Format.INSTANCE.dotRowsFour(seg, offsets, rowBytes, rows, x, 0, n, out, outs);
            for (int k = 0; k < 4; k++) {
                for (int r = 0; r < rows; r++) {
                    float expected = F16Format.INSTANCE.dot(seg, offsets[k] + r * rowBytes, x, 0, n), actual = out[outs[k] + r];
                    if (Float.isFinite(expected)) {
                        // the Vector API leaves the order of a lane sum open: compiled and interpreted code may differ
                        assertEquals(expected, actual, 1e-5f * Math.max(1f, Math.abs(expected)), "range " + k + " row " + r);
                    } else {
                        assertEquals(Float.isNaN(expected) ? "NaN" : String.valueOf(expected),
                                Float.isNaN(actual) ? "NaN" : String.valueOf(actual), "range " + k + " row " + r);
                    }
                }
            }
            assertTrue(Float.isInfinite(out[rows + 1]) || Float.isNaN(out[rows + 1]));
            assertTrue(Float.isNaN(out[3 * rows + 2]));
        }
    }

    /**
     * A tensor of F16 weights multiplies through the kernel that does not watch for infinities and NaNs only when
     * it holds none: one anywhere, in the vector part or the tail, keeps the watching one. On finite weights the two
     * kernels agree; that they give the same bits is BatchInvarianceTest's to check, under C1: here one of them may
     * run compiled by C2, which sums a vector's lanes in another order, and the other not yet.
     */
    @Test
    void f16TensorsWithoutInfinitiesSkipTheWatch() {
        int n = 37, rows = 8;
        long rowBytes = 2L * n;
        Random rnd = new Random(5);
        float[] x = DotKernelTest.gaussian(rnd, n);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment seg = gaussianHalves(arena, rnd, rows * n);
            assertSame(F16Format.FINITE, new Tensor("w", F16Format.INSTANCE, seg, rows, n).kernelFormat());
            long[] offsets = {0, 2 * rowBytes, 4 * rowBytes, 6 * rowBytes};
            int[] outs = {0, 2, 4, 6};
            float[] watched = new float[rows], unwatched = new float[rows];
            F16Format.INSTANCE.dotRowsFour(seg, offsets, rowBytes, 2, x, 0, n, watched, outs);
            F16Format.FINITE.dotRowsFour(seg, offsets, rowBytes, 2, x, 0, n, unwatched, outs);
            assertArrayEquals(watched, unwatched, 1e-5f);
            for (long at : new long[]{2L * 3, rowBytes * rows - 2}) {
                short kept = seg.get(I16, at);
                for (short special : new short[]{(short) 0x7C00, (short) 0xFC00, (short) 0x7E01}) {
                    seg.set(I16, at, special);
                    assertSame(F16Format.INSTANCE, new Tensor("w", F16Format.INSTANCE, seg, rows, n).kernelFormat(),
                            "0x" + Integer.toHexString(special & 0xFFFF) + " at byte " + at);
                }
                seg.set(I16, at, kept);
            }
            Tensor bf16 = new Tensor("w", BF16Format.INSTANCE, seg, rows, n);
            assertSame(BF16Format.INSTANCE, bf16.kernelFormat());
        }
    }

    /** Every 16-bit pattern, vector path and scalar tail, decodes to exactly the expected float bits. */
    @Test
    void dequantizeEveryBitPattern() {
        int n = 65536 + 3;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment seg = arena.allocate(2L * n + 2);
            for (int i = 0; i < n; i++) {
                seg.set(I16, 2 + 2L * i, (short) i);
            }
            float[] f16 = new float[n + 1];
            float[] bf16 = new float[n + 1];
            F16Format.INSTANCE.dequantize(seg, 2, f16, 1, n);
            BF16Format.INSTANCE.dequantize(seg, 2, bf16, 1, n);
            for (int i = 0; i < n; i++) {
                assertEquals(Float.floatToRawIntBits(Float.float16ToFloat((short) i)), Float.floatToRawIntBits(f16[1 + i]), "fp16 " + i);
                assertEquals((i & 0xFFFF) << 16, Float.floatToRawIntBits(bf16[1 + i]), "bf16 " + i);
            }
        }
    }

    @Test
    void bf16DequantizeIsUpperHalfOfFloat() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment seg = arena.allocate(4);
            seg.set(I16, 0, (short) 0x3FC0);
            seg.set(I16, 2, (short) 0xC049);
            float[] out = new float[2];
            BF16Format.INSTANCE.dequantize(seg, 0, out, 0, 2);
            assertEquals(1.5f, out[0]);
            assertEquals(Float.intBitsToFloat(0xC0490000), out[1]);
        }
    }
}
