package dev.tern.tensor;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

import static jdk.incubator.vector.VectorOperators.B2F;
import static jdk.incubator.vector.VectorOperators.B2I;
import static jdk.incubator.vector.VectorOperators.LSHR;

/**
 * IQ4_XS: super-blocks of 256 values in 8 sub-blocks of 32, code q of sub-block i meaning
 * {@link IQ4Quants#LEVELS}[q]·d·(sc_i − 32) with a 6-bit sc_i (136 bytes: fp16 d, scales_h (16
 * bits, the high 2 bits of sc_i at bit 2i), scales_l[4] (the low 4 bits, sub-block 2k in the low
 * nibble of byte k), qs[128]; each 16 bytes of qs hold a sub-block as IQ4_NL's block does).
 */
public final class IQ4_XSFormat implements TensorFormat {
    public static final IQ4_XSFormat INSTANCE = new IQ4_XSFormat();
    private static final int QK = KQuants.QK_K;
    private static final int BYTES = 136;
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_512;
    private static final VectorSpecies<Integer> I = IntVector.SPECIES_512;
    private static final VectorSpecies<Byte> B = ByteVector.SPECIES_128;
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    private static final VectorSpecies<Integer> S = IntVector.SPECIES_256;
    private static final VectorSpecies<Float> H = FloatVector.SPECIES_256;
    /** Lane i's shifts to sub-block i's scale bits: the low 4 at bit 4i of scales_l, the high 2 at bit 2i of scales_h. */
    private static final IntVector LOW_SHIFTS = IntVector.fromArray(S, new int[]{0, 4, 8, 12, 16, 20, 24, 28}, 0);
    private static final IntVector HIGH_SHIFTS = IntVector.fromArray(S, new int[]{0, 2, 4, 6, 8, 10, 12, 14}, 0);
    private static final NibbleBlocks.Levels LEVELS = NibbleBlocks.Levels.of(IQ4Quants.LEVELS);

    private IQ4_XSFormat() {
    }

    /**
     * With 512-bit vectors its own kernels in tile order ({@link #dotTileOrder512}, {@link
     * #dotTileOrder512Quad}), else each row decoded.
     */
    @Override
    public TensorFormat inTileOrder() {
        return Vec.FL == 16 ? TileOrderFormat.of(this, IQ4_XSFormat::dotTileOrder512, IQ4_XSFormat::dotTileOrder512Quad)
                : TileOrderFormat.of(this);
    }

    @Override
    public GGMLType type() {
        return GGMLType.IQ4_XS;
    }

    /** Sub-block i's scale factor sc_i − 32, from the super-block's scales_h and scales_l (as one int). */
    private static int scale(int scalesH, int scalesL, int i) {
        return ((scalesL >>> 4 * i & 0xF) | (scalesH >>> 2 * i & 3) << 4) - 32;
    }

    @Override
    public float dot(MemorySegment w, long byteOffset, float[] x, int xOff, int n) {
        Blocks.requireBlocks(type(), n);
        if (Vec.FL == 16) {
            return dot512(LEVELS.floatBits(), w, byteOffset, x, xOff, n / QK);
        }
        if (Vec.FL == 8) {
            return dot256(LEVELS.bytes(), w, byteOffset, x, xOff, n / QK);
        }
        ByteVector table = ByteVector.fromArray(Vec.B16, LEVELS.bytes(), 0);
        FloatVector acc = FloatVector.zero(Vec.F);
        for (int b = 0; b < n / QK; b++) {
            long o = byteOffset + (long) b * BYTES;
            float d = Blocks.f16(w, o);
            int scalesH = w.get(Blocks.I16, o + 2);
            int scalesL = w.get(Blocks.I32, o + 4);
            for (int i = 0; i < 8; i++) {
                int xo = xOff + b * QK + 32 * i;
                ByteVector q = Vec.load16(w, o + 8 + 16 * i);
                FloatVector s = Vec.fma16(q.and((byte) 0x0F).selectFrom(table), x, xo, FloatVector.zero(Vec.F));
                s = Vec.fma16(q.lanewise(LSHR, 4).selectFrom(table), x, xo + 16, s);
                acc = Vec.fmaScaled(s, d * scale(scalesH, scalesL, i), acc);
            }
        }
        return acc.reduceLanes(VectorOperators.ADD);
    }

