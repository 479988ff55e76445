package dev.tern.tensor;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.LongVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

/**
 * The scale searches shared by the k-quant reference quantizers (ggml-quants.c), ported with
 * the same float operations in the same order so that results are bit-identical.
 */
final class KQuants {
    static final int QK_K = 256;

    private KQuants() {
    }

    /**
     * make_qx_quants with rmse_type 1: symmetric levels L in [0, 2·nmax) for x[xo..xo+n), value i
     * weighted by qw[qwo+i], or by x² when qw is null (the reference quantizers), the scale
     * refined over 18 trial scales around nmax/max. Returns the scale.
     */
    static float makeQxQuants(int n, int nmax, float[] x, int xo, float[] qw, int qwo, byte[] L, int lo) {
        float max = Blocks.largestMagnitude(x, xo, n);
        if (Math.abs(max) < Blocks.GROUP_MAX_EPS) {
            for (int i = 0; i < n; ++i) {
                L[lo + i] = 0;
            }
            return 0f;
        }
        float iscale = -nmax / max;
        float sumlx = 0;
        float suml2 = 0;
        for (int i = 0; i < n; ++i) {
            float xi = x[xo + i];
            int l = Blocks.nearestInt(iscale * xi);
            l = Math.max(-nmax, Math.min(nmax - 1, l));
            L[lo + i] = (byte) (l + nmax);
            float w = qw != null ? qw[qwo + i] : xi * xi;
            sumlx += w * xi * l;
            suml2 += w * l * l;
        }
        float scale = suml2 != 0 ? sumlx / suml2 : 0.0f;
        float best = scale * sumlx;
        for (int is = -9; is <= 9; ++is) {
            if (is == 0) {
                continue;
            }
            iscale = -(nmax + 0.1f * is) / max;
            sumlx = suml2 = 0;
            for (int i = 0; i < n; ++i) {
                float xi = x[xo + i];
                int l = Blocks.nearestInt(iscale * xi);
                l = Math.max(-nmax, Math.min(nmax - 1, l));
                float w = qw != null ? qw[qwo + i] : xi * xi;
                sumlx += w * xi * l;
                suml2 += w * l * l;
            }
            if (suml2 > 0 && sumlx * sumlx > best * suml2) {
                for (int i = 0; i < n; ++i) {
                    int l = Blocks.nearestInt(iscale * x[xo + i]);
                    L[lo + i] = (byte) (nmax + Math.max(-nmax, Math.min(nmax - 1, l)));
                }
                scale = sumlx / suml2;
                best = scale * sumlx;
            }
        }
        return scale;
    }

    /**
     * make_q3_quants as quantize_row_q3_K_ref calls it (do_rmse): symmetric levels in
     * [-nmax, nmax) from the scale nmax/max, then up to five rounds in which each level moves
     * to the one the others' least-squares scale suggests, kept if the x²-weighted fit improves.
     * L receives the levels plus nmax; returns the scale.
     */
    static float makeQ3Quants(int n, int nmax, float[] x, int xo, byte[] L, int lo) {
        float max = Blocks.largestMagnitude(x, xo, n);
        if (Math.abs(max) < Blocks.GROUP_MAX_EPS) {
            for (int i = 0; i < n; ++i) {
                L[lo + i] = 0;
            }
            return 0f;
        }
        float iscale = -nmax / max;
        float sumlx = 0;
        float suml2 = 0;
        for (int i = 0; i < n; ++i) {
            float xi = x[xo + i];
            int l = Blocks.nearestInt(iscale * xi);
            l = Math.max(-nmax, Math.min(nmax - 1, l));
            L[lo + i] = (byte) l;
            float w = xi * xi;
            sumlx += w * xi * l;
            suml2 += w * l * l;
        }
        for (int itry = 0; itry < 5; ++itry) {
            int changed = 0;
            for (int i = 0; i < n; ++i) {
                float xi = x[xo + i];
                float w = xi * xi;
                float slx = sumlx - w * xi * L[lo + i];
                if (slx > 0) {
                    float sl2 = suml2 - w * L[lo + i] * L[lo + i];
                    int newL = Blocks.nearestInt(xi * sl2 / slx);
                    newL = Math.max(-nmax, Math.min(nmax - 1, newL));
                    if (newL != L[lo + i]) {
                        slx += w * xi * newL;
                        sl2 += w * newL * newL;
                        if (sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2) {
                            L[lo + i] = (byte) newL;
                            sumlx = slx;
                            suml2 = sl2;
                            ++changed;
                        }
                    }
                }
            }
            if (changed == 0) {
                break;
            }
        }
        for (int i = 0; i < n; ++i) {
            L[lo + i] += (byte) nmax;
        }
        return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
    }

