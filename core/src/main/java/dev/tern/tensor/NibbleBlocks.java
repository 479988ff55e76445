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
 * Blocks of 32 values as 4-bit codes under one fp16 scale (18 bytes: fp16 d, qs[16]; byte j holds
 * value j in its low nibble and value j+16 in its high nibble), code c meaning levels[c]·d. Q4_0
 * (levels −8..7) and IQ4_NL (a non-linear table) differ only in their levels, so they share
 * these kernels, each with its own table.
 */
final class NibbleBlocks {
    private static final int QK = 32;
    private static final int BYTES = 18;
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_512;
    private static final VectorSpecies<Integer> I = IntVector.SPECIES_512;
    private static final VectorSpecies<Byte> B = ByteVector.SPECIES_128;
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    private static final VectorSpecies<Float> H = FloatVector.SPECIES_256;

    private NibbleBlocks() {
    }

    /**
     * A format's 16 levels as tables for {@code selectFrom}: element c holds level c, as bytes
     * and as float bits. The kernels take an array and make their vector themselves: a vector
     * passed in (or read from a static record) cost Q4_0's 512-bit decode kernel 4% (`CpuTimeAB
     * matvec Q4_0 400 2048`, four: 8.67–8.74 against 9.03–9.12 GB/s).
     */
    record Levels(byte[] bytes, int[] floatBits) {
        static Levels of(byte[] levels) {
            int[] bits = new int[16];
            for (int c = 0; c < 16; c++) {
                bits[c] = Float.floatToIntBits(levels[c]);
            }
            return new Levels(levels.clone(), bits);
        }
    }

    static float dot(GGMLType type, Levels levels, MemorySegment w, long byteOffset, float[] x, int xOff, int n) {
        Blocks.requireBlocks(type, n);
        if (Vec.FL == 16) {
            return dot512(levels.floatBits(), w, byteOffset, x, xOff, n / QK);
        }
        if (Vec.FL == 8) {
            return dot256(levels.bytes(), w, byteOffset, x, xOff, n / QK);
        }
        return dotGeneric(levels.bytes(), w, byteOffset, x, xOff, n / QK);
    }

    /** With 128-bit vectors: the codes' levels looked up as bytes, widened in pieces of the preferred species. */
    private static float dotGeneric(byte[] levels, MemorySegment w, long byteOffset, float[] x, int xOff, int blocks) {
        ByteVector table = ByteVector.fromArray(Vec.B16, levels, 0);
        FloatVector acc = FloatVector.zero(Vec.F);
        for (int b = 0; b < blocks; b++) {
            long o = byteOffset + (long) b * BYTES;
            int xo = xOff + b * QK;
            ByteVector q = Vec.load16(w, o + 2);
            FloatVector s = Vec.fma16(q.and((byte) 0x0F).selectFrom(table), x, xo, FloatVector.zero(Vec.F));
            s = Vec.fma16(q.lanewise(LSHR, 4).selectFrom(table), x, xo + 16, s);
            acc = Vec.fmaScaled(s, Blocks.f16(w, o), acc);
        }
        return acc.reduceLanes(VectorOperators.ADD);
    }

    /**
     * {@link TensorFormat#dotRows}: with 512-bit vectors as four ranges read side by side ({@link
     * Blocks#dotRowsByRanges}; one row's single chain of multiply-adds waits on their latency: 6.9
     * against 9.2 GB/s), else one row at a time.
     */
    static void dotRows(TensorFormat f, MemorySegment w, long byteOffset, long rowBytes, int rows, float[] x, int xOff, int n,
                        float[] out, int outOff) {
        if (Vec.FL == 16) {
            Blocks.dotRowsByRanges(f, w, byteOffset, rowBytes, rows, x, xOff, n, out, outOff);
            return;
        }
        for (int r = 0; r < rows; r++) {
            out[outOff + r] = f.dot(w, byteOffset + r * rowBytes, x, xOff, n);
        }
    }

