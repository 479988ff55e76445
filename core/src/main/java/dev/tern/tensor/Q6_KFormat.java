package dev.tern.tensor;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

import static jdk.incubator.vector.VectorOperators.ASHR;
import static jdk.incubator.vector.VectorOperators.B2F;
import static jdk.incubator.vector.VectorOperators.B2I;
import static jdk.incubator.vector.VectorOperators.I2F;
import static jdk.incubator.vector.VectorOperators.LSHL;
import static jdk.incubator.vector.VectorOperators.LSHR;
import static jdk.incubator.vector.VectorOperators.ZERO_EXTEND_B2I;

/**
 * Q6_K: super-blocks of 256 values as 6-bit levels meaning d·sc·(q-32), with a signed 8-bit
 * scale per 16 values (210 bytes: ql[128] low nibbles, qh[64] high bit pairs, scales[16],
 * fp16 d last). Within each half of 128 values, ql[l] holds values l and l+64, ql[l+32] values
 * l+32 and l+96, and qh[l] the top two bits of l, l+32, l+64, l+96.
 */
public final class Q6_KFormat implements TensorFormat {
    public static final Q6_KFormat INSTANCE = new Q6_KFormat();
    private static final int QK = KQuants.QK_K;
    private static final int BYTES = 210;
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_512;
    private static final VectorSpecies<Integer> I = IntVector.SPECIES_512;
    private static final VectorSpecies<Byte> B = ByteVector.SPECIES_128;
    private static final VectorSpecies<Float> H = FloatVector.SPECIES_256;
    private static final VectorSpecies<Integer> I8 = IntVector.SPECIES_256;
    private static final VectorSpecies<Byte> B8 = ByteVector.SPECIES_64;
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

    private Q6_KFormat() {
    }

    /** With 512-bit vectors its own kernel in tile order ({@link #dotTileOrder512}), else each row decoded. */
    @Override
    public TensorFormat inTileOrder() {
        return Vec.FL == 16 ? TileOrderFormat.of(this, Q6_KFormat::dotTileOrder512) : TileOrderFormat.of(this);
    }

