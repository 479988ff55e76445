package dev.tern.tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/** Little-endian block access, the scalar rounding helpers ggml's quantizers rely on, and the kernels' row-range loops. */
final class Blocks {
    static final ValueLayout.OfByte I8 = ValueLayout.JAVA_BYTE;
    static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfLong I64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    /** ggml's group_max_eps: a group whose largest magnitude is below it quantizes to zero. */
    static final float GROUP_MAX_EPS = 1e-15f;

    private Blocks() {
    }

    /**
     * {@link TensorFormat#dotRows} as four ranges read side by side through f's {@link
     * TensorFormat#dotRowsFour} (which must not call dotRows), the rows past them one by one: quads of
     * adjacent rows read slower from memory than decode's four distant ranges (`CpuTimeAB matvec`,
     * one thread, "rows" against "four": Q4_0 6.0 against 8.9 GB/s, BF16 14.5 against 24.6). It
     * serves each token of a batch too small for the tiles, and decode's remainder rows.
     */
    static void dotRowsByRanges(TensorFormat f, MemorySegment w, long byteOffset, long rowBytes, int rows, float[] x, int xOff,
                                int n, float[] out, int outOff) {
        int part = rows / 4;
        if (part > 0) {
            long[] offsets = {byteOffset, byteOffset + part * rowBytes, byteOffset + 2 * part * rowBytes, byteOffset + 3 * part * rowBytes};
            f.dotRowsFour(w, offsets, rowBytes, part, x, xOff, n, out, new int[]{outOff, outOff + part, outOff + 2 * part, outOff + 3 * part});
        }
        for (int r = 4 * part; r < rows; r++) {
            out[outOff + r] = f.dot(w, byteOffset + r * rowBytes, x, xOff, n);
        }
    }

    /**
     * A format's own kernel in the tiles' order over four rows at once, each a slice of its whole
     * blocks, into out[ia], out[ib], out[ic] and out[ie]: four chains of multiply-adds where one
     * row's chain waits on their latency (the tile-order variants of IQ4_XS, Q5_0 and Q5_1 with 512-bit
     * vectors; the decode kernels of Q4_0, IQ4_NL and Q4_1).
     */
    @FunctionalInterface
    interface QuadKernel {
        void dot(MemorySegment a, MemorySegment b, MemorySegment c, MemorySegment e, float[] x, int xo, float[] out,
                 int ia, int ib, int ic, int ie);
    }

    /**
     * {@link TensorFormat#dotRowsFour} through a kernel over four rows: a row of each range at a
     * time, each read through a slice of its whole blocks (bounds checked once per row).
     */
    static void byQuads(QuadKernel quad, GGMLType type, MemorySegment w, long[] offsets, long rowBytes, int rows, float[] x,
                        int xOff, int n, float[] out, int[] outs) {
        requireBlocks(type, n);
        long end = (long) (n / type.blockSize) * type.blockBytes;
        for (int r = 0; r < rows; r++) {
            long step = r * rowBytes;
            quad.dot(w.asSlice(offsets[0] + step, end), w.asSlice(offsets[1] + step, end), w.asSlice(offsets[2] + step, end),
                    w.asSlice(offsets[3] + step, end), x, xOff, out, outs[0] + r, outs[1] + r, outs[2] + r, outs[3] + r);
        }
    }

    /** The fp16 value stored at off, as a float. */
    static float f16(MemorySegment w, long off) {
        return Float.float16ToFloat(w.get(I16, off));
    }

    /** Writes f as fp16 at off, rounded as GGML_FP32_TO_FP16 does. */
    static void putF16(MemorySegment w, long off, float f) {
        w.set(I16, off, toF16(f));
    }

    /**
     * ggml's fp32 → fp16: round to nearest even, like {@link Float#floatToFloat16}, except that
     * every NaN becomes the canonical quiet NaN 0x7E00 (ggml drops the payload).
     */
    static short toF16(float f) {
        if (Float.isNaN(f)) {
            return (short) ((Float.floatToRawIntBits(f) >>> 16 & 0x8000) | 0x7E00);
        }
        return Float.floatToFloat16(f);
    }

    static int u8(MemorySegment w, long off) {
        return Byte.toUnsignedInt(w.get(I8, off));
    }

    static byte s8(MemorySegment w, long off) {
        return w.get(I8, off);
    }

    /** ggml's nearest_int: adds 1.5·2^23 so that the float unit does the rounding (to nearest even). */
    static int nearestInt(float fval) {
        float val = fval + 12582912f;
        int i = Float.floatToRawIntBits(val);
        return (i & 0x007fffff) - 0x00400000;
    }

    /** C's roundf: halfway cases away from zero (Math.round would round them up). */
    static float roundf(float x) {
        return (float) Math.copySign(Math.floor(Math.abs((double) x) + 0.5), x);
    }

    static void requireBlocks(GGMLType type, int n) {
        if (n % type.blockSize != 0) {
            throw new IllegalArgumentException(n + " values are not a whole number of " + type + " blocks of " + type.blockSize);
        }
    }

    /** The smallest of n values (ggml's scan: NaNs are skipped). */
    static float min(float[] x, int off, int n) {
        float min = Float.MAX_VALUE;
        for (int j = 0; j < n; j++) {
            if (x[off + j] < min) {
                min = x[off + j];
            }
        }
        return min;
    }

    /** The largest of n values (ggml's scan: NaNs are skipped). */
    static float max(float[] x, int off, int n) {
        float max = -Float.MAX_VALUE;
        for (int j = 0; j < n; j++) {
            if (x[off + j] > max) {
                max = x[off + j];
            }
        }
        return max;
    }

    /** The first of n values with the largest magnitude, sign kept (0 when all are 0), as Q4_0/Q5_0, the k-quants and IQ4 scale by it. */
    static float largestMagnitude(float[] x, int off, int n) {
        float amax = 0.0f;
        float max = 0.0f;
        for (int j = 0; j < n; j++) {
            float v = x[off + j];
            if (amax < Math.abs(v)) {
                amax = Math.abs(v);
                max = v;
            }
        }
        return max;
    }

    /**
     * The low four bits of a 32-value block's levels (0..31) as Q4_0, Q4_1, Q5_0 and Q5_1 lay them
     * out: 16 bytes at qs, level j in the low nibble of byte j and level j+16 in its high nibble.
     */
    static void putLowNibbles32(byte[] L, MemorySegment dst, long qs) {
        for (int j = 0; j < 16; j++) {
            dst.set(I8, qs + j, (byte) ((L[j] & 0x0F) | ((L[j + 16] & 0x0F) << 4)));
        }
    }

    /** Q5_0/Q5_1's qh word: bit j is the fifth bit of level j of the block's 32. */
    static int fifthBits32(byte[] L) {
        int qh = 0;
        for (int j = 0; j < 32; j++) {
            qh |= ((L[j] & 0x10) >>> 4) << j;
        }
        return qh;
    }
}
