package dev.tern.tensor;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

import static jdk.incubator.vector.VectorOperators.B2F;

/**
 * Q8_0 weights times four or five, or seven to nine, tokens with 8-lane vectors (AVX2), read
 * straight from the mapping: each eight quants are widened to floats and scaled once, then serve
 * four, eight or nine tokens (one row × that many tokens of accumulators, the tokens' activations
 * interleaved so that the tile loads them at constant offsets from one index). {@link BatchMatmul}'s
 * buffered tiles store every decoded row and load it again, which for a few tokens costs as much
 * as their multiply-adds. Seven tokens run as eight, the missing one zero; nine as one row × nine
 * tokens; a fifth takes the row's plain dot product while the row is in L1.
 * <p>
 * `CpuTimeAB matmul Q8_0 N 400 2048` (one thread, weights from memory, GFLOP/s, against the
 * buffered tiles): 4 tokens 36.6–38.8 against 21.8–25.8, 5 tokens 30.2–30.5 against 28.8–29.3,
 * 8 tokens 41.6–44.7 against 34.1–36.6, 9 tokens as eight plus a dot product the same (37.9–38.6
 * against 37.1–37.7), as one row × nine 41.2–41.6; 6 tokens as eight the same as the buffered tiles,
 * at 10 tokens (two dot products) 36.5 against 38.4, at 16 (two passes of eight) the same. The eight
 * tokens' activations (64 KB at 2,048 columns) come from L2, yet do not bound the tile (46 GFLOP/s
 * at 512 columns, where they fit L1, against 42–44); it runs at about one multiply-add a cycle.
 * Taller tiles spill AVX2's sixteen registers.
 */
final class Q8_0Tiles {
    private static final VectorSpecies<Float> H = FloatVector.SPECIES_256;
    private static final VectorSpecies<Byte> B8 = ByteVector.SPECIES_64;
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    private static final int BYTES = 34;
    private static final ThreadLocal<float[][]> PACKED = Aligned.holder();

    private Q8_0Tiles() {
    }

    /** Whether these tiles, rather than {@link BatchMatmul}'s buffered ones, should multiply n tokens. */
    static boolean handles(int n) {
        return Vec.FL == 8 && (n == 4 || n == 5 || n >= 7 && n <= 9);
    }

    /** As {@link BatchMatmul#multiply}, for a Q8_0 tensor. */
    static void multiply(Tensor w, int rowFrom, int rowTo, float[] x, int xOff, int n, float[] out, int outStride) {
        int cols = w.cols();
        long rowBytes = w.rowBytes();
        int width = n < 6 ? 4 : n == 9 ? 9 : 8, tiled = Math.min(n, width);
        float[] packed = Aligned.scratch(PACKED, width * cols);
        int p0 = Aligned.OFFSET;
        pack(x, xOff, cols, tiled, width, packed, p0);
        for (int r = rowFrom; r < rowTo; r++) {
            MemorySegment row = w.data().asSlice(r * rowBytes, rowBytes);
            switch (width) {
                case 4 -> tile1x4(row, cols / 32, packed, p0, out, r, outStride);
                case 9 -> tile1x9(row, cols / 32, packed, p0, out, r, outStride);
                default -> tile1x8(row, cols / 32, packed, p0, out, r, outStride, tiled);
            }
            if (n > width) {
                out[width * outStride + r] = Q8_0Format.INSTANCE.dot(row, 0, x, xOff + width * cols, cols);
            }
        }
    }

    /**
     * The first {@code tokens} tokens' activations interleaved a vector of each at a time, zeros
     * standing for the rest of {@code width}: packed[p0 + width·i + 8t + lane] = x[x0 + t·k + i + lane].
     */
    private static void pack(float[] x, int x0, int k, int tokens, int width, float[] packed, int p0) {
        FloatVector zero = FloatVector.zero(H);
        for (int i = 0, p = p0; i < k; i += 8) {
            for (int t = 0; t < width; t++, p += 8) {
                (t < tokens ? FloatVector.fromArray(H, x, x0 + t * k + i) : zero).intoArray(packed, p);
            }
        }
    }

