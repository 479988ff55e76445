package dev.tern.tensor;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

import static jdk.incubator.vector.VectorOperators.B2I;
import static jdk.incubator.vector.VectorOperators.I2F;
import static jdk.incubator.vector.VectorOperators.LSHR;
import static jdk.incubator.vector.VectorOperators.ZERO_EXTEND_B2I;

/**
 * Q4_K: super-blocks of 256 values in 8 sub-blocks of 32, each with a 6-bit scale and min;
 * value = d·sc·q - dmin·m (144 bytes: fp16 d, fp16 dmin, scales[12], qs[128]; each 32 bytes of
 * qs hold sub-block 2c in low nibbles and 2c+1 in high nibbles).
 */
public final class Q4_KFormat implements TensorFormat {
    public static final Q4_KFormat INSTANCE = new Q4_KFormat();
    private static final int QK = KQuants.QK_K;
    private static final int BYTES = 144;
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_512;
    private static final VectorSpecies<Integer> I = IntVector.SPECIES_512;
    private static final VectorSpecies<Byte> B = ByteVector.SPECIES_128;
    private static final VectorSpecies<Float> H = FloatVector.SPECIES_256;
    private static final VectorSpecies<Integer> I8 = IntVector.SPECIES_256;
    private static final VectorSpecies<Byte> B8 = ByteVector.SPECIES_64;
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

    private Q4_KFormat() {
    }

    /** With 512-bit vectors its own kernel in tile order ({@link #dotTileOrder512}), else each row decoded. */
    @Override
    public TensorFormat inTileOrder() {
        return Vec.FL == 16 ? TileOrderFormat.of(this, Q4_KFormat::dotTileOrder512) : TileOrderFormat.of(this);
    }

    @Override
    public GGMLType type() {
        return GGMLType.Q4_K;
    }