    @Override
    public GGMLType type() {
        return GGMLType.Q6_K;
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
            float d = Blocks.f16(w, o + 208);
            for (int h = 0; h < 2; h++) {
                long ql = o + 64 * h;
                long qh = o + 128 + 32 * h;
                long sc = o + 192 + 8 * h;
                for (int g = 0; g < 2; g++) {
                    int xo = xOff + b * QK + 128 * h + 16 * g;
                    ByteVector a = Vec.load16(w, ql + 16 * g);
                    ByteVector c = Vec.load16(w, ql + 32 + 16 * g);
                    ByteVector hb = Vec.load16(w, qh + 16 * g);
                    ByteVector hb2 = hb.lanewise(VectorOperators.LSHR, 2);
                    acc = group(low(a, hb), x, xo, d * Blocks.s8(w, sc + g), acc);
                    acc = group(low(c, hb2), x, xo + 32, d * Blocks.s8(w, sc + g + 2), acc);
                    acc = group(high(a, hb), x, xo + 64, d * Blocks.s8(w, sc + g + 4), acc);
                    acc = group(high(c, hb2), x, xo + 96, d * Blocks.s8(w, sc + g + 6), acc);
                }
            }
        }
        return acc.reduceLanes(VectorOperators.ADD);
    }

    /** Every row shares one pass over x for the 16-value sums that carry the −32 offset. */
    @Override
    public void dotRows(MemorySegment w, long byteOffset, long rowBytes, int rows, float[] x, int xOff, int n,
                        float[] out, int outOff) {
        RowsWithSums.dotRows(this, Q6_KFormat::dot512, Q6_KFormat::dot256, 16, w, byteOffset, rowBytes, rows, x, xOff, n, out, outOff);
    }

    @Override
    public void dotRowsFour(MemorySegment w, long[] offsets, long rowBytes, int rows, float[] x, int xOff, int n,
                            float[] out, int[] outs) {
        RowsWithSums.dotRowsFour(this, Q6_KFormat::dot512, Q6_KFormat::dot256, 16, w, offsets, rowBytes, rows, x, xOff, n, out, outs);
    }

    /**
     * The one-token product in tile order: the weights as {@link #dequantize512} decodes them (the
     * same integer levels, converted, times the same scale), each multiplied-added with x in column
     * order; the lanes' sum plus the tiles' empty scalar tail (+0, which turns a −0 sum into +0 as
     * theirs does). A half's six vectors of stored bytes are widened once; the loop over the two
     * nibble shifts then makes its four groups of sixteen weights in column order (the bit pairs
     * 0–1 and 2–3, then 4–5 and 6–7 of qh). Written with all eight groups unrolled, the loop passed
     * C2's inlining budget and boxed its vectors in some runs (1B Q4_K_M decode 11.7–15.0 t/s);
     * widening the bytes again for each group of sixteen was 8–12% slower (one thread, 4.9–5.1 against
     * 5.5 GB/s from memory).
     */
    private static float dotTileOrder512(MemorySegment w, long o, float[] x, int xo, int blocks) {
        MemorySegment row = w.asSlice(o, (long) blocks * BYTES);
        float[] scales = new float[16];
        FloatVector acc = FloatVector.zero(F);
        for (int b = 0; b < blocks; b++) {
            long p = (long) b * BYTES;
            float d = Float.float16ToFloat(row.get(Blocks.I16, p + 208));
            ((FloatVector) ByteVector.fromMemorySegment(B, row, p + 192, LE).convertShape(B2F, F, 0)).mul(d).intoArray(scales, 0);
            for (int h = 0; h < 2; h++) {
                int xi = xo + b * QK + 128 * h, j = 8 * h;
                long ql = p + 64 * h, qh = p + 128 + 32 * h;
                IntVector a0 = widened(row, ql), a1 = widened(row, ql + 16), c0 = widened(row, ql + 32), c1 = widened(row, ql + 48);
                IntVector hb0 = widened(row, qh), hb1 = widened(row, qh + 16);
                for (int sh = 0; sh < 8; sh += 4) {
                    int k = sh >> 1;
                    IntVector h0 = hb0.lanewise(LSHR, sh), h1 = hb1.lanewise(LSHR, sh);
                    FloatVector v = ((FloatVector) a0.lanewise(LSHR, sh).and(0x0F).or(h0.and(0x03).lanewise(LSHL, 4)).sub(32).convert(I2F, 0)).mul(scales[j + 2 * k]);
                    acc = v.fma(FloatVector.fromArray(F, x, xi + 32 * k), acc);
                    v = ((FloatVector) a1.lanewise(LSHR, sh).and(0x0F).or(h1.and(0x03).lanewise(LSHL, 4)).sub(32).convert(I2F, 0)).mul(scales[j + 2 * k + 1]);
                    acc = v.fma(FloatVector.fromArray(F, x, xi + 32 * k + 16), acc);
                    v = ((FloatVector) c0.lanewise(LSHR, sh).and(0x0F).or(h0.and(0x0C).lanewise(LSHL, 2)).sub(32).convert(I2F, 0)).mul(scales[j + 2 * k + 2]);
                    acc = v.fma(FloatVector.fromArray(F, x, xi + 32 * k + 32), acc);
                    v = ((FloatVector) c1.lanewise(LSHR, sh).and(0x0F).or(h1.and(0x0C).lanewise(LSHL, 2)).sub(32).convert(I2F, 0)).mul(scales[j + 2 * k + 3]);
                    acc = v.fma(FloatVector.fromArray(F, x, xi + 32 * k + 48), acc);
                }
            }
        }
        return acc.reduceLanes(VectorOperators.ADD) + 0f;
    }

    /** Sixteen stored bytes at o widened without sign to int lanes (512-bit vectors only). */
    private static IntVector widened(MemorySegment row, long o) {
        return (IntVector) ByteVector.fromMemorySegment(B, row, o, LE).convertShape(ZERO_EXTEND_B2I, I, 0);
    }

    /**
     * The 512-bit kernel, written out in full and lean (the generic one above exceeds the JIT's
     * inlining budget and boxes its vectors): the 6-bit levels are assembled in int lanes. A
     * super-block's sixteen scales are widened and multiplied by d in one vector, which meets
     * the precomputed 16-value sums of x for the −32 offset in one multiply-add, and is stored
     * so that each group's scale is broadcast by a load rather than a shuffle, the kernel's
     * scarce unit (one thread, from memory: 3.2–3.5 → 4.1–4.3 GB/s; scalar unpacking of each
     * scale and a scalar multiply-add per group before).
     */
    private static float dot512(MemorySegment w, long o, float[] x, int xo, float[] sums, float[] scales, int blocks) {
        FloatVector acc = FloatVector.zero(F);
        for (int b = 0; b < blocks; b++) {
            long p = o + (long) b * BYTES;
            float d = Float.float16ToFloat(w.get(Blocks.I16, p + 208));
            FloatVector sc = ((FloatVector) ByteVector.fromMemorySegment(B, w, p + 192, LE).convertShape(B2F, F, 0)).mul(d);
            acc = sc.mul(-32f).fma(FloatVector.fromArray(F, sums, b * 16), acc);
            sc.intoArray(scales, 0);
            for (int k = 0; k < 4; k++) {
                int h = k >> 1, g = k & 1;
                int xi = xo + b * QK + 128 * h + 16 * g;
                IntVector a = (IntVector) ByteVector.fromMemorySegment(B, w, p + 64 * h + 16 * g, LE).convertShape(B2I, I, 0);
                IntVector c = (IntVector) ByteVector.fromMemorySegment(B, w, p + 64 * h + 32 + 16 * g, LE).convertShape(B2I, I, 0);
                IntVector hb = (IntVector) ByteVector.fromMemorySegment(B, w, p + 128 + 32 * h + 16 * g, LE).convertShape(B2I, I, 0);
                IntVector v0 = a.and(0x0F).or(hb.and(0x03).lanewise(LSHL, 4));
                IntVector v1 = c.and(0x0F).or(hb.and(0x0C).lanewise(LSHL, 2));
                IntVector v2 = a.lanewise(ASHR, 4).and(0x0F).or(hb.and(0x30));
                IntVector v3 = c.lanewise(ASHR, 4).and(0x0F).or(hb.lanewise(ASHR, 2).and(0x30));
                int j = 8 * h + g;
                acc = ((FloatVector) v0.convert(I2F, 0)).mul(FloatVector.fromArray(F, x, xi)).fma(FloatVector.broadcast(F, scales[j]), acc);
                acc = ((FloatVector) v1.convert(I2F, 0)).mul(FloatVector.fromArray(F, x, xi + 32)).fma(FloatVector.broadcast(F, scales[j + 2]), acc);
                acc = ((FloatVector) v2.convert(I2F, 0)).mul(FloatVector.fromArray(F, x, xi + 64)).fma(FloatVector.broadcast(F, scales[j + 4]), acc);
                acc = ((FloatVector) v3.convert(I2F, 0)).mul(FloatVector.fromArray(F, x, xi + 96)).fma(FloatVector.broadcast(F, scales[j + 6]), acc);
            }
        }
        return acc.reduceLanes(VectorOperators.ADD);
    }

    /**
     * {@link #dot512} for 256-bit vectors (AVX2): eight quants at a time, from 8-byte loads widened
     * to int lanes. The generic {@link #dot} passes C2's inlining budget there and boxes its vectors.
     * The sixteen values that share a scale are summed before it is applied, and the quants widen
     * without sign, which spares the masks after the shifts (`CpuTimeAB matvec Q6_K 200|400 2048`,
     * one thread, four, six alternated runs: medians 2.22–3.28 → 2.18–4.52 GB/s, maxima 3.31–3.91 →
     * 3.87–4.66).
     */
    private static float dot256(MemorySegment w, long o, float[] x, int xo, float[] sums, float[] scales, int blocks) {
        FloatVector acc = FloatVector.zero(H);
        for (int b = 0; b < blocks; b++) {
            long p = o + (long) b * BYTES;
            float d = Float.float16ToFloat(w.get(Blocks.I16, p + 208));
            for (int s = 0; s < 16; s += 8) {
                FloatVector sc = ((FloatVector) ByteVector.fromMemorySegment(B8, w, p + 192 + s, LE).convertShape(B2F, H, 0)).mul(d);
                acc = sc.mul(-32f).fma(FloatVector.fromArray(H, sums, b * 16 + s), acc);
                sc.intoArray(scales, s);
            }
            for (int k = 0; k < 4; k++) {
                int h = k >> 1, g = k & 1;
                int j = 8 * h + g;
                int xi = xo + b * QK + 128 * h + 16 * g;
                long q = p + 64 * h + 16 * g, qh = p + 128 + 32 * h + 16 * g;
                IntVector a = (IntVector) ByteVector.fromMemorySegment(B8, w, q, LE).convertShape(ZERO_EXTEND_B2I, I8, 0);
                IntVector c = (IntVector) ByteVector.fromMemorySegment(B8, w, q + 32, LE).convertShape(ZERO_EXTEND_B2I, I8, 0);
                IntVector hb = (IntVector) ByteVector.fromMemorySegment(B8, w, qh, LE).convertShape(ZERO_EXTEND_B2I, I8, 0);
                FloatVector s0 = ((FloatVector) a.and(0x0F).or(hb.and(0x03).lanewise(LSHL, 4)).convert(I2F, 0)).mul(FloatVector.fromArray(H, x, xi));
                FloatVector s1 = ((FloatVector) c.and(0x0F).or(hb.and(0x0C).lanewise(LSHL, 2)).convert(I2F, 0)).mul(FloatVector.fromArray(H, x, xi + 32));
                FloatVector s2 = ((FloatVector) a.lanewise(LSHR, 4).or(hb.and(0x30)).convert(I2F, 0)).mul(FloatVector.fromArray(H, x, xi + 64));
                FloatVector s3 = ((FloatVector) c.lanewise(LSHR, 4).or(hb.lanewise(LSHR, 2).and(0x30)).convert(I2F, 0)).mul(FloatVector.fromArray(H, x, xi + 96));
                a = (IntVector) ByteVector.fromMemorySegment(B8, w, q + 8, LE).convertShape(ZERO_EXTEND_B2I, I8, 0);
                c = (IntVector) ByteVector.fromMemorySegment(B8, w, q + 40, LE).convertShape(ZERO_EXTEND_B2I, I8, 0);
                hb = (IntVector) ByteVector.fromMemorySegment(B8, w, qh + 8, LE).convertShape(ZERO_EXTEND_B2I, I8, 0);
                s0 = ((FloatVector) a.and(0x0F).or(hb.and(0x03).lanewise(LSHL, 4)).convert(I2F, 0)).fma(FloatVector.fromArray(H, x, xi + 8), s0);
                s1 = ((FloatVector) c.and(0x0F).or(hb.and(0x0C).lanewise(LSHL, 2)).convert(I2F, 0)).fma(FloatVector.fromArray(H, x, xi + 40), s1);
                s2 = ((FloatVector) a.lanewise(LSHR, 4).or(hb.and(0x30)).convert(I2F, 0)).fma(FloatVector.fromArray(H, x, xi + 72), s2);
                s3 = ((FloatVector) c.lanewise(LSHR, 4).or(hb.lanewise(LSHR, 2).and(0x30)).convert(I2F, 0)).fma(FloatVector.fromArray(H, x, xi + 104), s3);
                acc = s0.fma(FloatVector.broadcast(H, scales[j]), acc);
                acc = s1.fma(FloatVector.broadcast(H, scales[j + 2]), acc);
                acc = s2.fma(FloatVector.broadcast(H, scales[j + 4]), acc);
                acc = s3.fma(FloatVector.broadcast(H, scales[j + 6]), acc);
            }
        }
        return acc.reduceLanes(VectorOperators.ADD);
    }

    private static FloatVector group(ByteVector q, float[] x, int xo, float scale, FloatVector acc) {
        return Vec.fmaScaled(Vec.fma16(q, x, xo, FloatVector.zero(Vec.F)), scale, acc);
    }

    /** q-32 of the values with their low nibble in the low half of ql and top bits in bits 0-1 of qh. */
    private static ByteVector low(ByteVector ql, ByteVector qh) {
        return ql.and((byte) 0x0F).or(qh.and((byte) 3).lanewise(VectorOperators.LSHL, 4)).sub((byte) 32);
    }

    /** q-32 of the values with their low nibble in the high half of ql and top bits in bits 4-5 of qh. */
    private static ByteVector high(ByteVector ql, ByteVector qh) {
        return ql.lanewise(VectorOperators.LSHR, 4).or(qh.and((byte) 0x30)).sub((byte) 32);
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
            float d = Blocks.f16(w, o + 208);
            for (int h = 0; h < 2; h++) {
                long ql = o + 64 * h;
                long qh = o + 128 + 32 * h;
                long sc = o + 192 + 8 * h;
                for (int g = 0; g < 2; g++) {
                    int y = outOff + b * QK + 128 * h + 16 * g;
                    ByteVector a = Vec.load16(w, ql + 16 * g);
                    ByteVector c = Vec.load16(w, ql + 32 + 16 * g);
                    ByteVector hb = Vec.load16(w, qh + 16 * g);
                    ByteVector hb2 = hb.lanewise(VectorOperators.LSHR, 2);
                    Vec.store16(low(a, hb), d * Blocks.s8(w, sc + g), out, y);
                    Vec.store16(low(c, hb2), d * Blocks.s8(w, sc + g + 2), out, y + 32);
                    Vec.store16(high(a, hb), d * Blocks.s8(w, sc + g + 4), out, y + 64);
                    Vec.store16(high(c, hb2), d * Blocks.s8(w, sc + g + 6), out, y + 96);
                }
            }
        }
    }

    /**
     * {@link #dequantize256} on 512-bit vectors: sixteen quants at a time. The generic loop's byte-lane
     * shifts and scalar scale reads ran at a third of the dot product's speed, and batches of tokens
     * decode every weight through it (docs/PERFORMANCE.md, twenty-eighth session).
     */
    private static void dequantize512(MemorySegment w, long o, float[] out, int outOff, int blocks) {
        MemorySegment row = w.asSlice(o, (long) blocks * BYTES);
        float[] scales = new float[16];
        for (int b = 0; b < blocks; b++) {
            long p = (long) b * BYTES;
            float d = Float.float16ToFloat(row.get(Blocks.I16, p + 208));
            ((FloatVector) ByteVector.fromMemorySegment(B, row, p + 192, LE).convertShape(B2F, F, 0)).mul(d).intoArray(scales, 0);
            for (int g = 0; g < 2; g++) {
                for (int h = 0; h < 2; h++) {
                    int j = 8 * h + g;
                    int y = outOff + b * QK + 128 * h + 16 * g;
                    IntVector a = (IntVector) ByteVector.fromMemorySegment(B, row, p + 64 * h + 16 * g, LE).convertShape(ZERO_EXTEND_B2I, I, 0);
                    IntVector c = (IntVector) ByteVector.fromMemorySegment(B, row, p + 64 * h + 32 + 16 * g, LE).convertShape(ZERO_EXTEND_B2I, I, 0);
                    IntVector hb = (IntVector) ByteVector.fromMemorySegment(B, row, p + 128 + 32 * h + 16 * g, LE).convertShape(ZERO_EXTEND_B2I, I, 0);
                    IntVector v0 = a.and(0x0F).or(hb.and(0x03).lanewise(LSHL, 4)).sub(32);
                    IntVector v1 = c.and(0x0F).or(hb.and(0x0C).lanewise(LSHL, 2)).sub(32);
                    IntVector v2 = a.lanewise(LSHR, 4).or(hb.and(0x30)).sub(32);
                    IntVector v3 = c.lanewise(LSHR, 4).or(hb.lanewise(LSHR, 2).and(0x30)).sub(32);
                    ((FloatVector) v0.convert(I2F, 0)).mul(FloatVector.broadcast(F, scales[j])).intoArray(out, y);
                    ((FloatVector) v1.convert(I2F, 0)).mul(FloatVector.broadcast(F, scales[j + 2])).intoArray(out, y + 32);
                    ((FloatVector) v2.convert(I2F, 0)).mul(FloatVector.broadcast(F, scales[j + 4])).intoArray(out, y + 64);
                    ((FloatVector) v3.convert(I2F, 0)).mul(FloatVector.broadcast(F, scales[j + 6])).intoArray(out, y + 96);
                }
            }
        }
    }

    /**
     * {@link #dequantize} for 256-bit vectors (AVX2), as {@link #dot256}: eight quants at a time,
     * from 8-byte loads widened to int lanes, the row read through a slice of its own; the generic
     * loop's 16-quant helpers of {@link Vec} (byte-lane shifts, a scalar scale read per group) ran
     * at a fifth of the dot product's speed. A super-block's sixteen d·sc are computed in two
     * vectors and broadcast from a store of them (bit-identical: (d·sc)·(q−32) as ggml rounds it),
     * and the loop over the two halves of 128 values is the inner one (one flat loop over the
     * eight groups of 32 ran at 3.3 GB/s). `CpuTimeAB matvec Q6_K 64 2048`, "dequant", one thread:
     * 0.61–0.64 → 3.7–4.2 GB/s; `matmul Q6_K 8 100 2048`, "tiled": 7.3–10.5 → 28–32 GFLOP/s.
     */
    private static void dequantize256(MemorySegment w, long o, float[] out, int outOff, int blocks) {
        MemorySegment row = w.asSlice(o, (long) blocks * BYTES);
        float[] scales = new float[16];
        for (int b = 0; b < blocks; b++) {
            long p = (long) b * BYTES;
            float d = Float.float16ToFloat(row.get(Blocks.I16, p + 208));
            for (int s = 0; s < 16; s += 8) {
                ((FloatVector) ByteVector.fromMemorySegment(B8, row, p + 192 + s, LE).convertShape(B2F, H, 0)).mul(d).intoArray(scales, s);
            }
            for (int e = 0; e < 32; e += 8) {
                for (int h = 0; h < 2; h++) {
                    int j = 8 * h + (e >> 4);
                    int y = outOff + b * QK + 128 * h + e;
                    IntVector a = (IntVector) ByteVector.fromMemorySegment(B8, row, p + 64 * h + e, LE).convertShape(ZERO_EXTEND_B2I, I8, 0);
                    IntVector c = (IntVector) ByteVector.fromMemorySegment(B8, row, p + 64 * h + 32 + e, LE).convertShape(ZERO_EXTEND_B2I, I8, 0);
                    IntVector hb = (IntVector) ByteVector.fromMemorySegment(B8, row, p + 128 + 32 * h + e, LE).convertShape(ZERO_EXTEND_B2I, I8, 0);
                    IntVector v0 = a.and(0x0F).or(hb.and(0x03).lanewise(LSHL, 4)).sub(32);
                    IntVector v1 = c.and(0x0F).or(hb.and(0x0C).lanewise(LSHL, 2)).sub(32);
                    IntVector v2 = a.lanewise(LSHR, 4).or(hb.and(0x30)).sub(32);
                    IntVector v3 = c.lanewise(LSHR, 4).or(hb.lanewise(LSHR, 2).and(0x30)).sub(32);
                    ((FloatVector) v0.convert(I2F, 0)).mul(FloatVector.broadcast(H, scales[j])).intoArray(out, y);
                    ((FloatVector) v1.convert(I2F, 0)).mul(FloatVector.broadcast(H, scales[j + 2])).intoArray(out, y + 32);
                    ((FloatVector) v2.convert(I2F, 0)).mul(FloatVector.broadcast(H, scales[j + 4])).intoArray(out, y + 64);
                    ((FloatVector) v3.convert(I2F, 0)).mul(FloatVector.broadcast(H, scales[j + 6])).intoArray(out, y + 96);
                }
            }
        }
    }

    /** quantize_row_q6_K_ref: make_qx_quants (nmax 32, x²-weighted) per 16 values, 8-bit scales. */
    @Override
    public void quantize(float[] src, int srcOff, int n, MemorySegment dst, long dstOff) {
        quantize(src, srcOff, n, dst, dstOff, null);
    }

    /**
     * quantize_row_q6_K_impl when given an importance row (make_qx_quants weighted by the
     * importance itself), else quantize_row_q6_K_ref, as ggml_quantize_chunk chooses.
     */
    @Override
    public void quantize(float[] src, int srcOff, int n, MemorySegment dst, long dstOff, float[] importance) {
        Blocks.requireBlocks(type(), n);
        byte[] L = new byte[QK];
        float[] scales = new float[QK / 16];
        byte[] block = new byte[BYTES];
        for (int b = 0; b < n / QK; b++) {
            int xo = srcOff + b * QK;
            long o = dstOff + (long) b * BYTES;
            java.util.Arrays.fill(block, (byte) 0);
            float maxScale = 0;
            float maxAbsScale = 0;
            for (int ib = 0; ib < QK / 16; ib++) {
                float scale = KQuants.makeQxQuants(16, 32, src, xo + 16 * ib, importance, b * QK + 16 * ib, L, 16 * ib);
                scales[ib] = scale;
                float abs = Math.abs(scale);
                if (abs > maxAbsScale) {
                    maxAbsScale = abs;
                    maxScale = scale;
                }
            }
            if (maxAbsScale < 1e-15f) {
                MemorySegment.copy(block, 0, dst, Blocks.I8, o, BYTES);
                continue;
            }
            float iscale = -128.f / maxScale;
            short dBits = Blocks.toF16(1 / iscale);
            block[208] = (byte) dBits;
            block[209] = (byte) (dBits >> 8);
            for (int ib = 0; ib < QK / 16; ib++) {
                block[192 + ib] = (byte) Math.min(127, Blocks.nearestInt(iscale * scales[ib]));
            }
            float d0 = Float.float16ToFloat(dBits);
            for (int j = 0; j < QK / 16; j++) {
                float d = d0 * block[192 + j];
                if (d == 0) {
                    continue;
                }
                for (int ii = 0; ii < 16; ii++) {
                    int l = Blocks.nearestInt(src[xo + 16 * j + ii] / d);
                    L[16 * j + ii] = (byte) (Math.max(-32, Math.min(31, l)) + 32);
                }
            }
            for (int h = 0; h < 2; h++) {
                int j = 128 * h;
                for (int l = 0; l < 32; l++) {
                    int q1 = L[j + l] & 0xF;
                    int q2 = L[j + l + 32] & 0xF;
                    int q3 = L[j + l + 64] & 0xF;
                    int q4 = L[j + l + 96] & 0xF;
                    block[64 * h + l] = (byte) (q1 | (q3 << 4));
                    block[64 * h + l + 32] = (byte) (q2 | (q4 << 4));
                    block[128 + 32 * h + l] = (byte) ((L[j + l] >> 4) | ((L[j + l + 32] >> 4) << 2)
                            | ((L[j + l + 64] >> 4) << 4) | ((L[j + l + 96] >> 4) << 6));
                }
            }
            MemorySegment.copy(block, 0, dst, Blocks.I8, o, BYTES);
        }
    }
}