    /**
     * The 512-bit kernel, written out in full (a vector that crosses a call the JIT does not
     * inline gets boxed): IQ4_NL's (see {@link NibbleBlocks}) with a scale per sub-block. A
     * super-block's eight scales are unpacked at once, each lane shifting scales_l and scales_h
     * by its own count, and stored, each sub-block then broadcasting its own with a load (one
     * thread, from memory: 7.7–8.0 GB/s, against 7.1–7.7 picking them out in scalar code).
     * Decode's four ranges are read one after the other: the rows of two stepping together, as
     * Q4_0's and IQ4_NL's kernels do, were no faster here (7.7–8.0 against 7.5–7.9 GB/s). The
     * levels come in as an array and become a vector here, as in {@link NibbleBlocks}: the vector
     * read from {@link #LEVELS} in here left the kernel at 5.7–6.0 GB/s against 8.0.
     */
    private static float dot512(int[] levels, MemorySegment w, long o, float[] x, int xo, int blocks) {
        IntVector table = IntVector.fromArray(IntVector.SPECIES_512, levels, 0);
        long end = (long) blocks * BYTES;
        MemorySegment row = w.asSlice(o, end);
        float[] scales = new float[8];
        FloatVector acc = FloatVector.zero(F);
        int xi = xo;
        for (long p = 0; p < end; p += BYTES) {
            float d = Float.float16ToFloat(row.get(Blocks.I16, p));
            IntVector low = IntVector.broadcast(S, row.get(Blocks.I32, p + 4)).lanewise(LSHR, LOW_SHIFTS).and(0xF);
            IntVector high = IntVector.broadcast(S, row.get(Blocks.I16, p + 2) << 4).lanewise(LSHR, HIGH_SHIFTS).and(0x30);
            ((FloatVector) low.or(high).sub(32).convert(VectorOperators.I2F, 0)).mul(d).intoArray(scales, 0);
            for (int i = 0; i < 8; i++, xi += 32) {
                IntVector q = (IntVector) ByteVector.fromMemorySegment(B, row, p + 8 + 16 * i, LE).convertShape(B2I, I, 0);
                FloatVector s = q.selectFrom(table).reinterpretAsFloats().mul(FloatVector.fromArray(F, x, xi));
                s = q.lanewise(LSHR, 4).selectFrom(table).reinterpretAsFloats().fma(FloatVector.fromArray(F, x, xi + 16), s);
                acc = s.fma(FloatVector.broadcast(F, scales[i]), acc);
            }
        }
        return acc.reduceLanes(VectorOperators.ADD);
    }

    /**
     * {@link #dot512} in {@link BatchMatmul}'s tiles' order, for {@code --batch-invariant}: each
     * sub-block scales the table of levels by d·(sc − 32), as {@link #dequantize} makes each weight,
     * and its codes look their weights up in it; weights times activations then go into one
     * accumulator in column order. One row's chain waits on the multiply-adds' latency (4.0–5.8
     * against the own kernel's 6.0–6.3 GB/s, thirty-fourth session): decode takes {@link
     * #dotTileOrder512Quad}. The scales are picked out in scalar code: unpacked by vectors into an
     * array, as {@link #dot512} does, the four-row kernel ran 6.5 against 6.7 GB/s.
     */
    private static float dotTileOrder512(MemorySegment w, long o, float[] x, int xo, int blocks) {
        FloatVector table = IntVector.fromArray(I, LEVELS.floatBits(), 0).reinterpretAsFloats();
        long end = (long) blocks * BYTES;
        MemorySegment row = w.asSlice(o, end);
        FloatVector acc = FloatVector.zero(F);
        int xi = xo;
        for (long p = 0; p < end; p += BYTES) {
            float d = Float.float16ToFloat(row.get(Blocks.I16, p));
            int scalesH = row.get(Blocks.I16, p + 2);
            int scalesL = row.get(Blocks.I32, p + 4);
            for (int i = 0; i < 8; i++, xi += 32) {
                IntVector t = table.mul(d * scale(scalesH, scalesL, i)).reinterpretAsInts();
                IntVector q = (IntVector) ByteVector.fromMemorySegment(B, row, p + 8 + 16 * i, LE).convertShape(B2I, I, 0);
                acc = q.selectFrom(t).reinterpretAsFloats().fma(FloatVector.fromArray(F, x, xi), acc);
                acc = q.lanewise(LSHR, 4).selectFrom(t).reinterpretAsFloats().fma(FloatVector.fromArray(F, x, xi + 16), acc);
            }
        }
        return acc.reduceLanes(VectorOperators.ADD) + 0f; // + the tiles' empty scalar tail: a −0 sum becomes +0 there
    }