    /**
     * {@link TensorFormat#dotRowsFour}: the pairs' rows step through their blocks together; without
     * 512-bit vectors, f's dotRows over each range.
     */
    static void dotRowsFour(TensorFormat f, Levels levels, MemorySegment w, long[] offsets, long rowBytes, int rows,
                            float[] x, int xOff, int n, float[] out, int[] outs) {
        if (Vec.FL != 16) {
            for (int i = 0; i < 4; i++) {
                f.dotRows(w, offsets[i], rowBytes, rows, x, xOff, n, out, outs[i]);
            }
            return;
        }
        int[] table = levels.floatBits();
        Blocks.byQuads((a, b, c, e, xs, xo, o, ia, ib, ic, ie) -> dot512Quad(table, a, b, c, e, xs, xo, o, ia, ib, ic, ie),
                f.type(), w, offsets, rowBytes, rows, x, xOff, n, out, outs);
    }

    /**
     * The 512-bit kernel, written out in full (a vector that crosses a call the JIT does not
     * inline gets boxed). The stored bytes widen to ints; each lane then looks its weight up in
     * the table of levels times the block's scale (the high nibble after a shift): selectFrom takes
     * its indexes modulo the 16 lanes, so a widened byte looks up its low nibble as it is. One
     * permute where an AND, a conversion and a −8·Σx correction per block were for Q4_0 (rows from
     * memory, one thread: 5.6 → 7.4 GB/s). Scaling the table rather than each block's sum costs
     * no operation more and adds in {@link BatchMatmul}'s tiles' order, weights times activations
     * into one accumulator per lane, so that a token gets the same bits in a batch as alone
     * (`CpuTimeAB matvec Q4_0 400 2048`, four, alternated: 8.60–8.66 against 8.36–8.73 GB/s from
     * memory, 8.8 against 9.2–9.3 in cache). Each row is read through a slice of its own with a
     * long index, so that the JIT checks its bounds once per row rather than at every load (11–15%
     * faster, in cache and from memory).
     */
    private static float dot512(int[] levels, MemorySegment w, long o, float[] x, int xo, int blocks) {
        IntVector table = IntVector.fromArray(I, levels, 0);
        long end = (long) blocks * BYTES;
        MemorySegment row = w.asSlice(o, end);
        FloatVector acc = FloatVector.zero(F);
        int b = 0;
        for (long p = 0; p < end; p += BYTES, b++) {
            int xi = xo + b * QK;
            IntVector q = (IntVector) ByteVector.fromMemorySegment(B, row, p + 2, LE).convertShape(B2I, I, 0);
            IntVector scaled = scaled(table, row, p);
            acc = q.selectFrom(scaled).reinterpretAsFloats().fma(FloatVector.fromArray(F, x, xi), acc);
            acc = q.lanewise(LSHR, 4).selectFrom(scaled).reinterpretAsFloats().fma(FloatVector.fromArray(F, x, xi + 16), acc);
        }
        return acc.reduceLanes(VectorOperators.ADD) + 0f; // + the tiles' empty scalar tail: a −0 sum becomes +0 there
    }