    /**
     * The row's products with the first {@code tokens} of the eight packed tokens into out[o + t·stride].
     * A block's four groups of eight quants are written out: as a loop over them C2 did not unroll
     * it, 35–37 against 41–43 GFLOP/s (`CpuTimeAB matmul Q8_0 8 400 2048`, alternated).
     */
    private static void tile1x8(MemorySegment row, int blocks, float[] packed, int p0, float[] out, int o, int stride, int tokens) {
        FloatVector a0 = FloatVector.zero(H), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
        for (int b = 0; b < blocks; b++) {
            long p = (long) b * BYTES;
            int q = p0 + 256 * b;
            FloatVector d = FloatVector.broadcast(H, Float.float16ToFloat(row.get(Blocks.I16, p)));
            FloatVector w8;
            w8 = ((FloatVector) ByteVector.fromMemorySegment(B8, row, p + 2, LE).convertShape(B2F, H, 0)).mul(d);
            a0 = w8.fma(FloatVector.fromArray(H, packed, q + 0), a0);
            a1 = w8.fma(FloatVector.fromArray(H, packed, q + 8), a1);
            a2 = w8.fma(FloatVector.fromArray(H, packed, q + 16), a2);
            a3 = w8.fma(FloatVector.fromArray(H, packed, q + 24), a3);
            a4 = w8.fma(FloatVector.fromArray(H, packed, q + 32), a4);
            a5 = w8.fma(FloatVector.fromArray(H, packed, q + 40), a5);
            a6 = w8.fma(FloatVector.fromArray(H, packed, q + 48), a6);
            a7 = w8.fma(FloatVector.fromArray(H, packed, q + 56), a7);
            w8 = ((FloatVector) ByteVector.fromMemorySegment(B8, row, p + 10, LE).convertShape(B2F, H, 0)).mul(d);
            a0 = w8.fma(FloatVector.fromArray(H, packed, q + 64), a0);
            a1 = w8.fma(FloatVector.fromArray(H, packed, q + 72), a1);
            a2 = w8.fma(FloatVector.fromArray(H, packed, q + 80), a2);
            a3 = w8.fma(FloatVector.fromArray(H, packed, q + 88), a3);
            a4 = w8.fma(FloatVector.fromArray(H, packed, q + 96), a4);
            a5 = w8.fma(FloatVector.fromArray(H, packed, q + 104), a5);
            a6 = w8.fma(FloatVector.fromArray(H, packed, q + 112), a6);
            a7 = w8.fma(FloatVector.fromArray(H, packed, q + 120), a7);
            w8 = ((FloatVector) ByteVector.fromMemorySegment(B8, row, p + 18, LE).convertShape(B2F, H, 0)).mul(d);
            a0 = w8.fma(FloatVector.fromArray(H, packed, q + 128), a0);
            a1 = w8.fma(FloatVector.fromArray(H, packed, q + 136), a1);
            a2 = w8.fma(FloatVector.fromArray(H, packed, q + 144), a2);
            a3 = w8.fma(FloatVector.fromArray(H, packed, q + 152), a3);
            a4 = w8.fma(FloatVector.fromArray(H, packed, q + 160), a4);
            a5 = w8.fma(FloatVector.fromArray(H, packed, q + 168), a5);
            a6 = w8.fma(FloatVector.fromArray(H, packed, q + 176), a6);
            a7 = w8.fma(FloatVector.fromArray(H, packed, q + 184), a7);
            w8 = ((FloatVector) ByteVector.fromMemorySegment(B8, row, p + 26, LE).convertShape(B2F, H, 0)).mul(d);
            a0 = w8.fma(FloatVector.fromArray(H, packed, q + 192), a0);
            a1 = w8.fma(FloatVector.fromArray(H, packed, q + 200), a1);
            a2 = w8.fma(FloatVector.fromArray(H, packed, q + 208), a2);
            a3 = w8.fma(FloatVector.fromArray(H, packed, q + 216), a3);
            a4 = w8.fma(FloatVector.fromArray(H, packed, q + 224), a4);
            a5 = w8.fma(FloatVector.fromArray(H, packed, q + 232), a5);
            a6 = w8.fma(FloatVector.fromArray(H, packed, q + 240), a6);
            a7 = w8.fma(FloatVector.fromArray(H, packed, q + 248), a7);
        }
        out[o] = a0.reduceLanes(VectorOperators.ADD);
        out[o + stride] = a1.reduceLanes(VectorOperators.ADD);
        out[o + 2 * stride] = a2.reduceLanes(VectorOperators.ADD);
        out[o + 3 * stride] = a3.reduceLanes(VectorOperators.ADD);
        out[o + 4 * stride] = a4.reduceLanes(VectorOperators.ADD);
        out[o + 5 * stride] = a5.reduceLanes(VectorOperators.ADD);
        if (tokens > 6) {
            out[o + 6 * stride] = a6.reduceLanes(VectorOperators.ADD);
        }
        if (tokens > 7) {
            out[o + 7 * stride] = a7.reduceLanes(VectorOperators.ADD);
        }
    }

