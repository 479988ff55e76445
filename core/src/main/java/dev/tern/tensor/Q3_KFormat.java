package dev.tern.tensor;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

import static jdk.incubator.vector.VectorOperators.B2I;
import static jdk.incubator.vector.VectorOperators.I2F;
import static jdk.incubator.vector.VectorOperators.LSHL;
import static jdk.incubator.vector.VectorOperators.LSHR;
import static jdk.incubator.vector.VectorOperators.ZERO_EXTEND_B2I;

/**
 * Q3_K: super-blocks of 256 values in 16 sub-blocks of 16, each with a 6-bit scale;
 * value = d·(sc−32)·(q−4) with 3-bit q (110 bytes: hmask[32], qs[64], scales[12], fp16 d).
 * The low two bits of q are laid out as Q2_K's (bits 2s..2s+1 of qs[32h+l] for value
 * 128h+32s+l); the third bit of that value is bit 4h+s of hmask[l]. Scale j keeps its low four
 * bits in a nibble of scales[j mod 8] (low nibble for j < 8) and its top two in bits
 * 2·(j/4).. of scales[8 + j mod 4].
 */
public final class Q3_KFormat implements TensorFormat {
    public static final Q3_KFormat INSTANCE = new Q3_KFormat();
    private static final int QK = KQuants.QK_K;
    private static final int BYTES = 110;
    private static final int QS = 32;
    private static final int SCALES = 96;
    private static final int D = 108;
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_512;
    private static final VectorSpecies<Integer> I = IntVector.SPECIES_512;
    private static final VectorSpecies<Byte> B = ByteVector.SPECIES_128;
    private static final VectorSpecies<Float> H = FloatVector.SPECIES_256;
    private static final VectorSpecies<Integer> I8 = IntVector.SPECIES_256;
    private static final VectorSpecies<Byte> B8 = ByteVector.SPECIES_64;
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    // The 16 bytes loaded from SCALES − 2 (not past the block's end): scale bytes are lanes 2..13.
    // Lane j picks its low-nibble byte (P) and its top-bits byte (Q).
    private static final VectorShuffle<Byte> P_BYTES = VectorShuffle.fromValues(B, 2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5, 6, 7, 8, 9);
    private static final VectorShuffle<Byte> Q_BYTES = VectorShuffle.fromValues(B, 10, 11, 12, 13, 10, 11, 12, 13, 10, 11, 12, 13, 10, 11, 12, 13);
    private static final IntVector P_SHIFT = IntVector.fromArray(I, new int[]{0, 0, 0, 0, 0, 0, 0, 0, 4, 4, 4, 4, 4, 4, 4, 4}, 0);
    private static final IntVector Q_SHIFT = IntVector.fromArray(I, new int[]{0, 0, 0, 0, 2, 2, 2, 2, 4, 4, 4, 4, 6, 6, 6, 6}, 0);
    // The 256-bit kernel reads scales[8..11] as one int: lane j < 8 shifts the top bits of scale j
    // (bits 2·(j/4).. of byte j mod 4) down to bits 0..1, and those of scale j + 8 to bits 4..5.
    private static final IntVector TOP_SHIFT = IntVector.fromArray(I8, new int[]{0, 8, 16, 24, 2, 10, 18, 26}, 0);

    private Q3_KFormat() {
    }

    @Override
    public GGMLType type() {
        return GGMLType.Q3_K;
    }

