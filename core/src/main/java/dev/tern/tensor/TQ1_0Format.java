package dev.tern.tensor;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

import static jdk.incubator.vector.VectorOperators.LSHL;
import static jdk.incubator.vector.VectorOperators.LSHR;
import static jdk.incubator.vector.VectorOperators.UGE;
import static jdk.incubator.vector.VectorOperators.ZERO_EXTEND_B2I;

/**
 * TQ1_0, llama.cpp's 1.6-bit ternary type (TriLM, BitNet b1.58): blocks of 256 values, each
 * −d, 0 or d, packed five trits to a byte (54 bytes: qs[48], qh[4], fp16 d). A byte holds its
 * trits t₀..t₄ (t₀ most significant) as ⌈(Σ tₙ·3^(4−n))·256/243⌉, so that trit n is
 * ⌊3·(byte·3ⁿ mod 256)/256⌋ and code t means t − 1. Byte m of qs[0..32) holds values m + 32n,
 * byte m of qs[32..48) values 160 + m + 16n, and byte j of qh four trits, values 240 + j + 4n.
 */
public final class TQ1_0Format implements TensorFormat {
    public static final TQ1_0Format INSTANCE = new TQ1_0Format();
    private static final int QK = KQuants.QK_K;
    private static final int BYTES = 54;
    private static final int QH = 48;
    private static final int D = 52;
    private static final int[] POW3 = {1, 3, 9, 27, 81};
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_512;
    private static final VectorSpecies<Integer> I = IntVector.SPECIES_512;
    private static final VectorSpecies<Byte> B = ByteVector.SPECIES_128;
    private static final VectorSpecies<Float> H = FloatVector.SPECIES_256;
    private static final VectorSpecies<Integer> I8 = IntVector.SPECIES_256;
    private static final VectorSpecies<Byte> B8 = ByteVector.SPECIES_64;
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    /** Float bits of the level t − 1 of trit t, at index t, for selectFrom. */
    private static final int[] LEVELS = new int[16];
    /**
     * Two trits at once: for q = byte·3ⁿ mod 256, ⌊9q/256⌋ = 3·tₙ + tₙ₊₁ (0..8), whose levels
     * these give, as float bits, at that index.
     */
    private static final int[] PAIR_FIRST = new int[16];
    private static final int[] PAIR_SECOND = new int[16];
    /**
     * Three trits at once: ⌊27q/256⌋ = 9·tₙ + 3·tₙ₊₁ + tₙ₊₂ (0..26), whose levels these three
     * tables of 32 lanes give, for two-vector selectFrom.
     */
    private static final int[] TRIPLE = new int[96];
    /** The qh lanes: lane 4n + j takes trit n of qh byte j, the byte at bit 8j of qh read as an int. */
    private static final int[] QH_SHIFTS = new int[16];
    private static final int[] QH_POW3 = new int[16];
    /** The top two bits of an int lane, where {@link #dot256} keeps a trit. */
    private static final int TOP = 0xC0000000;

    static {
        for (int k = 0; k < 16; k++) {
            LEVELS[k] = Float.floatToIntBits(Math.min(k, 2) - 1);
            PAIR_FIRST[k] = Float.floatToIntBits(Math.min(k / 3, 2) - 1);
            PAIR_SECOND[k] = Float.floatToIntBits(k % 3 - 1);
            QH_SHIFTS[k] = 8 * (k & 3);
            QH_POW3[k] = POW3[k >> 2];
        }
        for (int k = 0; k < 32; k++) {
            TRIPLE[k] = Float.floatToIntBits(Math.min(k / 9, 2) - 1);
            TRIPLE[32 + k] = Float.floatToIntBits(k / 3 % 3 - 1);
            TRIPLE[64 + k] = Float.floatToIntBits(k % 3 - 1);
        }
    }

    private TQ1_0Format() {
    }

    @Override
    public GGMLType type() {
        return GGMLType.TQ1_0;
    }

