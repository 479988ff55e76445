package dev.tern.tensor;

import java.lang.foreign.MemorySegment;

/**
 * How one ggml tensor type stores numbers, and the arithmetic on them: one implementation per
 * type owns its block layout, its dequantizer, its dot-product kernel and its reference
 * quantizer. Offsets are byte offsets into {@code w}; {@code n} counts elements and is always a
 * whole number of blocks.
 */
public interface TensorFormat {

    GGMLType type();

    /** Σ w[i]·x[xOff+i] for i < n, with the Vector API. */
    float dot(MemorySegment w, long byteOffset, float[] x, int xOff, int n);

    /**
     * The dot products of {@code rows} consecutive weight rows, {@code rowBytes} apart from
     * byteOffset on, with one activation vector (matrix × vector, for decode):
     * {@code out[outOff + r] = dot(w, byteOffset + r·rowBytes, x, xOff, n)}. Formats override it
     * with kernels that work on several rows at once, so that each activation load serves all of
     * them and independent accumulators hide the multiply-add latency.
     */
    default void dotRows(MemorySegment w, long byteOffset, long rowBytes, int rows, float[] x, int xOff, int n,
                         float[] out, int outOff) {
        for (int r = 0; r < rows; r++) {
            out[outOff + r] = dot(w, byteOffset + r * rowBytes, x, xOff, n);
        }
    }

    /**
     * {@link #dotRows} over four row ranges at once: {@code rows} rows from each
     * {@code offsets[i]} into {@code out[outs[i] ..]}, as four dotRows calls would (to float
     * rounding: the order of the lane sums may differ). Decode passes four distant parts of a
     * matrix. Kernels that outrun one memory stream per core (Q8_0, Q4_0, IQ4_NL, F16, BF16: one
     * stream leaves a Q8_0 matrix × vector near half the bandwidth) override it to take a row of
     * each range at once, sharing activation loads, so that the prefetcher follows four streams.
     * The others read 4–8 GB/s per core, which one stream supplies: here the ranges are read one
     * after the other, since a row of each in turn made them slower or no faster (`CpuTimeAB
     * matvec`, one thread, from memory: Q4_1 5.36 against 5.86 GB/s, Q5_0 5.47 against 6.54, Q5_1
     * 4.55 against 5.47, IQ4_XS 7.7–8.0 against 7.5–7.9).
     */
    default void dotRowsFour(MemorySegment w, long[] offsets, long rowBytes, int rows, float[] x, int xOff, int n,
                             float[] out, int[] outs) {
        for (int i = 0; i < 4; i++) {
            dotRows(w, offsets[i], rowBytes, rows, x, xOff, n, out, outs[i]);
        }
    }

    /**
     * {@link #dotRows} for two activation vectors at once (two tokens of a small batch):
     * {@code out0[out0Off + r]} with x[x0..] and {@code out1[out1Off + r]} with x[x1..]. Formats
     * whose decoding dominates override it to decode each weight block once for both.
     */
    default void dotRows2(MemorySegment w, long byteOffset, long rowBytes, int rows, float[] x, int x0, int x1, int n,
                          float[] out, int out0Off, int out1Off) {
        dotRows(w, byteOffset, rowBytes, rows, x, x0, n, out, out0Off);
        dotRows(w, byteOffset, rowBytes, rows, x, x1, n, out, out1Off);
    }

    /**
     * A variant of this format whose one-token kernels add in {@link BatchMatmul}'s tiles' order:
     * {@code --batch-invariant} multiplies one token with it so that batches can take the tiles
     * ({@link BatchMatmul#batchInvariant}). By default each row decoded, then multiplied as the tiles
     * multiply ({@link TileOrderFormat}); formats whose own kernels already add so return themselves,
     * and Q8_0 with 512-bit vectors has kernels of its own for it.
     */
    default TensorFormat inTileOrder() {
        return TileOrderFormat.of(this);
    }

    /** Decodes n values starting at byteOffset into out[outOff..]. */
    void dequantize(MemorySegment w, long byteOffset, float[] out, int outOff, int n);

    /**
     * Encodes n values of src into dst at dstOff, bit-for-bit as llama-quantize does without an
     * importance matrix (ggml_quantize_chunk with no weights: mostly the reference quantizer
     * {@code quantize_row_*_ref}, but IQ4_NL's scale search and the lattice types' x²-weighted one).
     * Formats of types that {@link GGMLType#requiresImportance()} throw {@link UnsupportedOperationException}.
     */
    void quantize(float[] src, int srcOff, int n, MemorySegment dst, long dstOff);

    /**
     * {@link #quantize} of one row guided by an importance matrix, as llama-quantize {@code --imatrix}
     * does (ggml_quantize_chunk with quant_weights): {@code importance[j]} weighs column j of the row
     * (llama-imatrix's mean squared activation of that input), so n == importance.length. This
     * default is for the types whose llama.cpp quantizer ignores the weights (F32, F16, BF16, Q8_0,
     * TQ1_0, TQ2_0, MXFP4); the others override it with llama.cpp's weighted search, bit for bit.
     */
    default void quantize(float[] src, int srcOff, int n, MemorySegment dst, long dstOff, float[] importance) {
        quantize(src, srcOff, n, dst, dstOff);
    }


    /** The plain scalar dot product that {@link #dot} must agree with: dequantize, then multiply. */
    default float dotReference(MemorySegment w, long byteOffset, float[] x, int xOff, int n) {
        float[] row = new float[n];
        dequantize(w, byteOffset, row, 0, n);
        float sum = 0f;
        for (int i = 0; i < n; i++) {
            sum += row[i] * x[xOff + i];
        }
        return sum;
    }

    static TensorFormat of(GGMLType type) {
        return switch (type) {
            case F32 -> F32Format.INSTANCE;
            case F16 -> F16Format.INSTANCE;
            case BF16 -> BF16Format.INSTANCE;
            case Q8_0 -> Q8_0Format.INSTANCE;
            case Q4_0 -> Q4_0Format.INSTANCE;
            case Q4_1 -> Q4_1Format.INSTANCE;
            case Q5_0 -> Q5_0Format.INSTANCE;
            case Q5_1 -> Q5_1Format.INSTANCE;
            case Q2_K -> Q2_KFormat.INSTANCE;
            case Q3_K -> Q3_KFormat.INSTANCE;
            case Q4_K -> Q4_KFormat.INSTANCE;
            case Q5_K -> Q5_KFormat.INSTANCE;
            case Q6_K -> Q6_KFormat.INSTANCE;
            case IQ4_NL -> IQ4_NLFormat.INSTANCE;
            case IQ4_XS -> IQ4_XSFormat.INSTANCE;
            case IQ2_XXS -> IQ2_XXSFormat.INSTANCE;
            case IQ2_XS -> IQ2_XSFormat.INSTANCE;
            case IQ2_S -> IQ2_SFormat.INSTANCE;
            case IQ3_XXS -> IQ3_XXSFormat.INSTANCE;
            case IQ3_S -> IQ3_SFormat.INSTANCE;
            case IQ1_S -> IQ1_SFormat.INSTANCE;
            case IQ1_M -> IQ1_MFormat.INSTANCE;
            case TQ1_0 -> TQ1_0Format.INSTANCE;
            case TQ2_0 -> TQ2_0Format.INSTANCE;
            case MXFP4 -> MXFP4Format.INSTANCE;
            default -> throw new UnsupportedTensorTypeException(type);
        };
    }
}