    /**
     * make_qkx2_quants as the k-quant reference quantizers call it (nstep ≥ 1): asymmetric
     * levels L in [0, nmax] with a minimum, found by trying nstep+1 scales around
     * nmax/(max-min) and keeping the lowest weighted error, squared or (useMad, as Q2_K asks)
     * absolute. Returns the scale; theMin[0] receives the (positive) offset to subtract.
     */
    static float makeQkx2Quants(int n, int nmax, float[] x, int xo, float[] weights, byte[] L, int lo, float[] theMin,
                                byte[] laux, float rmin, float rdelta, int nstep, boolean useMad) {
        return makeQkxQuants(n, nmax, x, xo, weights, L, lo, theMin, laux, rmin, rdelta, nstep, useMad, false);
    }

    /**
     * make_qkx3_quants, the importance-weighted quantizers' search: {@link #makeQkx2Quants} but
     * that a trial level is rounded from iscale·(x−min) clamped to [0, nmax] first, as min (the
     * best fit so far) can lie near max and put that product out of nearest_int's range.
     */
    static float makeQkx3Quants(int n, int nmax, float[] x, int xo, float[] weights, byte[] L, int lo, float[] theMin,
                                byte[] laux, float rmin, float rdelta, int nstep) {
        return makeQkxQuants(n, nmax, x, xo, weights, L, lo, theMin, laux, rmin, rdelta, nstep, false, true);
    }

    private static float makeQkxQuants(int n, int nmax, float[] x, int xo, float[] weights, byte[] L, int lo, float[] theMin,
                                       byte[] laux, float rmin, float rdelta, int nstep, boolean useMad, boolean clampFirst) {
        float min = x[xo];
        float max = x[xo];
        float sumW = weights[0];
        float sumX = sumW * x[xo];
        for (int i = 1; i < n; ++i) {
            float xi = x[xo + i];
            if (xi < min) {
                min = xi;
            }
            if (xi > max) {
                max = xi;
            }
            float w = weights[i];
            sumW += w;
            sumX += w * xi;
        }
        if (min > 0) {
            min = 0;
        }
        if (max == min) {
            for (int i = 0; i < n; ++i) {
                L[lo + i] = 0;
            }
            theMin[0] = -min;
            return 0f;
        }
        float iscale = nmax / (max - min);
        float scale = 1 / iscale;
        float bestError = 0;
        for (int i = 0; i < n; ++i) {
            int l = Blocks.nearestInt(iscale * (x[xo + i] - min));
            l = Math.max(0, Math.min(nmax, l));
            L[lo + i] = (byte) l;
            float diff = scale * l + min - x[xo + i];
            bestError += weights[i] * (useMad ? Math.abs(diff) : diff * diff);
        }
        for (int is = 0; is <= nstep; ++is) {
            iscale = (rmin + rdelta * is + nmax) / (max - min);
            float sumL = 0;
            float sumL2 = 0;
            float sumXl = 0;
            for (int i = 0; i < n; ++i) {
                int l;
                if (clampFirst) {
                    float v = iscale * (x[xo + i] - min);
                    l = v > 0 ? Blocks.nearestInt(v < nmax ? v : nmax) : 0;
                } else {
                    l = Math.max(0, Math.min(nmax, Blocks.nearestInt(iscale * (x[xo + i] - min))));
                }
                laux[i] = (byte) l;
                float w = weights[i];
                sumL += w * l;
                sumL2 += w * l * l;
                sumXl += w * l * x[xo + i];
            }
            float d = sumW * sumL2 - sumL * sumL;
            if (d > 0) {
                float thisScale = (sumW * sumXl - sumX * sumL) / d;
                float thisMin = (sumL2 * sumX - sumL * sumXl) / d;
                if (thisMin > 0) {
                    thisMin = 0;
                    thisScale = sumXl / sumL2;
                }
                float curError = 0;
                for (int i = 0; i < n; ++i) {
                    float diff = thisScale * laux[i] + thisMin - x[xo + i];
                    curError += weights[i] * (useMad ? Math.abs(diff) : diff * diff);
                }
                if (curError < bestError) {
                    System.arraycopy(laux, 0, L, lo, n);
                    bestError = curError;
                    scale = thisScale;
                    min = thisMin;
                }
            }
        }
        theMin[0] = -min;
        return scale;
    }