    /**
     * {@link #tile1x8} for nine packed tokens: a verify pass after eight drafted tokens. The ninth took the row's own
     * dot product, which cost as much again as a single-token step (1B Q8_0: a pass of 9 tokens 4.79× a step, of 8
     * tokens 3.22×, in the same run).
     */
    private static void tile1x9(MemorySegment row, int blocks, float[] packed, int p0, float[] out, int o, int stride) {
        FloatVector a0 = FloatVector.zero(H), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0, a8 = a0;
        for (int b = 0; b < blocks; b++) {
            long p = (long) b * BYTES;
            int q = p0 + 288 * b;
            FloatVector d = FloatVector.broadcast(H, Float.float16ToFloat(row.get(Blocks.I16, p)));
            FloatVector w8;
            w8 = ((FloatVector) ByteVector.fromMemorySegment(B8, row, p + 2, LE).convertShape(B2F, H, 0)).mul(d);
            a0 = w8.fma(FloatVector.fromArray(H, packed, q + 0), a0);
            a1 = w8.fma(FloatVector.fromArray(H, packed, q + 8), a1);
            a2 = w8.fma(FloatVector.fromArray(H, packed, q + 16), a2);
            a3 = w8.fma(FloatVector.fromArray(H, packed, q + 24), a3);
            a4 = w8.fma(FloatVector.fromArray(H, packed, q + 32), a4);
            a5 = w8.fma(FloatVector.fromArray(H, packed, q + 40), a5);
            a6 = w8.fma(FloatVector.fromArray(H, packed, q + 48), a6);
            a7 = w8.fma(FloatVector.fromArray(H, packed, q + 56), a7);
            a8 = w8.fma(FloatVector.fromArray(H, packed, q + 64), a8);
            w8 = ((FloatVector) ByteVector.fromMemorySegment(B8, row, p + 10, LE).convertShape(B2F, H, 0)).mul(d);
            a0 = w8.fma(FloatVector.fromArray(H, packed, q + 72), a0);
            a1 = w8.fma(FloatVector.fromArray(H, packed, q + 80), a1);
            a2 = w8.fma(FloatVector.fromArray(H, packed, q + 88), a2);
            a3 = w8.fma(FloatVector.fromArray(H, packed, q + 96), a3);
            a4 = w8.fma(FloatVector.fromArray(H, packed, q + 104), a4);
            a5 = w8.fma(FloatVector.fromArray(H, packed, q + 112), a5);
            a6 = w8.fma(FloatVector.fromArray(H, packed, q + 120), a6);
            a7 = w8.fma(FloatVector.fromArray(H, packed, q + 128), a7);
            a8 = w8.fma(FloatVector.fromArray(H, packed, q + 136), a8);
            w8 = ((FloatVector) ByteVector.fromMemorySegment(B8, row, p + 18, LE).convertShape(B2F, H, 0)).mul(d);
            a0 = w8.fma(FloatVector.fromArray(H, packed, q + 144), a0);
            a1 = w8.fma(FloatVector.fromArray(H, packed, q + 152), a1);
            a2 = w8.fma(FloatVector.fromArray(H, packed, q + 160), a2);
            a3 = w8.fma(FloatVector.fromArray(H, packed, q + 168), a3);
            a4 = w8.fma(FloatVector.fromArray(H, packed, q + 176), a4);
            a5 = w8.fma(FloatVector.fromArray(H, packed, q + 184), a5);
            a6 = w8.fma(FloatVector.fromArray(H, packed, q + 192), a6);
            a7 = w8.fma(FloatVector.fromArray(H, packed, q + 200), a7);
            a8 = w8.fma(FloatVector.fromArray(H, packed, q + 208), a8);
            w8 = ((FloatVector) ByteVector.fromMemorySegment(B8, row, p + 26, LE).convertShape(B2F, H, 0)).mul(d);
            a0 = w8.fma(FloatVector.fromArray(H, packed, q + 216), a0);
            a1 = w8.fma(FloatVector.fromArray(H, packed, q + 224), a1);
            a2 = w8.fma(FloatVector.fromArray(H, packed, q + 232), a2);
            a3 = w8.fma(FloatVector.fromArray(H, packed, q + 240), a3);
            a4 = w8.fma(FloatVector.fromArray(H, packed, q + 248), a4);
            a5 = w8.fma(FloatVector.fromArray(H, packed, q + 256), a5);
            a6 = w8.fma(FloatVector.fromArray(H, packed, q + 264), a6);
            a7 = w8.fma(FloatVector.fromArray(H, packed, q + 272), a7);
            a8 = w8.fma(FloatVector.fromArray(H, packed, q + 280), a8);
        }
        out[o] = a0.reduceLanes(VectorOperators.ADD);
        out[o + stride] = a1.reduceLanes(VectorOperators.ADD);
        out[o + 2 * stride] = a2.reduceLanes(VectorOperators.ADD);
        out[o + 3 * stride] = a3.reduceLanes(VectorOperators.ADD);
        out[o + 4 * stride] = a4.reduceLanes(VectorOperators.ADD);
        out[o + 5 * stride] = a5.reduceLanes(VectorOperators.ADD);
        out[o + 6 * stride] = a6.reduceLanes(VectorOperators.ADD);
        out[o + 7 * stride] = a7.reduceLanes(VectorOperators.ADD);
        out[o + 8 * stride] = a8.reduceLanes(VectorOperators.ADD);
    }