    /**
     * The levels of trit n of the 16 bytes at off: byte·3ⁿ wraps modulo 256 in byte lanes, and
     * ⌊3q/256⌋ is 1 from q = 86 on and 2 from q = 171 on.
     */
    private static ByteVector levels(MemorySegment w, long off, int n) {
        ByteVector q = Vec.load16(w, off).mul((byte) POW3[n]);
        ByteVector one = ByteVector.broadcast(Vec.B16, (byte) 1);
        return ByteVector.broadcast(Vec.B16, (byte) -1).add(one, q.compare(UGE, (byte) 86))
                .add(one, q.compare(UGE, (byte) 171));
    }

    /** The levels of qh's 16 trits, lane 4n + j holding trit n of byte j (value 240 + 4n + j). */
    private static ByteVector qhLevels(MemorySegment w, long o) {
        byte[] q = new byte[16];
        for (int k = 0; k < 16; k++) {
            q[k] = (byte) (Blocks.u8(w, o + QH + (k & 3)) * POW3[k >> 2]);
        }
        ByteVector v = ByteVector.fromArray(Vec.B16, q, 0);
        ByteVector one = ByteVector.broadcast(Vec.B16, (byte) 1);
        return ByteVector.broadcast(Vec.B16, (byte) -1).add(one, v.compare(UGE, (byte) 86))
                .add(one, v.compare(UGE, (byte) 171));
    }

    @Override
    public float dot(MemorySegment w, long byteOffset, float[] x, int xOff, int n) {
        Blocks.requireBlocks(type(), n);
        if (Vec.FL == 16) {
            return dot512(LEVELS, TRIPLE, PAIR_FIRST, PAIR_SECOND, QH_SHIFTS, QH_POW3, w, byteOffset, x, xOff, n / QK);
        }
        if (Vec.FL == 8) {
            return dot256(QH_SHIFTS, QH_POW3, w, byteOffset, x, xOff, n / QK);
        }
        FloatVector acc = FloatVector.zero(Vec.F);
        for (int b = 0; b < n / QK; b++) {
            long o = byteOffset + (long) b * BYTES;
            int xb = xOff + b * QK;
            FloatVector s = FloatVector.zero(Vec.F);
            for (int t = 0; t < 5; t++) {
                s = Vec.fma16(levels(w, o, t), x, xb + 32 * t, s);
                s = Vec.fma16(levels(w, o + 16, t), x, xb + 32 * t + 16, s);
                s = Vec.fma16(levels(w, o + 32, t), x, xb + 160 + 16 * t, s);
            }
            s = Vec.fma16(qhLevels(w, o), x, xb + 240, s);
            acc = Vec.fmaScaled(s, Blocks.f16(w, o + D), acc);
        }
        return acc.reduceLanes(VectorOperators.ADD);
    }

