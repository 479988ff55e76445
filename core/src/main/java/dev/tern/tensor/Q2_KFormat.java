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
 * Q2_K: super-blocks of 256 values in 16 sub-blocks of 16, each with a 4-bit scale and a 4-bit
 * min; value = d·sc·q − dmin·m with 2-bit q (84 bytes: scales[16] (scale in the low nibble, min
 * in the high), qs[64], fp16 d, fp16 dmin). Within each half of 128 values, bits 2s..2s+1 of
 * qs[l] hold value 32s + l (l < 32), so each 16 bytes of qs carry four sub-blocks.
 */
public final class Q2_KFormat implements TensorFormat {
    public static final Q2_KFormat INSTANCE = new Q2_KFormat();
    private static final int QK = KQuants.QK_K;
    private static final int BYTES = 84;
    private static final int QS = 16;
    private static final int D = 80;
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_512;
    private static final VectorSpecies<Integer> I = IntVector.SPECIES_512;
    private static final VectorSpecies<Byte> B = ByteVector.SPECIES_128;
    private static final VectorSpecies<Float> H = FloatVector.SPECIES_256;
    private static final VectorSpecies<Integer> I8 = IntVector.SPECIES_256;
    private static final VectorSpecies<Byte> B8 = ByteVector.SPECIES_64;
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

    private Q2_KFormat() {
    }

