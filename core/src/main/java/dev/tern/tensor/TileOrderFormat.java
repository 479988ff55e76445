package dev.tern.tensor;

import java.lang.foreign.MemorySegment;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A format multiplied in {@link BatchMatmul}'s tiles' order: each row decoded to floats by the
 * format's own dequantizer (as the tiles' buffer fill decodes it), then multiplied-added with the
 * token lane by lane in column order and its lanes summed by the tiles' own code ({@link
 * BatchMatmul#dot}, {@link BatchMatmul#tile4x1}), so that a token gets the same bits alone as from
 * the tiles in a batch. {@code --batch-invariant} takes it for the formats whose own kernels add in
 * another order (most scale each block's sum) and have no tile-order kernel of their own: their
 * batches can then take the tiles, and their one-token steps pay for a second pass over each
 * decoded row (`CpuTimeAB matvec TYPE 400 2048`, one thread, against the format's own kernel:
 * Q4_1 4.0 against 5.6 GB/s and IQ4_XS 3.5 against 6.1 before their kernels; decoding 256 values at a time instead of
 * whole rows, so that they stay in L1, was no faster).
 */
final class TileOrderFormat implements TensorFormat {
    /**
     * A format's own one-token kernel in the tiles' order: the product of the row at w[o ..], of
     * {@code blocks} blocks, with x[xo ..] (Q4_K's, Q5_K's, Q6_K's, IQ4_XS's, Q5_0's and Q5_1's with 512-bit vectors, each
     * weight made as their dequantizers make it, without the pass over a decoded row).
     */
    @FunctionalInterface
    interface RowKernel {
        float dot(MemorySegment w, long o, float[] x, int xo, int blocks);
    }

    private static final Map<TensorFormat, TileOrderFormat> VARIANTS = new ConcurrentHashMap<>();
    /** Per thread: four decoded rows and their four products. */
    private static final ThreadLocal<float[][]> ROWS = Aligned.holder();

    private final TensorFormat format;
    /** The format's own kernel, or null: rows decoded, then multiplied. */
    private final RowKernel kernel;
    /** The format's own kernel over four rows, or null: decode's four ranges one after the other. */
    private final Blocks.QuadKernel quad;

    private TileOrderFormat(TensorFormat format, RowKernel kernel, Blocks.QuadKernel quad) {
        this.format = format;
        this.kernel = kernel;
        this.quad = quad;
    }

    /** The tile-order variant of {@code format} that decodes its rows. */
    static TensorFormat of(TensorFormat format) {
        return of(format, null, null);
    }

    /** The tile-order variant of {@code format} through its own row kernel (null: rows decoded); one variant per format. */
    static TensorFormat of(TensorFormat format, RowKernel kernel) {
        return of(format, kernel, null);
    }

    /** As {@link #of(TensorFormat, RowKernel)}, with a kernel over four rows for decode's four ranges. */
    static TensorFormat of(TensorFormat format, RowKernel kernel, Blocks.QuadKernel quad) {
        return VARIANTS.computeIfAbsent(format, f -> new TileOrderFormat(f, kernel, quad));
    }

    /** The format whose rows this one decodes. */
    TensorFormat decoded() {
        return format;
    }

    @Override
    public GGMLType type() {
        return format.type();
    }

    @Override
    public TensorFormat inTileOrder() {
        return this;
    }

    @Override
    public float dot(MemorySegment w, long byteOffset, float[] x, int xOff, int n) {
        if (kernel != null) {
            Blocks.requireBlocks(type(), n);
            return kernel.dot(w, byteOffset, x, xOff, n / type().blockSize);
        }
        float[] row = Aligned.scratch(ROWS, n);
        format.dequantize(w, byteOffset, row, Aligned.OFFSET, n);
        return BatchMatmul.dot(row, Aligned.OFFSET, x, xOff, n);
    }

    /** Each row decoded once for both tokens (or the own kernel's two products). */
    @Override
    public void dotRows2(MemorySegment w, long byteOffset, long rowBytes, int rows, float[] x, int x0, int x1, int n,
                         float[] out, int out0Off, int out1Off) {
        if (kernel != null) {
            TensorFormat.super.dotRows2(w, byteOffset, rowBytes, rows, x, x0, x1, n, out, out0Off, out1Off);
            return;
        }
        float[] row = Aligned.scratch(ROWS, n);
        for (int r = 0; r < rows; r++) {
            format.dequantize(w, byteOffset + r * rowBytes, row, Aligned.OFFSET, n);
            out[out0Off + r] = BatchMatmul.dot(row, Aligned.OFFSET, x, x0, n);
            out[out1Off + r] = BatchMatmul.dot(row, Aligned.OFFSET, x, x1, n);
        }
    }

    /**
     * A row of each range decoded in turn (four memory streams), then the four times the token as the
     * tiles' 4 × 1 tile; with an own kernel over four rows, a row of each range at a time; with an own
     * row kernel only, the ranges one after the other, as the K-quants read them.
     */
    @Override
    public void dotRowsFour(MemorySegment w, long[] offsets, long rowBytes, int rows, float[] x, int xOff, int n,
                            float[] out, int[] outs) {
        if (quad != null) {
            Blocks.byQuads(quad, type(), w, offsets, rowBytes, rows, x, xOff, n, out, outs);
            return;
        }
        if (kernel != null) {
            TensorFormat.super.dotRowsFour(w, offsets, rowBytes, rows, x, xOff, n, out, outs);
            return;
        }
        float[] buf = Aligned.scratch(ROWS, 4 * n + 4);
        int b0 = Aligned.OFFSET, sums = b0 + 4 * n;
        for (int r = 0; r < rows; r++) {
            long step = r * rowBytes;
            for (int i = 0; i < 4; i++) {
                format.dequantize(w, offsets[i] + step, buf, b0 + i * n, n);
            }
            BatchMatmul.tile4x1(buf, b0, x, xOff, n, buf, sums);
            BatchMatmul.addTails(buf, b0, 4, x, xOff, 1, n, buf, sums, 0);
            for (int i = 0; i < 4; i++) {
                out[outs[i] + r] = buf[sums + i];
            }
        }
    }

    @Override
    public void dequantize(MemorySegment w, long byteOffset, float[] out, int outOff, int n) {
        format.dequantize(w, byteOffset, out, outOff, n);
    }

    @Override
    public void quantize(float[] src, int srcOff, int n, MemorySegment dst, long dstOff) {
        format.quantize(src, srcOff, n, dst, dstOff);
    }

    @Override
    public void quantize(float[] src, int srcOff, int n, MemorySegment dst, long dstOff, float[] importance) {
        format.quantize(src, srcOff, n, dst, dstOff, importance);
    }

    @Override
    public String toString() {
        return type() + " in tile order";
    }
}