    /**
     * The 512-bit kernel, written out in full (a vector that crosses a call the JIT does not
     * inline gets boxed). The 48 bytes of qs widen to ints once; with q = byte·3ⁿ mod 256 in each
     * lane, ⌊27q/256⌋ gives trits 0–2 by three two-vector table lookups, 27q mod 256 the q of trit
     * 3, and ⌊9q/256⌋ of that trits 3 and 4 (CpuTimeAB matvec TQ1_0, one thread: 3.52–3.56
     * GB/s, against 3.16–3.18 for pairs of trits in the same runs, and 2.35–2.44 for one trit at
     * a time by multiplies). Each third of qs has its own sum, so that the block's multiply-adds form
     * short chains.
     */
    private static float dot512(int[] levels, int[] triple, int[] pairFirst, int[] pairSecond, int[] qhShifts,
                                int[] qhPow3, MemorySegment w, long o, float[] x, int xo, int blocks) {
        IntVector table = IntVector.fromArray(I, levels, 0);
        IntVector a0 = IntVector.fromArray(I, triple, 0), a1 = IntVector.fromArray(I, triple, 16);
        IntVector b0 = IntVector.fromArray(I, triple, 32), b1 = IntVector.fromArray(I, triple, 48);
        IntVector c0 = IntVector.fromArray(I, triple, 64), c1 = IntVector.fromArray(I, triple, 80);
        IntVector first = IntVector.fromArray(I, pairFirst, 0);
        IntVector second = IntVector.fromArray(I, pairSecond, 0);
        IntVector shifts = IntVector.fromArray(I, qhShifts, 0);
        IntVector pow3 = IntVector.fromArray(I, qhPow3, 0);
        long end = (long) blocks * BYTES;
        MemorySegment row = w.asSlice(o, end);
        FloatVector acc = FloatVector.zero(F);
        int xb = xo;
        for (long p = 0; p < end; p += BYTES, xb += QK) {
            IntVector w0 = (IntVector) ByteVector.fromMemorySegment(B, row, p, LE).convertShape(ZERO_EXTEND_B2I, I, 0);
            IntVector w1 = (IntVector) ByteVector.fromMemorySegment(B, row, p + 16, LE).convertShape(ZERO_EXTEND_B2I, I, 0);
            IntVector w2 = (IntVector) ByteVector.fromMemorySegment(B, row, p + 32, LE).convertShape(ZERO_EXTEND_B2I, I, 0);
            IntVector u0 = w0.mul(27), u1 = w1.mul(27), u2 = w2.mul(27);
            IntVector i0 = u0.lanewise(LSHR, 8), i1 = u1.lanewise(LSHR, 8), i2 = u2.lanewise(LSHR, 8);
            FloatVector s0 = i0.selectFrom(a0, a1).reinterpretAsFloats().mul(FloatVector.fromArray(F, x, xb));
            FloatVector s1 = i1.selectFrom(a0, a1).reinterpretAsFloats().mul(FloatVector.fromArray(F, x, xb + 16));
            FloatVector s2 = i2.selectFrom(a0, a1).reinterpretAsFloats().mul(FloatVector.fromArray(F, x, xb + 160));
            s0 = i0.selectFrom(b0, b1).reinterpretAsFloats().fma(FloatVector.fromArray(F, x, xb + 32), s0);
            s1 = i1.selectFrom(b0, b1).reinterpretAsFloats().fma(FloatVector.fromArray(F, x, xb + 48), s1);
            s2 = i2.selectFrom(b0, b1).reinterpretAsFloats().fma(FloatVector.fromArray(F, x, xb + 176), s2);
            s0 = i0.selectFrom(c0, c1).reinterpretAsFloats().fma(FloatVector.fromArray(F, x, xb + 64), s0);
            s1 = i1.selectFrom(c0, c1).reinterpretAsFloats().fma(FloatVector.fromArray(F, x, xb + 80), s1);
            s2 = i2.selectFrom(c0, c1).reinterpretAsFloats().fma(FloatVector.fromArray(F, x, xb + 192), s2);
            w0 = u0.and(0xFF);
            w1 = u1.and(0xFF);
            w2 = u2.and(0xFF);
            IntVector p0 = w0.add(w0.lanewise(LSHL, 3)).lanewise(LSHR, 8);
            IntVector p1 = w1.add(w1.lanewise(LSHL, 3)).lanewise(LSHR, 8);
            IntVector p2 = w2.add(w2.lanewise(LSHL, 3)).lanewise(LSHR, 8);
            s0 = p0.selectFrom(first).reinterpretAsFloats().fma(FloatVector.fromArray(F, x, xb + 96), s0);
            s1 = p1.selectFrom(first).reinterpretAsFloats().fma(FloatVector.fromArray(F, x, xb + 112), s1);
            s2 = p2.selectFrom(first).reinterpretAsFloats().fma(FloatVector.fromArray(F, x, xb + 208), s2);
            s0 = p0.selectFrom(second).reinterpretAsFloats().fma(FloatVector.fromArray(F, x, xb + 128), s0);
            s1 = p1.selectFrom(second).reinterpretAsFloats().fma(FloatVector.fromArray(F, x, xb + 144), s1);
            s2 = p2.selectFrom(second).reinterpretAsFloats().fma(FloatVector.fromArray(F, x, xb + 224), s2);
            IntVector h = IntVector.broadcast(I, row.get(Blocks.I32, p + QH)).lanewise(LSHR, shifts).and(0xFF).mul(pow3).and(0xFF);
            s0 = h.add(h.lanewise(LSHL, 1)).lanewise(LSHR, 8).selectFrom(table).reinterpretAsFloats().fma(FloatVector.fromArray(F, x, xb + 240), s0);
            float d = Float.float16ToFloat(row.get(Blocks.I16, p + D));
            acc = s0.add(s1).add(s2).fma(FloatVector.broadcast(F, d), acc);
        }
        return acc.reduceLanes(VectorOperators.ADD);
    }