    @Override
    public float dot(MemorySegment w, long byteOffset, float[] x, int xOff, int n) {
        Blocks.requireBlocks(type(), n);
        if (Vec.FL == 16) {
            return dot512(w, byteOffset, x, xOff, RowsWithSums.sums(x, xOff, n, 16), RowsWithSums.scales(), n / QK);
        }
        if (Vec.FL == 8) {
            return dot256(w, byteOffset, x, xOff, RowsWithSums.sums(x, xOff, n, 16), RowsWithSums.scales(), n / QK);
        }
        FloatVector acc = FloatVector.zero(Vec.F);
        for (int b = 0; b < n / QK; b++) {
            long o = byteOffset + (long) b * BYTES;
            float d = Blocks.f16(w, o + D);
            for (int j = 0; j < 16; j++) {
                FloatVector qx = Vec.fma16(levels(w, o, j), x, xOff + b * QK + 16 * j, FloatVector.zero(Vec.F));
                acc = Vec.fmaScaled(qx, d * scale(w, o + SCALES, j), acc);
            }
        }
        return acc.reduceLanes(VectorOperators.ADD);
    }

    /**
     * q − 4 for sub-block j = 8h + 2s + c (values 16j..16j+15): the low bits from bits 2s..2s+1
     * of qs[32h + 16c ..], −4 where bit 4h+s of hmask[16c ..] is clear.
     */
    private static ByteVector levels(MemorySegment w, long o, int j) {
        int s = (j >> 1) & 3;
        byte bit = (byte) (1 << (4 * (j >> 3) + s));
        ByteVector q = Vec.load16(w, o + QS + 32 * (j >> 3) + 16 * (j & 1)).lanewise(LSHR, 2 * s).and((byte) 3);
        return q.add((byte) -4, Vec.load16(w, o + 16 * (j & 1)).and(bit).compare(VectorOperators.EQ, (byte) 0));
    }

    /**
     * The signed scale (6 bits − 32) of sub-block j, from the 12 packed bytes at {@code scales}.
     * Without a branch: one on j < 8 sent the dequantizer's loop into endless deoptimization
     * (profile_predicate) under C2.
     */
    private static int scale(MemorySegment w, long scales, int j) {
        int low = (Blocks.u8(w, scales + (j & 7)) >> (4 * (j >> 3))) & 0xF;
        int high = (Blocks.u8(w, scales + 8 + (j & 3)) >> (2 * (j >> 2))) & 3;
        return (low | high << 4) - 32;
    }

    /** Every row shares one pass over x for the 16-value sums that carry the −4 offset. */
    @Override
    public void dotRows(MemorySegment w, long byteOffset, long rowBytes, int rows, float[] x, int xOff, int n,
                        float[] out, int outOff) {
        RowsWithSums.dotRows(this, Q3_KFormat::dot512, Q3_KFormat::dot256, 16, w, byteOffset, rowBytes, rows, x, xOff, n, out, outOff);
    }

    @Override
    public void dotRowsFour(MemorySegment w, long[] offsets, long rowBytes, int rows, float[] x, int xOff, int n,
                            float[] out, int[] outs) {
        RowsWithSums.dotRowsFour(this, Q3_KFormat::dot512, Q3_KFormat::dot256, 16, w, offsets, rowBytes, rows, x, xOff, n, out, outs);
    }