    /**
     * {@link #dotTileOrder512} of rows a, b, c and e (each a slice of its whole blocks) into out[ia],
     * out[ib], out[ic] and out[ie], their sub-blocks read in turn: four memory streams, four chains of
     * multiply-adds, each activation load shared by the four rows (`CpuTimeAB matvec IQ4_XS 400 2048`,
     * one thread, "tile-order": 6.6 GB/s against 3.2–3.3 for rows decoded first).
     */
    private static void dotTileOrder512Quad(MemorySegment a, MemorySegment b, MemorySegment c, MemorySegment e,
                                            float[] x, int xo, float[] out, int ia, int ib, int ic, int ie) {
        FloatVector table = IntVector.fromArray(I, LEVELS.floatBits(), 0).reinterpretAsFloats();
        FloatVector accA = FloatVector.zero(F), accB = accA, accC = accA, accE = accA;
        long end = a.byteSize();
        int xi = xo;
        for (long p = 0; p < end; p += BYTES) {
            float da = Float.float16ToFloat(a.get(Blocks.I16, p)), db = Float.float16ToFloat(b.get(Blocks.I16, p));
            float dc = Float.float16ToFloat(c.get(Blocks.I16, p)), de = Float.float16ToFloat(e.get(Blocks.I16, p));
            int ha = a.get(Blocks.I16, p + 2), hb = b.get(Blocks.I16, p + 2), hc = c.get(Blocks.I16, p + 2), he = e.get(Blocks.I16, p + 2);
            int la = a.get(Blocks.I32, p + 4), lb = b.get(Blocks.I32, p + 4), lc = c.get(Blocks.I32, p + 4), le = e.get(Blocks.I32, p + 4);
            for (int i = 0; i < 8; i++, xi += 32) {
                long q0 = p + 8 + 16 * i;
                IntVector ta = table.mul(da * scale(ha, la, i)).reinterpretAsInts(), tb = table.mul(db * scale(hb, lb, i)).reinterpretAsInts();
                IntVector tc = table.mul(dc * scale(hc, lc, i)).reinterpretAsInts(), te = table.mul(de * scale(he, le, i)).reinterpretAsInts();
                FloatVector x0 = FloatVector.fromArray(F, x, xi), x1 = FloatVector.fromArray(F, x, xi + 16);
                IntVector qa = (IntVector) ByteVector.fromMemorySegment(B, a, q0, LE).convertShape(B2I, I, 0);
                IntVector qb = (IntVector) ByteVector.fromMemorySegment(B, b, q0, LE).convertShape(B2I, I, 0);
                IntVector qc = (IntVector) ByteVector.fromMemorySegment(B, c, q0, LE).convertShape(B2I, I, 0);
                IntVector qe = (IntVector) ByteVector.fromMemorySegment(B, e, q0, LE).convertShape(B2I, I, 0);
                accA = qa.selectFrom(ta).reinterpretAsFloats().fma(x0, accA);
                accB = qb.selectFrom(tb).reinterpretAsFloats().fma(x0, accB);
                accC = qc.selectFrom(tc).reinterpretAsFloats().fma(x0, accC);
                accE = qe.selectFrom(te).reinterpretAsFloats().fma(x0, accE);
                accA = qa.lanewise(LSHR, 4).selectFrom(ta).reinterpretAsFloats().fma(x1, accA);
                accB = qb.lanewise(LSHR, 4).selectFrom(tb).reinterpretAsFloats().fma(x1, accB);
                accC = qc.lanewise(LSHR, 4).selectFrom(tc).reinterpretAsFloats().fma(x1, accC);
                accE = qe.lanewise(LSHR, 4).selectFrom(te).reinterpretAsFloats().fma(x1, accE);
            }
        }
        out[ia] = accA.reduceLanes(VectorOperators.ADD) + 0f;
        out[ib] = accB.reduceLanes(VectorOperators.ADD) + 0f;
        out[ic] = accC.reduceLanes(VectorOperators.ADD) + 0f;
        out[ie] = accE.reduceLanes(VectorOperators.ADD) + 0f;
    }