    @Override
    public float dot(MemorySegment w, long byteOffset, float[] x, int xOff, int n) {
        Blocks.requireBlocks(type(), n);
        if (Vec.FL == 16) {
            return dot512(w, byteOffset, x, xOff, RowsWithSums.sums(x, xOff, n, 32), RowsWithSums.scales(), n / QK);
        }
        if (Vec.FL == 8) {
            return dot256(w, byteOffset, x, xOff, RowsWithSums.sums(x, xOff, n, 32), RowsWithSums.scales(), n / QK);
        }
        FloatVector acc = FloatVector.zero(Vec.F);
        for (int b = 0; b < n / QK; b++) {
            long o = byteOffset + (long) b * BYTES;
            float d = Blocks.f16(w, o);
            float dmin = Blocks.f16(w, o + 2);
            for (int c = 0; c < 4; c++) {
                int xo = xOff + b * QK + 64 * c;
                ByteVector q0 = Vec.load16(w, o + 16 + 32 * c);
                ByteVector q1 = Vec.load16(w, o + 32 + 32 * c);
                FloatVector lo = Vec.fma16(q0.and((byte) 0x0F), x, xo, FloatVector.zero(Vec.F));
                lo = Vec.fma16(q1.and((byte) 0x0F), x, xo + 16, lo);
                FloatVector hi = Vec.fma16(q0.lanewise(VectorOperators.LSHR, 4), x, xo + 32, FloatVector.zero(Vec.F));
                hi = Vec.fma16(q1.lanewise(VectorOperators.LSHR, 4), x, xo + 48, hi);
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
        RowsWithSums.dotRows(this, Q4_KFormat::dot512, Q4_KFormat::dot256, 32, w, byteOffset, rowBytes, rows, x, xOff, n, out, outOff);
    }

    @Override
    public void dotRowsFour(MemorySegment w, long[] offsets, long rowBytes, int rows, float[] x, int xOff, int n,
                            float[] out, int[] outs) {
        RowsWithSums.dotRowsFour(this, Q4_KFormat::dot512, Q4_KFormat::dot256, 32, w, offsets, rowBytes, rows, x, xOff, n, out, outs);
    }

    /**
     * The 512-bit kernel, written out in full and lean: a kernel whose inlined vector code grows
     * past the JIT's node budget gets its vectors boxed (the generic one above ran a 1B Q4_K model
     * at under one token per second). Σ (d·sc·q − dmin·m)·x = d·sc·Σ q·x − dmin·m·Σ x: the nibbles
     * split in int lanes (byte-lane shifts cost several instructions on x86), the mins meet the
     * precomputed sums of x. Each super-block's eight 6-bit scales and eight mins are unpacked
     * at once, by two byte shuffles into sixteen int lanes; picking them bit by bit in scalar
     * code took as long as the vector work (Zen 4, one thread: 4.1–4.4 → 4.9–5.6 GB/s). The
     * kernel is bound by the shuffle unit (the widening is a shuffle too), so each sub-block's
     * scale is broadcast from a store of the sixteen, a load, not picked out of the vector by a
     * permute (one thread, from memory: 4.8 → 5.5 GB/s).
     */
    private static float dot512(MemorySegment w, long o, float[] x, int xo, float[] sums, float[] scales, int blocks) {
        FloatVector acc = FloatVector.zero(F), mins = FloatVector.zero(H);
        for (int b = 0; b < blocks; b++) {
            long p = o + (long) b * BYTES;
            FloatVector sm = KQuants.scalesMinsK4(w, p);
            mins = ((FloatVector) sm.reinterpretShape(H, 1)).fma(FloatVector.fromArray(H, sums, b * 8), mins);
            sm.intoArray(scales, 0);
            for (int c = 0; c < 4; c++) {
                int xi = xo + b * QK + 64 * c;
                IntVector q0 = (IntVector) ByteVector.fromMemorySegment(B, w, p + 16 + 32 * c, LE).convertShape(B2I, I, 0);
                IntVector q1 = (IntVector) ByteVector.fromMemorySegment(B, w, p + 32 + 32 * c, LE).convertShape(B2I, I, 0);
                FloatVector lo = ((FloatVector) q0.and(0x0F).convert(I2F, 0)).mul(FloatVector.fromArray(F, x, xi));
                lo = ((FloatVector) q1.and(0x0F).convert(I2F, 0)).fma(FloatVector.fromArray(F, x, xi + 16), lo);
                FloatVector hi = ((FloatVector) q0.lanewise(LSHR, 4).and(0x0F).convert(I2F, 0)).mul(FloatVector.fromArray(F, x, xi + 32));
                hi = ((FloatVector) q1.lanewise(LSHR, 4).and(0x0F).convert(I2F, 0)).fma(FloatVector.fromArray(F, x, xi + 48), hi);
                acc = lo.fma(FloatVector.broadcast(F, scales[2 * c]), acc);
                acc = hi.fma(FloatVector.broadcast(F, scales[2 * c + 1]), acc);
            }
        }
        return acc.reduceLanes(VectorOperators.ADD) - mins.reduceLanes(VectorOperators.ADD);
    }

    /**
     * {@link #dot512} in tile order: the weights as {@link #dequantize512} decodes them, each
     * multiplied-added with x in column order; the lanes' sum plus the tiles' empty scalar tail
     * (+0, which turns a −0 sum into +0 as theirs does). One multiply-add more per sixteen weights
     * than dot512, whose sub-block sums take each scale once. The weights' expression is written out
     * here and in dequantize512 alike: one helper making them for both was not inlined and boxed
     * its vectors (one thread: 0.6 and 1.0 GB/s).
     */
    private static float dotTileOrder512(MemorySegment w, long o, float[] x, int xo, int blocks) {
        MemorySegment row = w.asSlice(o, (long) blocks * BYTES);
        float[] sm = new float[16];
        FloatVector acc = FloatVector.zero(F);
        for (int b = 0; b < blocks; b++) {
            long p = (long) b * BYTES;
            KQuants.scalesMinsK4(row, p).intoArray(sm, 0);
            for (int c = 0; c < 4; c++) {
                float d1 = sm[2 * c], m1 = sm[8 + 2 * c], d2 = sm[2 * c + 1], m2 = sm[9 + 2 * c];
                int xi = xo + b * QK + 64 * c;
                IntVector q0 = (IntVector) ByteVector.fromMemorySegment(B, row, p + 16 + 32 * c, LE).convertShape(ZERO_EXTEND_B2I, I, 0);
                IntVector q1 = (IntVector) ByteVector.fromMemorySegment(B, row, p + 32 + 32 * c, LE).convertShape(ZERO_EXTEND_B2I, I, 0);
                acc = ((FloatVector) q0.and(0x0F).convert(I2F, 0)).mul(d1).sub(m1).fma(FloatVector.fromArray(F, x, xi), acc);
                acc = ((FloatVector) q1.and(0x0F).convert(I2F, 0)).mul(d1).sub(m1).fma(FloatVector.fromArray(F, x, xi + 16), acc);
                acc = ((FloatVector) q0.lanewise(LSHR, 4).convert(I2F, 0)).mul(d2).sub(m2).fma(FloatVector.fromArray(F, x, xi + 32), acc);
                acc = ((FloatVector) q1.lanewise(LSHR, 4).convert(I2F, 0)).mul(d2).sub(m2).fma(FloatVector.fromArray(F, x, xi + 48), acc);
            }
        }
        return acc.reduceLanes(VectorOperators.ADD) + 0f;
    }

    /**
     * {@link #dot512} for 256-bit vectors (AVX2): eight quants at a time, from 8-byte loads widened
     * to int lanes; a super-block's scales and the mins' share unpacked eight at a time. The generic
     * {@link #dot} passes C2's inlining budget there and boxes its vectors (0.2 GB/s per core).
     * Each 64 quants' four loads are written out, with two accumulators, and the row read through a
     * slice of its own (`CpuTimeAB matvec Q4_K 64 2048`, one thread, four, together with the scales
     * unpacked four at a time in scalar code: 2.25–2.31 → 3.03–3.13 GB/s; now eight at a time, {@link KQuants#scalesAndMinShareK4}).
     */
    private static float dot256(MemorySegment w, long o, float[] x, int xo, float[] sums, float[] scales, int blocks) {
        FloatVector acc0 = FloatVector.zero(H), acc1 = acc0, mins = acc0;
        MemorySegment row = w.asSlice(o, (long) blocks * BYTES);
        for (int b = 0; b < blocks; b++) {
            long p = (long) b * BYTES;
            float d = Float.float16ToFloat(row.get(Blocks.I16, p));
            float dmin = Float.float16ToFloat(row.get(Blocks.I16, p + 2));
            KQuants.scalesAndMinShareK4(row, p + 4, d, dmin, sums, b * 8, scales);
            mins = mins.add(FloatVector.fromArray(H, scales, 8));
            for (int c = 0; c < 4; c++) {
                int xi = xo + b * QK + 64 * c;
                long q = p + 16 + 32 * c;
                IntVector q0 = (IntVector) ByteVector.fromMemorySegment(B8, row, q, LE).convertShape(ZERO_EXTEND_B2I, I8, 0);
                IntVector q1 = (IntVector) ByteVector.fromMemorySegment(B8, row, q + 8, LE).convertShape(ZERO_EXTEND_B2I, I8, 0);
                IntVector q2 = (IntVector) ByteVector.fromMemorySegment(B8, row, q + 16, LE).convertShape(ZERO_EXTEND_B2I, I8, 0);
                IntVector q3 = (IntVector) ByteVector.fromMemorySegment(B8, row, q + 24, LE).convertShape(ZERO_EXTEND_B2I, I8, 0);
                FloatVector lo = ((FloatVector) q0.and(0x0F).convert(I2F, 0)).mul(FloatVector.fromArray(H, x, xi));
                FloatVector hi = ((FloatVector) q0.lanewise(LSHR, 4).convert(I2F, 0)).mul(FloatVector.fromArray(H, x, xi + 32));
                lo = ((FloatVector) q1.and(0x0F).convert(I2F, 0)).fma(FloatVector.fromArray(H, x, xi + 8), lo);
                hi = ((FloatVector) q1.lanewise(LSHR, 4).convert(I2F, 0)).fma(FloatVector.fromArray(H, x, xi + 40), hi);
                lo = ((FloatVector) q2.and(0x0F).convert(I2F, 0)).fma(FloatVector.fromArray(H, x, xi + 16), lo);
                hi = ((FloatVector) q2.lanewise(LSHR, 4).convert(I2F, 0)).fma(FloatVector.fromArray(H, x, xi + 48), hi);
                lo = ((FloatVector) q3.and(0x0F).convert(I2F, 0)).fma(FloatVector.fromArray(H, x, xi + 24), lo);
                hi = ((FloatVector) q3.lanewise(LSHR, 4).convert(I2F, 0)).fma(FloatVector.fromArray(H, x, xi + 56), hi);
                acc0 = lo.fma(FloatVector.broadcast(H, scales[2 * c]), acc0);
                acc1 = hi.fma(FloatVector.broadcast(H, scales[2 * c + 1]), acc1);
            }
        }
        return acc0.add(acc1).reduceLanes(VectorOperators.ADD) - mins.reduceLanes(VectorOperators.ADD);
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
            for (int c = 0; c < 4; c++) {
                int y = outOff + b * QK + 64 * c;
                float d1 = d * KQuants.scaleK4(w, o + 4, 2 * c);
                float m1 = min * KQuants.minK4(w, o + 4, 2 * c);
                float d2 = d * KQuants.scaleK4(w, o + 4, 2 * c + 1);
                float m2 = min * KQuants.minK4(w, o + 4, 2 * c + 1);
                ByteVector q0 = Vec.load16(w, o + 16 + 32 * c);
                ByteVector q1 = Vec.load16(w, o + 32 + 32 * c);
                // x + (-m) is x - m exactly, so ggml's d1·q - m1 is reproduced bit for bit.
                Vec.store16(q0.and((byte) 0x0F), d1, -m1, out, y);
                Vec.store16(q1.and((byte) 0x0F), d1, -m1, out, y + 16);
                Vec.store16(q0.lanewise(VectorOperators.LSHR, 4), d2, -m2, out, y + 32);
                Vec.store16(q1.lanewise(VectorOperators.LSHR, 4), d2, -m2, out, y + 48);
            }
        }
    }

    /**
     * {@link #dequantize} for 512-bit vectors, as {@link #dot512} reads: sixteen quants widened to int
     * lanes, a super-block's scales and mins unpacked at once. The generic loop's byte-lane shifts and
     * scalar scale picking ran at a third of the dot product's speed, and batches of tokens decode
     * every weight through it (docs/PERFORMANCE.md, twenty-eighth session).
     */
    private static void dequantize512(MemorySegment w, long o, float[] out, int oo, int blocks) {
        MemorySegment row = w.asSlice(o, (long) blocks * BYTES);
        float[] sm = new float[16];
        for (int b = 0; b < blocks; b++) {
            long p = (long) b * BYTES;
            KQuants.scalesMinsK4(row, p).intoArray(sm, 0);
            for (int c = 0; c < 4; c++) {
                // ggml's d1·q − m1: a product, then a difference, never fused.
                float d1 = sm[2 * c], m1 = sm[8 + 2 * c], d2 = sm[2 * c + 1], m2 = sm[9 + 2 * c];
                int y = oo + b * QK + 64 * c;
                IntVector q0 = (IntVector) ByteVector.fromMemorySegment(B, row, p + 16 + 32 * c, LE).convertShape(ZERO_EXTEND_B2I, I, 0);
                IntVector q1 = (IntVector) ByteVector.fromMemorySegment(B, row, p + 32 + 32 * c, LE).convertShape(ZERO_EXTEND_B2I, I, 0);
                ((FloatVector) q0.and(0x0F).convert(I2F, 0)).mul(d1).sub(m1).intoArray(out, y);
                ((FloatVector) q1.and(0x0F).convert(I2F, 0)).mul(d1).sub(m1).intoArray(out, y + 16);
                ((FloatVector) q0.lanewise(LSHR, 4).convert(I2F, 0)).mul(d2).sub(m2).intoArray(out, y + 32);
                ((FloatVector) q1.lanewise(LSHR, 4).convert(I2F, 0)).mul(d2).sub(m2).intoArray(out, y + 48);
            }
        }
    }

    /**
     * {@link #dequantize} for 256-bit vectors, as {@link #dot256} reads: eight quants from an 8-byte
     * load widened to int lanes, the codes unpacked eight at a time ({@link KQuants#scaleCodesK4}).
     * The generic loop's 16-quant byte vectors, shifted in byte lanes and widened in two parts, ran
     * at a quarter of the dot product's speed (`CpuTimeAB matvec Q4_K 64 2048`, one thread,
     * dequant: 0.75–0.81 → 3.36–3.51 GB/s; `CpuTimeAB matmul Q4_K 8 100 2048`, the buffered tiles
     * at 8 tokens: 15.5 → 31.8 GFLOP/s).
     */
    private static void dequantize256(MemorySegment w, long o, float[] out, int oo, int blocks) {
        MemorySegment row = w.asSlice(o, (long) blocks * BYTES);
        for (int b = 0; b < blocks; b++) {
            long p = (long) b * BYTES;
            float d = Float.float16ToFloat(row.get(Blocks.I16, p));
            float dmin = Float.float16ToFloat(row.get(Blocks.I16, p + 2));
            long sc = KQuants.scaleCodesK4(row, p + 4), mn = KQuants.minCodesK4(row, p + 4);
            for (int c = 0; c < 4; c++) {
                // ggml's d1·q − m1: a product, then a difference, never fused.
                float d1 = d * (int) (sc >>> 16 * c & 0xFF), m1 = dmin * (int) (mn >>> 16 * c & 0xFF);
                float d2 = d * (int) (sc >>> 16 * c + 8 & 0xFF), m2 = dmin * (int) (mn >>> 16 * c + 8 & 0xFF);
                int y = oo + b * QK + 64 * c;
                long q = p + 16 + 32 * c;
                for (int k = 0; k < 32; k += 8) {
                    IntVector v = (IntVector) ByteVector.fromMemorySegment(B8, row, q + k, LE).convertShape(ZERO_EXTEND_B2I, I8, 0);
                    ((FloatVector) v.and(0x0F).convert(I2F, 0)).mul(d1).sub(m1).intoArray(out, y + k);
                    ((FloatVector) v.lanewise(LSHR, 4).convert(I2F, 0)).mul(d2).sub(m2).intoArray(out, y + 32 + k);
                }
            }
        }
    }

    /** quantize_row_q4_K_ref: make_qkx2_quants per sub-block (nmax 15, 21 trial scales). */
    @Override
    public void quantize(float[] src, int srcOff, int n, MemorySegment dst, long dstOff) {
        quantize(src, srcOff, n, dst, dstOff, null);
    }

    /**
     * quantize_row_q4_K_impl when given an importance row (make_qkx3_quants per sub-block,
     * make_qp_quants for the scales), else quantize_row_q4_K_ref, as ggml_quantize_chunk chooses.
     */
    @Override
    public void quantize(float[] src, int srcOff, int n, MemorySegment dst, long dstOff, float[] importance) {
        Blocks.requireBlocks(type(), n);
        byte[] L = new byte[QK];
        for (int b = 0; b < n / QK; b++) {
            long o = dstOff + (long) b * BYTES;
            if (importance == null) {
                KQuants.quantizeScalesMinsK4(src, srcOff + b * QK, 15, -1.f, 0.1f, 20, dst, o, o + 4, L);
            } else {
                KQuants.quantizeScalesMinsK4(src, srcOff + b * QK, importance, b * QK, 15, false, dst, o, o + 4, L);
            }
            for (int j = 0; j < QK; j += 64) {
                for (int l = 0; l < 32; l++) {
                    dst.set(Blocks.I8, o + 16 + j / 2 + l, (byte) (L[j + l] | (L[j + l + 32] << 4)));
                }
            }
        }
    }
}