    /**
     * The 512-bit kernel, lean as Q2_K's: Σ d·sc·(q−4)·x = Σ d·sc·Σ q·x − 4·Σ d·sc·Σ x, the
     * second term from the precomputed 16-value sums of x. The sixteen scales are unpacked at
     * once by two byte shuffles, as Q4_K's; the 3-bit levels are assembled in int lanes, each
     * masked in place at 4^s (its scale divided by 4^s, exact); four accumulators, one per
     * chunk of qs. No helper methods, for the JIT's node budget (see Q2_K's).
     */
    private static float dot512(MemorySegment w, long o, float[] x, int xo, float[] sums, float[] scales, int blocks) {
        FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0, offsets = a0;
        for (int b = 0; b < blocks; b++) {
            long p = o + (long) b * BYTES;
            float d = Float.float16ToFloat(w.get(Blocks.I16, p + D));
            ByteVector sb = ByteVector.fromMemorySegment(B, w, p + SCALES - 2, LE);
            IntVector lo = (IntVector) sb.rearrange(P_BYTES).convertShape(ZERO_EXTEND_B2I, I, 0);
            IntVector hi = (IntVector) sb.rearrange(Q_BYTES).convertShape(ZERO_EXTEND_B2I, I, 0);
            IntVector sc = lo.lanewise(LSHR, P_SHIFT).and(0x0F).or(hi.lanewise(LSHR, Q_SHIFT).and(3).lanewise(LSHL, 4));
            FloatVector scd = ((FloatVector) sc.sub(32).convert(I2F, 0)).mul(d);
            offsets = scd.fma(FloatVector.fromArray(F, sums, b * 16), offsets);
            scd.mul(KQuants.QUARTERS).intoArray(scales, 0);
            IntVector h0 = (IntVector) ByteVector.fromMemorySegment(B, w, p, LE).convertShape(B2I, I, 0);
            IntVector h1 = (IntVector) ByteVector.fromMemorySegment(B, w, p + 16, LE).convertShape(B2I, I, 0);
            IntVector h2 = h0.lanewise(LSHR, 4);
            IntVector h3 = h1.lanewise(LSHR, 4);
            IntVector q0 = (IntVector) ByteVector.fromMemorySegment(B, w, p + QS, LE).convertShape(B2I, I, 0);
            IntVector q1 = (IntVector) ByteVector.fromMemorySegment(B, w, p + QS + 16, LE).convertShape(B2I, I, 0);
            IntVector q2 = (IntVector) ByteVector.fromMemorySegment(B, w, p + QS + 32, LE).convertShape(B2I, I, 0);
            IntVector q3 = (IntVector) ByteVector.fromMemorySegment(B, w, p + QS + 48, LE).convertShape(B2I, I, 0);
            int xb = xo + b * QK;
            for (int s = 0; s < 4; s++) {
                int xi = xb + 32 * s;
                int low = 3 << (2 * s);
                int high = 4 << (2 * s);
                // q·4^s: the low bits masked in place, the third (bit s of h) moved to bit 2s+2
                IntVector l0 = q0.and(low).or(h0.lanewise(LSHL, s + 2).and(high));
                IntVector l1 = q1.and(low).or(h1.lanewise(LSHL, s + 2).and(high));
                IntVector l2 = q2.and(low).or(h2.lanewise(LSHL, s + 2).and(high));
                IntVector l3 = q3.and(low).or(h3.lanewise(LSHL, s + 2).and(high));
                a0 = ((FloatVector) l0.convert(I2F, 0)).mul(FloatVector.fromArray(F, x, xi)).fma(FloatVector.broadcast(F, scales[2 * s]), a0);
                a1 = ((FloatVector) l1.convert(I2F, 0)).mul(FloatVector.fromArray(F, x, xi + 16)).fma(FloatVector.broadcast(F, scales[2 * s + 1]), a1);
                a2 = ((FloatVector) l2.convert(I2F, 0)).mul(FloatVector.fromArray(F, x, xi + 128)).fma(FloatVector.broadcast(F, scales[2 * s + 8]), a2);
                a3 = ((FloatVector) l3.convert(I2F, 0)).mul(FloatVector.fromArray(F, x, xi + 144)).fma(FloatVector.broadcast(F, scales[2 * s + 9]), a3);
            }
        }
        return a0.add(a1).add(a2.add(a3)).sub(offsets.mul(4f)).reduceLanes(VectorOperators.ADD);
    }