    /**
     * The kernel for 256-bit vectors (AVX2): {@link NibbleBlocks}' byte-shuffle lookup with a
     * scale per sub-block, picked out in scalar code. The generic {@link #dot} passes C2's
     * inlining budget there (`CpuTimeAB matvec IQ4_XS 64 2048`, one thread, four: 3.0–3.1 GB/s
     * against 2.4–2.6). Storing a super-block's eight scales first, to broadcast each from a
     * load as {@link #dot512} does, was no faster (2.8–2.9 against 3.0–3.4).
     */
    private static float dot256(byte[] levels, MemorySegment w, long o, float[] x, int xo, int blocks) {
        ByteVector table = ByteVector.fromArray(B, levels, 0);
        long end = (long) blocks * BYTES;
        MemorySegment row = w.asSlice(o, end);
        FloatVector acc = FloatVector.zero(H);
        int xi = xo;
        for (long p = 0; p < end; p += BYTES) {
            float d = Float.float16ToFloat(row.get(Blocks.I16, p));
            int scalesH = row.get(Blocks.I16, p + 2);
            int scalesL = row.get(Blocks.I32, p + 4);
            for (int i = 0; i < 8; i++, xi += 32) {
                // Before the vector code, which uses up C2's inlining budget: after it, scale stayed
                // a call per sub-block (NodeCountInliningCutoff; 1.6–1.7 GB/s).
                float dl = d * scale(scalesH, scalesL, i);
                ByteVector q = ByteVector.fromMemorySegment(B, row, p + 8 + 16 * i, LE);
                ByteVector lo = q.and((byte) 0x0F).selectFrom(table);
                ByteVector hi = q.reinterpretAsInts().lanewise(LSHR, 4).reinterpretAsBytes().and((byte) 0x0F).selectFrom(table);
                FloatVector s = ((FloatVector) lo.convertShape(B2F, H, 0)).mul(FloatVector.fromArray(H, x, xi));
                s = ((FloatVector) lo.convertShape(B2F, H, 1)).fma(FloatVector.fromArray(H, x, xi + 8), s);
                s = ((FloatVector) hi.convertShape(B2F, H, 0)).fma(FloatVector.fromArray(H, x, xi + 16), s);
                s = ((FloatVector) hi.convertShape(B2F, H, 1)).fma(FloatVector.fromArray(H, x, xi + 24), s);
                acc = s.fma(FloatVector.broadcast(H, dl), acc);
            }
        }
        return acc.reduceLanes(VectorOperators.ADD);
    }

    /** d·(sc − 32) first, then times the level, as ggml's dequantize_row_iq4_xs rounds. */
    @Override
    public void dequantize(MemorySegment w, long byteOffset, float[] out, int outOff, int n) {
        Blocks.requireBlocks(type(), n);
        ByteVector table = ByteVector.fromArray(Vec.B16, LEVELS.bytes(), 0);
        for (int b = 0; b < n / QK; b++) {
            long o = byteOffset + (long) b * BYTES;
            float d = Blocks.f16(w, o);
            int scalesH = w.get(Blocks.I16, o + 2);
            int scalesL = w.get(Blocks.I32, o + 4);
            for (int i = 0; i < 8; i++) {
                int y = outOff + b * QK + 32 * i;
                float dl = d * scale(scalesH, scalesL, i);
                ByteVector q = Vec.load16(w, o + 8 + 16 * i);
                Vec.store16(q.and((byte) 0x0F).selectFrom(table), dl, out, y);
                Vec.store16(q.lanewise(LSHR, 4).selectFrom(table), dl, out, y + 16);
            }
        }
    }

    /** quantize_row_iq4_xs_ref (quantize_iq4_xs without importance matrix): IQ4_NL's search per sub-block, the scales then rounded to 6 bits. */
    @Override
    public void quantize(float[] src, int srcOff, int n, MemorySegment dst, long dstOff) {
        quantize(src, srcOff, n, dst, dstOff, null);
    }

    /** quantize_iq4_xs with quant_weights: the same search, each value weighted by its column's importance. */
    @Override
    public void quantize(float[] src, int srcOff, int n, MemorySegment dst, long dstOff, float[] importance) {
        Blocks.requireBlocks(type(), n);
        for (int b = 0; b < n / QK; b++) {
            long o = dstOff + (long) b * BYTES;
            IQ4Quants.quantize(src, srcOff + b * QK, QK, importance, b * QK, dst, o, o + 2, o + 8);
        }
    }
}