    /** Σ x² over x[xo..xo+n), summed in order: the spread σ² the weighted quantizers add to each x². */
    static float sumOfSquares(float[] x, int xo, int n) {
        float sum = 0;
        for (int i = 0; i < n; ++i) {
            sum += x[xo + i] * x[xo + i];
        }
        return sum;
    }

    /**
     * The weighted quantizers' per-value weights: out[i] = importance[wo+i]·sqrt(σ² + x²) for
     * x[xo..xo+n). Returns their sum, in order, as the k-quants weigh each sub-block's scale by.
     */
    static float importanceWeights(float[] x, int xo, int n, float[] importance, int wo, float sigma2, float[] out) {
        float sum = 0;
        for (int i = 0; i < n; ++i) {
            float xi = x[xo + i];
            out[i] = importance[wo + i] * (float) Math.sqrt(sigma2 + xi * xi);
            sum += out[i];
        }
        return sum;
    }

    /** One 32-value block of a weighted Q4_0..Q5_1 row: its search and store, given its values' weights. */
    interface WeightedBlock {
        void quantize(int xo, float[] weight, long o);
    }

    /**
     * The frame of quantize_row_q4_0_impl .. q5_1_impl: σ² the mean x² of the whole row (n
     * values from srcOff), then each 32-value block's weights importance·sqrt(σ² + x²), handed
     * with the block's offset in src and in dst to the type's own search. Without importance,
     * the type's reference quantizer, as ggml_quantize_chunk chooses.
     */
    static void quantizeWeightedBlocks(TensorFormat format, float[] src, int srcOff, int n, MemorySegment dst, long dstOff,
                                       float[] importance, WeightedBlock block) {
        if (importance == null) {
            format.quantize(src, srcOff, n, dst, dstOff);
            return;
        }
        Blocks.requireBlocks(format.type(), n);
        long blockBytes = format.type().byteSize(32);
        float sigma2 = sumOfSquares(src, srcOff, n) / n;
        float[] weight = new float[32];
        for (int b = 0; b < n / 32; b++) {
            importanceWeights(src, srcOff + 32 * b, 32, importance, 32 * b, sigma2, weight);
            block.quantize(srcOff + 32 * b, weight, dstOff + b * blockBytes);
        }
    }

    /** Stores a 32-value block's levels after its d and m at the block's offset o. */
    interface LevelStore {
        void store(byte[] L, MemorySegment dst, long o);
    }

    /**
     * quantize_row_q4_1_impl / q5_1_impl: per 32-value block of {@link #quantizeWeightedBlocks}'s frame,
     * make_qkx3_quants (levels 0..nmax, 37 trial scales), d and −min as fp16, then the type's level layout.
     */
    static void quantizeWeightedMinBlocks(TensorFormat format, int nmax, float[] src, int srcOff, int n, MemorySegment dst,
                                          long dstOff, float[] importance, LevelStore levels) {
        byte[] L = new byte[32];
        byte[] laux = new byte[32];
        float[] theMin = new float[1];
        quantizeWeightedBlocks(format, src, srcOff, n, dst, dstOff, importance, (xo, weight, o) -> {
            Blocks.putF16(dst, o, makeQkx3Quants(32, nmax, src, xo, weight, L, 0, theMin, laux, -0.9f, 0.05f, 36));
            Blocks.putF16(dst, o + 2, -theMin[0]);
            levels.store(L, dst, o);
        });
    }

    /**
     * A Q4_K or Q5_K super-block's eight sub-block scales times d into {@code scales[0..8)} and its
     * eight dmin·min_j·sums[sumOff + j], the share of the mins, into {@code scales[8..16)} (the 256-bit
     * kernels). The codes widen to float lanes from a long (`CpuTimeAB matvec Q4_K 200 2048`, one
     * thread, four, eight alternated runs: scalar 1.95–3.82 against 2.58–4.35 GB/s, medians 2.95 and
     * 3.49). Arrays in and out, no vector:
     * C2 sometimes leaves this call out of line (its node budget), and a vector crossing it would be boxed.
     */
    static void scalesAndMinShareK4(MemorySegment w, long packed, float d, float dmin, float[] sums, int sumOff, float[] scales) {
        eightCodes(scaleCodesK4(w, packed)).mul(d).intoArray(scales, 0);
        eightCodes(minCodesK4(w, packed)).mul(dmin).mul(FloatVector.fromArray(FloatVector.SPECIES_256, sums, sumOff))
                .intoArray(scales, 8);
    }