    /**
     * {@link #dot512} for 256-bit vectors (AVX2): eight quants at a time, from 8-byte loads widened
     * to int lanes, the levels assembled in place as there; the scales unpacked eight at a time,
     * their top bits shifted out of one int read of scales[8..11]. A sub-block's two halves are
     * summed before its scale multiplies them, and the four levels of a qs byte feed four
     * accumulators. The generic {@link #dot}, which shifts and compares levels in byte lanes and
     * unpacks each scale in scalar code, read 0.90 GB/s there (one thread, from memory; this kernel 2.09).
     */
    private static float dot256(MemorySegment w, long o, float[] x, int xo, float[] sums, float[] scales, int blocks) {
        FloatVector a0 = FloatVector.zero(H), a1 = a0, a2 = a0, a3 = a0, offsets = a0;
        for (int b = 0; b < blocks; b++) {
            long p = o + (long) b * BYTES;
            float d = Float.float16ToFloat(w.get(Blocks.I16, p + D));
            signedScales256(w, p, d, scales);
            FloatVector sc0 = FloatVector.fromArray(H, scales, 0);
            FloatVector sc1 = FloatVector.fromArray(H, scales, 8);
            offsets = sc0.fma(FloatVector.fromArray(H, sums, b * 16), offsets);
            offsets = sc1.fma(FloatVector.fromArray(H, sums, b * 16 + 8), offsets);
            sc0.mul(KQuants.QUARTERS_256).intoArray(scales, 0);
            sc1.mul(KQuants.QUARTERS_256).intoArray(scales, 8);
            for (int k = 0; k < 4; k++) {
                // qs[16k ..] holds sub-blocks j, j+2, j+4, j+6 at shifts 0, 2, 4, 6; their third
                // bits are bits 4h .. 4h+3 of hmask[16c ..]
                int h = k >> 1, c = k & 1;
                int j = 8 * h + c;
                int xi = xo + b * QK + 16 * j;
                IntVector q0 = (IntVector) ByteVector.fromMemorySegment(B8, w, p + QS + 16 * k, LE).convertShape(B2I, I8, 0);
                IntVector q1 = (IntVector) ByteVector.fromMemorySegment(B8, w, p + QS + 16 * k + 8, LE).convertShape(B2I, I8, 0);
                IntVector m0 = ((IntVector) ByteVector.fromMemorySegment(B8, w, p + 16 * c, LE).convertShape(B2I, I8, 0)).lanewise(LSHR, 4 * h);
                IntVector m1 = ((IntVector) ByteVector.fromMemorySegment(B8, w, p + 16 * c + 8, LE).convertShape(B2I, I8, 0)).lanewise(LSHR, 4 * h);
                // q·4^s: the low bits masked in place, the third (bit s of m) moved to bit 2s+2
                FloatVector v0 = ((FloatVector) q0.and(0x03).or(m0.lanewise(LSHL, 2).and(0x004)).convert(I2F, 0)).mul(FloatVector.fromArray(H, x, xi));
                FloatVector v1 = ((FloatVector) q0.and(0x0C).or(m0.lanewise(LSHL, 3).and(0x010)).convert(I2F, 0)).mul(FloatVector.fromArray(H, x, xi + 32));
                FloatVector v2 = ((FloatVector) q0.and(0x30).or(m0.lanewise(LSHL, 4).and(0x040)).convert(I2F, 0)).mul(FloatVector.fromArray(H, x, xi + 64));
                FloatVector v3 = ((FloatVector) q0.and(0xC0).or(m0.lanewise(LSHL, 5).and(0x100)).convert(I2F, 0)).mul(FloatVector.fromArray(H, x, xi + 96));
                v0 = ((FloatVector) q1.and(0x03).or(m1.lanewise(LSHL, 2).and(0x004)).convert(I2F, 0)).fma(FloatVector.fromArray(H, x, xi + 8), v0);
                v1 = ((FloatVector) q1.and(0x0C).or(m1.lanewise(LSHL, 3).and(0x010)).convert(I2F, 0)).fma(FloatVector.fromArray(H, x, xi + 40), v1);
                v2 = ((FloatVector) q1.and(0x30).or(m1.lanewise(LSHL, 4).and(0x040)).convert(I2F, 0)).fma(FloatVector.fromArray(H, x, xi + 72), v2);
                v3 = ((FloatVector) q1.and(0xC0).or(m1.lanewise(LSHL, 5).and(0x100)).convert(I2F, 0)).fma(FloatVector.fromArray(H, x, xi + 104), v3);
                a0 = v0.fma(FloatVector.broadcast(H, scales[j]), a0);
                a1 = v1.fma(FloatVector.broadcast(H, scales[j + 2]), a1);
                a2 = v2.fma(FloatVector.broadcast(H, scales[j + 4]), a2);
                a3 = v3.fma(FloatVector.broadcast(H, scales[j + 6]), a3);
            }
        }
        return a0.add(a1).add(a2.add(a3)).sub(offsets.mul(4f)).reduceLanes(VectorOperators.ADD);
    }

