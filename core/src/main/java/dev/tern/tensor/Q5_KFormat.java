package dev.tern.tensor;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

import static jdk.incubator.vector.VectorOperators.ASHR;
import static jdk.incubator.vector.VectorOperators.B2I;
import static jdk.incubator.vector.VectorOperators.I2F;
import static jdk.incubator.vector.VectorOperators.LSHL;
import static jdk.incubator.vector.VectorOperators.LSHR;
import static jdk.incubator.vector.VectorOperators.ZERO_EXTEND_B2I;

/**
 * Q5_K: Q4_K with a fifth bit per value (176 bytes: fp16 d, fp16 dmin, scales[12], qh[32],
 * qs[128]; bit 2c of qh[l] is the fifth bit of value l of sub-block 2c, bit 2c+1 of 2c+1).
 */
public final class Q5_KFormat implements TensorFormat {
    public static final Q5_KFormat INSTANCE = new Q5_KFormat();
    private static final int QK = KQuants.QK_K;
    private static final int BYTES = 176;
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_512;
    private static final VectorSpecies<Integer> I = IntVector.SPECIES_512;
    private static final VectorSpecies<Byte> B = ByteVector.SPECIES_128;
    private static final VectorSpecies<Float> H = FloatVector.SPECIES_256;
    private static final VectorSpecies<Integer> I8 = IntVector.SPECIES_256;
    private static final VectorSpecies<Byte> B8 = ByteVector.SPECIES_64;
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

    private Q5_KFormat() {
    }

    /** With 512-bit vectors its own kernel in tile order ({@link #dotTileOrder512}), else each row decoded. */
    @Override
    public TensorFormat inTileOrder() {
        return Vec.FL == 16 ? TileOrderFormat.of(this, Q5_KFormat::dotTileOrder512) : TileOrderFormat.of(this);
    }

    @Override
    public GGMLType type() {
        return GGMLType.Q5_K;
    }

    @Override
    public float dot(MemorySegment w, long byteOffset, float[] x, int xOff, int n) {
        Blocks.requireBlocks(type(), n);
        if (Vec.FL == 8) {
            return dot256(w, byteOffset, x, xOff, RowsWithSums.sums(x, xOff, n, 32), RowsWithSums.scales(), n / QK);
        }
        if (Vec.FL == 16) {
            return dot512(w, byteOffset, x, xOff, RowsWithSums.sums(x, xOff, n, 32), RowsWithSums.scales(), n / QK);
        }
        FloatVector acc = FloatVector.zero(Vec.F);
        for (int b = 0; b < n / QK; b++) {
            long o = byteOffset + (long) b * BYTES;
            float d = Blocks.f16(w, o);
            float dmin = Blocks.f16(w, o + 2);
            ByteVector qh0 = Vec.load16(w, o + 16);
            ByteVector qh1 = Vec.load16(w, o + 32);
            for (int c = 0; c < 4; c++) {
                int xo = xOff + b * QK + 64 * c;
                byte u1 = (byte) (1 << (2 * c));
                byte u2 = (byte) (2 << (2 * c));
                ByteVector q0 = Vec.load16(w, o + 48 + 32 * c);
                ByteVector q1 = Vec.load16(w, o + 64 + 32 * c);
                ByteVector l0 = q0.and((byte) 0x0F).add((byte) 16, bitSet(qh0, u1));
                ByteVector l1 = q1.and((byte) 0x0F).add((byte) 16, bitSet(qh1, u1));
                ByteVector h0 = q0.lanewise(VectorOperators.LSHR, 4).add((byte) 16, bitSet(qh0, u2));
                ByteVector h1 = q1.lanewise(VectorOperators.LSHR, 4).add((byte) 16, bitSet(qh1, u2));
                FloatVector lo = Vec.fma16(l1, x, xo + 16, Vec.fma16(l0, x, xo, FloatVector.zero(Vec.F)));
                FloatVector hi = Vec.fma16(h1, x, xo + 48, Vec.fma16(h0, x, xo + 32, FloatVector.zero(Vec.F)));
                FloatVector xlo = Vec.sum16(x, xo + 16, Vec.sum16(x, xo, FloatVector.zero(Vec.F)));
                FloatVector xhi = Vec.sum16(x, xo + 48, Vec.sum16(x, xo + 32, FloatVector.zero(Vec.F)));
                acc = Vec.fmaScaled(lo, d * KQuants.scaleK4(w, o + 4, 2 * c), acc);
                acc = Vec.fmaScaled(xlo, -(dmin * KQuants.minK4(w, o + 4, 2 * c)), acc);
                acc = Vec.fmaScaled(hi, d * KQuants.scaleK4(w, o + 4, 2 * c + 1), acc);
                acc = Vec.fmaScaled(xhi, -(dmin * KQuants.minK4(w, o + 4, 2 * c + 1)), acc);
            }
        }
        return acc.reduceLanes(VectorOperators.ADD);
    }

