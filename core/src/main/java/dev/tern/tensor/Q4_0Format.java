package dev.tern.tensor;

import java.lang.foreign.MemorySegment;

/**
 * Q4_0: blocks of 32 values as 4-bit codes q meaning (q-8)·d, laid out and computed on as
 * {@link NibbleBlocks} describes (18 bytes: fp16 d, qs[16]).
 */
public final class Q4_0Format implements TensorFormat {
    public static final Q4_0Format INSTANCE = new Q4_0Format();
    private static final int QK = 32;
    private static final int BYTES = 18;
    private static final NibbleBlocks.Levels LEVELS = NibbleBlocks.Levels.of(new byte[]{-8, -7, -6, -5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5, 6, 7});

    private Q4_0Format() {
    }

    @Override
    public GGMLType type() {
        return GGMLType.Q4_0;
    }

    @Override
    public float dot(MemorySegment w, long byteOffset, float[] x, int xOff, int n) {
        return NibbleBlocks.dot(type(), LEVELS, w, byteOffset, x, xOff, n);
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

    /** quantize_row_q4_0_ref: d = max/-8 where max is the value of largest magnitude. */
    @Override
    public void quantize(float[] src, int srcOff, int n, MemorySegment dst, long dstOff) {
        Blocks.requireBlocks(type(), n);
        byte[] L = new byte[QK];
        for (int b = 0; b < n / QK; b++) {
            int xo = srcOff + b * QK;
            long o = dstOff + (long) b * BYTES;
            float max = Blocks.largestMagnitude(src, xo, QK);
            float d = max / -8;
            float id = d != 0 ? 1.0f / d : 0.0f;
            Blocks.putF16(dst, o, d);
            for (int j = 0; j < QK; j++) {
                // C truncates toward zero when converting to int8_t, as the (int) cast does.
                L[j] = (byte) Math.min(15, (byte) (int) (src[xo + j] * id + 8.5f));
            }
            Blocks.putLowNibbles32(L, dst, o + 2);
        }
    }

    /**
     * quantize_row_q4_0_impl: per block, make_qx_quants (nmax 8) with value weights
     * importance·sqrt(σ² + x²), σ² the mean x² of the whole row; the levels are the search's own.
     */
    @Override
    public void quantize(float[] src, int srcOff, int n, MemorySegment dst, long dstOff, float[] importance) {
        byte[] L = new byte[QK];
        KQuants.quantizeWeightedBlocks(this, src, srcOff, n, dst, dstOff, importance, (xo, weight, o) -> {
            Blocks.putF16(dst, o, KQuants.makeQxQuants(QK, 8, src, xo, weight, 0, L, 0));
            Blocks.putLowNibbles32(L, dst, o + 2);
        });
    }
}