    /**
     * {@link #dot512} for 256-bit vectors (AVX2), with no table: a trit's level comes out of the
     * top two bits of an int lane. A lane holds v = q·2²² + 3·2³⁰ (mod 2³²) for q = byte·3ⁿ mod
     * 256; then 3v = (3q + 256)·2²², whose top two bits are t + 1 for trit t, and read as a float
     * (they are the sign and the exponent's top bit) are −2·(t − 1), exactly: 2, −0 or −2. Below
     * them lies the next q·2²², so setting them again gives the next v: a trit costs a multiply,
     * an and and an or, where ⌊3q/256⌋ as a table index took a multiply, a shift, a selectFrom
     * (two instructions) and an and. The −½ joins d. The two parts of qs have a loop each, so that
     * the x offsets step by a constant and C2 drops their range checks. The generic {@link #dot}
     * boxed its vectors here (0.15 GB/s); this reads 1.8–2.1 (CpuTimeAB matvec TQ1_0, one thread,
     * Zen 3). From cache, table lookups read 1.2 GB/s, this decoding in one loop over qs 1.5, and
     * written out in full the kernel failed C1 (out of registers) and ran interpreted.
     */
    private static float dot256(int[] qhShifts, int[] qhPow3, MemorySegment w, long o, float[] x, int xo, int blocks) {
        IntVector shifts = IntVector.fromArray(I8, qhShifts, 0);
        IntVector pow3 = IntVector.fromArray(I8, qhPow3, 0).lanewise(LSHL, 22);
        IntVector pow9 = IntVector.fromArray(I8, qhPow3, 8).lanewise(LSHL, 22);
        FloatVector acc = FloatVector.zero(H);
        for (int b = 0; b < blocks; b++) {
            long p = o + (long) b * BYTES;
            int xb = xo + b * QK;
            FloatVector s0 = FloatVector.zero(H), s1 = s0, s2 = s0, s3 = s0, s4 = s0;
            // The first v, byte·2²² + 3·2³⁰, goes straight to 3v: 9·2³⁰ is 2³⁰ mod 2³².
            for (int m = 0; m < 32; m += 8) {
                IntVector u = ((IntVector) ByteVector.fromMemorySegment(B8, w, p + m, LE).convertShape(ZERO_EXTEND_B2I, I8, 0))
                        .mul(3 << 22).add(1 << 30);
                s0 = u.and(TOP).reinterpretAsFloats().fma(FloatVector.fromArray(H, x, xb + m), s0);
                u = u.or(TOP).mul(3);
                s1 = u.and(TOP).reinterpretAsFloats().fma(FloatVector.fromArray(H, x, xb + m + 32), s1);
                u = u.or(TOP).mul(3);
                s2 = u.and(TOP).reinterpretAsFloats().fma(FloatVector.fromArray(H, x, xb + m + 64), s2);
                u = u.or(TOP).mul(3);
                s3 = u.and(TOP).reinterpretAsFloats().fma(FloatVector.fromArray(H, x, xb + m + 96), s3);
                u = u.or(TOP).mul(3);
                s4 = u.and(TOP).reinterpretAsFloats().fma(FloatVector.fromArray(H, x, xb + m + 128), s4);
            }
            for (int m = 32; m < QH; m += 8) {
                IntVector u = ((IntVector) ByteVector.fromMemorySegment(B8, w, p + m, LE).convertShape(ZERO_EXTEND_B2I, I8, 0))
                        .mul(3 << 22).add(1 << 30);
                s0 = u.and(TOP).reinterpretAsFloats().fma(FloatVector.fromArray(H, x, xb + 128 + m), s0);
                u = u.or(TOP).mul(3);
                s1 = u.and(TOP).reinterpretAsFloats().fma(FloatVector.fromArray(H, x, xb + 128 + m + 16), s1);
                u = u.or(TOP).mul(3);
                s2 = u.and(TOP).reinterpretAsFloats().fma(FloatVector.fromArray(H, x, xb + 128 + m + 32), s2);
                u = u.or(TOP).mul(3);
                s3 = u.and(TOP).reinterpretAsFloats().fma(FloatVector.fromArray(H, x, xb + 128 + m + 48), s3);
                u = u.or(TOP).mul(3);
                s4 = u.and(TOP).reinterpretAsFloats().fma(FloatVector.fromArray(H, x, xb + 128 + m + 64), s4);
            }
            // Lane 4n + j: qh byte j times 3ⁿ (trits 0 and 1), then 9 times that (trits 2 and 3), as
            // v; the bytes above j and the multiples of 256 land in the top two bits or beyond.
            IntVector h = IntVector.broadcast(I8, w.get(Blocks.I32, p + QH)).lanewise(LSHR, shifts);
            s0 = h.mul(pow3).or(TOP).mul(3).and(TOP).reinterpretAsFloats().fma(FloatVector.fromArray(H, x, xb + 240), s0);
            s1 = h.mul(pow9).or(TOP).mul(3).and(TOP).reinterpretAsFloats().fma(FloatVector.fromArray(H, x, xb + 248), s1);
            float d = Float.float16ToFloat(w.get(Blocks.I16, p + D));
            acc = s0.add(s1).add(s2.add(s3)).add(s4).fma(FloatVector.broadcast(H, -0.5f * d), acc);
        }
        return acc.reduceLanes(VectorOperators.ADD);
    }