    /**
     * (sc − 32)·d for the sixteen sub-blocks of the super-block at p into scales[0..16), eight
     * at a time: the low nibbles widened from scales[0..8), the top bits shifted out of one int
     * read of scales[8..11].
     */
    private static void signedScales256(MemorySegment w, long p, float d, float[] scales) {
        IntVector low = (IntVector) ByteVector.fromMemorySegment(B8, w, p + SCALES, LE).convertShape(ZERO_EXTEND_B2I, I8, 0);
        IntVector top = IntVector.broadcast(I8, w.get(Blocks.I32, p + SCALES + 8)).lanewise(LSHR, TOP_SHIFT);
        ((FloatVector) low.and(0x0F).or(top.and(3).lanewise(LSHL, 4)).sub(32).convert(I2F, 0)).mul(d).intoArray(scales, 0);
        ((FloatVector) low.lanewise(LSHR, 4).or(top.and(0x30)).sub(32).convert(I2F, 0)).mul(d).intoArray(scales, 8);
    }

    @Override
    public void dequantize(MemorySegment w, long byteOffset, float[] out, int outOff, int n) {
        Blocks.requireBlocks(type(), n);
        if (Vec.FL == 16) {
            dequantize512(w, byteOffset, out, outOff, n / QK);
            return;
        }
        if (Vec.FL == 8) {
            dequantize256(w, byteOffset, out, outOff, n / QK);
            return;
        }
        for (int b = 0; b < n / QK; b++) {
            long o = byteOffset + (long) b * BYTES;
            float d = Blocks.f16(w, o + D);
            for (int j = 0; j < 16; j++) {
                Vec.store16(levels(w, o, j), d * scale(w, o + SCALES, j), out, outOff + b * QK + 16 * j);
            }
        }
    }

