package dev.tern.tensor;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

import static jdk.incubator.vector.VectorOperators.B2I;
import static jdk.incubator.vector.VectorOperators.LSHR;

/**
 * Q5_0: blocks of 32 values as 5-bit levels meaning (q-16)·d (22 bytes: fp16 d, qh (32 fifth
 * bits, bit j for value j), qs[16] low nibbles packed as in Q4_0).
 */
public final class Q5_0Format implements TensorFormat {
    public static final Q5_0Format INSTANCE = new Q5_0Format();
    private static final int QK = 32;
    private static final int BYTES = 22;
    private static final VectorSpecies<Float> H = FloatVector.SPECIES_256;
    private static final VectorSpecies<Integer> I8 = IntVector.SPECIES_256;
    private static final VectorSpecies<Byte> B8 = ByteVector.SPECIES_64;
    /** Lane i's shift: the bit of qh that holds the fifth bit of the lane's quant. */
    private static final IntVector LANE = IntVector.fromArray(I8, new int[]{0, 1, 2, 3, 4, 5, 6, 7}, 0);
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_512;
    private static final VectorSpecies<Integer> I = IntVector.SPECIES_512;
    private static final VectorSpecies<Byte> B = ByteVector.SPECIES_128;
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    /** The levels q − 16 of the codes whose fifth bit is clear (lane c: c − 16) and set (lane c: c), as floats. */
    private static final float[] LOW_LEVELS = {-16, -15, -14, -13, -12, -11, -10, -9, -8, -7, -6, -5, -4, -3, -2, -1};
    private static final float[] HIGH_LEVELS = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
    /** Lane i of the 512-bit kernels' shifts: the bit of qh (after a shift by 4 or by −12) that holds lane i's fifth bit, at bit 4. */
    private static final int[] LANES = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};

    private Q5_0Format() {
    }

    /**
     * With 512-bit vectors its own kernels in tile order ({@link #dotTileOrder512}, {@link
     * #dotTileOrder512Quad}), else each row decoded.
     */
    @Override
    public TensorFormat inTileOrder() {
        return Vec.FL == 16 ? TileOrderFormat.of(this, Q5_0Format::dotTileOrder512, Q5_0Format::dotTileOrder512Quad)
                : TileOrderFormat.of(this);
    }

    @Override
    public GGMLType type() {
        return GGMLType.Q5_0;
    }

    @Override
    public float dot(MemorySegment w, long byteOffset, float[] x, int xOff, int n) {
        Blocks.requireBlocks(type(), n);
        if (Vec.FL == 8) {
            return dot256(w, byteOffset, x, xOff, n / QK);
        }
        FloatVector acc = FloatVector.zero(Vec.F);
        for (int b = 0; b < n / QK; b++) {
            long o = byteOffset + (long) b * BYTES;
            int xo = xOff + b * QK;
            int qh = w.get(Blocks.I32, o + 2);
            ByteVector q = Vec.load16(w, o + 6);
            // q-16 is the nibble minus 16 where the fifth bit is clear, the nibble itself where it is set.
            VectorMask<Byte> loClear = VectorMask.fromLong(Vec.B16, ~qh & 0xFFFFL);
            VectorMask<Byte> hiClear = VectorMask.fromLong(Vec.B16, ~qh >>> 16 & 0xFFFFL);
            FloatVector s = Vec.fma16(q.and((byte) 0x0F).sub((byte) 16, loClear), x, xo, FloatVector.zero(Vec.F));
            s = Vec.fma16(q.lanewise(VectorOperators.LSHR, 4).sub((byte) 16, hiClear), x, xo + 16, s);
            acc = Vec.fmaScaled(s, Blocks.f16(w, o), acc);
        }
        return acc.reduceLanes(VectorOperators.ADD);
    }

    /**
     * {@link #dot} for 256-bit vectors (AVX2), as Q5_1's: eight quants at a time from 8-byte loads
     * widened to int lanes, their fifth bits shifted out of qh lane by lane and 16 taken off there,
     * with no helper that takes a vector (`CpuTimeAB matvec Q5_0 64 2048`, one thread, four: 2.3–2.8 →
     * 3.0 GB/s).
     */
    private static float dot256(MemorySegment w, long byteOffset, float[] x, int xOff, int blocks) {
        FloatVector acc = FloatVector.zero(H);
        for (int b = 0; b < blocks; b++) {
            long o = byteOffset + (long) b * BYTES;
            int xo = xOff + b * QK;
            int qh = w.get(Blocks.I32, o + 2);
            FloatVector lo = FloatVector.zero(H), hi = lo;
            for (int e = 0; e < 16; e += 8) {
                IntVector q = (IntVector) ByteVector.fromMemorySegment(B8, w, o + 6 + e, ByteOrder.LITTLE_ENDIAN)
                        .convertShape(VectorOperators.B2I, I8, 0);
                IntVector lowFifth = IntVector.broadcast(I8, qh >>> e).lanewise(VectorOperators.LSHR, LANE).and(1)
                        .lanewise(VectorOperators.LSHL, 4);
                IntVector highFifth = IntVector.broadcast(I8, qh >>> (16 + e)).lanewise(VectorOperators.LSHR, LANE).and(1)
                        .lanewise(VectorOperators.LSHL, 4);
                lo = ((FloatVector) q.and(0x0F).or(lowFifth).sub(16).convert(VectorOperators.I2F, 0))
                        .fma(FloatVector.fromArray(H, x, xo + e), lo);
                hi = ((FloatVector) q.lanewise(VectorOperators.ASHR, 4).and(0x0F).or(highFifth).sub(16).convert(VectorOperators.I2F, 0))
                        .fma(FloatVector.fromArray(H, x, xo + 16 + e), hi);
            }
            acc = lo.add(hi).fma(FloatVector.broadcast(H, Blocks.f16(w, o)), acc);
        }
        return acc.reduceLanes(VectorOperators.ADD);
    }

    /**
     * {@link #dot} in {@link BatchMatmul}'s tiles' order, for {@code --batch-invariant}: each block's
     * 32 weights are two tables, the levels −16..−1 and 0..15 times d (as {@link #dequantize} makes
     * each weight), and each code's index into the pair is its nibble with its fifth bit from qh at
     * bit 4 (selectFrom over two vectors takes its indexes modulo 32); weights times activations then
     * go into one accumulator in column order. One row's chain waits on the multiply-adds' latency:
     * decode takes {@link #dotTileOrder512Quad}. Written out in full: a vector that crosses a call
     * the JIT does not inline gets boxed.
     */
    private static float dotTileOrder512(MemorySegment w, long o, float[] x, int xo, int blocks) {
        FloatVector low = FloatVector.fromArray(F, LOW_LEVELS, 0), high = FloatVector.fromArray(F, HIGH_LEVELS, 0);
        IntVector lanes = IntVector.fromArray(I, LANES, 0);
        long end = (long) blocks * BYTES;
        MemorySegment row = w.asSlice(o, end);
        FloatVector acc = FloatVector.zero(F);
        int xi = xo;
        for (long p = 0; p < end; p += BYTES, xi += QK) {
            float d = Blocks.f16(row, p);
            int qh = row.get(Blocks.I32, p + 2);
            IntVector t0 = low.mul(d).reinterpretAsInts(), t1 = high.mul(d).reinterpretAsInts();
            IntVector q = (IntVector) ByteVector.fromMemorySegment(B, row, p + 6, LE).convertShape(B2I, I, 0);
            IntVector i0 = q.and(0xF).or(IntVector.broadcast(I, qh << 4).lanewise(LSHR, lanes).and(0x10));
            IntVector i1 = q.lanewise(LSHR, 4).and(0xF).or(IntVector.broadcast(I, qh >>> 12).lanewise(LSHR, lanes).and(0x10));
            acc = i0.selectFrom(t0, t1).reinterpretAsFloats().fma(FloatVector.fromArray(F, x, xi), acc);
            acc = i1.selectFrom(t0, t1).reinterpretAsFloats().fma(FloatVector.fromArray(F, x, xi + 16), acc);
        }
        return acc.reduceLanes(VectorOperators.ADD) + 0f; // + the tiles' empty scalar tail: a −0 sum becomes +0 there
    }

    /**
     * {@link #dotTileOrder512} of rows a, b, c and e (each a slice of its whole blocks) into out[ia],
     * out[ib], out[ic] and out[ie], their blocks read in turn: four memory streams, four chains of
     * multiply-adds, each activation load shared by the four rows.
     */
    private static void dotTileOrder512Quad(MemorySegment a, MemorySegment b, MemorySegment c, MemorySegment e,
                                            float[] x, int xo, float[] out, int ia, int ib, int ic, int ie) {
        FloatVector low = FloatVector.fromArray(F, LOW_LEVELS, 0), high = FloatVector.fromArray(F, HIGH_LEVELS, 0);
        IntVector lanes = IntVector.fromArray(I, LANES, 0);
        FloatVector accA = FloatVector.zero(F), accB = accA, accC = accA, accE = accA;
        long end = a.byteSize();
        int xi = xo;
        for (long p = 0; p < end; p += BYTES, xi += QK) {
            FloatVector x0 = FloatVector.fromArray(F, x, xi), x1 = FloatVector.fromArray(F, x, xi + 16);
            float da = Blocks.f16(a, p), db = Blocks.f16(b, p), dc = Blocks.f16(c, p), de = Blocks.f16(e, p);
            int ha = a.get(Blocks.I32, p + 2), hb = b.get(Blocks.I32, p + 2), hc = c.get(Blocks.I32, p + 2), he = e.get(Blocks.I32, p + 2);
            IntVector ta0 = low.mul(da).reinterpretAsInts(), ta1 = high.mul(da).reinterpretAsInts();
            IntVector tb0 = low.mul(db).reinterpretAsInts(), tb1 = high.mul(db).reinterpretAsInts();
            IntVector tc0 = low.mul(dc).reinterpretAsInts(), tc1 = high.mul(dc).reinterpretAsInts();
            IntVector te0 = low.mul(de).reinterpretAsInts(), te1 = high.mul(de).reinterpretAsInts();
            IntVector qa = (IntVector) ByteVector.fromMemorySegment(B, a, p + 6, LE).convertShape(B2I, I, 0);
            IntVector qb = (IntVector) ByteVector.fromMemorySegment(B, b, p + 6, LE).convertShape(B2I, I, 0);
            IntVector qc = (IntVector) ByteVector.fromMemorySegment(B, c, p + 6, LE).convertShape(B2I, I, 0);
            IntVector qe = (IntVector) ByteVector.fromMemorySegment(B, e, p + 6, LE).convertShape(B2I, I, 0);
            IntVector ia0 = qa.and(0xF).or(IntVector.broadcast(I, ha << 4).lanewise(LSHR, lanes).and(0x10));
            IntVector ib0 = qb.and(0xF).or(IntVector.broadcast(I, hb << 4).lanewise(LSHR, lanes).and(0x10));
            IntVector ic0 = qc.and(0xF).or(IntVector.broadcast(I, hc << 4).lanewise(LSHR, lanes).and(0x10));
            IntVector ie0 = qe.and(0xF).or(IntVector.broadcast(I, he << 4).lanewise(LSHR, lanes).and(0x10));
            accA = ia0.selectFrom(ta0, ta1).reinterpretAsFloats().fma(x0, accA);
            accB = ib0.selectFrom(tb0, tb1).reinterpretAsFloats().fma(x0, accB);
            accC = ic0.selectFrom(tc0, tc1).reinterpretAsFloats().fma(x0, accC);
            accE = ie0.selectFrom(te0, te1).reinterpretAsFloats().fma(x0, accE);
            IntVector ia1 = qa.lanewise(LSHR, 4).and(0xF).or(IntVector.broadcast(I, ha >>> 12).lanewise(LSHR, lanes).and(0x10));
            IntVector ib1 = qb.lanewise(LSHR, 4).and(0xF).or(IntVector.broadcast(I, hb >>> 12).lanewise(LSHR, lanes).and(0x10));
            IntVector ic1 = qc.lanewise(LSHR, 4).and(0xF).or(IntVector.broadcast(I, hc >>> 12).lanewise(LSHR, lanes).and(0x10));
            IntVector ie1 = qe.lanewise(LSHR, 4).and(0xF).or(IntVector.broadcast(I, he >>> 12).lanewise(LSHR, lanes).and(0x10));
            accA = ia1.selectFrom(ta0, ta1).reinterpretAsFloats().fma(x1, accA);
            accB = ib1.selectFrom(tb0, tb1).reinterpretAsFloats().fma(x1, accB);
            accC = ic1.selectFrom(tc0, tc1).reinterpretAsFloats().fma(x1, accC);
            accE = ie1.selectFrom(te0, te1).reinterpretAsFloats().fma(x1, accE);
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
            int qh = w.get(Blocks.I32, o + 2);
            ByteVector q = Vec.load16(w, o + 6);
            VectorMask<Byte> loClear = VectorMask.fromLong(Vec.B16, ~qh & 0xFFFFL);
            VectorMask<Byte> hiClear = VectorMask.fromLong(Vec.B16, ~qh >>> 16 & 0xFFFFL);
            Vec.store16(q.and((byte) 0x0F).sub((byte) 16, loClear), d, out, yo);
            Vec.store16(q.lanewise(VectorOperators.LSHR, 4).sub((byte) 16, hiClear), d, out, yo + 16);
        }
    }

    /** quantize_row_q5_0_ref: d = max/-16 where max is the value of largest magnitude. */
    @Override
    public void quantize(float[] src, int srcOff, int n, MemorySegment dst, long dstOff) {
        Blocks.requireBlocks(type(), n);
        byte[] L = new byte[QK];
        for (int b = 0; b < n / QK; b++) {
            int xo = srcOff + b * QK;
            long o = dstOff + (long) b * BYTES;
            float max = Blocks.largestMagnitude(src, xo, QK);
            float d = max / -16;
            float id = d != 0 ? 1.0f / d : 0.0f;
            Blocks.putF16(dst, o, d);
            for (int j = 0; j < QK; j++) {
                L[j] = (byte) Math.min(31, (byte) (int) (src[xo + j] * id + 16.5f));
            }
            store(L, dst, o);
        }
    }

    /**
     * quantize_row_q5_0_impl: per block, make_qx_quants (nmax 16) with value weights
     * importance·sqrt(σ² + x²), σ² the mean x² of the whole row; the levels are the search's own.
     */
    @Override
    public void quantize(float[] src, int srcOff, int n, MemorySegment dst, long dstOff, float[] importance) {
        byte[] L = new byte[QK];
        KQuants.quantizeWeightedBlocks(this, src, srcOff, n, dst, dstOff, importance, (xo, weight, o) -> {
            Blocks.putF16(dst, o, KQuants.makeQxQuants(QK, 16, src, xo, weight, 0, L, 0));
            store(L, dst, o);
        });
    }

    /** A block's 5-bit levels after its d: the fifth bits (qh), then the low nibbles. */
    private static void store(byte[] L, MemorySegment dst, long o) {
        dst.set(Blocks.I32, o + 2, Blocks.fifthBits32(L));
        Blocks.putLowNibbles32(L, dst, o + 6);
    }
}