    /** (t − 1)·d, one product per value, in dequantize_row_tq1_0's order. */
    @Override
    public void dequantize(MemorySegment w, long byteOffset, float[] out, int outOff, int n) {
        Blocks.requireBlocks(type(), n);
        if (Vec.FL == 8) {
            dequantize256(QH_SHIFTS, QH_POW3, w, byteOffset, out, outOff, n / QK);
            return;
        }
        for (int b = 0; b < n / QK; b++) {
            long o = byteOffset + (long) b * BYTES;
            int yo = outOff + b * QK;
            float d = Blocks.f16(w, o + D);
            for (int t = 0; t < 5; t++) {
                Vec.store16(levels(w, o, t), d, out, yo + 32 * t);
                Vec.store16(levels(w, o + 16, t), d, out, yo + 32 * t + 16);
                Vec.store16(levels(w, o + 32, t), d, out, yo + 160 + 16 * t);
            }
            Vec.store16(qhLevels(w, o), d, out, yo + 240);
        }
    }

    /**
     * {@link #dequantize} for 256-bit vectors, decoded as {@link #dot256} decodes: each trit
     * read as the float −2·(t − 1) out of the top two bits of an int lane, times −½·d. Both
     * factors are exact, so the product is (t − 1)·d bit for bit, signed zeros included. The
     * generic {@link #dequantize}, multiplies and compares in byte lanes and qh's trits picked
     * in scalar code, read 0.26–0.32 GB/s; this reads 1.26–1.79 (`CpuTimeAB matvec TQ1_0 64
     * 2048`, dequant, one thread, Zen 3), and `CpuTimeAB matmul TQ1_0 8 100 2048` goes from
     * 16.0–17.3 to 36.5–40.3 GFLOP/s.
     */
    private static void dequantize256(int[] qhShifts, int[] qhPow3, MemorySegment w, long o, float[] out, int yo, int blocks) {
        IntVector shifts = IntVector.fromArray(I8, qhShifts, 0);
        IntVector pow3 = IntVector.fromArray(I8, qhPow3, 0).lanewise(LSHL, 22);
        IntVector pow9 = IntVector.fromArray(I8, qhPow3, 8).lanewise(LSHL, 22);
        MemorySegment row = w.asSlice(o, (long) blocks * BYTES);
        for (int b = 0; b < blocks; b++) {
            long p = (long) b * BYTES;
            int y = yo + b * QK;
            FloatVector d = FloatVector.broadcast(H, -0.5f * Float.float16ToFloat(row.get(Blocks.I16, p + D)));
            for (int m = 0; m < 32; m += 8) {
                IntVector u = ((IntVector) ByteVector.fromMemorySegment(B8, row, p + m, LE).convertShape(ZERO_EXTEND_B2I, I8, 0))
                        .mul(3 << 22).add(1 << 30);
                u.and(TOP).reinterpretAsFloats().mul(d).intoArray(out, y + m);
                u = u.or(TOP).mul(3);
                u.and(TOP).reinterpretAsFloats().mul(d).intoArray(out, y + m + 32);
                u = u.or(TOP).mul(3);
                u.and(TOP).reinterpretAsFloats().mul(d).intoArray(out, y + m + 64);
                u = u.or(TOP).mul(3);
                u.and(TOP).reinterpretAsFloats().mul(d).intoArray(out, y + m + 96);
                u = u.or(TOP).mul(3);
                u.and(TOP).reinterpretAsFloats().mul(d).intoArray(out, y + m + 128);
            }
            for (int m = 32; m < QH; m += 8) {
                IntVector u = ((IntVector) ByteVector.fromMemorySegment(B8, row, p + m, LE).convertShape(ZERO_EXTEND_B2I, I8, 0))
                        .mul(3 << 22).add(1 << 30);
                u.and(TOP).reinterpretAsFloats().mul(d).intoArray(out, y + 128 + m);
                u = u.or(TOP).mul(3);
                u.and(TOP).reinterpretAsFloats().mul(d).intoArray(out, y + 128 + m + 16);
                u = u.or(TOP).mul(3);
                u.and(TOP).reinterpretAsFloats().mul(d).intoArray(out, y + 128 + m + 32);
                u = u.or(TOP).mul(3);
                u.and(TOP).reinterpretAsFloats().mul(d).intoArray(out, y + 128 + m + 48);
                u = u.or(TOP).mul(3);
                u.and(TOP).reinterpretAsFloats().mul(d).intoArray(out, y + 128 + m + 64);
            }
            IntVector h = IntVector.broadcast(I8, row.get(Blocks.I32, p + QH)).lanewise(LSHR, shifts);
            h.mul(pow3).or(TOP).mul(3).and(TOP).reinterpretAsFloats().mul(d).intoArray(out, y + 240);
            h.mul(pow9).or(TOP).mul(3).and(TOP).reinterpretAsFloats().mul(d).intoArray(out, y + 248);
        }
    }