    /** Every row shares one pass over x for the sub-block sums that carry the mins. */
    @Override
    public void dotRows(MemorySegment w, long byteOffset, long rowBytes, int rows, float[] x, int xOff, int n,
                        float[] out, int outOff) {
        RowsWithSums.dotRows(this, Q5_KFormat::dot512, Q5_KFormat::dot256, 32, w, byteOffset, rowBytes, rows, x, xOff, n, out, outOff);
    }

    @Override
    public void dotRowsFour(MemorySegment w, long[] offsets, long rowBytes, int rows, float[] x, int xOff, int n,
                            float[] out, int[] outs) {
        RowsWithSums.dotRowsFour(this, Q5_KFormat::dot512, Q5_KFormat::dot256, 32, w, offsets, rowBytes, rows, x, xOff, n, out, outs);
    }

    /**
     * The one-token product in tile order: the weights as {@link #dequantize512} decodes them, each
     * multiplied-added with x in column order; the lanes' sum plus the tiles' empty scalar tail (+0,
     * which turns a −0 sum into +0 as theirs does).
     */
    private static float dotTileOrder512(MemorySegment w, long o, float[] x, int xo, int blocks) {
        MemorySegment row = w.asSlice(o, (long) blocks * BYTES);
        float[] sm = new float[16];
        FloatVector acc = FloatVector.zero(F);
        for (int b = 0; b < blocks; b++) {
            long p = (long) b * BYTES;
            KQuants.scalesMinsK4(row, p).intoArray(sm, 0);
            IntVector qh0 = widened(row, p + 16), qh1 = widened(row, p + 32);
            for (int c = 0; c < 4; c++) {
                float d1 = sm[2 * c], m1 = sm[8 + 2 * c], d2 = sm[2 * c + 1], m2 = sm[9 + 2 * c];
                int xi = xo + b * QK + 64 * c;
                IntVector q0 = widened(row, p + 48 + 32 * c), q1 = widened(row, p + 64 + 32 * c);
                IntVector l0 = q0.and(0x0F).or(qh0.lanewise(LSHR, 2 * c).and(1).lanewise(LSHL, 4));
                IntVector l1 = q1.and(0x0F).or(qh1.lanewise(LSHR, 2 * c).and(1).lanewise(LSHL, 4));
                IntVector h0 = q0.lanewise(LSHR, 4).or(qh0.lanewise(LSHR, 2 * c + 1).and(1).lanewise(LSHL, 4));
                IntVector h1 = q1.lanewise(LSHR, 4).or(qh1.lanewise(LSHR, 2 * c + 1).and(1).lanewise(LSHL, 4));
                acc = ((FloatVector) l0.convert(I2F, 0)).mul(d1).sub(m1).fma(FloatVector.fromArray(F, x, xi), acc);
                acc = ((FloatVector) l1.convert(I2F, 0)).mul(d1).sub(m1).fma(FloatVector.fromArray(F, x, xi + 16), acc);
                acc = ((FloatVector) h0.convert(I2F, 0)).mul(d2).sub(m2).fma(FloatVector.fromArray(F, x, xi + 32), acc);
                acc = ((FloatVector) h1.convert(I2F, 0)).mul(d2).sub(m2).fma(FloatVector.fromArray(F, x, xi + 48), acc);
            }
        }
        return acc.reduceLanes(VectorOperators.ADD) + 0f;
    }

    /** Sixteen stored bytes at o widened without sign to int lanes (512-bit vectors only). */
    private static IntVector widened(MemorySegment row, long o) {
        return (IntVector) ByteVector.fromMemorySegment(B, row, o, LE).convertShape(ZERO_EXTEND_B2I, I, 0);
    }