    /**
     * The eight one-byte codes of a long in float lanes. Through a two-lane long vector: C2 has no
     * one-lane vectors, and boxes them (0.6–0.9 GB/s).
     */
    private static FloatVector eightCodes(long codes) {
        return (FloatVector) LongVector.broadcast(LongVector.SPECIES_128, codes).reinterpretAsBytes()
                .convertShape(VectorOperators.ZERO_EXTEND_B2I, IntVector.SPECIES_256, 0).convert(VectorOperators.I2F, 0);
    }

    /**
     * The eight 6-bit scales of a Q4_K/Q5_K super-block from its twelve packed bytes, one per byte
     * (scale j in bits 8j..8j+5): the bytes read as three ints and rearranged four codes at a
     * time, as ggml's kernels do (per-byte reads of the codes cost a quarter of the Q4_K kernel's time).
     */
    static long scaleCodesK4(MemorySegment w, long packed) {
        int a = w.get(Blocks.I32, packed), c = w.get(Blocks.I32, packed + 8);
        return (a & 0x3F3F3F3FL) | (long) ((c & 0x0F0F0F0F) | ((a >>> 6) & 0x03030303) << 4) << 32;
    }

    /** {@link #scaleCodesK4} for the eight mins. */
    static long minCodesK4(MemorySegment w, long packed) {
        int b = w.get(Blocks.I32, packed + 4), c = w.get(Blocks.I32, packed + 8);
        return (b & 0x3F3F3F3FL) | (long) (((c >>> 4) & 0x0F0F0F0F) | ((b >>> 6) & 0x03030303) << 4) << 32;
    }

    /** get_scale_min_k4's scale: the 6-bit scale of sub-block j from the 12 packed bytes at {@code scales}. */
    static int scaleK4(MemorySegment w, long scales, int j) {
        if (j < 4) {
            return Blocks.u8(w, scales + j) & 63;
        }
        return (Blocks.u8(w, scales + j + 4) & 0xF) | ((Blocks.u8(w, scales + j - 4) >> 6) << 4);
    }

    private static final float[] QUARTER_LANES = {
            1, 1, 0.25f, 0.25f, 0.0625f, 0.0625f, 0.015625f, 0.015625f,
            1, 1, 0.25f, 0.25f, 0.0625f, 0.0625f, 0.015625f, 0.015625f};

    /**
     * Q2_K/Q3_K: lane j, for sub-block j at shift s = j/2 mod 4 of its qs bytes, holds 4^-s, so
     * that the 512-bit kernels mask each 2-bit level in place (q·4^s) instead of shifting it
     * down, and fold the 4^-s (exact) into the sub-block's scale.
     */
    static final FloatVector QUARTERS = FloatVector.fromArray(FloatVector.SPECIES_512, QUARTER_LANES, 0);

    /** {@link #QUARTERS} for the 256-bit kernels, eight sub-blocks at a time: the pattern repeats after eight. */
    static final FloatVector QUARTERS_256 = FloatVector.fromArray(FloatVector.SPECIES_256, QUARTER_LANES, 0);

    private static final VectorSpecies<Byte> SCALE_BYTES = ByteVector.SPECIES_128;
    private static final VectorSpecies<Integer> LANES_INT = IntVector.SPECIES_512;
    private static final VectorSpecies<Float> LANES_FLOAT = FloatVector.SPECIES_512;
    // Scale j < 4: byte j & 63; j ≥ 4: byte j+4 & 15 | (byte j−4 >> 6) << 4. Min j < 4: byte j+4 & 63;
    // j ≥ 4: byte j+4 >> 4 | (byte j >> 6) << 4. Lane i of P_BYTES/Q_BYTES picks its P and Q byte.
    private static final VectorShuffle<Byte> P_BYTES = VectorShuffle.fromValues(SCALE_BYTES, 0, 1, 2, 3, 8, 9, 10, 11, 4, 5, 6, 7, 8, 9, 10, 11);
    private static final VectorShuffle<Byte> Q_BYTES = VectorShuffle.fromValues(SCALE_BYTES, 0, 0, 0, 0, 0, 1, 2, 3, 0, 0, 0, 0, 4, 5, 6, 7);
    private static final IntVector P_SHIFT = IntVector.fromArray(LANES_INT, new int[]{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 4, 4, 4}, 0);
    private static final IntVector P_MASK = IntVector.fromArray(LANES_INT, new int[]{63, 63, 63, 63, 15, 15, 15, 15, 63, 63, 63, 63, 15, 15, 15, 15}, 0);
    private static final IntVector Q_MASK = IntVector.fromArray(LANES_INT, new int[]{0, 0, 0, 0, 0x30, 0x30, 0x30, 0x30, 0, 0, 0, 0, 0x30, 0x30, 0x30, 0x30}, 0);
    private static final VectorMask<Float> MIN_LANES = VectorMask.fromLong(LANES_FLOAT, 0xFF00L);