    /**
     * quantize_row_tq1_0_ref (what llama-quantize's quantize_tq1_0 calls): d = the block's
     * largest magnitude, each value's trit lroundf(x/d) + 1, five trits to a byte (four in qh,
     * shifted up by one trit), each byte then ⌈v·256/243⌉, in uint8 arithmetic throughout.
     */
    @Override
    public void quantize(float[] src, int srcOff, int n, MemorySegment dst, long dstOff) {
        Blocks.requireBlocks(type(), n);
        byte[] block = new byte[BYTES];
        for (int b = 0; b < n / QK; b++) {
            int xo = srcOff + b * QK;
            float d = Ternary.largestMagnitude(src, xo);
            float id = d != 0 ? 1.0f / d : 0.0f;
            for (int m = 0; m < 32; m++) {
                int q = 0;
                for (int t = 0; t < 5; t++) {
                    q = (q * 3 + Ternary.code(src[xo + m + 32 * t], id)) & 0xFF;
                }
                block[m] = (byte) ((q * 256 + 242) / 243);
            }
            for (int m = 0; m < 16; m++) {
                int q = 0;
                for (int t = 0; t < 5; t++) {
                    q = (q * 3 + Ternary.code(src[xo + 160 + m + 16 * t], id)) & 0xFF;
                }
                block[32 + m] = (byte) ((q * 256 + 242) / 243);
            }
            for (int j = 0; j < 4; j++) {
                int q = 0;
                for (int t = 0; t < 4; t++) {
                    q = (q * 3 + Ternary.code(src[xo + 240 + j + 4 * t], id)) & 0xFF;
                }
                q = q * 3 & 0xFF;
                block[QH + j] = (byte) ((q * 256 + 242) / 243);
            }
            short h = Blocks.toF16(d);
            block[D] = (byte) h;
            block[D + 1] = (byte) (h >> 8);
            MemorySegment.copy(block, 0, dst, Blocks.I8, dstOff + (long) b * BYTES, BYTES);
        }
    }
}