    /** {@link #tile1x8} for four packed tokens. */
    private static void tile1x4(MemorySegment row, int blocks, float[] packed, int p0, float[] out, int o, int stride) {
        FloatVector a0 = FloatVector.zero(H), a1 = a0, a2 = a0, a3 = a0;
        for (int b = 0; b < blocks; b++) {
            long p = (long) b * BYTES;
            int q = p0 + 128 * b;
            FloatVector d = FloatVector.broadcast(H, Float.float16ToFloat(row.get(Blocks.I16, p)));
            FloatVector w8;
            w8 = ((FloatVector) ByteVector.fromMemorySegment(B8, row, p + 2, LE).convertShape(B2F, H, 0)).mul(d);
            a0 = w8.fma(FloatVector.fromArray(H, packed, q + 0), a0);
            a1 = w8.fma(FloatVector.fromArray(H, packed, q + 8), a1);
            a2 = w8.fma(FloatVector.fromArray(H, packed, q + 16), a2);
            a3 = w8.fma(FloatVector.fromArray(H, packed, q + 24), a3);
            w8 = ((FloatVector) ByteVector.fromMemorySegment(B8, row, p + 10, LE).convertShape(B2F, H, 0)).mul(d);
            a0 = w8.fma(FloatVector.fromArray(H, packed, q + 32), a0);
            a1 = w8.fma(FloatVector.fromArray(H, packed, q + 40), a1);
            a2 = w8.fma(FloatVector.fromArray(H, packed, q + 48), a2);
            a3 = w8.fma(FloatVector.fromArray(H, packed, q + 56), a3);
            w8 = ((FloatVector) ByteVector.fromMemorySegment(B8, row, p + 18, LE).convertShape(B2F, H, 0)).mul(d);
            a0 = w8.fma(FloatVector.fromArray(H, packed, q + 64), a0);
            a1 = w8.fma(FloatVector.fromArray(H, packed, q + 72), a1);
            a2 = w8.fma(FloatVector.fromArray(H, packed, q + 80), a2);
            a3 = w8.fma(FloatVector.fromArray(H, packed, q + 88), a3);
            w8 = ((FloatVector) ByteVector.fromMemorySegment(B8, row, p + 26, LE).convertShape(B2F, H, 0)).mul(d);
            a0 = w8.fma(FloatVector.fromArray(H, packed, q + 96), a0);
            a1 = w8.fma(FloatVector.fromArray(H, packed, q + 104), a1);
            a2 = w8.fma(FloatVector.fromArray(H, packed, q + 112), a2);
            a3 = w8.fma(FloatVector.fromArray(H, packed, q + 120), a3);
        }
        out[o] = a0.reduceLanes(VectorOperators.ADD);
        out[o + stride] = a1.reduceLanes(VectorOperators.ADD);
        out[o + 2 * stride] = a2.reduceLanes(VectorOperators.ADD);
        out[o + 3 * stride] = a3.reduceLanes(VectorOperators.ADD);
    }
}