    /**
     * Every scale and min of the Q4_K/Q5_K super-block at {@code block} of w (fp16 d and dmin, then
     * 12 scale bytes) at once: lanes 0–7 d·scale of sub-blocks 0–7, lanes 8–15 dmin·min, as
     * {@link #scaleK4} and {@link #minK4} unpack them. Each lane is (P >>> shift & mask) |
     * (Q >>> 2 & 0x30) for its own P and Q byte: two byte shuffles instead of sixteen scalar
     * extractions, which took as long as a super-block's vector work.
     */
    static FloatVector scalesMinsK4(MemorySegment w, long block) {
        float d = Float.float16ToFloat(w.get(Blocks.I16, block));
        float dmin = Float.float16ToFloat(w.get(Blocks.I16, block + 2));
        ByteVector bytes = ByteVector.fromMemorySegment(SCALE_BYTES, w, block + 4, ByteOrder.LITTLE_ENDIAN);
        IntVector p = (IntVector) bytes.rearrange(P_BYTES).convertShape(VectorOperators.ZERO_EXTEND_B2I, LANES_INT, 0);
        IntVector q = (IntVector) bytes.rearrange(Q_BYTES).convertShape(VectorOperators.ZERO_EXTEND_B2I, LANES_INT, 0);
        IntVector v = p.lanewise(VectorOperators.LSHR, P_SHIFT).and(P_MASK).or(q.lanewise(VectorOperators.LSHR, 2).and(Q_MASK));
        return ((FloatVector) v.convert(VectorOperators.I2F, 0)).mul(FloatVector.broadcast(LANES_FLOAT, d).blend(dmin, MIN_LANES));
    }

    /** get_scale_min_k4's min: the 6-bit min of sub-block j. */
    static int minK4(MemorySegment w, long scales, int j) {
        if (j < 4) {
            return Blocks.u8(w, scales + j + 4) & 63;
        }
        return (Blocks.u8(w, scales + j + 4) >> 4) | ((Blocks.u8(w, scales + j) >> 6) << 4);
    }

    /**
     * The shared first half of quantize_row_q4_K_ref / q5_K_ref: per 32-value sub-block scale
     * and min search, packed into 12 bytes of 6-bit values at {@code scalesOut}, d and dmin
     * stored, and the final levels (0..nmax) written to L.
     */
    static void quantizeScalesMinsK4(float[] x, int xo, int nmax, float rmin, float rdelta, int nstep,
                                     MemorySegment y, long dOff, long scalesOff, byte[] L) {
        float[] weights = new float[32];
        float[] mins = new float[QK_K / 32];
        float[] scales = new float[QK_K / 32];
        float[] theMin = new float[1];
        byte[] laux = new byte[32];
        float maxScale = 0;
        float maxMin = 0;
        for (int j = 0; j < QK_K / 32; ++j) {
            int base = xo + 32 * j;
            float avX = (float) Math.sqrt(sumOfSquares(x, base, 32) / 32);
            for (int l = 0; l < 32; ++l) {
                weights[l] = avX + Math.abs(x[base + l]);
            }
            scales[j] = makeQkx2Quants(32, nmax, x, base, weights, L, 32 * j, theMin, laux, rmin, rdelta, nstep, false);
            mins[j] = theMin[0];
            if (scales[j] > maxScale) {
                maxScale = scales[j];
            }
            if (mins[j] > maxMin) {
                maxMin = mins[j];
            }
        }
        float invScale = maxScale > 0 ? 63.f / maxScale : 0.f;
        float invMin = maxMin > 0 ? 63.f / maxMin : 0.f;
        int[] ls = new int[QK_K / 32];
        int[] lm = new int[QK_K / 32];
        for (int j = 0; j < QK_K / 32; ++j) {
            ls[j] = Math.min(63, Blocks.nearestInt(invScale * scales[j]) & 0xFF);
            lm[j] = Math.min(63, Blocks.nearestInt(invMin * mins[j]) & 0xFF);
        }
        storeScalesMinsK4(ls, lm, maxScale / 63.f, maxMin / 63.f, x, xo, nmax, y, dOff, scalesOff, L);
    }