    /**
     * {@link #dequantize} for 256-bit vectors, decoded as {@link #dot256} decodes: the scales
     * unpacked eight at a time, each level assembled in place (q·4^s) in int lanes and its
     * scale divided by 4^s, both exact, so that every value is still one product d·(sc−32)·(q−4)
     * rounded once, as dequantize_row_q3_K's; the 4 comes off in int lanes, by a subtraction
     * rather than a compare and select. The generic
     * {@link #dequantize}, byte-lane shifts and compares and a scalar scale per sixteen values,
     * read 0.94–0.96 GB/s; this reads 2.00–2.11 (`CpuTimeAB matvec Q3_K 64 2048`, dequant, one
     * thread, Zen 3), and `CpuTimeAB matmul Q3_K 8 100 2048` goes from 18.8–21.6 to 30.6–32.4 GFLOP/s.
     */
    private static void dequantize256(MemorySegment w, long o, float[] out, int yo, int blocks) {
        float[] scales = new float[16];
        MemorySegment row = w.asSlice(o, (long) blocks * BYTES);
        for (int b = 0; b < blocks; b++) {
            long p = (long) b * BYTES;
            int y = yo + b * QK;
            float d = Float.float16ToFloat(row.get(Blocks.I16, p + D));
            signedScales256(row, p, d, scales);
            FloatVector.fromArray(H, scales, 0).mul(KQuants.QUARTERS_256).intoArray(scales, 0);
            FloatVector.fromArray(H, scales, 8).mul(KQuants.QUARTERS_256).intoArray(scales, 8);
            for (int k = 0; k < 4; k++) {
                // qs[16k ..] holds sub-blocks j, j+2, j+4, j+6 at shifts 0, 2, 4, 6; their third
                // bits are bits 4h .. 4h+3 of hmask[16c ..], and (q−4)·4^s is q·4^s less bit s
                // of ~hmask moved to bit 2s+2
                int h = k >> 1, c = k & 1;
                int j = 8 * h + c;
                int yj = y + 16 * j;
                float s0 = scales[j], s1 = scales[j + 2], s2 = scales[j + 4], s3 = scales[j + 6];
                IntVector q0 = (IntVector) ByteVector.fromMemorySegment(B8, row, p + QS + 16 * k, LE).convertShape(ZERO_EXTEND_B2I, I8, 0);
                IntVector q1 = (IntVector) ByteVector.fromMemorySegment(B8, row, p + QS + 16 * k + 8, LE).convertShape(ZERO_EXTEND_B2I, I8, 0);
                IntVector m0 = ((IntVector) ByteVector.fromMemorySegment(B8, row, p + 16 * c, LE).convertShape(ZERO_EXTEND_B2I, I8, 0)).lanewise(LSHR, 4 * h).not();
                IntVector m1 = ((IntVector) ByteVector.fromMemorySegment(B8, row, p + 16 * c + 8, LE).convertShape(ZERO_EXTEND_B2I, I8, 0)).lanewise(LSHR, 4 * h).not();
                ((FloatVector) q0.and(0x03).sub(m0.lanewise(LSHL, 2).and(0x004)).convert(I2F, 0)).mul(s0).intoArray(out, yj);
                ((FloatVector) q1.and(0x03).sub(m1.lanewise(LSHL, 2).and(0x004)).convert(I2F, 0)).mul(s0).intoArray(out, yj + 8);
                ((FloatVector) q0.and(0x0C).sub(m0.lanewise(LSHL, 3).and(0x010)).convert(I2F, 0)).mul(s1).intoArray(out, yj + 32);
                ((FloatVector) q1.and(0x0C).sub(m1.lanewise(LSHL, 3).and(0x010)).convert(I2F, 0)).mul(s1).intoArray(out, yj + 40);
                ((FloatVector) q0.and(0x30).sub(m0.lanewise(LSHL, 4).and(0x040)).convert(I2F, 0)).mul(s2).intoArray(out, yj + 64);
                ((FloatVector) q1.and(0x30).sub(m1.lanewise(LSHL, 4).and(0x040)).convert(I2F, 0)).mul(s2).intoArray(out, yj + 72);
                ((FloatVector) q0.and(0xC0).sub(m0.lanewise(LSHL, 5).and(0x100)).convert(I2F, 0)).mul(s3).intoArray(out, yj + 96);
                ((FloatVector) q1.and(0xC0).sub(m1.lanewise(LSHL, 5).and(0x100)).convert(I2F, 0)).mul(s3).intoArray(out, yj + 104);
            }
        }
    }