    /**
     * The 512-bit kernel, written out in full and lean as Q4_K's (the generic one above exceeds
     * the JIT's inlining budget and boxes its vectors): the levels, with their fifth bit, are
     * assembled in int lanes; a super-block's scales and mins are unpacked at once
     * ({@link KQuants#scalesMinsK4}), the scales broadcast from a store of them (as Q4_K's), and
     * the mins meet the precomputed sums of x.
     */
    private static float dot512(MemorySegment w, long o, float[] x, int xo, float[] sums, float[] scales, int blocks) {
        FloatVector acc = FloatVector.zero(F), mins = FloatVector.zero(H);
        for (int b = 0; b < blocks; b++) {
            long p = o + (long) b * BYTES;
            FloatVector sm = KQuants.scalesMinsK4(w, p);
            mins = ((FloatVector) sm.reinterpretShape(H, 1)).fma(FloatVector.fromArray(H, sums, b * 8), mins);
            sm.intoArray(scales, 0);
            IntVector qh0 = (IntVector) ByteVector.fromMemorySegment(B, w, p + 16, LE).convertShape(B2I, I, 0);
            IntVector qh1 = (IntVector) ByteVector.fromMemorySegment(B, w, p + 32, LE).convertShape(B2I, I, 0);
            for (int c = 0; c < 4; c++) {
                int xi = xo + b * QK + 64 * c;
                IntVector q0 = (IntVector) ByteVector.fromMemorySegment(B, w, p + 48 + 32 * c, LE).convertShape(B2I, I, 0);
                IntVector q1 = (IntVector) ByteVector.fromMemorySegment(B, w, p + 64 + 32 * c, LE).convertShape(B2I, I, 0);
                IntVector l0 = q0.and(0x0F).or(qh0.lanewise(ASHR, 2 * c).and(1).lanewise(LSHL, 4));
                IntVector l1 = q1.and(0x0F).or(qh1.lanewise(ASHR, 2 * c).and(1).lanewise(LSHL, 4));
                IntVector h0 = q0.lanewise(ASHR, 4).and(0x0F).or(qh0.lanewise(ASHR, 2 * c + 1).and(1).lanewise(LSHL, 4));
                IntVector h1 = q1.lanewise(ASHR, 4).and(0x0F).or(qh1.lanewise(ASHR, 2 * c + 1).and(1).lanewise(LSHL, 4));
                FloatVector lo = ((FloatVector) l0.convert(I2F, 0)).mul(FloatVector.fromArray(F, x, xi));
                lo = ((FloatVector) l1.convert(I2F, 0)).fma(FloatVector.fromArray(F, x, xi + 16), lo);
                FloatVector hi = ((FloatVector) h0.convert(I2F, 0)).mul(FloatVector.fromArray(F, x, xi + 32));
                hi = ((FloatVector) h1.convert(I2F, 0)).fma(FloatVector.fromArray(F, x, xi + 48), hi);
                acc = lo.fma(FloatVector.broadcast(F, scales[2 * c]), acc);
                acc = hi.fma(FloatVector.broadcast(F, scales[2 * c + 1]), acc);
            }
        }
        return acc.reduceLanes(VectorOperators.ADD) - mins.reduceLanes(VectorOperators.ADD);
    }

    /**
     * {@link #dot512} for 256-bit vectors (AVX2): eight quants at a time, from 8-byte loads widened
     * to int lanes; a super-block's scales and the mins' share unpacked eight at a time. The generic
     * {@link #dot} passes C2's inlining budget there and boxes its vectors.
     */
    private static float dot256(MemorySegment w, long o, float[] x, int xo, float[] sums, float[] scales, int blocks) {
        FloatVector acc = FloatVector.zero(H), mins = acc;
        for (int b = 0; b < blocks; b++) {
            long p = o + (long) b * BYTES;
            float d = Float.float16ToFloat(w.get(Blocks.I16, p));
            float dmin = Float.float16ToFloat(w.get(Blocks.I16, p + 2));
            KQuants.scalesAndMinShareK4(w, p + 4, d, dmin, sums, b * 8, scales);
            mins = mins.add(FloatVector.fromArray(H, scales, 8));
            for (int c = 0; c < 4; c++) {
                int xi = xo + b * QK + 64 * c;
                FloatVector lo = FloatVector.zero(H), hi = lo;
                for (int e = 0; e < 32; e += 8) {
                    IntVector qh = (IntVector) ByteVector.fromMemorySegment(B8, w, p + 16 + e, LE).convertShape(B2I, I8, 0);
                    IntVector q = (IntVector) ByteVector.fromMemorySegment(B8, w, p + 48 + 32 * c + e, LE).convertShape(B2I, I8, 0);
                    IntVector l = q.and(0x0F).or(qh.lanewise(ASHR, 2 * c).and(1).lanewise(LSHL, 4));
                    IntVector h = q.lanewise(ASHR, 4).and(0x0F).or(qh.lanewise(ASHR, 2 * c + 1).and(1).lanewise(LSHL, 4));
                    lo = ((FloatVector) l.convert(I2F, 0)).fma(FloatVector.fromArray(H, x, xi + e), lo);
                    hi = ((FloatVector) h.convert(I2F, 0)).fma(FloatVector.fromArray(H, x, xi + 32 + e), hi);
                }
                acc = lo.fma(FloatVector.broadcast(H, scales[2 * c]), acc);
                acc = hi.fma(FloatVector.broadcast(H, scales[2 * c + 1]), acc);
            }
        }
        return acc.reduceLanes(VectorOperators.ADD) - mins.reduceLanes(VectorOperators.ADD);
    }