    /**
     * {@link #dot512} of rows a, b, c and e (each a slice of its own) into out[ia], out[ib],
     * out[ic] and out[ie], their blocks read in turn: four memory streams, four independent
     * accumulators, and each activation load shared by the four rows.
     */
    private static void dot512Quad(int[] levels, MemorySegment a, MemorySegment b, MemorySegment c, MemorySegment e,
                                   float[] x, int xo, float[] out, int ia, int ib, int ic, int ie) {
        IntVector table = IntVector.fromArray(I, levels, 0);
        FloatVector accA = FloatVector.zero(F), accB = accA, accC = accA, accE = accA;
        long end = a.byteSize();
        int xi = xo;
        for (long o = 0; o < end; o += BYTES, xi += QK) {
            FloatVector x0 = FloatVector.fromArray(F, x, xi), x1 = FloatVector.fromArray(F, x, xi + 16);
            IntVector qa = codes(a, o), qb = codes(b, o), qc = codes(c, o), qe = codes(e, o);
            IntVector ta = scaled(table, a, o), tb = scaled(table, b, o), tc = scaled(table, c, o), te = scaled(table, e, o);
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

    /** The levels' table times the block at o's scale, as float bits: each code then looks its weight up. */
    private static IntVector scaled(IntVector table, MemorySegment row, long o) {
        return table.reinterpretAsFloats().mul(Blocks.f16(row, o)).reinterpretAsInts();
    }

    /** The sixteen code bytes of the block at o widened to int lanes (512-bit vectors only). */
    private static IntVector codes(MemorySegment row, long o) {
        return (IntVector) ByteVector.fromMemorySegment(B, row, o + 2, LE).convertShape(B2I, I, 0);
    }

    /**
     * The kernel for 256-bit vectors (AVX2), written out in full as {@link #dot512} is (the
     * generic loop passes C2's inlining budget there; `CpuTimeAB matvec IQ4_NL 64 2048`, one
     * thread, four: 3.8–4.1 GB/s against 3.1–3.3). The codes look their levels up as bytes, one
     * byte shuffle (vpshufb) per nibble of the sixteen stored bytes, and widen to floats eight at
     * a time. In int lanes, where AVX2 permutes only eight, a lookup takes two permutes and a
     * blend (in cache: 2.5 against 3.5–4.0 GB/s); widening through the shorts of a 256-bit B2S
     * was slower too (2.3–2.4). Q4_0 has a kernel of its own.
     */
    private static float dot256(byte[] levels, MemorySegment w, long o, float[] x, int xo, int blocks) {
        ByteVector table = ByteVector.fromArray(B, levels, 0);
        long end = (long) blocks * BYTES;
        MemorySegment row = w.asSlice(o, end);
        FloatVector acc = FloatVector.zero(H);
        int xi = xo;
        for (long p = 0; p < end; p += BYTES, xi += QK) {
            ByteVector q = ByteVector.fromMemorySegment(B, row, p + 2, LE);
            ByteVector lo = q.and((byte) 0x0F).selectFrom(table);
            // Shifted as ints: x86 has no byte shift, and the mask drops what crossed from the next byte.
            ByteVector hi = q.reinterpretAsInts().lanewise(LSHR, 4).reinterpretAsBytes().and((byte) 0x0F).selectFrom(table);
            FloatVector s = ((FloatVector) lo.convertShape(B2F, H, 0)).mul(FloatVector.fromArray(H, x, xi));
            s = ((FloatVector) lo.convertShape(B2F, H, 1)).fma(FloatVector.fromArray(H, x, xi + 8), s);
            s = ((FloatVector) hi.convertShape(B2F, H, 0)).fma(FloatVector.fromArray(H, x, xi + 16), s);
            s = ((FloatVector) hi.convertShape(B2F, H, 1)).fma(FloatVector.fromArray(H, x, xi + 24), s);
            acc = s.fma(FloatVector.broadcast(H, Float.float16ToFloat(row.get(Blocks.I16, p))), acc);
        }
        return acc.reduceLanes(VectorOperators.ADD);
    }

    /** Each value is its level times d, one rounding, as ggml's dequantize_row_q4_0 / iq4_nl compute it. */
    static void dequantize(GGMLType type, Levels levels, MemorySegment w, long byteOffset, float[] out, int outOff, int n) {
        Blocks.requireBlocks(type, n);
        ByteVector table = ByteVector.fromArray(Vec.B16, levels.bytes(), 0);
        for (int b = 0; b < n / QK; b++) {
            long o = byteOffset + (long) b * BYTES;
            int yo = outOff + b * QK;
            float d = Blocks.f16(w, o);
            ByteVector q = Vec.load16(w, o + 2);
            Vec.store16(q.and((byte) 0x0F).selectFrom(table), d, out, yo);
            Vec.store16(q.lanewise(LSHR, 4).selectFrom(table), d, out, yo + 16);
        }
    }
}