    /**
     * {@link #dequantize256} on 512-bit vectors: sixteen levels at a time, the sixteen signed scales
     * (with their 4^−s) unpacked at once as {@link #dot512} unpacks them. The generic loop read
     * 1.4 GB/s here, and batches of tokens decode every weight through it (docs/PERFORMANCE.md,
     * twenty-eighth session).
     */
    private static void dequantize512(MemorySegment w, long o, float[] out, int yo, int blocks) {
        float[] scales = new float[16];
        MemorySegment row = w.asSlice(o, (long) blocks * BYTES);
        for (int b = 0; b < blocks; b++) {
            long p = (long) b * BYTES;
            int y = yo + b * QK;
            float d = Float.float16ToFloat(row.get(Blocks.I16, p + D));
            ByteVector sb = ByteVector.fromMemorySegment(B, row, p + SCALES - 2, LE);
            IntVector lo = (IntVector) sb.rearrange(P_BYTES).convertShape(ZERO_EXTEND_B2I, I, 0);
            IntVector hi = (IntVector) sb.rearrange(Q_BYTES).convertShape(ZERO_EXTEND_B2I, I, 0);
            IntVector sc = lo.lanewise(LSHR, P_SHIFT).and(0x0F).or(hi.lanewise(LSHR, Q_SHIFT).and(3).lanewise(LSHL, 4));
            ((FloatVector) sc.sub(32).convert(I2F, 0)).mul(d).mul(KQuants.QUARTERS).intoArray(scales, 0);
            for (int k = 0; k < 4; k++) {
                // as dequantize256: (q−4)·4^s is q·4^s less bit s of ~hmask moved to bit 2s+2
                int h = k >> 1, c = k & 1;
                int j = 8 * h + c;
                int yj = y + 16 * j;
                float s0 = scales[j], s1 = scales[j + 2], s2 = scales[j + 4], s3 = scales[j + 6];
                IntVector q = (IntVector) ByteVector.fromMemorySegment(B, row, p + QS + 16 * k, LE).convertShape(ZERO_EXTEND_B2I, I, 0);
                IntVector m = ((IntVector) ByteVector.fromMemorySegment(B, row, p + 16 * c, LE).convertShape(ZERO_EXTEND_B2I, I, 0))
                        .lanewise(LSHR, 4 * h).not();
                ((FloatVector) q.and(0x03).sub(m.lanewise(LSHL, 2).and(0x004)).convert(I2F, 0)).mul(s0).intoArray(out, yj);
                ((FloatVector) q.and(0x0C).sub(m.lanewise(LSHL, 3).and(0x010)).convert(I2F, 0)).mul(s1).intoArray(out, yj + 32);
                ((FloatVector) q.and(0x30).sub(m.lanewise(LSHL, 4).and(0x040)).convert(I2F, 0)).mul(s2).intoArray(out, yj + 64);
                ((FloatVector) q.and(0xC0).sub(m.lanewise(LSHL, 5).and(0x100)).convert(I2F, 0)).mul(s3).intoArray(out, yj + 96);
            }
        }
    }

    /**
     * quantize_row_q3_K_ref: make_q3_quants per 16 values (nmax 4, x²-weighted), the scales to
     * 6 bits against the one of largest magnitude, the levels found again with the stored scales.
     */
    @Override
    public void quantize(float[] src, int srcOff, int n, MemorySegment dst, long dstOff) {
        quantize(src, srcOff, n, dst, dstOff, null);
    }

    /**
     * quantize_row_q3_K_impl when given an importance row (the scales searched as {@link
     * #weightedScales} does), else quantize_row_q3_K_ref, as ggml_quantize_chunk chooses.
     */
    @Override
    public void quantize(float[] src, int srcOff, int n, MemorySegment dst, long dstOff, float[] importance) {
        Blocks.requireBlocks(type(), n);
        byte[] L = new byte[QK];
        byte[] block = new byte[BYTES];
        for (int b = 0; b < n / QK; b++) {
            int xo = srcOff + b * QK;
            long o = dstOff + (long) b * BYTES;
            java.util.Arrays.fill(block, (byte) 0);
            short dBits = importance == null ? referenceScales(src, xo, L, block) : weightedScales(src, xo, importance, b * QK, L, block);
            float d0 = Float.float16ToFloat(dBits);
            for (int j = 0; j < QK / 16; ++j) {
                int low = j < 8 ? block[SCALES + j] & 0xF : (block[SCALES + j - 8] & 0xFF) >> 4;
                int sc = (low | ((block[SCALES + 8 + j % 4] >> (2 * (j / 4))) & 3) << 4) - 32;
                float d = d0 * sc;
                if (d == 0) {
                    continue;
                }
                for (int ii = 0; ii < 16; ++ii) {
                    int l = Blocks.nearestInt(src[xo + 16 * j + ii] / d);
                    L[16 * j + ii] = (byte) (Math.max(-4, Math.min(3, l)) + 4);
                }
            }
            int m = 0;
            int hm = 1;
            for (int j = 0; j < QK; ++j) {
                if (L[j] > 3) {
                    block[m] |= (byte) hm;
                    L[j] -= 4;
                }
                if (++m == QK / 8) {
                    m = 0;
                    hm <<= 1;
                }
            }
            for (int j = 0; j < QK; j += 128) {
                for (int l = 0; l < 32; ++l) {
                    block[QS + j / 4 + l] = (byte) (L[j + l] | (L[j + l + 32] << 2) | (L[j + l + 64] << 4) | (L[j + l + 96] << 6));
                }
            }
            block[D] = (byte) dBits;
            block[D + 1] = (byte) (dBits >> 8);
            MemorySegment.copy(block, 0, dst, Blocks.I8, o, BYTES);
        }
    }

