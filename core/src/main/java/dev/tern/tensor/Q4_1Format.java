package dev.tern.tensor;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

import static jdk.incubator.vector.VectorOperators.B2I;
import static jdk.incubator.vector.VectorOperators.LSHR;

/**
 * Q4_1: blocks of 32 values as 4-bit levels meaning q·d + m (20 bytes: fp16 d, fp16 m,
 * qs[16] packed as in Q4_0).
 */
public final class Q4_1Format implements TensorFormat {
    public static final Q4_1Format INSTANCE = new Q4_1Format();
    private static final int QK = 32;
    private static final int BYTES = 20;
    private static final VectorSpecies<Float> H = FloatVector.SPECIES_256;
    private static final VectorSpecies<Integer> I8 = IntVector.SPECIES_256;
    private static final VectorSpecies<Byte> B8 = ByteVector.SPECIES_64;
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_512;
    private static final VectorSpecies<Integer> I = IntVector.SPECIES_512;
    private static final VectorSpecies<Byte> B = ByteVector.SPECIES_128;
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    /** The sixteen codes as floats, lane c holding c: a block's table of weights is this times d plus m. */
    private static final float[] CODES = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};

    private Q4_1Format() {
    }

    /** With 512-bit vectors its own kernels add in the tiles' order ({@link #dot512}); with AVX2 each row decoded. */
    @Override
    public TensorFormat inTileOrder() {
        return Vec.FL == 16 ? this : TileOrderFormat.of(this);
    }

    @Override
    public GGMLType type() {
        return GGMLType.Q4_1;
    }

    @Override
    public float dot(MemorySegment w, long byteOffset, float[] x, int xOff, int n) {
        Blocks.requireBlocks(type(), n);
        if (Vec.FL == 16) {
            return dot512(w, byteOffset, x, xOff, n / QK);
        }
        if (Vec.FL == 8) {
            return dot256(w, byteOffset, x, xOff, n / QK);
        }
        FloatVector acc = FloatVector.zero(Vec.F);
        for (int b = 0; b < n / QK; b++) {
            long o = byteOffset + (long) b * BYTES;
            int xo = xOff + b * QK;
            ByteVector q = Vec.load16(w, o + 4);
            FloatVector s = Vec.fma16(q.and((byte) 0x0F), x, xo, FloatVector.zero(Vec.F));
            s = Vec.fma16(q.lanewise(VectorOperators.LSHR, 4), x, xo + 16, s);
            FloatVector xs = Vec.sum16(x, xo + 16, Vec.sum16(x, xo, FloatVector.zero(Vec.F)));
            acc = Vec.fmaScaled(s, Blocks.f16(w, o), acc);
            acc = Vec.fmaScaled(xs, Blocks.f16(w, o + 2), acc);
        }
        return acc.reduceLanes(VectorOperators.ADD);
    }

    /** With 512-bit vectors as four ranges read side by side ({@link Blocks#dotRowsByRanges}), else one row at a time. */
    @Override
    public void dotRows(MemorySegment w, long byteOffset, long rowBytes, int rows, float[] x, int xOff, int n,
                        float[] out, int outOff) {
        if (Vec.FL == 16) {
            Blocks.dotRowsByRanges(this, w, byteOffset, rowBytes, rows, x, xOff, n, out, outOff);
            return;
        }
        TensorFormat.super.dotRows(w, byteOffset, rowBytes, rows, x, xOff, n, out, outOff);
    }

    /** With 512-bit vectors a row of each range at a time ({@link #dot512Quad}: four memory streams, four chains). */
    @Override
    public void dotRowsFour(MemorySegment w, long[] offsets, long rowBytes, int rows, float[] x, int xOff, int n,
                            float[] out, int[] outs) {
        if (Vec.FL != 16) {
            TensorFormat.super.dotRowsFour(w, offsets, rowBytes, rows, x, xOff, n, out, outs);
            return;
        }
        Blocks.byQuads(Q4_1Format::dot512Quad, type(), w, offsets, rowBytes, rows, x, xOff, n, out, outs);
    }

    /**
     * {@link #dot} for 256-bit vectors (AVX2): eight quants at a time from 8-byte loads widened to
     * int lanes, with no helper that takes a vector. There the generic loop passes C2's inlining
     * budget and boxes its vectors (stories15M Q4_1: 89 t/s).
     */
    private static float dot256(MemorySegment w, long byteOffset, float[] x, int xOff, int blocks) {
        FloatVector acc = FloatVector.zero(H);
        for (int b = 0; b < blocks; b++) {
            long o = byteOffset + (long) b * BYTES;
            int xo = xOff + b * QK;
            FloatVector s = FloatVector.zero(H), xs = s;
            for (int e = 0; e < 16; e += 8) {
                IntVector q = (IntVector) ByteVector.fromMemorySegment(B8, w, o + 4 + e, ByteOrder.LITTLE_ENDIAN)
                        .convertShape(VectorOperators.B2I, I8, 0);
                FloatVector xl = FloatVector.fromArray(H, x, xo + e), xh = FloatVector.fromArray(H, x, xo + 16 + e);
                s = ((FloatVector) q.and(0x0F).convert(VectorOperators.I2F, 0)).fma(xl, s);
                s = ((FloatVector) q.lanewise(VectorOperators.ASHR, 4).and(0x0F).convert(VectorOperators.I2F, 0)).fma(xh, s);
                xs = xs.add(xl).add(xh);
            }
            acc = s.fma(FloatVector.broadcast(H, Blocks.f16(w, o)), acc);
            acc = xs.fma(FloatVector.broadcast(H, Blocks.f16(w, o + 2)), acc);
        }
        return acc.reduceLanes(VectorOperators.ADD);
    }

    /**
     * The 512-bit kernel, in {@link BatchMatmul}'s tiles' order: each block's table of weights is
     * the sixteen codes times d plus m, rounded after the product and after the sum as {@link
     * #dequantize} makes each weight, and the codes, widened to int lanes, look their weights up in
     * it (the high nibble after a shift: selectFrom takes its indexes modulo the 16 lanes, as in
     * {@link NibbleBlocks}); weights times activations then go into one accumulator in column order,
     * so that a token gets the same bits alone as from the tiles in a batch. Faster than the generic
     * loop that scaled each block's sum and added d·Σq·x + m·Σx (`CpuTimeAB matvec Q4_1 400 2048`,
     * one thread, four: 8.1 against 5.9 GB/s). One row's chain waits on the multiply-adds' latency:
     * decode takes {@link #dot512Quad}. Written out in full: a vector that crosses a call the JIT
     * does not inline gets boxed.
     */
    private static float dot512(MemorySegment w, long o, float[] x, int xo, int blocks) {
        FloatVector codes = FloatVector.fromArray(F, CODES, 0);
        long end = (long) blocks * BYTES;
        MemorySegment row = w.asSlice(o, end);
        FloatVector acc = FloatVector.zero(F);
        int xi = xo;
        for (long p = 0; p < end; p += BYTES, xi += QK) {
            IntVector t = codes.mul(Blocks.f16(row, p)).add(Blocks.f16(row, p + 2)).reinterpretAsInts();
            IntVector q = (IntVector) ByteVector.fromMemorySegment(B, row, p + 4, LE).convertShape(B2I, I, 0);
            acc = q.selectFrom(t).reinterpretAsFloats().fma(FloatVector.fromArray(F, x, xi), acc);
            acc = q.lanewise(LSHR, 4).selectFrom(t).reinterpretAsFloats().fma(FloatVector.fromArray(F, x, xi + 16), acc);
        }
        return acc.reduceLanes(VectorOperators.ADD) + 0f; // + the tiles' empty scalar tail: a −0 sum becomes +0 there
    }

    /**
     * {@link #dot512} of rows a, b, c and e (each a slice of its whole blocks) into out[ia],
     * out[ib], out[ic] and out[ie], their blocks read in turn: four memory streams, four chains of
     * multiply-adds, each activation load shared by the four rows.
     */
    private static void dot512Quad(MemorySegment a, MemorySegment b, MemorySegment c, MemorySegment e,
                                   float[] x, int xo, float[] out, int ia, int ib, int ic, int ie) {
        FloatVector codes = FloatVector.fromArray(F, CODES, 0);
        FloatVector accA = FloatVector.zero(F), accB = accA, accC = accA, accE = accA;
        long end = a.byteSize();
        int xi = xo;
        for (long p = 0; p < end; p += BYTES, xi += QK) {
            IntVector ta = codes.mul(Blocks.f16(a, p)).add(Blocks.f16(a, p + 2)).reinterpretAsInts();
            IntVector tb = codes.mul(Blocks.f16(b, p)).add(Blocks.f16(b, p + 2)).reinterpretAsInts();
            IntVector tc = codes.mul(Blocks.f16(c, p)).add(Blocks.f16(c, p + 2)).reinterpretAsInts();
            IntVector te = codes.mul(Blocks.f16(e, p)).add(Blocks.f16(e, p + 2)).reinterpretAsInts();
            FloatVector x0 = FloatVector.fromArray(F, x, xi), x1 = FloatVector.fromArray(F, x, xi + 16);
            IntVector qa = (IntVector) ByteVector.fromMemorySegment(B, a, p + 4, LE).convertShape(B2I, I, 0);
            IntVector qb = (IntVector) ByteVector.fromMemorySegment(B, b, p + 4, LE).convertShape(B2I, I, 0);
            IntVector qc = (IntVector) ByteVector.fromMemorySegment(B, c, p + 4, LE).convertShape(B2I, I, 0);
            IntVector qe = (IntVector) ByteVector.fromMemorySegment(B, e, p + 4, LE).convertShape(B2I, I, 0);
            accA = qa.selectFrom(ta).reinterpretAsFloats().fma(x0, accA);
            accB = qb.selectFrom(tb).reinterpretAsFloats().fma(x0, accB);
            accC = qc.selectFrom(tc).reinterpretAsFloats().fma(x0, accC);
            accE = qe.selectFrom(te).reinterpretAsFloats().fma(x0, accE);
            accA = qa.lanewise(LSHR, 4).selectFrom(ta).reinterpretAsFloats().fma(x1, accA);
            accB = qb.lanewise(LSHR, 4).selectFrom(tb).reinterpretAsFloats().fma(x1, accB);
            accC = qc.lanewise(LSHR, 4).selectFrom(tc).reinterpretAsFloats().fma(x1, accC);
            accE = qe.lanewise(LSHR, 4).selectFrom(te).reinterpretAsFloats().fma(x1, accE);
        }
        out[ia] = accA.reduceLanes(VectorOperators.ADD) + 0f;
        out[ib] = accB.reduceLanes(VectorOperators.ADD) + 0f;
        out[ic] = accC.reduceLanes(VectorOperators.ADD) + 0f;
        out[ie] = accE.reduceLanes(VectorOperators.ADD) + 0f;
    }

    @Override
    public void dequantize(MemorySegment w, long byteOffset, float[] out, int outOff, int n) {
        Blocks.requireBlocks(type(), n);
        for (int b = 0; b < n / QK; b++) {
            long o = byteOffset + (long) b * BYTES;
            int yo = outOff + b * QK;
            float d = Blocks.f16(w, o);
            float m = Blocks.f16(w, o + 2);
            ByteVector q = Vec.load16(w, o + 4);
            Vec.store16(q.and((byte) 0x0F), d, m, out, yo);
            Vec.store16(q.lanewise(VectorOperators.LSHR, 4), d, m, out, yo + 16);
        }
    }

    /** quantize_row_q4_1_ref: m = block min, d = (max-min)/15. */
    @Override
    public void quantize(float[] src, int srcOff, int n, MemorySegment dst, long dstOff) {
        Blocks.requireBlocks(type(), n);
        byte[] L = new byte[QK];
        for (int b = 0; b < n / QK; b++) {
            int xo = srcOff + b * QK;
            long o = dstOff + (long) b * BYTES;
            float min = Blocks.min(src, xo, QK);
            float max = Blocks.max(src, xo, QK);
            float d = (max - min) / ((1 << 4) - 1);
            float id = d != 0 ? 1.0f / d : 0.0f;
            Blocks.putF16(dst, o, d);
            Blocks.putF16(dst, o + 2, min);
            for (int j = 0; j < QK; j++) {
                L[j] = (byte) Math.min(15, (byte) (int) ((src[xo + j] - min) * id + 0.5f));
            }
            Blocks.putLowNibbles32(L, dst, o + 4);
        }
    }

    /**
     * quantize_row_q4_1_impl: per block, make_qkx3_quants (nmax 15) with value weights
     * importance·sqrt(σ² + x²), σ² the mean x² of the whole row; the levels are the search's own.
     */
    @Override
    public void quantize(float[] src, int srcOff, int n, MemorySegment dst, long dstOff, float[] importance) {
        KQuants.quantizeWeightedMinBlocks(this, 15, src, srcOff, n, dst, dstOff, importance,
                (L, d, o) -> Blocks.putLowNibbles32(L, d, o + 4));
    }
}
