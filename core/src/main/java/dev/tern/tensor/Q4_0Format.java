package dev.tern.tensor;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

import static jdk.incubator.vector.VectorOperators.I2F;
import static jdk.incubator.vector.VectorOperators.LSHR;
import static jdk.incubator.vector.VectorOperators.ZERO_EXTEND_B2I;

/**
 * Q4_0: blocks of 32 values as 4-bit codes q meaning (q-8)·d, laid out and computed on as
 * {@link NibbleBlocks} describes (18 bytes: fp16 d, qs[16]).
 */
public final class Q4_0Format implements TensorFormat {
    public static final Q4_0Format INSTANCE = new Q4_0Format();
    private static final int QK = 32;
    private static final int BYTES = 18;
    private static final VectorSpecies<Float> H = FloatVector.SPECIES_256;
    private static final VectorSpecies<Integer> I8 = IntVector.SPECIES_256;
    private static final VectorSpecies<Byte> B8 = ByteVector.SPECIES_64;
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    private static final NibbleBlocks.Levels LEVELS = NibbleBlocks.Levels.of(new byte[]{-8, -7, -6, -5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5, 6, 7});

    private Q4_0Format() {
    }

    /** With 512-bit vectors its kernels add as {@link BatchMatmul}'s tiles do ({@link NibbleBlocks}). */
    @Override
    public TensorFormat inTileOrder() {
        return Vec.FL == 16 ? this : TileOrderFormat.of(this);
    }

    @Override
    public GGMLType type() {
        return GGMLType.Q4_0;
    }

    @Override
    public float dot(MemorySegment w, long byteOffset, float[] x, int xOff, int n) {
        if (Vec.FL == 8) {
            Blocks.requireBlocks(type(), n);
            return dot256(w, byteOffset, x, xOff, n / QK);
        }
        return NibbleBlocks.dot(type(), LEVELS, w, byteOffset, x, xOff, n);
    }

    /**
     * The kernel for 256-bit vectors (AVX2), Q4_0's own rather than {@link NibbleBlocks}' table
     * lookup: eight stored bytes at a time, zero-extended to int lanes, where each nibble's q − 8
     * is an AND or a shift and a subtraction, then a conversion. The generic loop passes C2's
     * inlining budget there (`CpuTimeAB matvec Q4_0 64 2048`, one thread, four: 4.7–5.2 GB/s
     * against 2.1–2.3); the byte-shuffle lookup widens its looked-up bytes in two parts, a shuffle
     * and a blend more (in cache: 3.8–4.0 against 5.0–5.4).
     */
    private static float dot256(MemorySegment w, long o, float[] x, int xo, int blocks) {
        long end = (long) blocks * BYTES;
        MemorySegment row = w.asSlice(o, end);
        FloatVector acc = FloatVector.zero(H);
        int xi = xo;
        for (long p = 0; p < end; p += BYTES, xi += QK) {
            IntVector q0 = (IntVector) ByteVector.fromMemorySegment(B8, row, p + 2, LE).convertShape(ZERO_EXTEND_B2I, I8, 0);
            IntVector q1 = (IntVector) ByteVector.fromMemorySegment(B8, row, p + 10, LE).convertShape(ZERO_EXTEND_B2I, I8, 0);
            FloatVector s = ((FloatVector) q0.and(0x0F).sub(8).convert(I2F, 0)).mul(FloatVector.fromArray(H, x, xi));
            s = ((FloatVector) q1.and(0x0F).sub(8).convert(I2F, 0)).fma(FloatVector.fromArray(H, x, xi + 8), s);
            s = ((FloatVector) q0.lanewise(LSHR, 4).sub(8).convert(I2F, 0)).fma(FloatVector.fromArray(H, x, xi + 16), s);
            s = ((FloatVector) q1.lanewise(LSHR, 4).sub(8).convert(I2F, 0)).fma(FloatVector.fromArray(H, x, xi + 24), s);
            acc = s.fma(FloatVector.broadcast(H, Float.float16ToFloat(row.get(Blocks.I16, p))), acc);
        }
        return acc.reduceLanes(VectorOperators.ADD);
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
        if (Vec.FL == 8) {
            Blocks.requireBlocks(type(), n);
            dequantize256(w, byteOffset, out, outOff, n / QK);
            return;
        }
        NibbleBlocks.dequantize(type(), LEVELS, w, byteOffset, out, outOff, n);
    }

    /**
     * {@link #dequantize} for 256-bit vectors, as {@link #dot256} reads: (q − 8)·d, each nibble's
     * q − 8 in int lanes, where the table lookup widens its bytes in two parts (`CpuTimeAB matvec
     * Q4_0 64 2048`, one thread, dequant: 3.0 → 4.3–5.0 GB/s; `CpuTimeAB matmul Q4_0 8 100 2048`:
     * 32.9 → 39.3 GFLOP/s).
     */
    private static void dequantize256(MemorySegment w, long o, float[] out, int oo, int blocks) {
        long end = (long) blocks * BYTES;
        MemorySegment row = w.asSlice(o, end);
        int y = oo;
        for (long p = 0; p < end; p += BYTES, y += QK) {
            FloatVector d = FloatVector.broadcast(H, Float.float16ToFloat(row.get(Blocks.I16, p)));
            IntVector q0 = (IntVector) ByteVector.fromMemorySegment(B8, row, p + 2, LE).convertShape(ZERO_EXTEND_B2I, I8, 0);
            IntVector q1 = (IntVector) ByteVector.fromMemorySegment(B8, row, p + 10, LE).convertShape(ZERO_EXTEND_B2I, I8, 0);
            ((FloatVector) q0.and(0x0F).sub(8).convert(I2F, 0)).mul(d).intoArray(out, y);
            ((FloatVector) q1.and(0x0F).sub(8).convert(I2F, 0)).mul(d).intoArray(out, y + 8);
            ((FloatVector) q0.lanewise(LSHR, 4).sub(8).convert(I2F, 0)).mul(d).intoArray(out, y + 16);
            ((FloatVector) q1.lanewise(LSHR, 4).sub(8).convert(I2F, 0)).mul(d).intoArray(out, y + 24);
        }
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