    /**
     * quantize_row_q3_K_ref's scales: make_q3_quants per sub-block, then 6-bit codes against the
     * scale of largest magnitude. Writes the codes and the sub-blocks' levels; returns fp16 d.
     */
    private static short referenceScales(float[] x, int xo, byte[] L, byte[] block) {
        float[] scales = new float[QK / 16];
        float maxScale = 0;
        float amax = 0;
        for (int j = 0; j < QK / 16; ++j) {
            scales[j] = KQuants.makeQ3Quants(16, 4, x, xo + 16 * j, L, 16 * j);
            float scale = Math.abs(scales[j]);
            if (scale > amax) {
                amax = scale;
                maxScale = scales[j];
            }
        }
        if (maxScale == 0) {
            return 0;
        }
        float iscale = -32.f / maxScale;
        for (int j = 0; j < QK / 16; ++j) {
            putScale(block, j, Math.max(-32, Math.min(31, (byte) Blocks.nearestInt(iscale * scales[j]))) + 32);
        }
        return Blocks.toF16(1 / iscale);
    }

    /**
     * quantize_row_q3_K_impl's scales: value weights importance·sqrt(σ² + x²) with σ² = 2·mean x²
     * over the super-block, make_qx_quants per sub-block with them, and make_qx_quants again for
     * the 6-bit codes, each scale weighted by its sub-block's total weight. Writes the codes and
     * the sub-blocks' levels; returns fp16 d.
     */
    private static short weightedScales(float[] x, int xo, float[] importance, int wo, byte[] L, byte[] block) {
        float[] scales = new float[QK / 16];
        float[] weight = new float[16];
        float[] sw = new float[QK / 16];
        float sigma2 = 2 * KQuants.sumOfSquares(x, xo, QK) / QK;
        for (int j = 0; j < QK / 16; ++j) {
            sw[j] = KQuants.importanceWeights(x, xo + 16 * j, 16, importance, wo + 16 * j, sigma2, weight);
            scales[j] = KQuants.makeQxQuants(16, 4, x, xo + 16 * j, weight, 0, L, 16 * j);
        }
        byte[] codes = new byte[QK / 16];
        float dBlock = KQuants.makeQxQuants(QK / 16, 32, scales, 0, sw, 0, codes, 0);
        for (int j = 0; j < QK / 16; ++j) {
            putScale(block, j, codes[j]);
        }
        return Blocks.toF16(dBlock);
    }

    /** Stores sub-block j's 6-bit scale code: low four bits in a nibble, top two in scales[8 + j mod 4]. */
    private static void putScale(byte[] block, int j, int l) {
        if (j < 8) {
            block[SCALES + j] = (byte) (l & 0xF);
        } else {
            block[SCALES + j - 8] |= (byte) ((l & 0xF) << 4);
        }
        block[SCALES + 8 + j % 4] |= (byte) ((l >> 4) << (2 * (j / 4)));
    }
}