    private static VectorMask<Byte> bitSet(ByteVector qh, byte bit) {
        return qh.and(bit).compare(VectorOperators.NE, (byte) 0);
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
            float d = Blocks.f16(w, o);
            float min = Blocks.f16(w, o + 2);
            ByteVector qh0 = Vec.load16(w, o + 16);
            ByteVector qh1 = Vec.load16(w, o + 32);
            for (int c = 0; c < 4; c++) {
                int y = outOff + b * QK + 64 * c;
                float d1 = d * KQuants.scaleK4(w, o + 4, 2 * c);
                float m1 = min * KQuants.minK4(w, o + 4, 2 * c);
                float d2 = d * KQuants.scaleK4(w, o + 4, 2 * c + 1);
                float m2 = min * KQuants.minK4(w, o + 4, 2 * c + 1);
                byte u1 = (byte) (1 << (2 * c));
                byte u2 = (byte) (2 << (2 * c));
                ByteVector q0 = Vec.load16(w, o + 48 + 32 * c);
                ByteVector q1 = Vec.load16(w, o + 64 + 32 * c);
                Vec.store16(q0.and((byte) 0x0F).add((byte) 16, bitSet(qh0, u1)), d1, -m1, out, y);
                Vec.store16(q1.and((byte) 0x0F).add((byte) 16, bitSet(qh1, u1)), d1, -m1, out, y + 16);
                Vec.store16(q0.lanewise(VectorOperators.LSHR, 4).add((byte) 16, bitSet(qh0, u2)), d2, -m2, out, y + 32);
                Vec.store16(q1.lanewise(VectorOperators.LSHR, 4).add((byte) 16, bitSet(qh1, u2)), d2, -m2, out, y + 48);
            }
        }
    }

    /**
     * {@link #dequantize256} on 512-bit vectors: sixteen quants at a time, a super-block's scales and
     * mins unpacked at once as Q4_K's. The generic loop's byte-lane shifts and masked adds ran at a
     * sixth of the dot product's speed, and batches of tokens decode every weight through it
     * (docs/PERFORMANCE.md, twenty-eighth session).
     */
    private static void dequantize512(MemorySegment w, long o, float[] out, int outOff, int blocks) {
        MemorySegment row = w.asSlice(o, (long) blocks * BYTES);
        float[] sm = new float[16];
        for (int b = 0; b < blocks; b++) {
            long p = (long) b * BYTES;
            KQuants.scalesMinsK4(row, p).intoArray(sm, 0);
            for (int c = 0; c < 4; c++) {
                float d1 = sm[2 * c], m1 = sm[8 + 2 * c], d2 = sm[2 * c + 1], m2 = sm[9 + 2 * c];
                int y = outOff + b * QK + 64 * c;
                for (int e = 0; e < 32; e += 16) {
                    IntVector qh = (IntVector) ByteVector.fromMemorySegment(B, row, p + 16 + e, LE).convertShape(ZERO_EXTEND_B2I, I, 0);
                    IntVector q = (IntVector) ByteVector.fromMemorySegment(B, row, p + 48 + 32 * c + e, LE).convertShape(ZERO_EXTEND_B2I, I, 0);
                    IntVector l = q.and(0x0F).or(qh.lanewise(LSHR, 2 * c).and(1).lanewise(LSHL, 4));
                    IntVector h = q.lanewise(LSHR, 4).or(qh.lanewise(LSHR, 2 * c + 1).and(1).lanewise(LSHL, 4));
                    ((FloatVector) l.convert(I2F, 0)).mul(d1).sub(m1).intoArray(out, y + e);
                    ((FloatVector) h.convert(I2F, 0)).mul(d2).sub(m2).intoArray(out, y + 32 + e);
                }
            }
        }
    }

    /**
     * {@link #dequantize} for 256-bit vectors (AVX2), as {@link #dot256}: eight quants at a time,
     * from 8-byte loads widened to int lanes, the row read through a slice of its own; the generic
     * loop's 16-quant helpers of {@link Vec} (byte-lane shifts, masked adds for the fifth bit) ran
     * at a fifth of the dot product's speed. Each value is d1·q − m1, a product then a difference,
     * as ggml's dequantize_row_q5_K rounds it. The loop over a sub-block pair's 32 bytes is the
     * inner one, under its scales and mins, which are unpacked eight at a time as Q4_K's (one flat
     * loop over the sixteen groups of eight bytes ran at 1.6 GB/s). `CpuTimeAB matvec Q5_K 64
     * 2048`, "dequant", one thread: 0.38–0.50 → 1.8–2.2 GB/s (2.2–2.3 with the codes unpacked eight
     * at a time); `matmul Q5_K 8 100 2048`, "tiled": 9.2–10.4 → 25–26 GFLOP/s.
     */
    private static void dequantize256(MemorySegment w, long o, float[] out, int outOff, int blocks) {
        MemorySegment row = w.asSlice(o, (long) blocks * BYTES);
        for (int b = 0; b < blocks; b++) {
            long p = (long) b * BYTES;
            float d = Float.float16ToFloat(row.get(Blocks.I16, p));
            float dmin = Float.float16ToFloat(row.get(Blocks.I16, p + 2));
            long sc = KQuants.scaleCodesK4(row, p + 4), mn = KQuants.minCodesK4(row, p + 4);
            for (int c = 0; c < 4; c++) {
                float d1 = d * (int) (sc >>> 16 * c & 0xFF), m1 = dmin * (int) (mn >>> 16 * c & 0xFF);
                float d2 = d * (int) (sc >>> 16 * c + 8 & 0xFF), m2 = dmin * (int) (mn >>> 16 * c + 8 & 0xFF);
                int y = outOff + b * QK + 64 * c;
                for (int e = 0; e < 32; e += 8) {
                    IntVector qh = (IntVector) ByteVector.fromMemorySegment(B8, row, p + 16 + e, LE).convertShape(ZERO_EXTEND_B2I, I8, 0);
                    IntVector q = (IntVector) ByteVector.fromMemorySegment(B8, row, p + 48 + 32 * c + e, LE).convertShape(ZERO_EXTEND_B2I, I8, 0);
                    IntVector l = q.and(0x0F).or(qh.lanewise(LSHR, 2 * c).and(1).lanewise(LSHL, 4));
                    IntVector h = q.lanewise(LSHR, 4).or(qh.lanewise(LSHR, 2 * c + 1).and(1).lanewise(LSHL, 4));
                    ((FloatVector) l.convert(I2F, 0)).mul(d1).sub(m1).intoArray(out, y + e);
                    ((FloatVector) h.convert(I2F, 0)).mul(d2).sub(m2).intoArray(out, y + 32 + e);
                }
            }
        }
    }

    /** quantize_row_q5_K_ref: make_qkx2_quants per sub-block (nmax 31, 16 trial scales). */
    @Override
    public void quantize(float[] src, int srcOff, int n, MemorySegment dst, long dstOff) {
        quantize(src, srcOff, n, dst, dstOff, null);
    }

    /**
     * quantize_row_q5_K_impl when given an importance row (make_qkx3_quants per sub-block,
     * make_qp_quants for the scales), else quantize_row_q5_K_ref, as ggml_quantize_chunk chooses.
     */
    @Override
    public void quantize(float[] src, int srcOff, int n, MemorySegment dst, long dstOff, float[] importance) {
        Blocks.requireBlocks(type(), n);
        byte[] L = new byte[QK];
        for (int b = 0; b < n / QK; b++) {
            long o = dstOff + (long) b * BYTES;
            if (importance == null) {
                KQuants.quantizeScalesMinsK4(src, srcOff + b * QK, 31, -0.5f, 0.1f, 15, dst, o, o + 4, L);
            } else {
                KQuants.quantizeScalesMinsK4(src, srcOff + b * QK, importance, b * QK, 31, true, dst, o, o + 4, L);
            }
            byte[] qh = new byte[32];
            int m1 = 1;
            int m2 = 2;
            for (int c = 0; c < QK; c += 64) {
                for (int j = 0; j < 32; j++) {
                    int l1 = L[c + j];
                    if (l1 > 15) {
                        l1 -= 16;
                        qh[j] |= (byte) m1;
                    }
                    int l2 = L[c + j + 32];
                    if (l2 > 15) {
                        l2 -= 16;
                        qh[j] |= (byte) m2;
                    }
                    dst.set(Blocks.I8, o + 48 + c / 2 + j, (byte) (l1 | (l2 << 4)));
                }
                m1 <<= 2;
                m2 <<= 2;
            }
            MemorySegment.copy(qh, 0, dst, Blocks.I8, o + 16, 32);
        }
    }
}