    /**
     * The shared first half of quantize_row_q4_K_impl / q5_K_impl (with an importance matrix):
     * value weights importance·sqrt(σ² + x²), σ² = 2·mean x² over the super-block, a
     * make_qkx3_quants search per sub-block, then make_qp_quants for the 6-bit scale and min
     * codes, weighted by each sub-block's total weight. Stored and levelled as
     * {@link #quantizeScalesMinsK4(float[], int, int, float, float, int, MemorySegment, long, long, byte[])}
     * does; capCodes: Q5_K caps the codes at 63 and Q4_K does not (only a wrapped negative one exceeds it).
     */
    static void quantizeScalesMinsK4(float[] x, int xo, float[] importance, int wo, int nmax, boolean capCodes,
                                     MemorySegment y, long dOff, long scalesOff, byte[] L) {
        float[] weights = new float[32];
        float[] sw = new float[QK_K / 32];
        float[] mins = new float[QK_K / 32];
        float[] scales = new float[QK_K / 32];
        float[] theMin = new float[1];
        byte[] laux = new byte[32];
        float sigma2 = 2 * sumOfSquares(x, xo, QK_K) / QK_K;
        for (int j = 0; j < QK_K / 32; ++j) {
            int base = xo + 32 * j;
            sw[j] = importanceWeights(x, base, 32, importance, wo + 32 * j, sigma2, weights);
            scales[j] = makeQkx3Quants(32, nmax, x, base, weights, L, 32 * j, theMin, laux, -0.9f, 0.05f, 36);
            mins[j] = theMin[0];
        }
        byte[] scaleCodes = new byte[QK_K / 32];
        byte[] minCodes = new byte[QK_K / 32];
        float dBlock = QpQuants.makeQpQuants(QK_K / 32, 63, scales, 0, scaleCodes, sw, 0);
        float mBlock = QpQuants.makeQpQuants(QK_K / 32, 63, mins, 0, minCodes, sw, 0);
        int[] ls = new int[QK_K / 32];
        int[] lm = new int[QK_K / 32];
        for (int j = 0; j < QK_K / 32; ++j) {
            ls[j] = capCodes ? Math.min(63, scaleCodes[j] & 0xFF) : scaleCodes[j] & 0xFF;
            lm[j] = capCodes ? Math.min(63, minCodes[j] & 0xFF) : minCodes[j] & 0xFF;
        }
        storeScalesMinsK4(ls, lm, dBlock, mBlock, x, xo, nmax, y, dOff, scalesOff, L);
    }

    /**
     * Packs the sub-blocks' scale and min codes into 12 bytes at {@code scalesOff}, stores d and
     * dmin, and sets each sub-block's levels (0..nmax) again from the stored, rounded scales.
     */
    private static void storeScalesMinsK4(int[] ls, int[] lm, float d, float dmin, float[] x, int xo, int nmax,
                                          MemorySegment y, long dOff, long scalesOff, byte[] L) {
        byte[] packed = new byte[12];
        for (int j = 0; j < QK_K / 32; ++j) {
            if (j < 4) {
                packed[j] = (byte) ls[j];
                packed[j + 4] = (byte) lm[j];
            } else {
                packed[j + 4] = (byte) ((ls[j] & 0xF) | ((lm[j] & 0xF) << 4));
                packed[j - 4] |= (byte) ((ls[j] >> 4) << 6);
                packed[j] |= (byte) ((lm[j] >> 4) << 6);
            }
        }
        MemorySegment.copy(packed, 0, y, Blocks.I8, scalesOff, 12);
        Blocks.putF16(y, dOff, d);
        Blocks.putF16(y, dOff + 2, dmin);

        float d0 = Blocks.f16(y, dOff);
        float dmin0 = Blocks.f16(y, dOff + 2);
        for (int j = 0; j < QK_K / 32; ++j) {
            float dj = d0 * scaleK4(y, scalesOff, j);
            if (dj == 0) {
                continue;
            }
            float dm = dmin0 * minK4(y, scalesOff, j);
            for (int ii = 0; ii < 32; ++ii) {
                int l = Blocks.nearestInt((x[xo + 32 * j + ii] + dm) / dj);
                L[32 * j + ii] = (byte) Math.max(0, Math.min(nmax, l));
            }
        }
    }
}