    @Override
    public GGMLType type() {
        return GGMLType.Q2_K;
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
            float dmin = Blocks.f16(w, o + D + 2);
            for (int j = 0; j < 16; j++) {
                int xo = xOff + b * QK + 16 * j;
                int sc = Blocks.u8(w, o + j);
                FloatVector qx = Vec.fma16(levels(w, o, j), x, xo, FloatVector.zero(Vec.F));
                acc = Vec.fmaScaled(qx, d * (sc & 0xF), acc);
                acc = Vec.fmaScaled(Vec.sum16(x, xo, FloatVector.zero(Vec.F)), -(dmin * (sc >> 4)), acc);
            }
        }
        return acc.reduceLanes(VectorOperators.ADD);
    }

    /**
     * The 2-bit levels of sub-block j = 8h + 2s + c (values 16j..16j+15 of the super-block):
     * bits 2s..2s+1 of qs[32h + 16c ..].
     */
    private static ByteVector levels(MemorySegment w, long o, int j) {
        return Vec.load16(w, o + QS + 32 * (j >> 3) + 16 * (j & 1)).lanewise(LSHR, 2 * ((j >> 1) & 3)).and((byte) 3);
    }

    /** Every row shares one pass over x for the 16-value sums that carry the mins. */
    @Override
    public void dotRows(MemorySegment w, long byteOffset, long rowBytes, int rows, float[] x, int xOff, int n,
                        float[] out, int outOff) {
        RowsWithSums.dotRows(this, Q2_KFormat::dot512, Q2_KFormat::dot256, 16, w, byteOffset, rowBytes, rows, x, xOff, n, out, outOff);
    }

    @Override
    public void dotRowsFour(MemorySegment w, long[] offsets, long rowBytes, int rows, float[] x, int xOff, int n,
                            float[] out, int[] outs) {
        RowsWithSums.dotRowsFour(this, Q2_KFormat::dot512, Q2_KFormat::dot256, 16, w, offsets, rowBytes, rows, x, xOff, n, out, outs);
    }

    /**
     * The 512-bit kernel, lean as Q4_K's: the sixteen scales and mins are widened at once, the
     * mins meet the precomputed 16-value sums of x in one multiply-add, and the scales are
     * stored so that each sub-block's is broadcast by a load. A level is masked in place
     * (q·4^s) instead of shifted down, its scale divided by 4^s instead (exact), which saves a
     * shift per sixteen values; the four chunks of qs feed four accumulators, so that the
     * multiply-adds of a super-block do not wait on each other. No helper methods: a call that
     * is not force-inlined hits C2's node budget here and leaves its vectors boxed (1.3 GB/s).
     */
    private static float dot512(MemorySegment w, long o, float[] x, int xo, float[] sums, float[] scales, int blocks) {
        FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0, mins = a0;
        for (int b = 0; b < blocks; b++) {
            long p = o + (long) b * BYTES;
            float d = Float.float16ToFloat(w.get(Blocks.I16, p + D));
            float dmin = Float.float16ToFloat(w.get(Blocks.I16, p + D + 2));
            IntVector sm = (IntVector) ByteVector.fromMemorySegment(B, w, p, LE).convertShape(B2I, I, 0);
            FloatVector m = ((FloatVector) sm.lanewise(LSHR, 4).and(0x0F).convert(I2F, 0)).mul(dmin);
            mins = m.fma(FloatVector.fromArray(F, sums, b * 16), mins);
            ((FloatVector) sm.and(0x0F).convert(I2F, 0)).mul(KQuants.QUARTERS.mul(d)).intoArray(scales, 0);
            IntVector q0 = (IntVector) ByteVector.fromMemorySegment(B, w, p + QS, LE).convertShape(B2I, I, 0);
            IntVector q1 = (IntVector) ByteVector.fromMemorySegment(B, w, p + QS + 16, LE).convertShape(B2I, I, 0);
            IntVector q2 = (IntVector) ByteVector.fromMemorySegment(B, w, p + QS + 32, LE).convertShape(B2I, I, 0);
            IntVector q3 = (IntVector) ByteVector.fromMemorySegment(B, w, p + QS + 48, LE).convertShape(B2I, I, 0);
            int xb = xo + b * QK;
            for (int s = 0; s < 4; s++) {
                int mask = 3 << (2 * s);
                int xi = xb + 32 * s;
                a0 = ((FloatVector) q0.and(mask).convert(I2F, 0)).mul(FloatVector.fromArray(F, x, xi)).fma(FloatVector.broadcast(F, scales[2 * s]), a0);
                a1 = ((FloatVector) q1.and(mask).convert(I2F, 0)).mul(FloatVector.fromArray(F, x, xi + 16)).fma(FloatVector.broadcast(F, scales[2 * s + 1]), a1);
                a2 = ((FloatVector) q2.and(mask).convert(I2F, 0)).mul(FloatVector.fromArray(F, x, xi + 128)).fma(FloatVector.broadcast(F, scales[2 * s + 8]), a2);
                a3 = ((FloatVector) q3.and(mask).convert(I2F, 0)).mul(FloatVector.fromArray(F, x, xi + 144)).fma(FloatVector.broadcast(F, scales[2 * s + 9]), a3);
            }
        }
        return a0.add(a1).add(a2.add(a3)).sub(mins).reduceLanes(VectorOperators.ADD);
    }

    /**
     * {@link #dot512} for 256-bit vectors (AVX2): eight quants at a time, from 8-byte loads widened
     * to int lanes and masked in place as there; the scales and mins widened eight at a time. A
     * sub-block's two halves are summed before its scale multiplies them, and the four levels of
     * a qs byte feed four accumulators. The generic {@link #dot}, which shifts levels in byte lanes
     * and sums x again for every sub-block's min, read 0.74 GB/s there (one thread, from memory;
     * this kernel 2.08).
     */
    private static float dot256(MemorySegment w, long o, float[] x, int xo, float[] sums, float[] scales, int blocks) {
        FloatVector a0 = FloatVector.zero(H), a1 = a0, a2 = a0, a3 = a0, mins = a0;
        for (int b = 0; b < blocks; b++) {
            long p = o + (long) b * BYTES;
            float d = Float.float16ToFloat(w.get(Blocks.I16, p + D));
            float dmin = Float.float16ToFloat(w.get(Blocks.I16, p + D + 2));
            quarterScales256(w, p, d, scales);
            for (int e = 0; e < 16; e += 8) {
                IntVector sm = (IntVector) ByteVector.fromMemorySegment(B8, w, p + e, LE).convertShape(B2I, I8, 0);
                FloatVector m = ((FloatVector) sm.lanewise(LSHR, 4).and(0x0F).convert(I2F, 0)).mul(dmin);
                mins = m.fma(FloatVector.fromArray(H, sums, b * 16 + e), mins);
            }
            for (int k = 0; k < 4; k++) {
                // qs[16k ..] holds sub-blocks j, j+2, j+4, j+6 at shifts 0, 2, 4, 6
                int j = 8 * (k >> 1) + (k & 1);
                int xi = xo + b * QK + 16 * j;
                IntVector q0 = (IntVector) ByteVector.fromMemorySegment(B8, w, p + QS + 16 * k, LE).convertShape(B2I, I8, 0);
                IntVector q1 = (IntVector) ByteVector.fromMemorySegment(B8, w, p + QS + 16 * k + 8, LE).convertShape(B2I, I8, 0);
                FloatVector v0 = ((FloatVector) q0.and(0x03).convert(I2F, 0)).mul(FloatVector.fromArray(H, x, xi));
                FloatVector v1 = ((FloatVector) q0.and(0x0C).convert(I2F, 0)).mul(FloatVector.fromArray(H, x, xi + 32));
                FloatVector v2 = ((FloatVector) q0.and(0x30).convert(I2F, 0)).mul(FloatVector.fromArray(H, x, xi + 64));
                FloatVector v3 = ((FloatVector) q0.and(0xC0).convert(I2F, 0)).mul(FloatVector.fromArray(H, x, xi + 96));
                v0 = ((FloatVector) q1.and(0x03).convert(I2F, 0)).fma(FloatVector.fromArray(H, x, xi + 8), v0);
                v1 = ((FloatVector) q1.and(0x0C).convert(I2F, 0)).fma(FloatVector.fromArray(H, x, xi + 40), v1);
                v2 = ((FloatVector) q1.and(0x30).convert(I2F, 0)).fma(FloatVector.fromArray(H, x, xi + 72), v2);
                v3 = ((FloatVector) q1.and(0xC0).convert(I2F, 0)).fma(FloatVector.fromArray(H, x, xi + 104), v3);
                a0 = v0.fma(FloatVector.broadcast(H, scales[j]), a0);
                a1 = v1.fma(FloatVector.broadcast(H, scales[j + 2]), a1);
                a2 = v2.fma(FloatVector.broadcast(H, scales[j + 4]), a2);
                a3 = v3.fma(FloatVector.broadcast(H, scales[j + 6]), a3);
            }
        }
        return a0.add(a1).add(a2.add(a3)).sub(mins).reduceLanes(VectorOperators.ADD);
    }

    /**
     * d·sc·4^−s for the sixteen sub-blocks of the super-block at p into scales[0..16), sub-block
     * j's s being j/2 mod 4 (see {@link KQuants#QUARTERS}), so that a level masked in place (q·4^s)
     * times it is d·sc·q exactly; the scales widened eight at a time.
     */
    private static void quarterScales256(MemorySegment w, long p, float d, float[] scales) {
        FloatVector dq = KQuants.QUARTERS_256.mul(d);
        for (int e = 0; e < 16; e += 8) {
            IntVector sm = (IntVector) ByteVector.fromMemorySegment(B8, w, p + e, LE).convertShape(ZERO_EXTEND_B2I, I8, 0);
            ((FloatVector) sm.and(0x0F).convert(I2F, 0)).mul(dq).intoArray(scales, e);
        }
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
            float min = Blocks.f16(w, o + D + 2);
            for (int j = 0; j < 16; j++) {
                int sc = Blocks.u8(w, o + j);
                // x + (-m) is x - m exactly, so ggml's dl·q - ml is reproduced bit for bit.
                Vec.store16(levels(w, o, j), d * (sc & 0xF), -(min * (sc >> 4)), out, outOff + b * QK + 16 * j);
            }
        }
    }

    /**
     * {@link #dequantize} for 256-bit vectors, decoded as {@link #dot256} decodes: eight levels
     * at a time from 8-byte loads widened to int lanes and masked in place (q·4^s), the scales
     * divided by 4^s (exact), so that each value is still ggml's d·sc·q − dmin·m, a product and
     * then a difference, each rounded once. The generic {@link #dequantize}, byte-lane shifts
     * and a scalar scale and min per sixteen values, read 0.86 GB/s; this reads 1.73–1.95
     * (`CpuTimeAB matvec Q2_K 64 2048`, dequant, one thread, Zen 3), and `CpuTimeAB matmul Q2_K
     * 8 100 2048` goes from 18.7–23.1 to 21.4–30.9 GFLOP/s.
     */
    private static void dequantize256(MemorySegment w, long o, float[] out, int yo, int blocks) {
        float[] scales = new float[16];
        float[] mins = new float[16];
        MemorySegment row = w.asSlice(o, (long) blocks * BYTES);
        for (int b = 0; b < blocks; b++) {
            long p = (long) b * BYTES;
            int y = yo + b * QK;
            float d = Float.float16ToFloat(row.get(Blocks.I16, p + D));
            float dmin = Float.float16ToFloat(row.get(Blocks.I16, p + D + 2));
            quarterScales256(row, p, d, scales);
            for (int e = 0; e < 16; e += 8) {
                IntVector sm = (IntVector) ByteVector.fromMemorySegment(B8, row, p + e, LE).convertShape(ZERO_EXTEND_B2I, I8, 0);
                ((FloatVector) sm.lanewise(LSHR, 4).convert(I2F, 0)).mul(dmin).intoArray(mins, e);
            }
            for (int k = 0; k < 4; k++) {
                // qs[16k ..] holds sub-blocks j, j+2, j+4, j+6 at shifts 0, 2, 4, 6
                int j = 8 * (k >> 1) + (k & 1);
                int yj = y + 16 * j;
                // read before the stores into out, which C2 cannot tell from these arrays
                float s0 = scales[j], s1 = scales[j + 2], s2 = scales[j + 4], s3 = scales[j + 6];
                float m0 = mins[j], m1 = mins[j + 2], m2 = mins[j + 4], m3 = mins[j + 6];
                IntVector q0 = (IntVector) ByteVector.fromMemorySegment(B8, row, p + QS + 16 * k, LE).convertShape(ZERO_EXTEND_B2I, I8, 0);
                IntVector q1 = (IntVector) ByteVector.fromMemorySegment(B8, row, p + QS + 16 * k + 8, LE).convertShape(ZERO_EXTEND_B2I, I8, 0);
                ((FloatVector) q0.and(0x03).convert(I2F, 0)).mul(s0).sub(m0).intoArray(out, yj);
                ((FloatVector) q1.and(0x03).convert(I2F, 0)).mul(s0).sub(m0).intoArray(out, yj + 8);
                ((FloatVector) q0.and(0x0C).convert(I2F, 0)).mul(s1).sub(m1).intoArray(out, yj + 32);
                ((FloatVector) q1.and(0x0C).convert(I2F, 0)).mul(s1).sub(m1).intoArray(out, yj + 40);
                ((FloatVector) q0.and(0x30).convert(I2F, 0)).mul(s2).sub(m2).intoArray(out, yj + 64);
                ((FloatVector) q1.and(0x30).convert(I2F, 0)).mul(s2).sub(m2).intoArray(out, yj + 72);
                ((FloatVector) q0.and(0xC0).convert(I2F, 0)).mul(s3).sub(m3).intoArray(out, yj + 96);
                ((FloatVector) q1.and(0xC0).convert(I2F, 0)).mul(s3).sub(m3).intoArray(out, yj + 104);
            }
        }
    }

    /**
     * {@link #dequantize256} on 512-bit vectors: sixteen levels at a time, the sixteen scales (with
     * their 4^−s) and mins widened at once. The generic loop read 1.5 GB/s here, a third of the dot
     * product, and batches of tokens decode every weight through it (docs/PERFORMANCE.md,
     * twenty-eighth session).
     */
    private static void dequantize512(MemorySegment w, long o, float[] out, int yo, int blocks) {
        float[] scales = new float[16];
        float[] mins = new float[16];
        MemorySegment row = w.asSlice(o, (long) blocks * BYTES);
        for (int b = 0; b < blocks; b++) {
            long p = (long) b * BYTES;
            int y = yo + b * QK;
            float d = Float.float16ToFloat(row.get(Blocks.I16, p + D));
            float dmin = Float.float16ToFloat(row.get(Blocks.I16, p + D + 2));
            IntVector sm = (IntVector) ByteVector.fromMemorySegment(B, row, p, LE).convertShape(ZERO_EXTEND_B2I, I, 0);
            ((FloatVector) sm.and(0x0F).convert(I2F, 0)).mul(KQuants.QUARTERS.mul(d)).intoArray(scales, 0);
            ((FloatVector) sm.lanewise(LSHR, 4).convert(I2F, 0)).mul(dmin).intoArray(mins, 0);
            for (int k = 0; k < 4; k++) {
                // qs[16k ..] holds sub-blocks j, j+2, j+4, j+6 at shifts 0, 2, 4, 6
                int j = 8 * (k >> 1) + (k & 1);
                int yj = y + 16 * j;
                float s0 = scales[j], s1 = scales[j + 2], s2 = scales[j + 4], s3 = scales[j + 6];
                float m0 = mins[j], m1 = mins[j + 2], m2 = mins[j + 4], m3 = mins[j + 6];
                IntVector q = (IntVector) ByteVector.fromMemorySegment(B, row, p + QS + 16 * k, LE).convertShape(ZERO_EXTEND_B2I, I, 0);
                ((FloatVector) q.and(0x03).convert(I2F, 0)).mul(s0).sub(m0).intoArray(out, yj);
                ((FloatVector) q.and(0x0C).convert(I2F, 0)).mul(s1).sub(m1).intoArray(out, yj + 32);
                ((FloatVector) q.and(0x30).convert(I2F, 0)).mul(s2).sub(m2).intoArray(out, yj + 64);
                ((FloatVector) q.and(0xC0).convert(I2F, 0)).mul(s3).sub(m3).intoArray(out, yj + 96);
            }
        }
    }

    /**
     * quantize_row_q2_K_ref: make_qkx2_quants per 16 values (nmax 3, 16 trial scales, absolute
     * error weighted by |x|), the scales and mins to 4 bits against their maxima.
     */
    @Override
    public void quantize(float[] src, int srcOff, int n, MemorySegment dst, long dstOff) {
        quantize(src, srcOff, n, dst, dstOff, null);
    }

    /**
     * quantize_row_q2_K_impl when given an importance row (the scales searched as {@link
     * #weightedScales} does), else quantize_row_q2_K_ref, as ggml_quantize_chunk chooses.
     */
    @Override
    public void quantize(float[] src, int srcOff, int n, MemorySegment dst, long dstOff, float[] importance) {
        Blocks.requireBlocks(type(), n);
        byte[] L = new byte[QK];
        byte[] block = new byte[BYTES];
        MemorySegment blockSeg = MemorySegment.ofArray(block);
        for (int b = 0; b < n / QK; b++) {
            int xo = srcOff + b * QK;
            if (importance == null) {
                referenceScales(src, xo, L, block);
            } else {
                weightedScales(src, xo, importance, b * QK, L, block);
            }
            float d0 = Blocks.f16(blockSeg, D);
            float dmin0 = Blocks.f16(blockSeg, D + 2);
            for (int j = 0; j < QK / 16; ++j) {
                float d = d0 * (block[j] & 0xF);
                if (d == 0) {
                    continue;
                }
                float dm = dmin0 * ((block[j] & 0xFF) >> 4);
                for (int ii = 0; ii < 16; ++ii) {
                    int l = Blocks.nearestInt((src[xo + 16 * j + ii] + dm) / d);
                    L[16 * j + ii] = (byte) Math.max(0, Math.min(3, l));
                }
            }
            for (int j = 0; j < QK; j += 128) {
                for (int l = 0; l < 32; ++l) {
                    block[QS + j / 4 + l] = (byte) (L[j + l] | (L[j + l + 32] << 2) | (L[j + l + 64] << 4) | (L[j + l + 96] << 6));
                }
            }
            MemorySegment.copy(block, 0, dst, Blocks.I8, dstOff + (long) b * BYTES, BYTES);
        }
    }

    /**
     * quantize_row_q2_K_ref's scales: make_qkx2_quants per sub-block, then 4-bit scale and min
     * codes against their maxima. Writes the codes, d, dmin and the sub-blocks' levels.
     */
    private static void referenceScales(float[] x, int xo, byte[] L, byte[] block) {
        final float q4scale = 15.f;
        byte[] laux = new byte[16];
        float[] weights = new float[16];
        float[] mins = new float[QK / 16];
        float[] scales = new float[QK / 16];
        float[] theMin = new float[1];
        float maxScale = 0;
        float maxMin = 0;
        for (int j = 0; j < QK / 16; ++j) {
            for (int l = 0; l < 16; ++l) {
                weights[l] = Math.abs(x[xo + 16 * j + l]);
            }
            scales[j] = KQuants.makeQkx2Quants(16, 3, x, xo + 16 * j, weights, L, 16 * j, theMin, laux, -0.5f, 0.1f, 15, true);
            mins[j] = theMin[0];
            if (scales[j] > maxScale) {
                maxScale = scales[j];
            }
            if (mins[j] > maxMin) {
                maxMin = mins[j];
            }
        }
        MemorySegment blockSeg = MemorySegment.ofArray(block);
        java.util.Arrays.fill(block, 0, QK / 16, (byte) 0);
        Blocks.putF16(blockSeg, D, 0f);
        Blocks.putF16(blockSeg, D + 2, 0f);
        if (maxScale > 0) {
            float iscale = q4scale / maxScale;
            for (int j = 0; j < QK / 16; ++j) {
                block[j] = (byte) Blocks.nearestInt(iscale * scales[j]);
            }
            Blocks.putF16(blockSeg, D, maxScale / q4scale);
        }
        if (maxMin > 0) {
            float iscale = q4scale / maxMin;
            for (int j = 0; j < QK / 16; ++j) {
                block[j] |= (byte) (Blocks.nearestInt(iscale * mins[j]) << 4);
            }
            Blocks.putF16(blockSeg, D + 2, maxMin / q4scale);
        }
    }

    /**
     * quantize_row_q2_K_impl's scales: value weights importance·sqrt(σ² + x²) with σ² = mean x²
     * over the super-block, make_qkx3_quants per sub-block with them, then make_qp_quants for
     * the 4-bit scale and min codes, weighted by each sub-block's total weight. Writes the codes,
     * d, dmin and the sub-blocks' levels.
     */
    private static void weightedScales(float[] x, int xo, float[] importance, int wo, byte[] L, byte[] block) {
        byte[] laux = new byte[16];
        float[] weight = new float[16];
        float[] sw = new float[QK / 16];
        float[] mins = new float[QK / 16];
        float[] scales = new float[QK / 16];
        float[] theMin = new float[1];
        float sigma2 = KQuants.sumOfSquares(x, xo, QK) / QK;
        for (int j = 0; j < QK / 16; ++j) {
            sw[j] = KQuants.importanceWeights(x, xo + 16 * j, 16, importance, wo + 16 * j, sigma2, weight);
            scales[j] = KQuants.makeQkx3Quants(16, 3, x, xo + 16 * j, weight, L, 16 * j, theMin, laux, -0.9f, 0.05f, 36);
            mins[j] = theMin[0];
        }
        byte[] scaleCodes = new byte[QK / 16];
        byte[] minCodes = new byte[QK / 16];
        float dm = QpQuants.makeQpQuants(QK / 16, 15, scales, 0, scaleCodes, sw, 0);
        float mm = QpQuants.makeQpQuants(QK / 16, 15, mins, 0, minCodes, sw, 0);
        MemorySegment blockSeg = MemorySegment.ofArray(block);
        Blocks.putF16(blockSeg, D, dm);
        Blocks.putF16(blockSeg, D + 2, mm);
        for (int j = 0; j < QK / 16; ++j) {
            block[j] = (byte) ((scaleCodes[j] & 0xFF) | (minCodes[j] << 4));
        }
    }
}
