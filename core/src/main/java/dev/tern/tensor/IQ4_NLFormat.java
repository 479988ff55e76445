package dev.tern.tensor;

import java.lang.foreign.MemorySegment;

/**
 * IQ4_NL: Q4_0's blocks of 32 values with one fp16 d (18 bytes: d, qs[16], as {@link NibbleBlocks}
 * describes), but code q means {@link IQ4Quants#LEVELS}[q]·d, a non-linear scale.
 */
public final class IQ4_NLFormat implements TensorFormat {
    public static final IQ4_NLFormat INSTANCE = new IQ4_NLFormat();
    private static final int QK = 32;
    private static final int BYTES = 18;
    private static final NibbleBlocks.Levels LEVELS = NibbleBlocks.Levels.of(IQ4Quants.LEVELS);

    private IQ4_NLFormat() {
    }

    /** With 512-bit vectors its kernels add as {@link BatchMatmul}'s tiles do ({@link NibbleBlocks}). */
    @Override
    public TensorFormat inTileOrder() {
        return Vec.FL == 16 ? this : TileOrderFormat.of(this);
    }

    @Override
    public GGMLType type() {
        return GGMLType.IQ4_NL;
    }

    @Override
    public float dot(MemorySegment w, long byteOffset, float[] x, int xOff, int n) {
        return NibbleBlocks.dot(type(), LEVELS, w, byteOffset, x, xOff, n);
    }

    @Override
    public void dotRows(MemorySegment w, long byteOffset, long rowBytes, int rows, float[] x, int xOff, int n, float[] out,
                        int outOff) {
        NibbleBlocks.dotRows(this, w, byteOffset, rowBytes, rows, x, xOff, n, out, outOff);
    }

    @Override
    public void dotRowsFour(MemorySegment w, long[] offsets, long rowBytes, int rows, float[] x, int xOff, int n,
                            float[] out, int[] outs) {
        NibbleBlocks.dotRowsFour(this, LEVELS, w, offsets, rowBytes, rows, x, xOff, n, out, outs);
    }

    @Override
    public void dequantize(MemorySegment w, long byteOffset, float[] out, int outOff, int n) {
        NibbleBlocks.dequantize(type(), LEVELS, w, byteOffset, out, outOff, n);
    }

    /**
     * As llama-quantize writes IQ4_NL without an importance matrix (quantize_iq4_nl): each block's
     * scale searched among 16 starting points. ggml's quantize_row_iq4_nl_ref, which it uses for
     * tensors quantized at run time, skips that search and keeps the first scale's codes: files
     * are made the other way, so this is the one to match.
     */
    @Override
    public void quantize(float[] src, int srcOff, int n, MemorySegment dst, long dstOff) {
        quantize(src, srcOff, n, dst, dstOff, null);
    }

    /** quantize_iq4_nl with quant_weights: the same search, each value weighted by its column's importance. */
    @Override
    public void quantize(float[] src, int srcOff, int n, MemorySegment dst, long dstOff, float[] importance) {
        Blocks.requireBlocks(type(), n);
        for (int b = 0; b < n / QK; b++) {
            long o = dstOff + (long) b * BYTES;
            IQ4Quants.quantize(src, srcOff + b * QK, QK, importance, b * QK, dst, o, -1, o + 2);
        }
    }
}
